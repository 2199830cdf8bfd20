"""Compare students' runs of notebooks 03 and 04 with the reference spread of the protocol, in one command.

    python tools/compare_runs.py RUN [RUN ...] [--output FIGURE.png]
    python tools/compare_runs.py --leave-one-out      # each reference run against the band of the others

A RUN is a student's output folder: a `data/` folder, the folder that EBM_OUTPUT_DIR pointed at (it holds `data/`), or
a zip of either. The command reads `training_history.json` (notebook 03) and, where notebook 04 ran,
`evaluation_summary.json`, and prints one row per run with its figures and verdicts:

    ok                               every figure inside the reference band, nothing else to say
    outside the reference spread: …  which figures, by how much
    trivial fixed point              the last epoch's energies sit at -/+1/(2 alpha) (notebook 03, section 3)
    diverged                         non-finite or exploding energies, or DivergenceGuard rolled training back
    settings differ: …               the fields of TrainingSettings that differ from the reference (the seed aside)
    quick-mode run                   run with EBM_QUICK=1: not comparable with full runs
    unreadable: …                    what is missing or malformed (the other runs are still compared)

The band is notebook 04's (section 5): for each figure the range over the reference runs of
results/reference_spread.json, widened by the margin and floor of 04's parameters cell (read from the same file). The
figure (--output, default compare_runs.png) draws each run's validation gap and energies per epoch over the reference
runs' range. Exits with 1 only when no run could be read. Reads JSON only and trains nothing: seconds, most of them to import TensorFlow.
"""

import argparse
import json
import math
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notebooks"))

from ebm_tutorial import artifacts
from ebm_tutorial.evaluation import (  # notebook 04, section 5
    place_in_band,
    reference_band,
    run_figures,
)

HISTORY, EVALUATION = "training_history.json", "evaluation_summary.json"
HISTORY_FIELDS = ("val_energy_gap", "val_energy_data", "val_energy_noise", "energy_data", "energy_negatives")
ENERGY_LIMIT = 1e3  # DivergenceGuard's: energies beyond it have exploded
OTHER_NOTEBOOKS = {"cnn_training_history.json": "06", "jem_training_history.json": "12"}


class Unreadable(Exception):
    """A run that cannot be compared; the message says what is missing or malformed."""


def data_folder(path: Path, scratch: Path) -> Path:
    """The folder that holds the run's JSON files: path itself, its data/, or the same inside a zip."""
    if path.is_file() and zipfile.is_zipfile(path):
        target = scratch / path.stem
        with zipfile.ZipFile(path) as archive:
            archive.extractall(target)
        found = sorted({file.parent for file in target.rglob("*.json")}, key=lambda folder: len(folder.parts))
        path = next((folder for folder in found if (folder / HISTORY).exists()), found[0] if found else target)
    if not path.is_dir():
        raise Unreadable(f"{path} is neither a folder nor a zip file")
    return path / "data" if (path / "data").is_dir() else path


def read_json(folder: Path, name: str, required: bool):
    file = folder / name
    if not file.exists():
        if not required:
            return None
        others = [f"notebook {notebook}'s {other}" for other, notebook in OTHER_NOTEBOOKS.items()
                  if (folder / other).exists()]
        raise Unreadable(f"no {name}" + (f" (the folder holds {', '.join(others)}: compare runs of notebooks 03 "
                                          "and 04)" if others else " (run notebook 03 first)"))
    try:
        return json.loads(file.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise Unreadable(f"{name} is not valid JSON ({type(error).__name__}: truncated or edited?)") from None


def read_run(folder: Path):
    """(history, evaluation or None, notes): the run's files, with notes on what an older version left out."""
    history, notes = read_json(folder, HISTORY, required=True), []
    if not isinstance(history, dict) or not isinstance(history.get("epochs"), list) or not history["epochs"]:
        raise Unreadable(f"{HISTORY} has no epochs (an interrupted first epoch, or another file)")
    absent = [field for field in ("settings", "run") if field not in history]
    absent += sorted({field for row in history["epochs"] for field in HISTORY_FIELDS if field not in row})
    if absent:
        notes.append(f"{HISTORY} lacks {', '.join(absent)} (an older version of the series): compared on the rest")
    try:
        evaluation = read_json(folder, EVALUATION, required=False)
    except Unreadable as problem:
        evaluation = None
        notes.append(f"{problem}: notebook 04's figures left out")
    return history, evaluation, notes


def figures_of(history, evaluation, notes):
    """run_figures, tolerant of fields an older version did not write."""
    last = history["epochs"][-1]
    padded = {"epochs": [{field: last.get(field, math.nan) for field in HISTORY_FIELDS}]}
    figures = run_figures(padded)
    if evaluation is not None:
        try:
            figures = run_figures(padded, evaluation)
        except (KeyError, TypeError, StopIteration):
            notes.append(f"{EVALUATION} lacks the fields of notebook 04's report: its figures left out")
    return {name: value for name, value in figures.items() if not (isinstance(value, float) and math.isnan(value))}


def verdicts(history, evaluation, figures, band, reference_settings):
    """The run's verdicts, in the order of the docstring's table ("ok" when there is nothing to say)."""
    said, settings, rows = [], history.get("settings", {}), history["epochs"]
    placed = place_in_band(figures, band)
    outside = [f"{name} {value:.3g} {where} {low:.3g}…{high:.3g}" for name, (value, low, high, where) in placed.items()
               if where != "inside"]
    if outside:
        said.append("outside the reference spread: " + "; ".join(outside))
    alpha = settings.get("alpha", reference_settings.get("alpha"))
    last = rows[-1]
    if alpha and all(field in last for field in ("energy_data", "energy_negatives")):
        fixed_point, margin = 1 / (2 * alpha), 0.05 / (2 * alpha)
        if (abs(last["energy_data"] + fixed_point) < margin and abs(last["energy_negatives"] - fixed_point) < margin) \
                or last.get("trivial_regime"):
            said.append("trivial fixed point")
    energies = [row.get(field) for row in rows for field in ("energy_data", "energy_negatives", "loss")]
    if any(value is not None and (not math.isfinite(value) or abs(value) > ENERGY_LIMIT) for value in energies) \
            or any(row.get("diverged") for row in rows):
        said.append("diverged")
    changed = [f"{name}={settings[name]!r} (reference {reference_settings[name]!r})" for name in reference_settings
               if name != "seed" and name in settings and settings[name] != reference_settings[name]]
    if changed:
        said.append("settings differ: " + ", ".join(changed))
    if history.get("run", {}).get("quick") or (evaluation or {}).get("run", {}).get("quick"):
        said.append("quick-mode run")
    return said or ["ok"]


def load_reference(left_out=None):
    """(band, reference settings, the reference runs) from results/reference_spread.json, one run left out or none."""
    spread = artifacts.load_result("reference_spread.json")
    runs = {name: run for name, run in spread["runs"].items() if name != left_out}
    config = next(iter(runs.values()))["evaluation"]["config"]  # notebook 04's parameters: the band's margin and floor
    band = reference_band([run_figures(run["history"], run["evaluation"]) for run in runs.values()],
                          config["band_margin"], config["band_floor"])
    return band, next(iter(runs.values()))["history"]["settings"], runs


def row_text(name, figures, said):
    shown = ["validation gap", "E(validation digits)", "E(noise reference)", "AUROC vs noise", "AUROC vs noisy digits",
             "classes", "confidence", "Fréchet"]
    cells = " ".join(f"{figures[key]:>11.3g}" if key in figures else f"{'–':>11s}" for key in shown)
    return f"{name[:28]:28s} {cells}   " + " | ".join(said)


def header():
    labels = ["val. gap", "E(digits)", "E(noise)", "AUROC noise", "AUROC noisy", "classes", "confidence", "Fréchet"]
    return f"{'run':28s} " + " ".join(f"{label:>11s}" for label in labels) + "   verdicts"


def draw(compared, reference_runs, output):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    figure, axes = plt.subplots(1, 2, figsize=(13, 4.2))
    panels = [(axes[0], ["val_energy_gap"], "validation gap  E(noise) - E(digits)"),
              (axes[1], ["energy_data", "energy_negatives"], "training energies: E(data) below, E(negatives) above")]
    for axis, fields, label in panels:
        for field in fields:
            curves = [[row[field] for row in run["history"]["epochs"]] for run in reference_runs.values()]
            length = min(map(len, curves))
            values = np.array([curve[:length] for curve in curves])
            axis.fill_between(np.arange(1, length + 1), values.min(axis=0), values.max(axis=0), color="tab:gray",
                              alpha=0.35, label="reference runs: range" if field == fields[0] else None)
        for (name, history), colour in zip(compared.items(), plt.cm.tab10.colors):
            for index, field in enumerate(fields):
                epochs = [row["epoch"] for row in history["epochs"] if field in row]
                axis.plot(epochs, [row[field] for row in history["epochs"] if field in row], "o-", markersize=3,
                          color=colour, label=name if index == 0 else None)
        axis.set(xlabel="epoch", ylabel=label)
    axes[0].set_title("Each run's validation gap over the reference runs' range")
    axes[1].set_title("Each run's training energies over the reference runs' range")
    axes[0].legend(fontsize=7)
    figure.tight_layout()
    artifacts.write_atomically(Path(output), lambda temporary: figure.savefig(temporary, dpi=100, format="png"))


def compare(paths, output, band, reference_settings, reference_runs):
    """Print the table for `paths`; draw the figure; return the number of runs that could be read."""
    print(header())
    compared = {}
    with tempfile.TemporaryDirectory() as scratch:
        for path in paths:
            name = path.name or str(path)
            try:
                history, evaluation, notes = read_run(data_folder(path, Path(scratch)))
            except Unreadable as problem:
                print(row_text(name, {}, [f"unreadable: {problem}"]))
                continue
            figures = figures_of(history, evaluation, notes)
            print(row_text(name, figures, verdicts(history, evaluation, figures, band, reference_settings)))
            for note in notes:
                print(f"{'':28s} note: {note}")
            compared[name] = history
    if compared and output:
        draw(compared, reference_runs, output)
        print("wrote", output)
    return len(compared)


def leave_one_out():
    """Each reference run against the band built from the others: True when every run falls inside."""
    _, _, runs = load_reference()
    inside = True
    print(header())
    for name, run in runs.items():
        band, settings, _ = load_reference(left_out=name)
        figures = run_figures(run["history"], run["evaluation"])
        said = verdicts(run["history"], run["evaluation"], figures, band, settings)
        inside &= said == ["ok"]
        print(row_text(f"{name} (left out)", figures, said))
    return inside


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="*", type=Path, help="output folders, data/ folders or zips of students' runs")
    parser.add_argument("--output", default="compare_runs.png", help="the figure (default compare_runs.png)")
    parser.add_argument("--leave-one-out", action="store_true", help="check the reference runs against each other")
    arguments = parser.parse_args()
    if arguments.leave_one_out:
        sys.exit(0 if leave_one_out() else 1)
    if not arguments.runs:
        parser.error("name at least one run (a folder or a zip)")
    band, settings, runs = load_reference()
    sys.exit(0 if compare(arguments.runs, arguments.output, band, settings, runs) else 1)


if __name__ == "__main__":
    main()
