"""Artifact loading: one-line messages that say what to do, with the cause kept for scripts (seconds)."""

import json
import zipfile

import ebm_tutorial as ebm
import keras
import numpy as np
import pytest
from conftest import REPOSITORY


def test_a_keras_file_from_another_keras_version_is_named_as_such(tmp_path):
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:  # what a newer Keras might write: metadata readable, config not
        archive.writestr("metadata.json", json.dumps({"keras_version": "9.0.0"}))
        archive.writestr("config.json", "{not a config this Keras understands")
    with pytest.raises(ebm.ArtifactError) as raised:
        ebm.load_artifact(path, "03_contrastive_divergence_training", keras.models.load_model)
    message = str(raised.value)
    assert "written by Keras 9.0.0" in message and f"this Keras {keras.__version__}" in message
    assert "re-run notebooks/03_contrastive_divergence_training.ipynb" in message
    assert raised.value.__cause__ is not None, "the original error must stay chained"


def test_a_damaged_file_says_delete_and_rerun_and_keeps_its_cause(tmp_path):
    path = tmp_path / "arrays.npz"
    np.savez(path, x=np.zeros(1000))
    path.write_bytes(path.read_bytes()[:200])  # an interrupted copy
    with pytest.raises(ebm.ArtifactError, match=r"corrupt or incomplete \(BadZipFile\): delete it") as raised:
        ebm.load_arrays(path, "01_data_preparation")
    assert isinstance(raised.value.__cause__, zipfile.BadZipFile)


def test_a_keras_file_of_this_version_that_is_damaged_is_called_corrupt(tmp_path):
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": keras.__version__}))
    with pytest.raises(ebm.ArtifactError, match="corrupt or incomplete"):
        ebm.load_artifact(path, "03_contrastive_divergence_training", keras.models.load_model)


def readme_data_table() -> dict:
    """README's data/ contract as {file or pattern under data/: writer}, patterns written as <...> become *."""
    rows = {}
    for line in (REPOSITORY / "README.md").read_text().splitlines():
        if not line.startswith("| `data/"):
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        name = cells[0].split("`")[1].removeprefix("data/")
        if "<" in name or name.endswith("/"):
            name = name.split("<")[0].rstrip("/") + "/*" if "/" in name else name
        rows[name] = cells[1].strip("`")
    return rows


def test_readme_data_table_matches_the_registry():
    readme = readme_data_table()
    assert set(readme) == set(ebm.ARTIFACTS), "README's data/ table and ebm_tutorial.ARTIFACTS list different files"
    for name, writer in readme.items():
        producer = ebm.ARTIFACTS[name]
        assert producer == writer or producer.startswith(f"{writer}_"), f"{name}: README says {writer}, registry {producer}"


def test_load_reads_by_suffix_and_names_the_producer(tmp_path, monkeypatch):
    monkeypatch.setattr(ebm.artifacts, "DATA_DIR", tmp_path)  # where load() looks it up
    ebm.save_json(tmp_path / "hopfield_summary.json", {"gap": 1.5})
    assert ebm.load("hopfield_summary.json") == {"gap": 1.5}
    with pytest.raises(ebm.ArtifactError, match="run notebooks/05_what_makes_cd_k_work.ipynb first"):
        ebm.load("cd_k_grid/relu_noise_k3.json")
    with pytest.raises(ebm.ArtifactError, match="run python tools/protocol_grid.py first"):
        ebm.load("protocol_grid/reference_seed0.npz")
    with pytest.raises(KeyError, match="not in ebm_tutorial.ARTIFACTS"):
        ebm.load("unregistered.json")


@pytest.mark.parametrize("content", [{"run": {}, "epochs": []}, ["not", "an", "object"]])
def test_a_json_file_without_a_field_its_readers_need_names_the_field_and_the_notebook(tmp_path, monkeypatch, content):
    """A history from another version of the series (no `settings`) stops its reader with one line, not a KeyError."""
    monkeypatch.setattr(ebm.artifacts, "DATA_DIR", tmp_path)
    ebm.save_json(tmp_path / "training_history.json", content)
    with pytest.raises(ebm.ArtifactError) as raised:
        ebm.load("training_history.json")
    assert "has no field settings" in str(raised.value)
    assert "re-run notebooks/03_contrastive_divergence_training.ipynb" in str(raised.value)
    ebm.save_json(tmp_path / "training_history.json", {"settings": {}, "epochs": [], "extra": 1})
    assert ebm.load("training_history.json")["extra"] == 1  # fields beyond the needed ones are fine


def test_cached_run_trains_once_per_key_and_resumes_after_an_interruption(tmp_path, monkeypatch):
    monkeypatch.setattr(ebm.artifacts, "DATA_DIR", tmp_path)
    folder, calls = tmp_path / "cd_k_grid", []

    def run():
        calls.append(1)
        return {"gap": 1.5, "settings": (1, 2)}, {"samples": np.arange(6.0).reshape(2, 3)}

    first = ebm.cached_run(folder, "relu_noise_k3", {"k": 3, "bounds": (-1, 1)}, run)
    again = ebm.cached_run(folder, "relu_noise_k3", {"k": 3, "bounds": (-1, 1)}, run)
    assert (first[2], again[2], len(calls)) == ("trained", "cached", 1)
    assert first[0] == again[0] and first[0]["settings"] == [1, 2], "the result comes back as its JSON file holds it"
    np.testing.assert_array_equal(again[1]["samples"], first[1]["samples"])
    assert ebm.cached_run(folder, "relu_noise_k3", {"k": 4, "bounds": (-1, 1)}, run)[2] == "trained", "another key"
    assert ebm.cached_run(folder, "relu_noise_k3", {"k": 4, "bounds": (-1, 1)}, run, retrain=True)[2] == "trained"
    (folder / "relu_noise_k3.json").unlink()  # as if interrupted after the arrays and before the result
    assert ebm.cached_run(folder, "relu_noise_k3", {"k": 4, "bounds": (-1, 1)}, run)[2] == "trained"
    assert len(calls) == 4
