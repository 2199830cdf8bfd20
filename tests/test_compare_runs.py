"""tools/compare_runs.py on synthetic runs: each kind of run gets its verdict, bad input included (seconds)."""

import json
import sys
import zipfile

import pytest
from conftest import REPOSITORY

sys.path.insert(0, str(REPOSITORY / "tools"))
import compare_runs
from ebm_tutorial.evaluation import place_in_band, reference_band, run_figures

SETTINGS = {"alpha": 0.1, "langevin_steps": 40, "epochs": 3, "seed": 0, "chain_start": "noise"}


def history(gaps=(7.0, 6.0, 5.5), energy_data=-0.4, energy_negatives=0.4, **changes):
    rows = [{"epoch": epoch, "val_energy_gap": gap, "val_energy_data": -0.1, "val_energy_noise": gap - 0.1,
             "energy_data": energy_data, "energy_negatives": energy_negatives, "loss": energy_data - energy_negatives,
             "diverged": 0.0, "trivial_regime": 0.0} for epoch, gap in enumerate(gaps, start=1)]
    return {"settings": {**SETTINGS, **changes}, "run": {"quick": False}, "epochs": rows}


def evaluation(classes=9, confidence=0.72, frechet=130.0):
    report = {"classes_with_at_least_2_percent": classes, "mean_confidence": confidence, "frechet_distance": frechet}
    return {"run": {"quick": False}, "sample_quality_settings": {"langevin_steps": 40},
            "sample_quality": {"model samples (40 steps)": report}, "energy_gap_test_vs_noise": 5.4,
            "auroc_test_vs": {"uniform noise (reference)": 1.0, "digits + Gaussian noise sigma=0.3": 1.0}}


@pytest.fixture
def band():
    references = [run_figures(history(gaps=(7.0, 6.0, gap)), evaluation(frechet=frechet))
                  for gap, frechet in [(5.4, 120.0), (5.6, 140.0)]]
    return reference_band(references, margin=0.5, floor={"classes": 1, "validation gap": 0.3})


def verdicts_of(run_history, run_evaluation, band):
    figures = compare_runs.figures_of(run_history, run_evaluation, [])
    return compare_runs.verdicts(run_history, run_evaluation, figures, band, SETTINGS)


def test_the_band_is_the_range_widened_by_margin_and_floor(band):
    assert band["validation gap"] == pytest.approx((5.4 - 0.3, 5.6 + 0.3))  # the floor: 0.5 x 0.2 is less
    assert band["Fréchet"] == pytest.approx((110.0, 150.0))  # half the width on each side
    placed = place_in_band({"Fréchet": 160.0, "classes": 9}, band)
    assert placed["Fréchet"][-1] == "above" and placed["classes"][-1] == "inside"


def test_a_run_like_the_references_is_ok(band):
    assert verdicts_of(history(), evaluation(), band) == ["ok"]


def test_figures_outside_the_band_are_named(band):
    said = verdicts_of(history(gaps=(7.0, 6.0, 2.0)), evaluation(frechet=300.0), band)
    assert len(said) == 1 and said[0].startswith("outside the reference spread: ")
    assert "validation gap 2 below" in said[0] and "Fréchet 300 above" in said[0]


def test_trivial_fixed_point(band):
    assert "trivial fixed point" in verdicts_of(history(energy_data=-4.98, energy_negatives=4.99), None, band)


def test_diverged(band):
    assert "diverged" in verdicts_of(history(energy_data=-2e7, energy_negatives=-1e7), None, band)
    assert "diverged" in verdicts_of(history(energy_negatives=float("nan")), None, band)


def test_changed_settings_are_listed_but_not_the_seed(band):
    said = verdicts_of(history(langevin_steps=20, seed=5), evaluation(), band)
    assert said == ["settings differ: langevin_steps=20 (reference 40)"]


def test_quick_mode(band):
    run = history()
    run["run"]["quick"] = True
    assert "quick-mode run" in verdicts_of(run, None, band)


def write_run(folder, history_record=None, evaluation_record=None):
    data = folder / "data"
    data.mkdir(parents=True)
    if history_record is not None:
        (data / "training_history.json").write_text(json.dumps(history_record))
    if evaluation_record is not None:
        (data / "evaluation_summary.json").write_text(json.dumps(evaluation_record))
    return folder


def test_bad_input_gets_a_verdict_and_the_others_are_still_compared(tmp_path, band, capsys):
    good = write_run(tmp_path / "good", history(), evaluation())
    truncated = write_run(tmp_path / "truncated")
    (truncated / "data" / "training_history.json").write_text(json.dumps(history())[:200])
    missing = write_run(tmp_path / "missing")
    notebook_06 = write_run(tmp_path / "notebook_06")
    (notebook_06 / "data" / "cnn_training_history.json").write_text(json.dumps(history()))
    older = history()
    del older["settings"]
    for row in older["epochs"]:
        del row["val_energy_noise"]
    old_version = write_run(tmp_path / "old_version", older)
    zipped = tmp_path / "zipped.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("student/data/training_history.json", json.dumps(history()))
    runs = [good, truncated, missing, notebook_06, old_version, zipped, tmp_path / "nowhere"]
    reference = {"a": {"history": history()}}
    readable = compare_runs.compare(runs, tmp_path / "figure.png", band, SETTINGS, reference)
    printed = capsys.readouterr().out
    assert readable == 3  # good, old_version, zipped
    lines = {line.split()[0]: line for line in printed.splitlines() if line and not line.startswith(" ")}
    assert lines["good"].endswith("ok")
    assert "unreadable: training_history.json is not valid JSON" in lines["truncated"]
    assert "unreadable: no training_history.json (run notebook 03 first)" in lines["missing"]
    assert "notebook 06's cnn_training_history.json" in lines["notebook_06"]
    assert "lacks settings, val_energy_noise" in printed  # the older version: said, and the rest compared
    assert lines["zipped.zip"].endswith("ok")
    assert "unreadable: " in lines["nowhere"]
    assert (tmp_path / "figure.png").stat().st_size > 5_000


def test_no_readable_run_exits_non_zero(tmp_path, band, monkeypatch):
    monkeypatch.setattr(compare_runs, "load_reference", lambda left_out=None: (band, SETTINGS, {}))
    monkeypatch.setattr(sys, "argv", ["compare_runs.py", str(tmp_path / "nowhere")])
    with pytest.raises(SystemExit) as exit_status:
        compare_runs.main()
    assert exit_status.value.code == 1
