"""The out-of-core demo: write a file of Gaussian blobs, fit it batched and whole, show the fits are one.

``suffstats demo`` runs :func:`run_demo`; :func:`write_blobs` writes the data
chunk by chunk, so the file may be larger than memory.
"""

from __future__ import annotations

import os
import tempfile
import time
import warnings

import numpy as np

__all__ = ["demo_rows", "write_blobs", "run_demo"]


def demo_rows(megabytes, features) -> int:
    """Rows of float64 with ``features`` columns that make ``megabytes`` MB."""
    return int(megabytes * 1e6 / (8 * features))


def write_blobs(path, n_rows, n_features, n_components, seed=0, chunk=100_000):
    """Write a synthetic ``.npy`` of Gaussian blobs chunk by chunk (never whole in memory).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from suffstats.demo import write_blobs
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     write_blobs(os.path.join(tmp, "b.npy"), 1000, 3, 2, chunk=300)
    ...     np.load(os.path.join(tmp, "b.npy"), mmap_mode="r").shape
    (1000, 3)
    """
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 1.5, size=(n_components, n_features))
    scales = rng.uniform(0.5, 2.0, size=(n_components, n_features))
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n_rows, n_features))
    for start in range(0, n_rows, chunk):
        stop = min(start + chunk, n_rows)
        labels = rng.integers(0, n_components, stop - start)
        out[start:stop] = centers[labels] + rng.normal(size=(stop - start, n_features)) * scales[labels]
    out.flush()
    del out


def run_demo(megabytes, features, components, batch_size, max_iter, seed=0, folder=None, keep=False,
             progress=True) -> bool:
    """Write ``megabytes`` MB of blobs, fit them from a memory map and in memory, print both; equal bits?

    The file goes to ``folder`` (default: a new temporary folder, removed
    afterwards unless ``keep``). Returns whether the two fits are bit-identical.
    """
    from sklearn.exceptions import ConvergenceWarning

    from .mixture import GaussianMixture

    n_rows = demo_rows(megabytes, features)
    own_folder = folder is None
    folder = tempfile.mkdtemp(prefix="suffstats-demo-") if own_folder else folder
    path = os.path.join(folder, "demo.npy")
    print(f"writing {n_rows:,} x {features} float64 rows ({megabytes:.0f} MB) to {path}", flush=True)
    write_blobs(path, n_rows, features, components, seed=seed)
    settings = dict(n_components=components, max_iter=max_iter, tol=1e-6, random_state=seed,
                    init_params="k-means++")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        X = np.load(path, mmap_mode="r", allow_pickle=False)
        print(f"\nout of core: memory map, batch_size={batch_size:,}", flush=True)
        tic = time.perf_counter()
        batched = GaussianMixture(batch_size=batch_size, verbose=2, verbose_interval=1, progress=progress,
                                  **settings).fit(X)
        t_batched = time.perf_counter() - tic
        print("\nin memory: the whole array at once", flush=True)
        tic = time.perf_counter()
        full = GaussianMixture(verbose=2, verbose_interval=1, **settings).fit(np.load(path, allow_pickle=False))
        t_full = time.perf_counter() - tic
    print("\nepoch  log-likelihood (out of core)  log-likelihood (in memory)")
    for i, (a, b) in enumerate(zip(batched.lower_bounds_, full.lower_bounds_), 1):
        print(f"{i:>5}  {a:>28.12f}  {b:>26.12f}")
    print("\nparameter      max |difference|   bit-identical")
    identical = True
    for name in ("weights_", "means_", "covariances_"):
        a, b = getattr(batched, name), getattr(full, name)
        same = bool(np.array_equal(a, b))
        identical &= same
        print(f"{name:<14} {np.max(np.abs(a - b)):>16.3g}   {'yes' if same else 'no'}")
    print(f"\ntime: out of core {t_batched:.1f} s, in memory {t_full:.1f} s")
    print("the batched fit equals the in-memory fit" if identical else "the fits differ")
    if not keep and own_folder:
        os.remove(path)
        os.rmdir(folder)
    return identical
