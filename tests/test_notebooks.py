"""Every notebook of the gallery runs top to bottom at a small size, its own assertions hold, and it cleans up.

The notebooks are stored with the outputs of a full-size run (what the docs show); here
``SUFFSTATS_NOTEBOOK_ROWS`` makes each run on few rows (each within ~20 s on two cores). The kernel's
temporary directory is a fresh folder that must be empty when the notebook ends.
"""

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

# Subprocesses and whole builds: `pytest -m "not slow"` skips them while editing; CI runs everything.
pytestmark = pytest.mark.slow

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

#: Rows each notebook runs on in the suite (its full size is set in the notebook).
SMALL = {
    "huge_npy": 40_000,
    "mixed_families": 20_000,
    "exact_vs_full": 20_000,
    "choosing_k": 12_000,
    "your_own_loop": 20_000,
    "minibatch_vs_exact": 40_000,
    "bayesian_network": 20_000,
    "missing_values": 10_000,
    "classifiers_and_vb": 20_000,
    "hmm_out_of_core": 20_000,
}


#: What a notebook prints when its checks hold (its own ``assert`` lines stop it otherwise).
CLAIMS = {
    "huge_npy": ["interrupted after epoch 3; checkpoint written: True",
                 "interrupted + resumed == uninterrupted, bit for bit: True",
                 "out of core == in memory on all rows, bit for bit: True"],
    "mixed_families": ["batched from the memory map == in memory, bit for bit: True"],
    "classifiers_and_vb": ["semi-supervised at least as accurate at every fraction: True",
                           "components weighing over 1%: 5 of 12 (the file has 5)", ", bit for bit: True"],
    "hmm_out_of_core": ["give the same bits: True", "the path on disk equals the in-memory path: True"],
}


def _run(name, tmp_path, monkeypatch):
    path = NOTEBOOKS / f"{name}.ipynb"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("SUFFSTATS_NOTEBOOK_ROWS", str(SMALL[name]))
    monkeypatch.setenv("TMPDIR", str(scratch))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    leftovers = sorted(os.listdir(scratch))
    assert not leftovers, f"{name} leaves temporary files behind: {leftovers}"
    return nb


def _text(nb):
    return "".join(o.get("text", "") for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs)


def _images(nb):
    return sum("image/png" in o.get("data", {}) for cell in nb.cells if cell.cell_type == "code"
               for o in cell.outputs)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_notebook_runs_at_small_size(name, tmp_path, monkeypatch):
    nb = _run(name, tmp_path, monkeypatch)
    assert _images(nb) >= 1, f"{name} draws no plot"
    missing = [claim for claim in CLAIMS.get(name, []) if claim not in _text(nb)]
    assert not missing, f"{name} does not show: {missing}"


def test_every_notebook_is_run_by_the_suite():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(SMALL)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_stored_notebook_has_outputs_of_a_full_run(name):
    """The gallery shows stored outputs: every code cell was executed, plots included."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), f"{name} is stored without outputs"
    assert _images(nb) >= 1
