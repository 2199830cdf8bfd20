"""What each training choice does to a convolutional EBM's samples: a baseline with one change at a time, side by side.

Each candidate trains notebook 06's convolutional EBM (persistent chains, k = 60, the guards of its section 2, and
spectral normalisation, which notebook 06 drops: candidate no_spectral_norm is its protocol) with one change, for the
same wall-time budget on a 2-core CPU, then judges 1,000 fresh chains from uniform noise after 1,000 Langevin steps
with notebook 04's judge. The chains at 250 steps and IGEBM's replay protocol (06, section 6) are
reported beside them but decide nothing.

    python tools/conv_screen.py                              # the screen at seed 0: nine runs, about 3.4 h
    python tools/conv_screen.py --combine data_noise no_spectral_norm   # one run with several changes together
    python tools/conv_screen.py --only data_noise no_spectral_norm --seeds 1 2   # confirm the best two (4 runs)

The whole study is fourteen runs, about 5 h on 2 CPU cores: the screen (nine), one combination of the changes that
helped, and the best two at training seeds 1 and 2 (four); it is capped at 5 h. Runs are cached in data/conv_screen/
(ebm_tutorial.cached_run: a run is kept under the key of everything that decides it, so an interrupted screen resumes
at the first unfinished run and a repeated call takes a minute). Each run costs its training budget (BUDGET_MINUTES)
plus about 4 minutes of judging, or about 24 for the two networks with full-resolution convolutions (stride1_first,
average_pooling), whose every Langevin step costs several times as much. The committed summary is
results/conv_screen.json, with results/conv_screen_samples.png (64 samples of every run). Needs
data/mnist_prepared.npz (01) and data/judge_classifier.keras (04). Quick mode (EBM_QUICK=1): 1,024 digits, a 1-minute
budget, 64 chains of 100 steps, the summary in data/quick_results/.

Measured for each run: the judge's classes holding at least 2% of the samples, its mean confidence and the Fréchet
distance to 1,000 test digits; the ink share (pixels above 0) of the samples against the test digits'; and the median
distance from each sample to its nearest training digit against the same for test digits (a model that copies its
training digits would come much closer than test digits do).
"""

import argparse
import functools
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notebooks"))

import ebm_tutorial as ebm
from ebm_tutorial.artifacts import register

keras, tf = ebm.import_tensorflow()

register(
    "conv_screen/*", "tools/conv_screen.py", read_by="`tools/conv_screen.py`",
    contents="`<candidate>_seed<seed>.json`, `.npz`: one cached run of the screen (`ebm_tutorial.cached_run`): "
             "settings, changes, history, measurements and the `cache_key` (JSON); samples at 250 and 1,000 steps "
             "and by replay (npz)",
)
register(
    "conv_screen.json", "tools/conv_screen.py", read_by="06",
    contents="`cost`, `budget_minutes`, `reference` (test digits' ink share and nearest-training distance, real "
             "digits' Fréchet distance), `runs`: per candidate and seed the changes, settings, minutes and batches "
             "trained, last-epoch energies, and the judged measures at 1,000 steps, 250 steps and by replay",
    fields=("runs", "reference", "cost"),
    cost="about 18 min per run on 2 CPU cores, 38 min for stride1_first and average_pooling (nine runs: 3.4 h)",
)
register(
    "conv_screen_samples.png", "tools/conv_screen.py", read_by="06",
    contents="64 samples (1,000 steps from uniform noise) of every screened run", cost="written with conv_screen.json",
)

# The baseline every candidate changes: persistent chains, k = 60, epsilon 10, a buffer of 32,768 chains, Adam with
# beta_1 = 0, gradient-norm clipping at 5, learning rate x 0.97 per epoch, alpha raised when energies drift beyond 3.
# It defines the screen, so it is stated here and is part of every run's cache key; notebook 06's Checks assert that
# its own protocol is one of the screened runs.
BASELINE = ebm.TrainingSettings(chain_start="persistent", langevin_steps=60,
                                sampler=ebm.SamplerSettings(step_size=10.0), sample_steps=1000, restart_fraction=0.05,
                                buffer_size=32_768, max_gradient_norm=5.0, lipschitz_bound=None, adam_beta_1=0.0,
                                epochs=100)  # epochs: more than the budget allows; the budget ends training
LEARNING_RATE_DECAY, ENERGY_DRIFT_LIMIT = 0.97, 3.0
CANDIDATES = {  # name -> the one change: to TrainingSettings, to its sampler, to the network, or weight averaging
    "baseline": {},
    "clip_0.01": {"sampler": {"gradient_clip": 0.01}},  # IGEBM-style: a pixel moves at most 0.05 per step
    "no_clip": {"sampler": {"gradient_clip": None}},  # Nijkamp et al.'s short-run code: the gradient unclipped
    "stride1_first": {"network": {"first_stride": 1}},  # IGEBM / improved CD: a stride-1 first layer
    "average_pooling": {"network": {"average_pooling": True}},  # ebm-life-cycle: downsampling by average pooling
    "data_noise": {"settings": {"data_noise": 0.03}},  # the anatomy paper, JEM: noise on the training digits
    "no_spectral_norm": {"network": {"spectral_norm": False}},  # UvA, JEM, Nijkamp et al.: no spectral normalisation
    "weight_average": {"weight_average": 0.999},  # sample from a moving average of the weights
    "k20": {"settings": {"langevin_steps": 20}},  # IGEBM: fewer steps per update, so more updates in the budget
}
BUDGET_MINUTES = 1.0 if ebm.QUICK else 14.0  # training wall time of every run (notebook 06 trains about 14.5 min)
TRAINING_DIGITS, SAMPLE_CHAINS, STEPS = (1024, 64, 100) if ebm.QUICK else (54_000, 1000, 1000)
EARLY_STEPS = 250 if not ebm.QUICK else 50  # reported beside the 1,000 steps: about the chains' age in training
REPLAY_ROUNDS, REPLAY_FINAL_ROUNDS = (3, 1) if ebm.QUICK else (20, 5)
SCREEN_DIR = ebm.DATA_DIR / "conv_screen"
SUMMARY_DIR = ebm.DATA_DIR / "quick_results" if ebm.QUICK else ebm.RESULTS_DIR
SUMMARY_FILE, SAMPLES_FIGURE = SUMMARY_DIR / "conv_screen.json", SUMMARY_DIR / "conv_screen_samples.png"


def combined(names):
    """The candidate that makes several candidates' changes together, named combined:a+b."""
    changes = {}
    for name in sorted(names):
        for kind, value in CANDIDATES[name].items():
            changes[kind] = {**changes.get(kind, {}), **value} if isinstance(value, dict) else value
    return "combined:" + "+".join(sorted(names)), changes


def candidate(name):
    if name.startswith("combined:"):
        return combined(name.removeprefix("combined:").split("+"))[1]
    return CANDIDATES[name]


def settings_of(changes, seed):
    settings = BASELINE.replace(seed=seed, **changes.get("settings", {}))
    return settings.replace(sampler=settings.sampler.replace(**changes.get("sampler", {})))


def cache_key(changes, seed):
    """Everything that decides a run: its changes, the settings they make of the baseline, the guards, the budget."""
    return {"changes": changes, "seed": seed, "settings": settings_of(changes, seed).to_dict(),
            "guards": {"learning_rate_decay": LEARNING_RATE_DECAY, "energy_drift_limit": ENERGY_DRIFT_LIMIT},
            "budget_minutes": BUDGET_MINUTES, "quick": ebm.QUICK, "training_digits": TRAINING_DIGITS,
            "chains": SAMPLE_CHAINS}


class TimeBudget(keras.callbacks.Callback):
    """Stops training after `minutes` of wall time (at the end of the batch running then)."""

    def __init__(self, minutes):
        super().__init__()
        self.seconds, self.batches = 60 * minutes, 0

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        if time.perf_counter() - self.started > self.seconds:
            self.model.stop_training = True


def train_and_judge(name, changes, seed, data, judge):
    """One run: train for the budget, generate, measure. (result dict, arrays dict) for cached_run."""
    settings = settings_of(changes, seed)
    keras.utils.set_random_seed(seed)
    network = ebm.build_conv_energy_network(**changes.get("network", {}))
    model = ebm.build_contrastive_model(settings, network)
    if changes.get("weight_average"):
        model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate, beta_1=settings.adam_beta_1,
                                                      use_ema=True, ema_momentum=changes["weight_average"]))
    budget = TimeBudget(BUDGET_MINUTES)
    validation = ebm.steady(tf.data.Dataset.from_tensor_slices((data["x_validation"][:1000],
                                                                 data["noise_reference"])).batch(250))
    started = time.perf_counter()
    history = model.fit(ebm.training_data(data["x_train"][:TRAINING_DIGITS], settings.batch_size, seed),
                        epochs=settings.epochs, validation_data=validation, shuffle=False, verbose=0,
                        callbacks=[budget, ebm.ClippingLog(), ebm.RegulariserAdjuster(ENERGY_DRIFT_LIMIT),
                                   ebm.DivergenceGuard(),
                                   keras.callbacks.LearningRateScheduler(ebm.learning_rate_decay(LEARNING_RATE_DECAY)),
                                   ebm.TrivialRegimeMonitor(settings.alpha)]).history
    training_minutes = (time.perf_counter() - started) / 60
    if changes.get("weight_average"):  # sample from the averaged weights
        model.optimizer.finalize_variable_values(model.energy_network.trainable_variables)
    network = model.energy_network
    sampler = ebm.make_sampler(network, settings.sampler, seed=seed + 1)
    chains_at = ebm.chains_at_steps(sampler, ebm.uniform_noise_images(SAMPLE_CHAINS, seed + 1), [EARLY_STEPS, STEPS])
    replayed = ebm.generate_by_replay(network, settings, SAMPLE_CHAINS, seed + 1, rounds=REPLAY_ROUNDS,
                                      final_rounds=REPLAY_FINAL_ROUNDS)
    judged = {label: ebm.sample_report(judge, images, data["x_test"][:1000], data["x_train"]) for label, images in
              [(f"{STEPS} steps", chains_at[STEPS]), (f"{EARLY_STEPS} steps", chains_at[EARLY_STEPS]),
               ("replay", replayed)]}
    result = {"name": name, "changes": changes, "seed": seed, "settings": settings.to_dict(),
              "budget_minutes": BUDGET_MINUTES, "training_minutes": training_minutes, "batches": budget.batches,
              "final": {key: float(values[-1]) for key, values in history.items()},
              "judged": judged, "quick": ebm.QUICK, "tensorflow": tf.__version__}
    return result, {"steps_final": chains_at[STEPS], "steps_early": chains_at[EARLY_STEPS], "replay": replayed}


def reference(data, judge):
    """What real digits score: the test digits' ink share and nearest-training distance, validation digits' Fréchet."""
    test = data["x_test"][:SAMPLE_CHAINS]
    return {"test_digits_ink_share": float((test > 0).mean()),
            "test_digits_median_nearest_training_distance": float(
                np.median(ebm.nearest_training_distances(test, data["x_train"]))),
            "real_digits_frechet": ebm.judge_report(judge, data["x_validation"][:1000], data["x_test"][:1000])[
                "frechet_distance"]}


def row_text(row):
    judged = row["judged"][f"{STEPS} steps"]
    return (f"{row['name']:40s} seed {row['seed']}  {row['training_minutes']:5.1f} min {row['batches']:5d} batches | "
            f"{judged['classes_with_at_least_2_percent']:2d} classes, confidence {judged['mean_confidence']:.3f}, "
            f"Fréchet {judged['frechet_distance']:6.1f}, ink {judged['ink_share']:.3f}, "
            f"nearest {judged['median_nearest_training_distance']:.2f}")


def draw(summary, arrays_of):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [name for name in summary["runs"] if name in arrays_of]
    columns = min(4, len(names))
    rows = -(-len(names) // columns)
    height = 4.4 * rows + 0.8  # inches: square panels, each with a two-line title, and the figure's title on top
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, height), squeeze=False)
    for axis in axes.ravel():
        axis.axis("off")
    for axis, name in zip(axes.ravel(), names):
        judged = summary["runs"][name]["judged"][f"{STEPS} steps"]
        ebm.show_digits(axis, np.clip(arrays_of[name]["steps_final"][:64], -1, 1), 8)
        axis.set_title(f"{name}\n{judged['classes_with_at_least_2_percent']} classes, conf. "
                       f"{judged['mean_confidence']:.2f}, Fréchet {judged['frechet_distance']:.0f}", fontsize=9)
    figure.suptitle(f"{STEPS} Langevin steps from uniform noise, each run trained for {BUDGET_MINUTES:g} min",
                    y=1 - 0.1 / height, va="top")  # in inches from the top, clear of the first row's titles
    figure.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1 - 1.0 / height, hspace=0.2, wspace=0.05)
    ebm.write_atomically(SAMPLES_FIGURE, lambda temporary: figure.savefig(temporary, dpi=70, format="png"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", default=list(CANDIDATES), help="candidates (combined:a+b allowed)")
    parser.add_argument("--combine", nargs="+", help="run one candidate that makes these candidates' changes together")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    arguments = parser.parse_args()
    names = [combined(arguments.combine)[0]] if arguments.combine else arguments.only
    data, judge = ebm.load("mnist_prepared.npz"), ebm.load("judge_classifier.keras")
    tf.config.experimental.enable_op_determinism()
    summary = ebm.load(SUMMARY_FILE) if SUMMARY_FILE.exists() and not ebm.QUICK else {"runs": {}}
    summary |= {"cost": f"python tools/conv_screen.py: {ebm.RESULTS['conv_screen.json'].cost}",
                "budget_minutes": BUDGET_MINUTES, "reference": reference(data, judge)}
    arrays_of = {}
    retrain = os.environ.get("EBM_RETRAIN_GRID", "0") == "1"
    for seed in arguments.seeds:
        for name in names:
            changes = candidate(name)
            run_name = f"{name.replace(':', '_')}_seed{seed}"
            run = functools.partial(train_and_judge, name, changes, seed, data, judge)
            row, arrays, _ = ebm.cached_run(SCREEN_DIR, run_name, cache_key(changes, seed), run, retrain=retrain)
            row.pop("cache_key", None)
            summary["runs"][f"{name} seed {seed}"] = row
            arrays_of[f"{name} seed {seed}"] = arrays
            ebm.save_json(SUMMARY_FILE, summary)
            print(row_text(row), flush=True)
    for label in summary["runs"]:  # runs of earlier calls, from their cache, for the figure
        name, seed = label.rsplit(" seed ", 1)
        cached = SCREEN_DIR / f"{name.replace(':', '_')}_seed{seed}.npz"
        if label not in arrays_of and cached.exists():
            arrays_of[label] = ebm.load(cached)
    draw(summary, arrays_of)
    print("wrote", ebm.shown(SUMMARY_FILE), "and", ebm.shown(SAMPLES_FIGURE))


if __name__ == "__main__":
    main()
