"""The reference spread of notebook 03's protocol: notebooks 03 and 04 run exactly as a student runs them, at several
training seeds and once with the other choice of TensorFlow's oneDNN kernels (a stand-in for another machine).

    python tools/reference_spread.py                          # seeds 0 to 4, and seed 0 with other kernels
    python tools/reference_spread.py --seeds 5 --other-kernels 5   # add runs; the summary keeps the others

TensorFlow uses oneDNN's CPU kernels by default on some processors and not on others; the "other kernels" run sets
TF_ENABLE_ONEDNN_OPTS to the opposite of this machine's default ("seed 0, oneDNN on" or "seed 0, oneDNN off").

Each run executes notebooks/03_contrastive_divergence_training.ipynb with the seed of its parameters cell set
(`TrainingSettings(seed=...)`, as a student would change it), then notebooks/04_evaluation_and_visualization.ipynb
unchanged, in an output folder of its own, data/reference_spread/<run>/ (notebook 01's prepared digits are linked in),
so that each run is judged by its own 04's judge. A run whose folder already holds 04's summary, made under the same
seed, kernels and notebook code, is not run again. Then it writes the committed summary results/reference_spread.json
(per run: 03's training history, 04's evaluation summary, the notebooks' minutes), which notebooks 03 and 04 and
tools/compare_runs.py read, and results/reference_spread_samples.png (32 samples of each run). About 15 minutes per
run on 2 CPU cores. Needs data/mnist_prepared.npz (01). In quick mode (EBM_QUICK=1) the summary goes to
data/quick_results/.
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notebooks"))

from ebm_tutorial import artifacts
from ebm_tutorial.artifacts import register

register(
    "reference_spread/*", "tools/reference_spread.py", read_by="`tools/reference_spread.py`",
    contents="`<run>/`: one run's output folder (its `data/` and `figures/`, as notebooks 03 and 04 write them), "
             "`<run>/run.json` (seed, kernels, code key, minutes) once it finished",
)
register(
    "reference_spread.json", "tools/reference_spread.py", read_by="03, 04, `tools/compare_runs.py`",
    contents="`cost`; `runs`: one entry per reference run (`seed 0`, `seed 1`, ..., `seed 0, oneDNN on`) with "
             "`seed`, `kernels`, `history` (03's `training_history.json`), `evaluation` (04's "
             "`evaluation_summary.json`, without its own band) and `minutes` (03, 04)",
    fields=("runs", "cost"), cost="about 15 min per run on 2 CPU cores, an hour and a half for the six runs",
)
register(
    "reference_spread_samples.png", "tools/reference_spread.py", read_by="README",
    contents="32 samples from noise of each reference run, with the judge's classes, confidence and Fréchet distance",
    cost="written with reference_spread.json",
)

NOTEBOOKS = artifacts.find_repository_root() / "notebooks"
TRAINING, EVALUATION = "03_contrastive_divergence_training", "04_evaluation_and_visualization"
SEED_TEXT = "TrainingSettings(seed=0"  # in 03's parameters cell; the run replaces the 0
SPREAD_DIR = artifacts.DATA_DIR / "reference_spread"
SUMMARY_DIR = artifacts.DATA_DIR / "quick_results" if artifacts.QUICK else artifacts.RESULTS_DIR
SUMMARY_FILE, SAMPLES_FIGURE = SUMMARY_DIR / "reference_spread.json", SUMMARY_DIR / "reference_spread_samples.png"
COST = "python tools/reference_spread.py: about 15 min per run on 2 CPU cores"


def read_notebook(name):
    return json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())


def with_seed(notebook, seed):
    """Notebook 03 with the seed of its parameters cell set to `seed` (the only change a run makes)."""
    sources = ["".join(cell["source"]) for cell in notebook["cells"]]
    hits = [index for index, source in enumerate(sources) if "start_notebook(" in source and SEED_TEXT in source]
    if len(hits) != 1 or sources[hits[0]].count(SEED_TEXT) != 1:
        raise SystemExit(f"notebook 03's parameters cell must hold `{SEED_TEXT})` exactly once: update SEED_TEXT")
    patched = json.loads(json.dumps(notebook))
    patched["cells"][hits[0]]["source"] = sources[hits[0]].replace(SEED_TEXT, f"TrainingSettings(seed={seed}")
    return patched


def code_key(*notebooks):
    """A hash of the notebooks' code cells: a finished run counts only for the code it ran."""
    code = [cell["source"] for notebook in notebooks for cell in notebook["cells"] if cell["cell_type"] == "code"]
    return hashlib.sha256(json.dumps(code).encode()).hexdigest()[:16]


def other_kernels():
    """("oneDNN on" or "oneDNN off", its environment): the opposite of this machine's default oneDNN setting."""
    probe = "from tensorflow.python.util import _pywrap_util_port as port; print(port.IsMklEnabled())"
    default_on = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}).stdout.split()[-1] == "True"
    return ("oneDNN off", {"TF_ENABLE_ONEDNN_OPTS": "0"}) if default_on else ("oneDNN on", {"TF_ENABLE_ONEDNN_OPTS": "1"})


def run_name(seed, kernels):
    return f"seed {seed}" + (f", {kernels}" if kernels else "")


def run_folder(name):
    return SPREAD_DIR / name.replace(", ", "_").replace(" ", "_")


def execute(notebook, folder, environment):
    """Run a notebook (a dict) in a fresh kernel, its files under `folder`; the kernel inherits `environment`."""
    import nbclient
    import nbformat

    saved = dict(os.environ)
    os.environ.update({"EBM_OUTPUT_DIR": str(folder), "TF_CPP_MIN_LOG_LEVEL": "2", **environment})
    try:
        client = nbclient.NotebookClient(nbformat.reads(json.dumps(notebook), as_version=4), timeout=None,
                                         kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}})
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run(seed, kernels, environment, key):
    """The run's folder, after notebooks 03 and 04 ran there (skipped when a finished run of the same key is there)."""
    name = run_name(seed, kernels)
    folder, expected = run_folder(name), {"seed": seed, "kernels": kernels, "code": key, "quick": artifacts.QUICK}
    record_file = folder / "run.json"
    if record_file.exists() and {field: value for field, value in json.loads(record_file.read_text()).items()
                                 if field in expected} == expected:
        print(f"{name}: finished earlier, kept", flush=True)
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "data").mkdir(parents=True)
    prepared = artifacts.DATA_DIR / "mnist_prepared.npz"
    artifacts.load(prepared)  # a missing or damaged file stops here, naming notebook 01
    try:
        os.link(prepared, folder / "data" / prepared.name)
    except OSError:  # another file system: copy
        shutil.copy(prepared, folder / "data" / prepared.name)
    minutes = {}
    for notebook_name, notebook in [(TRAINING, with_seed(read_notebook(TRAINING), seed)),
                                    (EVALUATION, read_notebook(EVALUATION))]:
        started = time.perf_counter()
        print(f"{name}: running {notebook_name} ...", flush=True)
        execute(notebook, folder, environment)
        minutes[notebook_name[:2]] = round((time.perf_counter() - started) / 60, 2)
    artifacts.save_json(record_file, {**expected, "minutes": minutes})
    return folder


def summary_entry(folder):
    record = json.loads((folder / "run.json").read_text())
    evaluation = artifacts.load(folder / "data" / "evaluation_summary.json")
    for own_band in ("reference_band", "place_in_reference_band"):  # what 04 said of the previous spread
        evaluation.pop(own_band, None)
    return {"seed": record["seed"], "kernels": record["kernels"], "minutes": record["minutes"],
            "history": artifacts.load(folder / "data" / "training_history.json"), "evaluation": evaluation}


def draw_samples(entries):
    """One row of 32 samples per run, titled with the judge's verdict on all of its samples."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    figure, axes = plt.subplots(len(entries), 1, figsize=(12, 1.9 * len(entries)), squeeze=False)
    for axis, (name, entry) in zip(axes[:, 0], entries.items()):
        samples = artifacts.read_arrays(run_folder(name) / "data" / "long_run_samples.npz")["samples"][:32]
        strip = np.concatenate([np.concatenate(list(samples[row * 16:(row + 1) * 16]), axis=1) for row in range(2)])
        axis.imshow(strip, cmap="gray", vmin=-1, vmax=1)
        quality = entry["evaluation"]["sample_quality_settings"]
        report = entry["evaluation"]["sample_quality"][f"model samples ({quality['langevin_steps']} steps)"]
        axis.set(xticks=[], yticks=[], title=f"{name}: {report['classes_with_at_least_2_percent']} classes, confidence "
                 f"{report['mean_confidence']:.2f}, Fréchet {report['frechet_distance']:.0f} "
                 f"({quality['samples']} samples, {quality['langevin_steps']} steps from noise)")
    figure.tight_layout()
    artifacts.write_atomically(SAMPLES_FIGURE, lambda temporary: figure.savefig(temporary, dpi=80, format="png"))


DEFAULT_SEEDS = [0, 1, 2, 3, 4]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=DEFAULT_SEEDS, help="training seeds (default 0 to 4)")
    parser.add_argument("--other-kernels", type=int, nargs="*", default=None,
                        help="seeds to run with the other oneDNN setting (default: 0 with the default seeds, else none)")
    arguments = parser.parse_args()
    other_seeds = arguments.other_kernels if arguments.other_kernels is not None else (
        [0] if arguments.seeds == DEFAULT_SEEDS else [])
    kernels, environment = other_kernels() if other_seeds else ("", {})
    key = code_key(read_notebook(TRAINING), read_notebook(EVALUATION))
    summary = artifacts.load(SUMMARY_FILE) if SUMMARY_FILE.exists() else {"runs": {}}
    planned = [(seed, "", {}) for seed in arguments.seeds] + [(seed, kernels, environment) for seed in other_seeds]
    for seed, run_kernels, run_environment in planned:
        folder = run(seed, run_kernels, run_environment, key)
        summary["runs"][run_name(seed, run_kernels)] = summary_entry(folder)
        summary["cost"] = COST
        # default-kernel runs first, each group by seed, however the runs were added
        summary["runs"] = dict(sorted(summary["runs"].items(), key=lambda item: (item[1]["kernels"] != "",
                                                                                   item[1]["seed"])))
        artifacts.save_json(SUMMARY_FILE, summary)
    drawable = {name: entry for name, entry in summary["runs"].items()
                if (run_folder(name) / "data" / "long_run_samples.npz").exists()}  # runs this machine still holds
    draw_samples(drawable)
    print("wrote", artifacts.shown(SUMMARY_FILE), "and", artifacts.shown(SAMPLES_FIGURE))


if __name__ == "__main__":
    main()
