"""Data files and formats given to a fit: damaged, truncated, pickled or ambiguous ``.npy`` files, shards
that disagree, empty sources, CSV files with a non-numeric cell or no header line, and HDF5 paths naming a
group are refused with an error naming the file (and the row or column); a file or array changed since it was
opened is noticed; and the format readers and the dispatcher do not import one another.
"""

import ast
import os
import pathlib
import time

import numpy as np
import pytest

import suffstats as ss
from suffstats.data import CsvSource, as_source

from .fits import _fit


def _rewrite_later(path, write):
    """Write ``path`` again with a modification time that surely differs."""
    before = os.stat(path).st_mtime_ns
    write()
    if os.stat(path).st_mtime_ns == before:
        os.utime(path, ns=(before + 10**9, before + 10**9))


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


# -- .npy --------------------------------------------------------------------------------------------
def test_npy_header_declaring_fewer_rows_than_stored(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.ones((100, 3)))
    with open(path, "ab") as f:
        f.write(np.ones((10, 3)).tobytes())  # ten rows more than the header says
    with pytest.raises(ValueError, match=r"x.npy: not a readable .npy file .*shape \(100, 3\).*more data than its header"):
        ss.MultivariateNormal().fit(str(path))


def test_text_file_named_npy_is_not_called_a_pickle(tmp_path):
    path = tmp_path / "notes.npy"
    path.write_text("1,2,3\n4,5,6\n")
    with pytest.raises(ValueError, match=r"notes.npy: not a .npy file \(it does not start with the .npy magic") as info:
        ss.MultivariateNormal().fit(str(path))
    assert "pickle" not in str(info.value)


def test_a_literal_path_that_exists_is_never_a_glob(tmp_path):
    np.save(tmp_path / "data[1].npy", np.full((10, 1), 7.0))
    np.save(tmp_path / "data1.npy", np.full((10, 1), -3.0))
    assert ss.Normal().fit(str(tmp_path / "data[1].npy")).mean == 7.0
    assert ss.Normal().fit(str(tmp_path / "data?.npy")).mean == -3.0  # no such file: a pattern
    assert ss.Normal().fit(pathlib.Path(tmp_path / "data[1].npy")).mean == 7.0


def test_hdf5_path_naming_a_group(tmp_path):
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f.create_group("runs").create_dataset("a", data=np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"x.h5:runs is an HDF5 group, not a dataset; .*'runs/a'"):
        ss.MultivariateNormal().fit(str(tmp_path / "x.h5") + ":runs")
    assert ss.MultivariateNormal().fit(str(tmp_path / "x.h5") + ":runs/a").mean.tolist() == [1.0, 1.0]


def test_pickled_payload_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "executed"
    np.save(tmp_path / "evil.npy", np.array([_Exploit(str(marker))], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="Python objects .*refused, nothing was executed"):
        _fit(str(tmp_path / "evil.npy"))
    assert not marker.exists()


def test_truncated_npy(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((1000, 3)))
    with open(tmp_path / "x.npy", "r+b") as f:
        f.truncate(os.path.getsize(tmp_path / "x.npy") // 2)
    with pytest.raises(ValueError, match="x.npy: not a readable .npy file .*truncated"):
        _fit(str(tmp_path / "x.npy"))


def test_a_malformed_npy_header_is_a_damaged_header(tmp_path):
    path = tmp_path / "bad.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00\x20\x00{'descr': '<f8', 'fortran_order': False, 'shape': (3,  }\n")
    with pytest.raises(ValueError, match="the .npy header is damaged"):
        ss.GaussianMixture(2).fit(str(path))


def test_shards_with_different_features_or_dtypes(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((10, 3)))
    np.save(tmp_path / "b.npy", np.ones((10, 2)))
    np.save(tmp_path / "c.npy", np.ones((10, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="b.npy has 2 features; .*a.npy has 3"):
        as_source([str(tmp_path / "a.npy"), str(tmp_path / "b.npy")])
    with pytest.raises(ValueError, match="c.npy has dtype float32; .*a.npy has float64"):
        as_source([str(tmp_path / "a.npy"), str(tmp_path / "c.npy")])


def test_empty_sources(tmp_path):
    np.save(tmp_path / "empty.npy", np.ones((0, 3)))
    with pytest.raises(ValueError, match="empty.npy: holds no rows"):
        _fit(str(tmp_path / "empty.npy"))
    with pytest.raises(ValueError, match="the stream is empty"):
        _fit(lambda: iter([]))
    with pytest.raises(ValueError, match="n_samples = 0"):
        _fit(np.empty((0, 2)))


# -- CSV ---------------------------------------------------------------------------------------------
@pytest.fixture
def csv_rows(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "x.csv"
    path.write_text("".join(f"{i},{2 * i}\n" for i in range(1, 11)))
    return path


def test_csv_without_a_header_never_loses_its_first_row(csv_rows):
    with pytest.raises(ValueError, match=r"x.csv: the first line '1,2' holds only numbers: pass .*header=False"):
        ss.MultivariateNormal().fit(str(csv_rows))
    d = ss.MultivariateNormal().fit(CsvSource(str(csv_rows), header=False))
    np.testing.assert_allclose(d.mean, [5.5, 11.0])  # all ten rows
    assert CsvSource(str(csv_rows), header=True).n_rows == 9  # the user says line 1 is names
    assert CsvSource(str(csv_rows), header=False, columns=[1]).take(np.array([0]))[0, 0] == 2.0


def test_csv_type_error_names_row_and_column(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "x.csv"
    path.write_text("a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(50)) + "7,oops\n")
    with pytest.raises(ValueError, match=r"x.csv: column 'b', data row 50: 'oops' is not a number"):
        ss.MultivariateNormal().fit(str(path))


def test_csv_integer_column_that_later_holds_a_float(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "x.csv"
    path.write_text("a\n" + "1\n" * 20_000 + "2.5\n")
    source = CsvSource(str(path), block_bytes=1 << 12)
    rows = np.concatenate([X for _, X in source.batches(None)])
    assert rows.shape == (20_001, 1) and rows[-1, 0] == 2.5


def test_csv_bad_arguments(tmp_path):
    pytest.importorskip("pyarrow")
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(ValueError, match="e.csv: the file is empty"):
        CsvSource(str(tmp_path / "e.csv"))
    (tmp_path / "h.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"h.csv has no column\(s\) \['c'\]"):
        CsvSource(str(tmp_path / "h.csv"), columns=["c"])
    with pytest.raises(ValueError, match="header must be None, True or False"):
        CsvSource(str(tmp_path / "h.csv"), header="yes")


def test_csv_with_a_non_numeric_cell(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "x.csv"
    path.write_text("a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(50)) + "7,oops\n")
    with pytest.raises(ValueError, match="x.csv: .*(not numeric|not a number)"):
        _fit(str(path))


# -- fingerprints ------------------------------------------------------------------------------------
def test_npy_overwritten_with_other_rows_is_noticed(tmp_path):
    path = tmp_path / "x.npy"
    X = np.random.default_rng(0).normal(size=(5000, 2))
    np.save(path, X)
    source = as_source(str(path))
    source.check_unchanged()
    saved = source.fingerprint()
    Y = np.random.default_rng(1).normal(size=(5000, 2))  # same size, same header, other rows
    _rewrite_later(path, lambda: np.save(path, Y))
    with pytest.raises(ValueError, match=r"x.npy changed since it was opened: its (header or first bytes|content) changed"):
        source.check_unchanged()
    with pytest.raises(ValueError, match=r"x.npy changed since it was opened"):
        as_source(str(path)).check_unchanged(saved)  # e.g. the fingerprint stored in a checkpoint


@pytest.mark.parametrize("change, pattern", [
    (lambda p: np.save(p, np.ones((6000, 2))), "its size changed from"),
    (lambda p: np.save(p, np.ones((2000, 5))), "its header or first bytes changed"),
    (lambda p: os.utime(p, ns=(1, 1)), r"it was written again \(modification time changed\)"),
])
def test_common_changes_to_a_file(tmp_path, change, pattern):
    path = tmp_path / "x.npy"
    np.save(path, np.ones((5000, 2)))
    source = as_source(str(path))
    change(path)
    with pytest.raises(ValueError, match=f"x.npy changed since it was opened: {pattern}"):
        source.check_unchanged()


def test_header_change_is_named(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.ones((100, 4)))
    source = as_source(str(path))
    _rewrite_later(path, lambda: np.save(path, np.ones((400, 1))))  # same number of bytes
    with pytest.raises(ValueError, match="x.npy changed since it was opened: its header or first bytes changed"):
        source.check_unchanged()


def test_one_changed_shard_is_named(tmp_path):
    paths = [str(tmp_path / f"part-{i}.npy") for i in range(3)]
    for p in paths:
        np.save(p, np.ones((100, 2)))
    source = as_source(str(tmp_path))
    np.save(paths[1], np.ones((50, 2)))
    with pytest.raises(ValueError, match="part-1.npy changed since it was opened"):
        source.check_unchanged()


def test_csv_and_parquet_changes_are_noticed(tmp_path, csv_rows):
    source = CsvSource(str(csv_rows), header=False)
    source.check_unchanged()  # a stream takes its fingerprint at the first check
    _rewrite_later(csv_rows, lambda: csv_rows.write_text("1,2\n" * 10))
    with pytest.raises(ValueError, match="x.csv changed since it was opened"):
        source.check_unchanged()
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"a": np.arange(100.0)}), path)
    source = as_source(str(path))
    _rewrite_later(path, lambda: pq.write_table(pa.table({"a": np.arange(100.0) + 1}), path))
    with pytest.raises(ValueError, match="x.parquet changed since it was opened"):
        source.check_unchanged()


def test_an_array_changed_in_place_is_noticed():
    X = np.random.default_rng(0).normal(size=(1000, 2))
    source = as_source(X)
    source.check_unchanged()
    X[999] = 0.0  # the last row is always sampled
    with pytest.raises(ValueError, match="the data changed since it was opened: sampled rows hold other values"):
        source.check_unchanged()


def test_unchanged_data_passes_and_fit_checks_at_the_end(tmp_path, monkeypatch):
    path = tmp_path / "x.npy"
    np.save(path, np.arange(20.0).reshape(-1, 1))
    source = as_source(str(path))
    time.sleep(0.01)
    source.check_unchanged()
    source.check_unchanged(source.fingerprint())
    calls = []
    monkeypatch.setattr(type(source), "check_unchanged", lambda self, fp=None: calls.append(fp))
    ss.Normal().fit(source)
    assert len(calls) == 1 and calls[0]["n_rows"] == 20


# -- structure ---------------------------------------------------------------------------------------
def test_format_modules_and_the_dispatcher_do_not_import_each_other():
    folder = pathlib.Path(ss.__file__).parent / "data"
    formats = ["npy", "hdf5", "zarr_source", "parquet", "csv"]

    def imports(name):
        tree = ast.parse((folder / f"{name}.py").read_text())
        return {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}

    assert not any(m in ("files", "suffstats.data.files") for f in formats for m in imports(f))
    assert not any(m.lstrip(".") in formats for m in imports("files"))
