"""One stack: a family and a model defined here, outside the package, get every capability of the library.

``Rayleigh`` is a new distribution family (statistics, M-step, log-density,
sampler); ``TwoMeans`` is a new driver-fitted model with its own running total
(a two-centre, equal-variance univariate Gaussian mixture). Neither touches
``suffstats/``: each summarizes in a user loop, fits a memory map bit for bit
as in memory for two batch sizes, resumes from a checkpoint, runs on a Dask
cluster, and is refused clearly when a hook is missing.
"""

import textwrap

import numpy as np
import pytest
from scipy import stats

import suffstats as ss
from suffstats.fit import FitModel, RunningTotal, Summaries
from suffstats.fit.driver import EMSettings
from suffstats.fit.estimator import fit_model
from suffstats.io import register_family
from suffstats.statistics import Additive


class Rayleigh(ss.Distribution):
    """Rayleigh distribution with ``scale`` σ: density x/σ² · exp(-x²/2σ²) on x ≥ 0."""

    parameter_names = ("scale",)
    support = "non-negative"

    def __init__(self, scale=None, *, inertia=0.0, frozen=False):
        super().__init__(inertia=inertia, frozen=frozen)
        self._set_parameters({"scale": scale})

    def _set_parameters(self, params):
        self.scale = None if params["scale"] is None else float(params["scale"])

    @property
    def n_parameters(self):
        return 1

    def _outside(self, X):
        return X < 0

    def _statistics(self, X, w):
        w = np.ones(X.shape[0]) if w is None else w
        return Additive({"weight": w.sum(), "squares": w @ (X * X)})

    @staticmethod
    def _total_weight(stats):
        return float(stats.fields["weight"])

    def _estimate(self, stats):
        return {"scale": np.sqrt(stats.fields["squares"] / (2.0 * stats.fields["weight"]))}

    def _log_probability(self, X):
        with np.errstate(divide="ignore"):
            return np.log(X) - 2.0 * np.log(self.scale) - X * X / (2.0 * self.scale**2)

    def _sample(self, n, rng):
        return rng.rayleigh(self.scale, size=n)


register_family(Rayleigh)


class _Blocks(RunningTotal):
    """TwoMeans' running total: blocks are ``(Σw, Σw·log p, Σw·r (2,), Σw·r·x (2,), Σw·x²)`` tuples."""

    def empty(self):
        return _Tuple((0.0, 0.0, np.zeros(2), np.zeros(2), 0.0))

    def as_statistics(self, block):
        weight, log_likelihood, resp, first, squares = block
        return Additive({"weight": weight, "log_likelihood": log_likelihood, "resp": resp, "first": first,
                         "squares": squares})

    def as_block(self, stats):
        f = stats.fields
        return _Tuple((float(f["weight"]), float(f["log_likelihood"]), f["resp"], f["first"], float(f["squares"])))

    weight = property(lambda self: self.total()[0])
    log_likelihood = property(lambda self: self.total()[1])


class _Tuple(tuple):
    def __add__(self, other):
        return _Tuple(a + b for a, b in zip(self, other))


class TwoMeans(Summaries, FitModel):
    """Two univariate Gaussians with a shared variance, fitted by EM on the library's driver."""

    _transactional = True

    def __init__(self, max_iter=20, tol=0.0, batch_size=None, random_state=0):
        self.max_iter, self.tol, self.batch_size, self.random_state = max_iter, tol, batch_size, random_state
        self.batches_per_epoch, self.inertia, self.lr_decay = None, 0.0, 0.0
        self.verbose, self.callbacks, self.progress = 0, None, False
        self.means, self.variance, self.weights = np.array([-1.0, 1.0]), 1.0, np.array([0.5, 0.5])

    def _validate_batch(self, X, w, row_offset):
        return ss._validation.check_batch(X, ndim=1, row_offset=row_offset), w

    def _new_accumulator(self):
        return _Blocks()

    def _block_values(self, X, w, acc, row_offset=0):
        out = []
        for start in range(0, X.shape[0], self._block_rows):
            x = X[start:start + self._block_rows]
            ww = np.ones(x.shape[0]) if w is None else w[start:start + self._block_rows]
            log_p = stats.norm.logpdf(x[:, None], self.means, np.sqrt(self.variance)) + np.log(self.weights)
            norm = np.logaddexp(log_p[:, 0], log_p[:, 1])
            r = np.exp(log_p - norm[:, None]) * ww[:, None]
            out.append(_Tuple((ww.sum(), ww @ norm, r.sum(axis=0), r.T @ x, ww @ (x * x))))
        return out

    def _maximize(self, acc, inertia):
        weight, _, resp, first, squares = acc.total()
        self.means = first / resp
        self.weights = resp / weight
        self.variance = (squares - resp @ self.means**2) / weight

    def _initialize(self, source, sample_weight, rng, strategy=None):
        self.means, self.variance, self.weights = np.array([-1.0, 1.0]), 1.0, np.array([0.5, 0.5])

    def _fit_parameters(self):
        return self.means, np.array([self.variance]), self.weights

    def _load_fit_parameters(self, params):
        means, variance, weights = (np.asarray(p, dtype=np.float64) for p in params)
        self.means, self.variance, self.weights = means, float(variance[0]), weights

    def fit(self, X, checkpoint=None, client=None):
        from suffstats.data import as_source
        from suffstats.distributed import as_strategy

        history = fit_model(self, as_source(X, ndim=1), None, EMSettings.of(self), 1, checkpoint=checkpoint,
                            checkpoint_every=2, strategy=as_strategy(client))
        self.lower_bounds_ = list(history.lower_bounds)
        return self


N = 3 * 4096 + 1234  # a partial last block


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("outside")
    x = rng.rayleigh(2.5, size=N)
    mixed = np.concatenate([rng.normal(-3.0, 1.0, N // 2), rng.normal(2.0, 1.0, N - N // 2)])[rng.permutation(N)]
    np.save(folder / "x.npy", x)
    np.save(folder / "mixed.npy", mixed)
    return {"x": x, "mixed": mixed, "npy": str(folder / "x.npy"), "mixed_npy": str(folder / "mixed.npy"),
            "folder": folder}


def _stop_after(epochs):
    """A callback interrupting the fit (as Ctrl-C would) once ``epochs`` epochs are done."""
    def callback(model, logs):
        if logs["epoch"] == epochs:
            raise KeyboardInterrupt
    return callback


# -- the family -------------------------------------------------------------------------------------
def test_family_fits_the_closed_form_and_scipy_agrees(data):
    fitted = Rayleigh().fit(data["x"])
    assert fitted.scale == pytest.approx(np.sqrt(np.mean(data["x"] ** 2) / 2), rel=1e-13)
    np.testing.assert_allclose(fitted.log_probability(data["x"][:50]),
                               stats.rayleigh(scale=fitted.scale).logpdf(data["x"][:50]), rtol=1e-12)


def test_family_user_loop_and_memory_map_equal_the_in_memory_fit_bit_for_bit(data):
    reference = Rayleigh().fit(data["x"]).scale
    loop = Rayleigh()
    for start in range(0, N, 4096):
        loop.summarize(data["x"][start:start + 4096])
    loop.from_summaries()
    assert loop.scale == reference
    for batch_size in (1000, 5003):
        assert Rayleigh().fit(data["npy"], batch_size=batch_size).scale == reference


def test_family_refuses_a_bad_row_by_its_index_in_the_file_and_keeps_its_parameters(data, tmp_path):
    x = data["x"].copy()
    x[9000] = -1.0
    np.save(tmp_path / "bad.npy", x)
    model = Rayleigh(scale=1.0)
    with pytest.raises(ValueError, match="row 9000"):
        model.fit(str(tmp_path / "bad.npy"), batch_size=3000)
    assert model.scale == 1.0 and model.pending is None


def test_family_saves_and_loads_through_the_registry(data):
    fitted = Rayleigh().fit(data["x"])
    again = ss.from_json(ss.to_json(fitted))
    assert type(again) is Rayleigh and again.scale == fitted.scale


def test_family_is_a_general_mixture_component_and_resumes_from_a_checkpoint(data, tmp_path):
    def model(callbacks=None):
        return ss.GeneralMixtureModel([Rayleigh(scale=1.0), Rayleigh(scale=4.0)], max_iter=6, tol=0,
                                      batch_size=4096, random_state=0, callbacks=callbacks)

    whole = model().fit(data["x"])
    assert whole.distributions[0].scale != 1.0
    ckpt = str(tmp_path / "fit.ckpt")
    with pytest.raises(KeyboardInterrupt):
        model([_stop_after(3)]).fit(data["npy"], checkpoint=ckpt)
    resumed = model().fit(data["npy"], checkpoint=ckpt)
    assert [d.scale for d in resumed.distributions] == [d.scale for d in whole.distributions]
    assert resumed.lower_bounds_ == whole.lower_bounds_


def test_a_family_without_a_required_hook_is_refused_naming_it():
    code = textwrap.dedent("""
        import suffstats as ss

        class NoEstimate(ss.Distribution):
            parameter_names = ("a",)

            def _statistics(self, X, w):
                return None
    """)
    with pytest.raises(TypeError, match="NoEstimate does not implement the distribution hooks _estimate, "
                                        "_log_probability, _sample, _total_weight"):
        exec(compile(code, "outside.py", "exec"), {})


# -- the model with its own running total ----------------------------------------------------------------
def test_model_fits_a_memory_map_bit_for_bit_as_in_memory(data):
    reference = TwoMeans().fit(data["mixed"])
    assert sorted(np.round(reference.means)) == [-3.0, 2.0]
    for batch_size in (1000, 7000):
        other = TwoMeans(batch_size=batch_size).fit(data["mixed_npy"])
        assert np.array_equal(other.means, reference.means) and other.variance == reference.variance
        assert other.lower_bounds_ == reference.lower_bounds_


def test_model_user_loop_equals_one_epoch_of_the_driver(data):
    one = TwoMeans(max_iter=1).fit(data["mixed"])
    loop = TwoMeans()
    for start in range(0, N, 8192):
        loop.summarize(data["mixed"][start:start + 8192])
    loop.from_summaries()
    assert np.array_equal(loop.means, one.means) and loop.variance == one.variance


def test_model_resumes_from_a_checkpoint_bit_for_bit(data, tmp_path):
    ckpt = str(tmp_path / "two.ckpt")
    whole = TwoMeans(batch_size=4096).fit(data["mixed_npy"])
    interrupted = TwoMeans(batch_size=4096)
    interrupted.callbacks = [_stop_after(7)]
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(data["mixed_npy"], checkpoint=ckpt)
    resumed = TwoMeans(batch_size=4096).fit(data["mixed_npy"], checkpoint=ckpt)
    assert np.array_equal(resumed.means, whole.means) and resumed.variance == whole.variance


def test_a_model_missing_hooks_is_refused_at_definition():
    with pytest.raises(TypeError, match="_maximize, _fit_parameters, _load_fit_parameters"):
        class Incomplete(FitModel):
            def _validate_batch(self, X, w, row_offset):
                return X, w

            def _new_accumulator(self):
                return RunningTotal()

            def _block_values(self, X, w, acc, row_offset=0):
                return []


# -- on a Dask cluster --------------------------------------------------------------------------------------
def test_family_and_model_on_a_dask_cluster_equal_the_local_fit(data):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
        local = TwoMeans(max_iter=5).fit(data["mixed_npy"])
        remote = TwoMeans(max_iter=5).fit(data["mixed_npy"], client=client)
        assert np.array_equal(remote.means, local.means) and remote.lower_bounds_ == local.lower_bounds_

        def mixture():
            return ss.GeneralMixtureModel([Rayleigh(scale=1.0), Rayleigh(scale=4.0)], max_iter=4, tol=0)

        local = mixture().fit(data["npy"])
        remote = mixture().fit(data["npy"], client=client)
        assert [d.scale for d in remote.distributions] == [d.scale for d in local.distributions]
