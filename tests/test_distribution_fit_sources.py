"""``Distribution.fit`` reads any source batch by batch: same bits as in memory, bounded memory."""

import tracemalloc

import numpy as np
import pytest

import suffstats as ss
from suffstats.data import BLOCK_ROWS

from .families import CASES, NAMES, snapshot

N = 3 * BLOCK_ROWS + 1234  # several blocks and a partial one


def _same_parameters(a, b):
    pa, pb = a.parameters(), b.parameters()
    assert pa.keys() == pb.keys()
    for k in pa:
        assert np.array_equal(pa[k], pb[k]), (k, pa[k], pb[k])


@pytest.mark.parametrize("name", NAMES)
def test_fit_from_a_path_equals_fit_from_the_array(name, tmp_path):
    case = CASES[name]
    X = case.data(np.random.default_rng(0), N)  # 1-D for univariate families
    np.save(tmp_path / "rows.npy", X)
    in_memory = case.make().fit(X)
    _same_parameters(case.make().fit(str(tmp_path / "rows.npy"), batch_size=5000), in_memory)
    _same_parameters(case.make().fit(np.load(tmp_path / "rows.npy", mmap_mode="r")), in_memory)
    # ... and agrees with the one-pass statistics of the whole array.
    one_pass = case.make()
    one_pass.summarize(X)
    one_pass.from_summaries()
    for k, v in one_pass.parameters().items():
        np.testing.assert_allclose(in_memory.parameters()[k], v, rtol=1e-12, atol=1e-300, err_msg=k)


@pytest.mark.parametrize("name", NAMES)
def test_result_does_not_depend_on_batch_size(name):
    case = CASES[name]
    X = case.data(np.random.default_rng(1), N)
    w = np.random.default_rng(2).integers(0, 4, size=N).astype(float)
    reference = case.make().fit(X, sample_weight=w)
    for batch_size in (97, 777, BLOCK_ROWS, 5000, N + 10):  # none divides N
        _same_parameters(case.make().fit(X, sample_weight=w, batch_size=batch_size), reference)


def test_shards_and_streams_give_the_same_bits(tmp_path):
    X = CASES["MVN-full"].data(np.random.default_rng(3), N)
    for i, part in enumerate(np.array_split(X, 5)):
        np.save(tmp_path / f"part-{i}.npy", part)
    reference = ss.MultivariateNormal().fit(X)
    _same_parameters(ss.MultivariateNormal().fit(str(tmp_path)), reference)
    _same_parameters(ss.MultivariateNormal().fit(str(tmp_path / "part-*.npy"), batch_size=1000), reference)
    pieces = np.array_split(X, 7)
    _same_parameters(ss.MultivariateNormal().fit(lambda: iter(pieces)), reference)


def test_univariate_family_reads_a_1d_or_one_column_npy(tmp_path):
    x = np.random.default_rng(4).exponential(2.0, size=N)
    np.save(tmp_path / "flat.npy", x)
    np.save(tmp_path / "column.npy", x[:, None])
    reference = ss.Exponential().fit(x)
    _same_parameters(ss.Exponential().fit(tmp_path / "flat.npy", batch_size=1000), reference)
    _same_parameters(ss.Exponential().fit(tmp_path / "column.npy", batch_size=1000), reference)
    np.save(tmp_path / "wide.npy", np.ones((10, 2)))
    with pytest.raises(ValueError, match="1-D .*univariate"):
        ss.Exponential().fit(tmp_path / "wide.npy")


def test_sample_weight_is_sliced_per_batch(tmp_path):
    X = CASES["MVN-diag"].data(np.random.default_rng(5), N)
    w = np.random.default_rng(6).integers(0, 3, size=N)
    np.save(tmp_path / "rows.npy", X)
    weighted = ss.MultivariateNormal(reg_covar=0).fit(tmp_path / "rows.npy", sample_weight=w, batch_size=999)
    repeated = ss.MultivariateNormal(reg_covar=0).fit(np.repeat(X, w, axis=0))
    np.testing.assert_allclose(weighted.covariance, repeated.covariance, rtol=1e-12)
    with pytest.raises(ValueError, match=r"shape \(3,\); expected \(13522,\)"):
        ss.MultivariateNormal().fit(tmp_path / "rows.npy", sample_weight=[1, 2, 3])


@pytest.mark.parametrize("family, bad, pattern", [
    ("Poisson", -1.0, r"-1.0 at row 12000; values must be non-negative integers"),
    ("Normal", np.nan, r"NaN or infinity\) at row 12000"),
    ("MVN-full", np.inf, r"at row 12000, column 0"),
    ("Independent", -2.0, r"feature 1 \(Poisson\).*row 12000"),
])
def test_error_names_the_global_row_and_a_refused_fit_changes_nothing(family, bad, pattern, tmp_path):
    case = CASES[family]
    X = case.data(np.random.default_rng(7), N)
    d = case.make().fit(X[:100])
    d.summarize(X[100:200])
    before = snapshot(d)
    X = X.copy()
    if X.ndim == 1:
        X[12000] = bad
    else:
        X[12000, 1 if family == "Independent" else 0] = bad
    np.save(tmp_path / "bad.npy", X)
    with pytest.raises(ValueError, match=pattern):
        d.fit(str(tmp_path / "bad.npy"), batch_size=1000)
    assert snapshot(d) == before
    with pytest.raises(ValueError, match=pattern):
        d.fit(X, batch_size=3001)
    assert snapshot(d) == before


def test_a_bad_weight_late_in_the_data_is_named_and_changes_nothing():
    x = np.random.default_rng(8).normal(size=N)
    w = np.ones(N)
    w[N - 3] = -1.0
    d = ss.Normal(0.0, 1.0)
    before = snapshot(d)
    with pytest.raises(ValueError, match=f"row {N - 3} has -1.0"):
        d.fit(x, sample_weight=w, batch_size=1000)
    assert snapshot(d) == before


def test_an_estimate_refused_at_commit_changes_nothing():
    X = np.column_stack([np.random.default_rng(9).normal(size=500), np.full(500, 2.0)])  # a constant feature
    d = ss.MultivariateNormal(np.zeros(2), np.eye(2), reg_covar=0.0)
    d.summarize(X[:10] + 1.0)
    before = snapshot(d)
    with pytest.raises(ValueError, match="not positive definite"):
        d.fit(X)
    assert snapshot(d) == before
    assert ss.MultivariateNormal().fit(X).covariance[1, 1] == 1e-6  # the default reg_covar rescues it


def test_a_string_that_names_no_file_is_a_type_error():
    with pytest.raises(TypeError, match="string"):
        ss.Normal().fit("1.0 2.0")


def test_fit_from_a_path_holds_a_few_batches_not_the_file(tmp_path):
    d, batch_rows = 8, BLOCK_ROWS
    batch_bytes = batch_rows * d * 8
    path = tmp_path / "big.npy"
    rows = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(64 * batch_rows, d))
    rng = np.random.default_rng(10)
    for start in range(0, rows.shape[0], batch_rows):
        rows[start : start + batch_rows] = rng.normal(size=(batch_rows, d))
    rows.flush()
    del rows
    file_bytes = path.stat().st_size
    assert file_bytes >= 40 * batch_bytes
    ss.MultivariateNormal().fit(np.ones((10, d)) + np.eye(10, d))  # imports and caches outside the measurement
    tracemalloc.start()
    try:
        model = ss.MultivariateNormal().fit(str(path), batch_size=batch_rows)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"file {file_bytes / 2**20:.1f} MiB, batch {batch_bytes / 2**10:.0f} KiB, peak traced {peak / 2**10:.0f} KiB")
    assert peak < 4 * batch_bytes
    assert peak < file_bytes / 16
    reference = ss.MultivariateNormal().fit(np.load(path))
    _same_parameters(model, reference)
