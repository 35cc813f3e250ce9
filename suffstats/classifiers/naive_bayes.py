"""Naive Bayes over any univariate families: a :class:`~suffstats.BayesClassifier` of independent features."""

from __future__ import annotations

from .._transaction import transactional
from ..data.source import as_source
from ..distributions._base import Distribution
from ..distributions._registry import distribution_from_dict, register_family
from ..distributions.independent import IndependentComponents
from .bayes import BayesClassifier

__all__ = ["NaiveBayes"]


class NaiveBayes(BayesClassifier):
    """A Bayes classifier whose classes are products of independent univariate features.

    Parameters
    ----------
    distributions : sequence
        One entry per class: a univariate distribution (a template, copied for
        every feature when the number of features is known) or a list of one
        univariate distribution per feature (mixed families allowed).
    priors, max_iter, tol, batch_size, inertia, verbose, init_sample_size, random_state
        As for :class:`BayesClassifier`.

    Notes
    -----
    Labels are as for :class:`BayesClassifier`: class numbers ``0 .. k-1``, or
    ``-1`` for an unlabelled row (the fit is then semi-supervised EM). A fit
    where every row is unlabelled is refused, as is a NaN, a fraction or a
    number outside ``-1 .. k-1`` (naming its row); the model is then unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from suffstats import NaiveBayes, Normal, Poisson
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([np.r_[rng.normal(0, 1, 400), rng.normal(3, 1, 400)],
    ...                      np.r_[rng.poisson(2, 400), rng.poisson(8, 400)]])
    >>> y = np.repeat([0, 1], 400)
    >>> clf = NaiveBayes([[Normal(), Poisson()], [Normal(), Poisson()]]).fit(X, y)
    >>> round(float(clf.distributions[1].distributions[1].rate), 1), clf.score(X, y) > 0.95
    (8.0, True)
    """

    def __init__(self, distributions, priors=None, **settings):
        entries = list(distributions)
        # A template stands for every feature: its class is built when fit sees the number of features.
        self._templates = {c: entry for c, entry in enumerate(entries) if _independent(entry) is None}
        super().__init__([IndependentComponents([_copy(entry)]) if c in self._templates else _independent(entry)
                          for c, entry in enumerate(entries)], priors, **settings)

    @transactional
    def fit(self, X, y, sample_weight=None):
        """Fit as :meth:`BayesClassifier.fit`; a class given as a template gets one copy per feature of ``X``.

        Parameters
        ----------
        X : array_like, memory map, path or BatchSource
            Rows, read batch by batch (see :func:`suffstats.data.as_source`).
        y : array_like, memory map or ``.npy`` path of shape (n_rows,)
            Class numbers ``0 .. k-1``, or ``-1`` for an unlabelled row.
        sample_weight : array_like of shape (n_rows,), optional
            Weight of each row (an integer weight is the row repeated).
        """
        source = as_source(X)
        if self._templates:
            built = {c: IndependentComponents([_copy(t) for _ in range(source.n_features)])
                     for c, t in self._templates.items()}
            for c, d in built.items():
                self.distributions[c] = d
            self._templates = {}
        return super().fit(source, y, sample_weight)


def _independent(entry):
    """An entry of :class:`NaiveBayes`: a list of features now, a single template once the width is known."""
    if isinstance(entry, IndependentComponents):
        return entry
    if isinstance(entry, Distribution):
        if entry.ndim != 1:
            raise ValueError(f"NaiveBayes takes univariate distributions per feature; got {type(entry).__name__}")
        return None
    features = list(entry)
    for f in features:
        if not isinstance(f, Distribution) or f.ndim != 1:
            raise ValueError(f"NaiveBayes takes univariate distributions per feature; got {f!r}")
    return IndependentComponents(features)


def _copy(distribution):
    return distribution_from_dict(distribution.to_dict())


register_family(NaiveBayes)
