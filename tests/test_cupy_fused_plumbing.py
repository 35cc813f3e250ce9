"""The CuPy launch code of the fused kernels, on the CPU: a stand-in ``cupy`` whose RawModule runs NumPy mirrors.

Each mirrored kernel reads its arguments exactly as the CUDA C declares them (pointer arrays, ``long long n``,
``int D`` ...), so argument order, sizes, grids and the unpacking of the statistics vector are checked against
the NumPy reference. The CUDA C itself is compiled in ``tests/test_cuda_compile.py`` and executed on the CPU in
``tests/test_cuda_on_host.py``.
"""

import re
import sys
import types

import numpy as np
import pytest

from suffstats.backends import cuda_sources, numpy_kernels
from suffstats.backends.gaussian_math import LOG_2PI

COV = {code: name for name, code in cuda_sources.COVARIANCE_CODES.items()}
LAYOUT = {code: name for name, code in cuda_sources.LAYOUT_CODES.items()}


def _gaussian(k, cov, grid, block, args):
    X, w, n, D, means, prec, det, log_weights, resp, value = args
    assert isinstance(n, np.int64) and isinstance(D, np.int32) and grid[0] * block[0] >= n
    X, means = X.reshape(int(n), int(D)), means.reshape(k, int(D))
    lp = np.empty((int(n), k))
    for j in range(k):
        Z = X - means[j]
        y = Z @ (prec[j] if cov == "full" else prec) if cov in ("full", "tied") else Z * prec[j]
        lp[:, j] = (-0.5 * (int(D) * LOG_2PI + np.sum(y * y, axis=1)) + det[j]) + log_weights[j]
    top = lp.max(axis=1)
    log_norm = np.log(np.exp(lp - top[:, None]).sum(axis=1)) + top
    resp[...] = np.exp(lp - log_norm[:, None]) * w[:, None]
    value[...] = w * log_norm


def _nearest(k, grid, block, args):
    X, w, n, D, centers, resp, value = args
    X = X.reshape(int(n), int(D))
    dist = np.stack([np.sum((X - c) ** 2, axis=1) for c in centers.reshape(k, int(D))], axis=1)
    labels = dist.argmin(axis=1)
    resp[...] = (labels[:, None] == np.arange(k)) * w[:, None]
    value[...] = w * dist[np.arange(int(n)), labels]


def _moments(layout, grid, block, args):
    X, w, resp, value, n, D, K, shifts, tile_rows, partial = args
    assert isinstance(D, np.int32) and isinstance(K, np.int32) and isinstance(tile_rows, np.int32)
    assert grid[0] == partial.shape[0] == -(-int(n) // int(tile_rows))
    n, D, K = int(n), int(D), int(K)  # the arrays read as the kernel reads them: flat, with the sizes passed
    X, resp, shifts, w, value = (X.reshape(n, D), resp.reshape(n, K), shifts.reshape(K, D), w.reshape(n),
                                 value.reshape(n))
    for t in range(grid[0]):
        sl = slice(t * int(tile_rows), (t + 1) * int(tile_rows))
        Z = X[sl, None, :] - shifts[None]
        rZ = Z * resp[sl, :, None]
        parts = [[w[sl].sum()], [value[sl].sum()], resp[sl].sum(axis=0), rZ.sum(axis=0).ravel()]
        if layout == "full":
            parts.append(np.einsum("tja,tjb->jab", rZ, Z).ravel())
        elif layout == "diag":
            parts.append((rZ * Z).sum(axis=0).ravel())
        elif layout == "trace":
            parts.append((rZ * Z).sum(axis=(0, 2)))
        partial[t] = np.concatenate(parts)


def _sum_tiles(grid, block, args):
    partial, tiles, entries, out = args
    assert grid[0] * block[0] >= int(entries) and partial.shape == (int(tiles), int(entries))
    out[...] = partial.sum(axis=0)


class _RawModule:
    def __init__(self, code, options, name_expressions):
        assert code == cuda_sources.SOURCE and list(name_expressions) == cuda_sources.instance_names()

    def compile(self):
        pass

    def get_function(self, name):
        if name == "sum_tiles":
            return _sum_tiles
        if name not in cuda_sources.INSTANCES:
            raise KeyError(name)
        kind, numbers = re.match(r"(\w+)<([\d, ]+)>", name).groups()
        numbers = [int(v) for v in numbers.split(",")]
        if kind == "gaussian_responsibilities":
            return lambda grid, block, args: _gaussian(numbers[0], COV[numbers[1]], grid, block, args)
        if kind == "nearest_assignment":
            return lambda grid, block, args: _nearest(numbers[0], grid, block, args)
        return lambda grid, block, args: _moments(LAYOUT[numbers[0]], grid, block, args)


class _StandInCupy(types.ModuleType):
    """NumPy under CuPy's name, plus the RawModule above."""

    RawModule = _RawModule

    def __getattr__(self, name):
        return getattr(np, name)


@pytest.fixture
def fused(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", _StandInCupy("cupy"))
    from suffstats.backends.cupy_fused import FusedKernels

    return FusedKernels()


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("n", [1, cuda_sources.TILE_ROWS, 3 * cuda_sources.TILE_ROWS + 5])
def test_gaussian_launches_give_the_reference_statistics(fused, covariance_type, n):
    rng = np.random.default_rng(n)
    d, k = 3, 4
    X = rng.normal(size=(n, d)) + 50
    w = rng.uniform(0.5, 2, n)
    means = X[rng.integers(0, n, k)] + 0.1
    prec = {"full": np.stack([np.triu(np.eye(d) + 0.1) for _ in range(k)]), "tied": np.triu(np.eye(d) + 0.1),
            "diag": rng.uniform(0.5, 2, (k, d)), "spherical": rng.uniform(0.5, 2, k)}[covariance_type]
    log_weights = np.log(np.full(k, 1 / k))
    for weights in (None, w):
        got = fused.gaussian_block(X, weights, means, prec, log_weights, covariance_type)
        want = numpy_kernels.gaussian_block(X, weights, means, prec, log_weights, covariance_type)
        for name, g, r in zip(("weight", "log_likelihood", "resp", "first", "second"), got, want):
            assert np.shape(g) == np.shape(r), name
            np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-10 * np.max(np.abs(r)), err_msg=name)


@pytest.mark.parametrize("layout", [None, "full", "diag", "trace"])
def test_nearest_launches_give_the_reference_statistics(fused, layout):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(700, 5))
    w = rng.uniform(0.5, 2, 700)
    centers = X[:6] + 0.01
    got = fused.nearest_block(X, w, centers, layout)
    want = numpy_kernels.nearest_block(X, w, centers, layout)
    for g, r in zip(got, want):
        if r is None:
            assert g is None
            continue
        assert np.shape(g) == np.shape(r)
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-10 * np.max(np.abs(r)))


def test_shapes_without_an_instance_are_refused(fused):
    X = np.zeros((4, 2))
    with pytest.raises(ValueError, match="17 components"):
        fused.gaussian_vector(X, None, np.zeros((17, 2)), np.ones((17, 2)), np.zeros(17), "diag")


class _DeviceArray(np.ndarray):
    """A NumPy array with CuPy's ``set(host, stream=)``; records which stream each copy was queued on."""

    copies = []

    def set(self, host, stream=None):
        assert isinstance(host, np.ndarray) and not isinstance(host, _DeviceArray) and host.shape == self.shape
        _DeviceArray.copies.append(stream)
        self[...] = host


class _Stream:
    def __init__(self, non_blocking=False):
        self.non_blocking = non_blocking

    def record(self):
        return types.SimpleNamespace(stream=self, synchronize=lambda: None)

    def synchronize(self):
        pass

    def wait_event(self, event):
        assert event.stream is not self  # the compute stream waits on the copy stream's events


class _StreamingCupy(_StandInCupy):
    """The stand-in above plus CuPy's pinned memory, streams, events and device arrays with ``set``."""

    def __init__(self, name):
        super().__init__(name)
        current = _Stream()
        self.pinned = []

        def alloc_pinned_memory(size):
            self.pinned.append(size)
            return bytearray(size)
        self.cuda = types.SimpleNamespace(alloc_pinned_memory=alloc_pinned_memory, Stream=_Stream,
                                          get_current_stream=lambda: current)

    def empty(self, shape, dtype=np.float64):
        return np.empty(shape, dtype=dtype).view(_DeviceArray)

    def asnumpy(self, a):
        return np.asarray(a).view(np.ndarray)


def test_the_cupy_stream_operations_drive_the_streaming_schedule(monkeypatch):
    from suffstats.backends.streaming import stream_pass
    from suffstats.block_tree import BlockTree

    cupy = _StreamingCupy("cupy")
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    from suffstats.backends.cupy_fused import CupyStreamOps, FusedKernels

    fused, ops = FusedKernels(), CupyStreamOps()
    rng = np.random.default_rng(5)
    X, w = rng.normal(size=(1000, 3)) + 10, rng.uniform(0.5, 2, 1000)
    means, prec, log_weights = X[:2] + 0.1, rng.uniform(0.5, 2, (2, 3)), np.log([0.4, 0.6])
    block, _DeviceArray.copies = 128, []

    def statistics(Xb, wb, stream):
        assert stream is cupy.cuda.get_current_stream()
        return fused.gaussian_vector(Xb, wb, means, prec, log_weights, "diag")
    batches = [(X[s:s + 300], w[s:s + 300]) for s in range(0, 1000, 300)]
    total = stream_pass(batches, statistics, ops, buffer_rows=256, n_buffers=3, block_rows=block)
    tree = BlockTree()
    for s in range(0, 1000, block):
        tree.push(cuda_sources.emulate_gaussian_vector(X[s:s + block], w[s:s + block], means, prec, log_weights,
                                                       "diag"))
    assert type(total) is np.ndarray
    np.testing.assert_allclose(total, tree.total(), rtol=1e-12, atol=1e-12 * np.max(np.abs(tree.total())))
    assert cupy.pinned == [256 * 3 * 8, 256 * 8] * 3  # three pinned pairs: rows, then weights
    copy_streams = set(map(id, _DeviceArray.copies))
    assert len(_DeviceArray.copies) % 2 == 0 and len(_DeviceArray.copies) >= 2 * 4  # rows and weights per chunk
    assert len(copy_streams) == 1
    assert _DeviceArray.copies[0].non_blocking and _DeviceArray.copies[0] is not cupy.cuda.get_current_stream()
