"""The package's type hints hold (mypy --strict, configured in pyproject.toml)."""
from __future__ import annotations

import sys
from pathlib import Path

from mypy import api

HERE = Path(__file__).resolve().parents[1]


def test_the_package_passes_mypy_strict():
    # The cache lives in the venv, which is rebuilt whenever the pins change.
    cache = Path(sys.prefix) / ".mypy_cache"
    out, err, status = api.run(["--config-file", str(HERE / "pyproject.toml"), "--cache-dir", str(cache), str(HERE / "pocket_client")])
    assert status == 0, out + err
