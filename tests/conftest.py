
import numpy as np
import pytest



@pytest.fixture
def blobs_memmap(tmp_path):
    """Four well-separated blobs, 10,007 rows x 3 features, written to a .npy and opened as a memory map."""
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 0.0, 0.0], [6.0, 0.0, 1.0], [0.0, 7.0, -2.0], [5.0, 5.0, 5.0]])
    n = 10_007
    labels = rng.integers(0, 4, n)
    X = centers[labels] + rng.normal(size=(n, 3)) * np.array([1.0, 0.5, 1.5])
    path = tmp_path / "blobs.npy"
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=X.shape)
    out[:] = X
    out.flush()
    del out
    return np.load(path, mmap_mode="r")
