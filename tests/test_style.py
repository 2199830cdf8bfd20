"""Notebooks, the exported module, the tests and the tools are ruff-clean."""

import subprocess
import sys

from conftest import REPOSITORY


def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "notebooks", "tests", "tools"],
                            cwd=REPOSITORY, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
