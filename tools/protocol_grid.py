"""Choose notebook 03's training and sampling protocol by measurement: the screen of four candidate protocols, cached.

Each candidate trains notebook 02's MLP (swish; the candidates decide spectral normalisation) on all training digits for
about the same wall time on a 2-core CPU, then generates 1,000 chains from uniform noise, judged by notebook 04's judge
at the candidate's own chain length and at 1,000 steps (plus IGEBM's replay protocol for persistent chains).

    python tools/protocol_grid.py                          # the screen: four candidates at seed 0, about 40 min
    python tools/protocol_grid.py --seeds 1 --only persistent_k3   # one candidate at another seed

Cached runs are loaded again unless their settings changed (or EBM_RETRAIN_GRID=1), so a second call takes a minute.
Writes data/protocol_grid/<candidate>_seed<seed>.json (settings, history, measurements) and .npz (samples), and the
committed summary results/protocol_grid.json (one row per run; notebook 03 prints its table from it). In quick mode
(EBM_QUICK=1: one epoch on 1,024 digits, 64 chains) the summary goes to data/quick_results/ instead. Needs
data/mnist_prepared.npz (01) and data/judge_classifier.keras (04). The chosen protocol's spread over training seeds
and kernels is tools/reference_spread.py.
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notebooks"))

import ebm_tutorial as ebm
from ebm_tutorial.artifacts import register

keras, tf = ebm.import_tensorflow()  # TensorFlow's start-up notes hidden

register(
    "protocol_grid/*", "tools/protocol_grid.py", read_by="`tools/protocol_grid.py`",
    contents="`<candidate>_seed<seed>[_onednn_off|_onednn_on].json`, `.npz`: one cached candidate run of notebook 03's "
             "protocol screen (`ebm_tutorial.cached_run`): settings, history, energies, judge reports and the "
             "`cache_key` (JSON); samples (npz)",
)
register(
    "protocol_grid.json", "tools/protocol_grid.py", read_by="03",
    contents="`cost`; `runs`: one entry per screened run (candidate and seed): `settings`, `temperature`, "
             "`training_seconds`, the last epoch's energies and validation gap (`final`), `judged` (the judge's report "
             "at the protocol's chain length, at 1,000 steps and, for persistent chains, by replay), `tensorflow`, "
             "`kernels`",
    fields=("runs", "cost"), cost="about 40 min on 2 CPU cores for the four candidates, a minute from its cache",
)

REFERENCE = ebm.TrainingSettings()  # the defaults: short-run chains of 40 steps from noise, generated with 40 steps
PERSISTENT = REFERENCE.replace(chain_start="persistent", langevin_steps=3, sample_steps=1000)
TAU = 0.0075  # the anatomy paper's convergent recipe: T = 1, Gaussian noise of std 2 tau on the data
CANDIDATES = {  # each about 7-11 minutes of training on 2 cores
    "persistent_k3": PERSISTENT.replace(epochs=24),  # replay buffer, 3 steps per batch, long chains to generate
    "persistent_k3_hot": PERSISTENT.replace(sampler=ebm.SamplerSettings(noise_scale=0.02), restart_fraction=0.2,
                                            epochs=24),
    "convergent_t1": PERSISTENT.replace(langevin_steps=40, sampler=ebm.SamplerSettings.at_temperature_one(TAU),
                                        data_noise=2 * TAU, alpha=0.0, lipschitz_bound=None, epochs=4),
    "short_run_k40": REFERENCE.replace(epochs=4),  # the chosen protocol, at half notebook 03's budget
}
SAMPLE_CHAINS, LONG_CHAIN = (64, 100) if ebm.QUICK else (1000, 1000)
GRID_DIR = ebm.DATA_DIR / "protocol_grid"
SUMMARY_FILE = (ebm.DATA_DIR / "quick_results" if ebm.QUICK else ebm.RESULTS_DIR) / "protocol_grid.json"


def quick(settings):
    return settings.replace(epochs=1) if ebm.QUICK else settings


def kernels():
    """Runs with oneDNN's kernels switched off or on by TF_ENABLE_ONEDNN_OPTS (a stand-in for another machine) are kept
    apart."""
    return {"0": "oneDNN off", "1": "oneDNN on"}.get(os.environ.get("TF_ENABLE_ONEDNN_OPTS", ""), "")


def run_candidate(name, settings, data, judge):
    """Train one candidate, generate from noise, judge; the measurements as one JSON-ready dict."""
    images = data["x_train"][:1024] if ebm.QUICK else data["x_train"]
    model = ebm.build_contrastive_model(settings)
    started = time.perf_counter()
    history = model.fit(ebm.training_data(images, settings.batch_size, settings.seed), epochs=settings.epochs,
                        validation_data=ebm.validation_data(data["x_validation"], data["noise_reference"]),
                        shuffle=False, verbose=0, callbacks=[keras.callbacks.TerminateOnNaN()]).history
    training_seconds = time.perf_counter() - started
    network, reference_digits = model.energy_network, data["x_test"][:SAMPLE_CHAINS]
    sampler = ebm.make_sampler(network, settings.sampler, seed=settings.seed + 1)
    chains_at = ebm.chains_at_steps(sampler, ebm.uniform_noise_images(SAMPLE_CHAINS, settings.seed + 1),
                                    [settings.sample_steps, LONG_CHAIN])
    judged = {f"{steps} steps": ebm.judge_report(judge, chains, reference_digits) for steps, chains in chains_at.items()}
    samples = {f"steps_{steps}": chains for steps, chains in chains_at.items()}
    if settings.chain_start == "persistent":
        replayed = ebm.generate_by_replay(network, settings, SAMPLE_CHAINS, settings.seed + 1)
        judged["replay protocol"], samples["replay"] = ebm.judge_report(judge, replayed, reference_digits), replayed
    energies = {name: float(network(images_).numpy().mean()) for name, images_ in [
        ("test_digits", data["x_test"][:1000]), ("noise", data["noise_reference"]),
        ("samples", samples[f"steps_{settings.sample_steps}"])]}
    result = {"name": name, "settings": settings.to_dict(), "temperature": settings.sampler.temperature,
              "training_seconds": training_seconds, "history": {key: [float(v) for v in values]
                                                                  for key, values in history.items()},
              "energies": energies, "judged": judged, "quick": ebm.QUICK, "tensorflow": tf.__version__,
              "kernels": kernels()}
    return result, samples


def run_name(name, seed):
    return f"{name}_seed{seed}" + ("_" + kernels().replace(" ", "_").lower() if kernels() else "")


def cached_or_run(name, settings, data, judge, retrain):
    key = {"settings": settings.to_dict(), "quick": ebm.QUICK}
    return ebm.cached_run(GRID_DIR, run_name(name, settings.seed), key,
                          lambda: run_candidate(name, settings, data, judge), retrain=retrain)[0]


def summary_row(result):
    """What notebook 03's table needs of one run (the history reduced to its last epoch)."""
    history = result["history"]
    final = {key: history[key][-1] for key in ("energy_data", "energy_negatives", "val_energy_gap")}
    return {"name": result["name"], "settings": result["settings"], "temperature": result["temperature"],
            "training_seconds": result["training_seconds"], "final": final, "judged": result["judged"],
            "tensorflow": result["tensorflow"], "kernels": result.get("kernels", "")}


def row_text(row):
    final = row["final"]
    cells = [f"{row['name']:18s} seed {row['settings']['seed']} {row['kernels']}",
             f"{row['training_seconds'] / 60:5.1f} min", f"T {row['temperature']:.1e}",
             f"E(data) {final['energy_data']:+7.2f} E(neg) {final['energy_negatives']:+7.2f}",
             f"gap {final['val_energy_gap']:+7.2f}"]
    judged = [f"{key}: {report['classes_with_at_least_2_percent']} cl, conf {report['mean_confidence']:.3f}, "
              f"FD {report['frechet_distance']:.0f}" for key, report in row["judged"].items()]
    return " | ".join(cells + judged)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--only", nargs="+", choices=list(CANDIDATES), default=list(CANDIDATES))
    arguments = parser.parse_args()
    data, judge = ebm.load("mnist_prepared.npz"), ebm.load("judge_classifier.keras")
    tf.config.experimental.enable_op_determinism()
    retrain = os.environ.get("EBM_RETRAIN_GRID", "0") == "1"
    summary = ebm.load(SUMMARY_FILE) if SUMMARY_FILE.exists() and not ebm.QUICK else {"runs": {}}
    for seed in arguments.seeds:
        for name in arguments.only:
            row = summary_row(cached_or_run(name, quick(CANDIDATES[name].replace(seed=seed)), data, judge, retrain))
            summary["runs"][run_name(name, seed)] = row
            summary["cost"] = f"python tools/protocol_grid.py: {ebm.RESULTS['protocol_grid.json'].cost}"
            ebm.save_json(SUMMARY_FILE, summary)
            print(row_text(row), flush=True)
    print("wrote", ebm.shown(SUMMARY_FILE))


if __name__ == "__main__":
    main()
