"""The tutorials run, at reduced size, so that they cannot rot.

Each notebook's code cells are executed in order in one namespace, from the ``tutorials/`` folder, with
``CELLBRIDGE_TUTORIAL_FAST=1`` (the notebooks shrink their training budgets). No Jupyter is needed: the
notebook is JSON. The tutorials assert what they show (e.g. identical output after reloading a model).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = sorted((ROOT / "tutorials").glob("*.ipynb"))
DATA = ROOT.parent / "shared" / "data"
INTEROP = ("cellrank", "scvelo")


def code_cells(path: Path) -> list[str]:
    cells = json.loads(path.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def test_tutorials_are_committed_with_outputs():
    assert TUTORIALS, "no tutorials found"
    for path in TUTORIALS:
        cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
        assert all(c.get("execution_count") for c in cells), f"{path.name} has unexecuted cells"
        assert any(c.get("outputs") for c in cells), f"{path.name} is committed without outputs"


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_runs(path, monkeypatch, tmp_path):
    if not DATA.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{DATA} is missing in CI")
        pytest.skip(f"the tutorials read ../shared/data ({DATA} not found)")
    for extra in INTEROP:  # a tutorial that shows CellRank / scVelo needs the interop extra (CI installs it)
        if f"import {extra}" in "\n".join(code_cells(path)) and not os.environ.get("CI"):
            pytest.importorskip(extra, reason=f"{path.name} needs {extra}: pip install 'cellbridge[interop]'")
    monkeypatch.setenv("CELLBRIDGE_TUTORIAL_FAST", "1")
    monkeypatch.setenv("CELLBRIDGE_DATA_DIR", str(DATA))
    monkeypatch.setenv("CELLBRIDGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(path.parent)
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "show", lambda *a, **k: None)
    namespace: dict = {"__name__": "__tutorial__"}
    try:
        for i, source in enumerate(code_cells(path)):
            code = compile(source, f"{path.name}[cell {i}]", "exec")
            exec(code, namespace)  # noqa: S102 - the project's own notebooks
    finally:
        plt.close("all")
