"""The search's grid, checked whole against the data before any row is read (property).

Whatever is given for ``n_components``, ``covariance_type``, ``n_init``,
``criterion`` and ``validation_fraction`` -- numbers of every kind, strings,
nested lists, generators, ranges far past the rows -- the search either
refuses it with a ``ValueError`` or ``TypeError`` that names the parameter,
having read no row, or fits exactly the grid it was given.
"""

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import suffstats as ss

from .sources import Counting

_RNG = np.random.default_rng(2)
_X = np.concatenate([_RNG.normal(m, 1.0, (100, 2)) for m in (-5.0, 0.0, 5.0)])

_COUNTS = st.one_of(
    st.integers(-3, 6), st.integers(10**9, 10**20), st.floats(allow_nan=True), st.booleans(), st.text(max_size=3),
    st.none(), st.just(range(1, 10**7)), st.just(range(5, 1)), st.just(np.int64(2)),
    st.lists(st.one_of(st.integers(-1, 5), st.floats(0, 4), st.booleans(), st.text(max_size=2)), max_size=4),
    st.lists(st.integers(1, 4), min_size=1, max_size=3).map(lambda ks: (k for k in ks)),
)
_TYPES = st.one_of(st.sampled_from(["full", "diag", "tied", "spherical", "Full", "", "none"]),
                   st.lists(st.sampled_from(["full", "diag", "spherical", "bad", 3]), max_size=3), st.integers())
_INITS = st.one_of(st.integers(-1, 2), st.floats(0, 3), st.booleans(), st.text(max_size=2))
_CRITERIA = st.sampled_from(["bic", "aic", "heldout", "BIC", "", None, 1])
_FRACTIONS = st.one_of(st.none(), st.floats(-1, 2), st.just(float("nan")), st.just(np.float64(0.2)), st.booleans(),
                       st.just(1e-9))
_NAMES = ("n_components", "covariance_type", "n_init", "criterion", "validation_fraction")


@settings(max_examples=80, deadline=None, derandomize=True)
@given(k=_COUNTS, types=_TYPES, n_init=_INITS, criterion=_CRITERIA, fraction=_FRACTIONS)
def test_a_grid_is_refused_by_name_before_any_read_or_fitted_as_given(k, types, n_init, criterion, fraction):
    source = Counting(_X)
    search = ss.GaussianMixtureSearch(k, covariance_type=types, n_init=n_init, criterion=criterion,
                                      validation_fraction=fraction, max_iter=2, random_state=0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            search.fit(source)
    except (ValueError, TypeError) as error:
        message = str(error)
        assert any(name in message for name in _NAMES), message
        assert source.rows_read == 0 or "validation_fraction" in message, (message, source.rows_read)
        assert not hasattr(search, "candidates_")
        return
    ks = {r["n_components"] for r in search.results_}
    assert ks and all(1 <= k <= _X.shape[0] for k in ks)
    assert len(search.candidates_) == len(search.results_) >= 1
