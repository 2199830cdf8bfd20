"""The importable package must be exactly what the notebooks' `#@save <module>` cells say."""

import ast
import json
import re
import subprocess
import sys

import pytest
from conftest import REPOSITORY

sys.path.insert(0, str(REPOSITORY / "tools"))
from saved_module import (
    CONTRACT_PAGE,
    NOTEBOOKS,
    PACKAGE,
    REGISTRY,
    TOPICS,
    build_data_contract,
    build_package,
    registration_calls,
    saved_cells,
)


def test_package_and_contract_page_match_the_notebooks():
    files = build_package()
    on_disk = {path.name: path.read_text() for path in PACKAGE.glob("*.py")}
    assert on_disk == files, "notebooks/ebm_tutorial/ is stale: run python tools/saved_module.py"
    assert CONTRACT_PAGE.read_text() == build_data_contract(), "docs/data.md is stale: run python tools/saved_module.py"


def test_a_file_is_registered_by_its_writer_with_literal_arguments_only():
    call = 'register("a.json", "03_contrastive_divergence_training", read_by="04", contents="x")'
    assert registration_calls(call, "03_contrastive_divergence_training", "03.ipynb")[0][1]["read_by"] == "04"
    with pytest.raises(ValueError, match="registered where it is written"):
        registration_calls(call, "04_evaluation_and_visualization", "04.ipynb")
    with pytest.raises(ValueError, match="holds only register"):
        registration_calls("x = 1\n" + call, "03_contrastive_divergence_training", "03.ipynb")


def test_every_helper_is_defined_once_in_the_module_of_its_topic():
    exported = [(module, cell) for notebook in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
                for module, cell in saved_cells(notebook)]
    assert {module for module, _ in exported} == {*TOPICS, REGISTRY}, "a module of TOPICS has no #@save cell, or the reverse"
    names = [node.name for _, cell in exported for node in ast.parse(cell).body
             if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    assert len(names) == len(set(names)), f"a helper is defined twice: {sorted(names)}"
    for required in ["load_arrays", "save_json", "build_energy_network", "make_sampler", "judge_report"]:
        assert required in names


def test_each_module_imports_what_it_uses_from_earlier_modules_only():
    import ebm_tutorial
    import ebm_tutorial.sampling
    import ebm_tutorial.training

    assert ebm_tutorial.make_sampler is ebm_tutorial.sampling.make_sampler
    assert ebm_tutorial.training.langevin_dynamics is ebm_tutorial.sampling.langevin_dynamics  # imported, not copied
    assert ebm_tutorial.load.__module__ == "ebm_tutorial.artifacts"


def test_every_data_set_is_read_through_ebm_tutorial_datasets():
    """A notebook or tool that opens a data set by itself would bypass the fallbacks (and the tests' empty folder)."""
    readers = []
    for notebook in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(notebook.read_text())["cells"]
        readers += [f"{notebook.name}, code cell {index}" for index, cell in enumerate(
            cell for cell in cells if cell["cell_type"] == "code")
            if any(source in "".join(cell["source"]) for source in ("keras.datasets.", "/usr/share/datasets"))
            and not "".join(cell["source"]).startswith("#@save datasets")]
    readers += [path.name for path in (REPOSITORY / "tools").glob("*.py")
                if "keras.datasets." in path.read_text() or "/usr/share/datasets" in path.read_text()]
    assert not readers, f"read MNIST and Fashion-MNIST with ebm_tutorial.datasets instead: {readers}"


def test_artifacts_loads_no_tensorflow():
    """The tools write their files with ebm_tutorial.artifacts next to PyTorch or a parent process that must not
    hold TensorFlow; the package imports a module only when one of its names is asked for."""
    script = ("import sys; import ebm_tutorial.artifacts, ebm_tutorial; ebm_tutorial.save_json; "
              "print(sorted({'tensorflow', 'keras'} & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", script], cwd=NOTEBOOKS, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
    script = "import ebm_tutorial; print(ebm_tutorial.make_sampler.__module__, ebm_tutorial.sampling.__name__)"
    result = subprocess.run([sys.executable, "-c", script], cwd=NOTEBOOKS, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["ebm_tutorial.sampling", "ebm_tutorial.sampling"]
    assert "cuda" not in result.stderr.lower() and "onednn" not in result.stderr.lower(), result.stderr


def test_no_notebook_imports_tensorflow_before_the_package_has_quietly():
    """TensorFlow writes start-up notes to file descriptor 2 at its first import and first device discovery; a notebook
    that imports it before ebm_tutorial did (quietly) shows them in a cell's output, where nbval compares them."""
    quiet_modules = {path.stem for path in PACKAGE.glob("*.py")  # those that import TensorFlow when imported
                     if re.search(r"^\w+, \w+ = import_tensorflow\(\)", path.read_text(), re.MULTILINE)}
    assert quiet_modules and "artifacts" not in quiet_modules
    loud = []
    for notebook in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        for cell in [cell for cell in json.loads(notebook.read_text())["cells"] if cell["cell_type"] == "code"]:
            source = "".join(cell["source"])
            if "import_tensorflow()" in source or any(f"from ebm_tutorial.{module} import" in source
                                                       for module in quiet_modules):
                break  # from here on TensorFlow is loaded, and its notes were hidden
            if any(line.startswith(("import keras", "import tensorflow", "from keras", "from tensorflow"))
                   for line in source.splitlines()):
                loud.append(notebook.name)
                break
    assert not loud, f"import TensorFlow with `keras, tf = import_tensorflow()` first in {loud}"
