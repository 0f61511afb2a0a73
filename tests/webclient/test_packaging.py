"""A wheel built after ``make webclient`` carries the built client, so ``pip install`` serves it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import client_api.webclient as webclient

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_contains_the_built_web_client(tmp_path: Path) -> None:
    dist = webclient.DIST
    assert (dist / "index.html").is_file(), "the web client is not built: run make webclient"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )
    wheel = next(tmp_path.glob("hearth-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assets = {p.name for p in (dist / "assets").iterdir()}
    assert "webclient/dist/index.html" in names
    assert {f"webclient/dist/assets/{a}" for a in assets} <= names
    assert any(n.endswith(".wasm") for n in names)
    # The sources and their dependencies stay out of the wheel.
    assert not [n for n in names if "node_modules" in n or n.startswith("webclient/src/")]
