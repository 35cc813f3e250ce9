"""The notebook runs top to bottom (on fewer rows) and its own assertions hold."""

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def test_exact_vs_full_notebook_runs(monkeypatch):
    path = Path(__file__).resolve().parents[1] / "notebooks" / "exact_vs_full.ipynb"
    monkeypatch.setenv("SUFFSTATS_NOTEBOOK_ROWS", "20000")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = "".join(o.get("text", "") for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs)
    assert "batch_size=10000" in outputs and "True" in outputs
