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


def test_every_registered_file_has_a_writer_readers_and_contents_and_readme_links_the_contract_page():
    assert len(ebm.ARTIFACTS) >= 40 and "mnist_prepared.npz" in ebm.ARTIFACTS
    for name, entry in ebm.ARTIFACTS.items():
        assert entry.name == name and entry.writer and entry.read_by and entry.contents, name
        writer_file = REPOSITORY / (entry.writer if entry.writer.startswith("tools/") else f"notebooks/{entry.writer}.ipynb")
        assert writer_file.is_file(), f"{name}: its writer {entry.writer} does not exist"
    assert ebm.ARTIFACTS["training_history.json"].fields == ("settings", "epochs")
    assert "(docs/data.md)" in (REPOSITORY / "README.md").read_text()


def test_load_reads_by_suffix_and_names_the_producer(tmp_path, monkeypatch):
    monkeypatch.setattr(ebm.artifacts, "DATA_DIR", tmp_path)  # where load() looks it up
    ebm.save_json(tmp_path / "hopfield_summary.json", {"gap": 1.5})
    assert ebm.load("hopfield_summary.json") == {"gap": 1.5}
    with pytest.raises(ebm.ArtifactError, match="run notebooks/05_what_makes_cd_k_work.ipynb first"):
        ebm.load("cd_k_grid/relu_noise_k3.json")
    with pytest.raises(ebm.ArtifactError, match="run python tools/protocol_grid.py first"):
        ebm.load("protocol_grid/reference_seed0.npz")
    with pytest.raises(KeyError, match="register it in the notebook that writes it"):
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


def test_a_missing_committed_result_names_the_tool_and_its_cost(tmp_path, monkeypatch):
    monkeypatch.setattr(ebm.artifacts, "RESULTS_DIR", tmp_path)
    monkeypatch.setitem(ebm.RESULTS, "spread.json", ebm.artifacts.Artifact(
        "spread.json", "tools/protocol_grid.py", "03", "one row per seed", ("rows",), "about 3 h on 2 cores"))
    with pytest.raises(ebm.ArtifactError, match=r"results/spread.json is missing.*`python tools/protocol_grid.py` "
                                                r"writes it again \(about 3 h on 2 cores\)"):
        ebm.load_result("spread.json")
    ebm.save_json(tmp_path / "spread.json", {"other": 1})
    with pytest.raises(ebm.ArtifactError, match="has no field rows"):
        ebm.load_result("spread.json")
    ebm.save_json(tmp_path / "spread.json", {"rows": [1, 2]})
    assert ebm.load_result("spread.json") == {"rows": [1, 2]}


def test_the_start_call_seeds_reads_before_seeding_and_freezes_its_config(tmp_path, monkeypatch):
    import random

    monkeypatch.setattr(ebm.artifacts, "DATA_DIR", tmp_path)
    ebm.save_json(tmp_path / "hopfield_summary.json", {"gap": 1.5})
    notebook = ebm.start_notebook("08_hopfield_networks", seed=3, reads=("hopfield_summary.json",), chains=(4, 5))
    first = (random.random(), float(keras.random.uniform(())), notebook.rng.random())
    again = ebm.start_notebook("08_hopfield_networks", seed=3, chains=(4, 5))
    assert (random.random(), float(keras.random.uniform(())), again.rng.random()) == first, "the same seed, the same draws"
    assert notebook.inputs == {"hopfield_summary.json": {"gap": 1.5}}
    config = notebook.config
    assert (config.seed, config.chains) == (3, (4, 5)) and config.to_dict() == {"seed": 3, "chains": [4, 5]}
    assert config == again.config
    with pytest.raises(AttributeError, match="frozen: change chains in the notebook's start call"):
        config.chains = 6
    with pytest.raises(AttributeError, match="no parameter 'steps'"):
        _ = config.steps
    with pytest.raises(TypeError):
        ebm.start_notebook("08_hopfield_networks", seed=0, function=print)  # JSON cannot hold it: fails at the start
    with pytest.raises(KeyError, match="register it"):
        notebook.file("unregistered.json")
    notebook.finish("hopfield_summary.json", {"gap": 2.0})
    written = ebm.load(notebook.file("hopfield_summary.json"))
    assert written["config"] == {"seed": 3, "chains": [4, 5]} and written["gap"] == 2.0
    assert written["run"]["notebook"] == "08_hopfield_networks" and written["run"]["keras"] == keras.__version__
