"""Test settings: quick mode, and every artifact in a temporary folder.

Loaded before any notebook kernel starts, so the nbval kernels inherit these variables: the notebooks run on small
subsets (EBM_QUICK=1), write data/ and figures/ under a temporary EBM_OUTPUT_DIR, never into the repository, and look
for the optional Fashion-MNIST in an empty folder (EBM_FASHION_MNIST_DIR), as on a fresh machine.
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path

import nbclient
import nbformat
import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPOSITORY / "notebooks"
sys.path.insert(0, str(NOTEBOOKS))  # the package ebm_tutorial, for every test file

os.environ["EBM_QUICK"] = "1"
# EBM_TEST_OUTPUT_DIR: a kept folder that already holds quick-mode artifacts of earlier notebooks, so that one
# notebook can be checked alone (from the repository root, `EBM_TEST_OUTPUT_DIR=/tmp/q python -m pytest -p tests.conftest
# --nbval notebooks/10_….ipynb`: pytest loads this file by itself only when tests/ is among the paths on the command
# line, so without -p the notebook runs in full mode on the repository's data/); never deleted.
KEPT_OUTPUT = os.environ.get("EBM_TEST_OUTPUT_DIR")
SESSION_OUTPUT = Path(KEPT_OUTPUT) if KEPT_OUTPUT else Path(tempfile.mkdtemp(prefix="ebm-tests-"))
os.environ["EBM_OUTPUT_DIR"] = str(SESSION_OUTPUT)
# Stand where a new machine stands: no Debian Fashion-MNIST, whatever this one has installed (quick mode never
# downloads), so a notebook that needs a file a fresh machine lacks fails here too.
NO_FASHION_MNIST = SESSION_OUTPUT / "no-fashion-mnist"
NO_FASHION_MNIST.mkdir(parents=True, exist_ok=True)
os.environ["EBM_FASHION_MNIST_DIR"] = str(NO_FASHION_MNIST)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_configure(config):
    config.addinivalue_line("markers", "notebook: executes a notebook (nbval's cells, and tests that run one); "
                                       "`-m \"not notebook\"` leaves the unit tier, which runs in seconds")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.suffix == ".ipynb" or "trained_output" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.notebook)


def pytest_unconfigure(config):
    if not KEPT_OUTPUT:
        shutil.rmtree(SESSION_OUTPUT, ignore_errors=True)


def execute_notebook(name: str, output_dir: Path, allow_errors=False, stop_at_error=False,
                     **environment) -> nbformat.NotebookNode:
    """Run notebooks/<name>.ipynb in quick mode with artifacts under output_dir.

    Raises CellExecutionError at the first failing cell, unless allow_errors (then every cell runs) or stop_at_error
    (then it stops there and returns the notebook, the error in that cell's outputs).
    """
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    saved = dict(os.environ)
    os.environ.update({"EBM_OUTPUT_DIR": str(output_dir), **environment})
    try:
        client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3", allow_errors=allow_errors,
                                         resources={"metadata": {"path": str(NOTEBOOKS)}})
        client.execute()
    except nbclient.exceptions.CellExecutionError:
        if not stop_at_error:
            raise
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return notebook


@pytest.fixture(scope="session")
def trained_output() -> Path:
    """The shared quick-mode output folder, with notebooks 01-03 run (nbval usually did that already)."""
    for name, artifact in [("01_data_preparation", "mnist_prepared.npz"),
                           ("02_energy_model_definition", "energy_mlp_untrained.keras"),
                           ("03_contrastive_divergence_training", "training_history.json")]:
        if not (SESSION_OUTPUT / "data" / artifact).exists():
            execute_notebook(name, SESSION_OUTPUT)
    return SESSION_OUTPUT
