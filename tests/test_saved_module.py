"""The importable module must be exactly what the notebooks' #@save cells say."""

import sys

from conftest import REPOSITORY

sys.path.insert(0, str(REPOSITORY / "tools"))
from saved_module import MODULE, NOTEBOOKS, build_module, saved_cells


def test_module_matches_the_notebooks():
    assert MODULE.read_text() == build_module(), "notebooks/ebm_tutorial.py is stale: run python tools/saved_module.py"


def test_every_core_helper_is_exported_once():
    exported = [cell for notebook in sorted(NOTEBOOKS.glob("0*.ipynb")) for cell in saved_cells(notebook)]
    names = [line.split("(")[0].split()[-1] for cell in exported for line in cell.splitlines() if line.startswith(("def ", "class "))]
    assert len(names) == len(set(names)), f"a helper is defined twice: {sorted(names)}"
    for required in ["load_arrays", "save_json", "build_energy_network"]:
        assert required in names
