"""A data format added from outside the package: one source class and one registry line.

The format here is a raw file of little-endian float64 rows after a 16-byte
header (rows, columns as int64). Registered with
:func:`suffstats.data.files.register_format`, it is read by every model's
``fit``, by distributions, by the command line (whose input checks ask the
format), and by Dask workers (which reopen it from ``reopen_arguments``),
without a change to ``suffstats/``.
"""

import json
import os

import numpy as np
import pytest

import suffstats as ss
import suffstats.cli as cli
from suffstats.data import ArraySource
from suffstats.data.files import FORMATS, register_format


class RawFloat64Source(ArraySource):
    """Rows of a ``.f64`` file, memory-mapped after its header."""

    def __init__(self, path):
        self.path = os.fspath(path)
        n_rows, n_features = np.fromfile(self.path, dtype="<i8", count=2)
        super().__init__(np.memmap(self.path, dtype="<f8", mode="r", offset=16, shape=(int(n_rows), int(n_features))))
        self._remember()

    @classmethod
    def from_path(cls, path, **_):
        return cls(path)

    def reopen_arguments(self):
        return (self.path,), {}

    def files(self):
        return [self.path]

    def describe(self):
        return f"{self.path} ({self.n_rows} x {self.n_features}, float64 rows)"


def write_f64(path, X):
    with open(path, "wb") as f:
        np.asarray(X.shape, dtype="<i8").tofile(f)
        np.ascontiguousarray(X, dtype="<f8").tofile(f)


@pytest.fixture
def f64(tmp_path):
    register_format(["f64"], f"{__name__}:RawFloat64Source")
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(m, 1.0, size=(6000, 3)) for m in (0.0, 5.0)])
    path = tmp_path / "rows.f64"
    write_f64(path, X)
    yield path, X
    del FORMATS["f64"]


def test_models_and_distributions_read_the_new_format(f64):
    path, X = f64
    kw = dict(n_components=2, random_state=0, max_iter=3, tol=0)
    from_file = ss.GaussianMixture(batch_size=5000, **kw).fit(str(path))
    in_memory = ss.GaussianMixture(**kw).fit(X)
    assert np.array_equal(from_file.means_, in_memory.means_)
    assert np.array_equal(from_file.covariances_, in_memory.covariances_)
    assert ss.MultivariateNormal().fit(path, batch_size=5000).to_dict() == ss.MultivariateNormal().fit(X).to_dict()


def test_the_command_line_reads_it_and_never_writes_over_it(f64, tmp_path, capsys):
    path, X = f64
    out = tmp_path / "model.json"
    assert cli.main(["fit", str(path), "--components", "2", "--max-iter", "2", "--quiet", "--out", str(out)]) == 0
    assert np.asarray(json.loads(out.read_text())["means"]).shape == (2, 3)
    before = path.read_bytes()
    assert cli.main(["fit", str(path), "--components", "2", "--quiet", "--out", str(path)]) == 2
    assert "input data file" in capsys.readouterr().err
    assert path.read_bytes() == before


def test_dask_workers_reopen_it(f64):
    distributed = pytest.importorskip("distributed")
    path, _ = f64
    kw = dict(n_components=2, random_state=0, max_iter=3, tol=0)
    local = ss.GaussianMixture(**kw).fit(str(path))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as c, \
            distributed.Client(c) as client:
        remote = ss.GaussianMixture(**kw).fit(str(path), client=client)
    assert np.array_equal(remote.means_, local.means_) and remote.lower_bounds_ == local.lower_bounds_


def test_an_unregistered_suffix_names_the_formats_known(tmp_path):
    path = tmp_path / "rows.f32"
    path.write_bytes(b"\0" * 32)
    with pytest.raises(ValueError, match=r"cannot tell the format.*\.npy"):
        ss.GaussianMixture(2).fit(str(path))
