"""Running a notebook without (or with damaged) inputs stops early with one sentence saying what to do."""

import json
import shutil
import zipfile

import numpy as np
import pytest
from conftest import execute_notebook

pytestmark = pytest.mark.notebook  # every test here runs a notebook


def run_expecting_failure(name, output_dir):
    """The first error the notebook shows, as the reader sees it; it must come from the first data-loading cell."""
    notebook = execute_notebook(name, output_dir, stop_at_error=True)  # the cells after it would only cost time
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"  # a registry cell reads nothing
                  and not cell.source.startswith("#@save registry")]
    failed = [(index, output) for index, cell in enumerate(code_cells)
              for output in cell.outputs if output.output_type == "error"]
    assert failed, "the notebook ran without an error"
    index, error = failed[0]
    assert index <= 1, f"the notebook only stopped at code cell {index}, not right after its parameters"
    assert error.ename == "ArtifactError"
    assert len(error.traceback) == 1, "a deep traceback leaked out:\n" + "\n".join(error.traceback)
    return error.traceback[0]


def test_02_before_01_names_the_notebook_to_run(tmp_path):
    message = run_expecting_failure("02_energy_model_definition", tmp_path)
    assert message.strip() == ("ArtifactError: data/mnist_prepared.npz is missing: "
                               "run notebooks/01_data_preparation.ipynb first.")


def test_truncated_npz_says_delete_and_rerun(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    np.savez(data / "mnist_prepared.npz", x_train=np.zeros((100, 28, 28), np.float32))
    content = (data / "mnist_prepared.npz").read_bytes()
    (data / "mnist_prepared.npz").write_bytes(content[: len(content) // 2])
    with pytest.raises(zipfile.BadZipFile):
        np.load(data / "mnist_prepared.npz")  # what numpy alone would have shown
    message = run_expecting_failure("02_energy_model_definition", tmp_path)
    assert message.strip() == ("ArtifactError: data/mnist_prepared.npz is corrupt or incomplete (BadZipFile): "
                               "delete it and re-run notebooks/01_data_preparation.ipynb.")


@pytest.mark.parametrize("name", ["05_what_makes_cd_k_work", "06_convolutional_ebm"])
def test_later_notebooks_without_the_judge_name_notebook_04(name, trained_output, tmp_path):
    (tmp_path / "data").mkdir()
    for ran in ("mnist_prepared.npz", "training_history.json"):  # 01 and 03 ran (05 reads 03's protocol), 04 did not
        shutil.copy(trained_output / "data" / ran, tmp_path / "data")
    message = run_expecting_failure(name, tmp_path)
    assert message.strip() == ("ArtifactError: data/judge_classifier.keras is missing: "
                               "run notebooks/04_evaluation_and_visualization.ipynb first.")


def test_04_on_a_history_from_another_version_names_the_missing_field(trained_output, tmp_path):
    shutil.copytree(trained_output / "data", tmp_path / "data")  # 01-03 ran
    history_file = tmp_path / "data" / "training_history.json"
    record = json.loads(history_file.read_text())
    history_file.write_text(json.dumps({name: value for name, value in record.items() if name != "settings"}))
    message = run_expecting_failure("04_evaluation_and_visualization", tmp_path)
    assert message.strip() == ("ArtifactError: data/training_history.json has no field settings (written by another "
                               "version of the series, or edited): delete it and re-run "
                               "notebooks/03_contrastive_divergence_training.ipynb.")
