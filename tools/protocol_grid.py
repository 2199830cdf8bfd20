"""Choose notebook 03's training and sampling protocol by measurement: the candidate runs, cached.

Each candidate trains notebook 02's MLP (swish; the candidates decide spectral normalisation) on all training digits for
about the same wall time on a 2-core CPU, then generates 1,000 chains from uniform noise, judged by notebook 04's judge
at the candidate's own chain length and at 1,000 steps (plus IGEBM's replay protocol for persistent chains).
Cached runs are loaded again unless their settings changed (or EBM_RETRAIN_GRID=1).

    python tools/protocol_grid.py --only convergent_t1 persistent_k3 persistent_k3_hot short_run_k40  # screen (~40 min)
    python tools/protocol_grid.py --seeds 1 --only persistent_k3   # confirm a candidate at another seed
    python tools/protocol_grid.py --seeds 1 --only reference       # notebook 03's reference run at another seed
    TF_ENABLE_ONEDNN_OPTS=0 python tools/protocol_grid.py --only reference   # ... with other CPU kernels

Writes data/protocol_grid/<candidate>_seed<seed>.json (settings, history, measurements) and .npz (samples), and
data/protocol_grid_summary.json (one row per run). Needs data/mnist_prepared.npz (01) and data/judge_classifier.keras (04).
"""

import argparse
import json
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
    contents="`<candidate>_seed<seed>[_onednn_off].json`, `.npz`: one cached candidate run of notebook 03's "
             "section 6 (`ebm_tutorial.cached_run`): settings, history, energies, judge reports and the "
             "`cache_key` (JSON); samples (npz)",
)

register(
    "protocol_grid_summary.json", "tools/protocol_grid.py", read_by="—",
    contents="one row per candidate run",
)

REFERENCE = ebm.TrainingSettings()  # the defaults: short-run chains of 40 steps from noise, generated with 40 steps
PERSISTENT = REFERENCE.replace(chain_start="persistent", langevin_steps=3, sample_steps=1000)
TAU = 0.0075  # the anatomy paper's convergent recipe: T = 1, Gaussian noise of std 2 tau on the data
CANDIDATES = {
    "reference": REFERENCE,  # the chosen protocol at notebook 03's full budget: its spread over seeds and kernels
    "persistent_k3": PERSISTENT.replace(epochs=24),  # the earlier reference protocol
    "short_run_k40": REFERENCE.replace(epochs=4),  # the screening budget
    "persistent_k3_hot": PERSISTENT.replace(sampler=ebm.SamplerSettings(noise_scale=0.02), restart_fraction=0.2,
                                            epochs=24),
    "convergent_t1": PERSISTENT.replace(langevin_steps=40, sampler=ebm.SamplerSettings.at_temperature_one(TAU),
                                        data_noise=2 * TAU, alpha=0.0, lipschitz_bound=None, epochs=4),
}
SAMPLE_CHAINS, LONG_CHAIN = (64, 100) if ebm.QUICK else (1000, 1000)
GRID_DIR = ebm.DATA_DIR / "protocol_grid"
SUMMARY_FILE = ebm.DATA_DIR / "protocol_grid_summary.json"


def quick(settings):
    return settings.replace(epochs=1) if ebm.QUICK else settings


def run_candidate(name, settings, data, judge):
    """Train one candidate, generate from noise, judge; the measurements as one JSON-ready dict."""
    images = data["x_train"][:1024] if ebm.QUICK else data["x_train"]
    validation = ebm.validation_data(data["x_validation"][:1000], data["noise_reference"], 250)
    model = ebm.build_contrastive_model(settings)
    started = time.perf_counter()
    history = model.fit(ebm.training_data(images, settings.batch_size, settings.seed), epochs=settings.epochs,
                        validation_data=validation, shuffle=False, verbose=0,
                        callbacks=[keras.callbacks.TerminateOnNaN()]).history
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
              "kernels": " (oneDNN off)" if os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "0" else ""}
    return result, samples


def run_name(name, seed):
    """Runs with oneDNN's kernels switched off (TF_ENABLE_ONEDNN_OPTS=0, a stand-in for another machine) are kept apart."""
    kernels = "_onednn_off" if os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "0" else ""
    return f"{name}_seed{seed}{kernels}"


def cached_or_run(name, settings, data, judge, retrain):
    key = {"settings": settings.to_dict(), "quick": ebm.QUICK}
    return ebm.cached_run(GRID_DIR, run_name(name, settings.seed), key,
                          lambda: run_candidate(name, settings, data, judge), retrain=retrain)[0]


def row_text(result):
    h = result["history"]
    cells = [f"{result['name']:18s} seed {result['settings']['seed']}{result.get('kernels', '')}", f"{result['training_seconds'] / 60:5.1f} min",
             f"T {result['temperature']:.1e}", f"E(data) {h['energy_data'][-1]:+7.2f} E(neg) {h['energy_negatives'][-1]:+7.2f}",
             f"gap {h['val_energy_gap'][-1]:+7.2f}"]
    judged = [f"{key}: {report['classes_with_at_least_2_percent']} cl, conf {report['mean_confidence']:.3f}, "
              f"FD {report['frechet_distance']:.0f}" for key, report in result["judged"].items()]
    return " | ".join(cells + judged)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--only", nargs="+", choices=sorted(CANDIDATES), default=sorted(CANDIDATES))
    arguments = parser.parse_args()
    data, judge = ebm.load("mnist_prepared.npz"), ebm.load("judge_classifier.keras")
    tf.config.experimental.enable_op_determinism()
    retrain = os.environ.get("EBM_RETRAIN_GRID", "0") == "1"
    summary = json.loads(SUMMARY_FILE.read_text()) if SUMMARY_FILE.exists() else {"runs": {}}
    for seed in arguments.seeds:
        for name in arguments.only:
            result = cached_or_run(name, quick(CANDIDATES[name].replace(seed=seed)), data, judge, retrain)
            summary["runs"][run_name(name, seed)] = {key: result.get(key, "") for key in (
                "name", "settings", "temperature", "training_seconds", "energies", "judged", "kernels")}
            ebm.save_json(SUMMARY_FILE, summary)
            print(row_text(result), flush=True)


if __name__ == "__main__":
    main()
