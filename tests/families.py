"""One table of family cases used by the parametrized distribution tests.

Each case builds a fresh distribution, draws data from its support, gives the
scipy.stats log-density for fitted parameters and the reference MLE.
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import stats

import suffstats as ss


@dataclass
class Case:
    make: Callable
    data: Callable  # rng, n -> X
    scipy_logpdf: Callable  # fitted distribution -> function of X
    mle: Callable  # X -> dict of expected parameters
    mle_rtol: float = 1e-10

    def __repr__(self):
        return "Case"


def _mvn_mle(kind):
    def mle(X):
        cov = np.cov(X.T, bias=True)
        if kind == "diag":
            cov = np.diag(cov)
        elif kind == "spherical":
            cov = np.diag(cov).mean()
        return {"mean": X.mean(axis=0), "covariance": cov}

    return mle


def _mvn_scipy(kind):
    def logpdf(d):
        cov = {"full": lambda c: c, "diag": np.diag, "spherical": lambda c: c * np.eye(len(d.mean))}[kind](
            d.covariance
        )
        return stats.multivariate_normal(d.mean, cov).logpdf

    return logpdf


def _correlated(rng, n):
    A = np.array([[2.0, 0.0, 0.0], [0.8, 1.0, 0.0], [-0.5, 0.3, 0.5]])
    return rng.normal(size=(n, 3)) @ A.T + np.array([1.0, -2.0, 3.0])


CASES = {
    "Normal": Case(
        ss.Normal, lambda r, n: r.normal(3.0, 2.0, n),
        lambda d: stats.norm(d.mean, d.std).logpdf, lambda x: {"mean": x.mean(), "std": x.std()},
    ),
    "LogNormal": Case(
        ss.LogNormal, lambda r, n: r.lognormal(0.5, 0.7, n),
        lambda d: stats.lognorm(s=d.std, scale=np.exp(d.mean)).logpdf,
        lambda x: {"mean": np.log(x).mean(), "std": np.log(x).std()},
    ),
    "Exponential": Case(
        ss.Exponential, lambda r, n: r.exponential(2.0, n),
        lambda d: stats.expon(scale=1 / d.rate).logpdf, lambda x: {"rate": 1 / x.mean()},
    ),
    "Gamma": Case(
        ss.Gamma, lambda r, n: r.gamma(2.5, 1.5, n),
        lambda d: stats.gamma(d.shape, scale=1 / d.rate).logpdf,
        lambda x: dict(zip(("shape", "rate"), (lambda a, loc, s: (a, 1 / s))(*stats.gamma.fit(x, floc=0)))),
        mle_rtol=1e-4,
    ),
    "Beta": Case(
        ss.Beta, lambda r, n: r.beta(2.0, 5.0, n),
        lambda d: stats.beta(d.alpha, d.beta).logpdf,
        lambda x: dict(zip(("alpha", "beta"), stats.beta.fit(x, floc=0, fscale=1)[:2])),
        mle_rtol=1e-4,
    ),
    "Poisson": Case(
        ss.Poisson, lambda r, n: r.poisson(3.5, n).astype(float),
        lambda d: stats.poisson(d.rate).logpmf, lambda x: {"rate": x.mean()},
    ),
    "Bernoulli": Case(
        ss.Bernoulli, lambda r, n: (r.random(n) < 0.3).astype(float),
        lambda d: stats.bernoulli(d.p).logpmf, lambda x: {"p": x.mean()},
    ),
    "Categorical": Case(
        lambda: ss.Categorical(n_categories=4), lambda r, n: r.choice(4, n, p=[0.1, 0.2, 0.3, 0.4]).astype(float),
        lambda d: stats.rv_discrete(values=(np.arange(4), d.probs)).logpmf,
        lambda x: {"probs": np.bincount(x.astype(int), minlength=4) / len(x)},
    ),
    "Uniform": Case(
        ss.Uniform, lambda r, n: r.uniform(-1.0, 4.0, n),
        lambda d: stats.uniform(d.low, d.high - d.low).logpdf, lambda x: {"low": x.min(), "high": x.max()},
    ),
    "Geometric": Case(
        ss.Geometric, lambda r, n: r.geometric(0.3, n).astype(float),
        lambda d: stats.geom(d.p).logpmf, lambda x: {"p": 1 / x.mean()},
    ),
    **{
        f"MVN-{kind}": Case(
            lambda kind=kind: ss.MultivariateNormal(covariance_type=kind, reg_covar=0.0), _correlated,
            _mvn_scipy(kind), _mvn_mle(kind),
        )
        for kind in ("full", "diag", "spherical")
    },
    "Independent": Case(
        lambda: ss.IndependentComponents([ss.Normal(), ss.Poisson(), ss.Exponential()]),
        lambda r, n: np.column_stack([r.normal(1, 2, n), r.poisson(2.0, n), r.exponential(1.5, n)]),
        lambda d: (lambda X: stats.norm(d.distributions[0].mean, d.distributions[0].std).logpdf(X[:, 0])
                   + stats.poisson(d.distributions[1].rate).logpmf(X[:, 1])
                   + stats.expon(scale=1 / d.distributions[2].rate).logpdf(X[:, 2])),
        lambda X: {"0.mean": X[:, 0].mean(), "0.std": X[:, 0].std(), "1.rate": X[:, 1].mean(),
                   "2.rate": 1 / X[:, 2].mean()},
    ),
}

NAMES = sorted(CASES)


def assert_parameters_close(d, expected, rtol):
    got = d.parameters()
    assert got.keys() == expected.keys()
    for k in expected:
        np.testing.assert_allclose(got[k], expected[k], rtol=rtol, err_msg=k)


def snapshot(d):
    """Parameters and pending statistics, to check that a rejected batch changed nothing."""
    pending = d.pending
    return d.to_dict(), None if pending is None else pending.to_dict()
