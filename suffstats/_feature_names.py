"""Column names seen at fit, as scikit-learn keeps them: ``feature_names_in_`` and the checks when scoring.

A model fitted on a table with string column names (a pandas DataFrame)
records them in ``feature_names_in_``; one fitted on anything else has no such
attribute. Rows scored later are compared: other names, or names in another
order, are refused; rows without names after a fit with names (or the other
way round) give scikit-learn's warning, since the columns cannot be matched.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from suffstats import GaussianMixture
>>> table = pd.DataFrame(np.random.default_rng(0).normal(size=(200, 2)), columns=["height", "weight"])
>>> GaussianMixture(2, random_state=0).fit(table).feature_names_in_
array(['height', 'weight'], dtype=object)
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["feature_names_of", "check_feature_names"]


def feature_names_of(X):
    """The column names of ``X`` as an object array when they are all strings, else ``None``.

    Raises
    ------
    TypeError
        Names of mixed kinds (some strings, some not), as scikit-learn refuses them.
    """
    columns = getattr(X, "columns", None)
    if columns is None or isinstance(X, np.ndarray):
        return None
    names = np.asarray(list(columns), dtype=object)
    strings = [isinstance(name, str) for name in names]
    if not names.size or not any(strings):
        return None
    if not all(strings):
        kinds = sorted({type(name).__name__ for name in names})
        raise TypeError(f"Feature names are only supported if all input features have string names, but your "
                        f"input has {kinds} as feature name / column name types. Convert them all to strings "
                        "(X.columns = X.columns.astype(str)).")
    return names


def check_feature_names(model, X, *, reset):
    """Record the names of ``X`` (``reset``, at fit) or check them against those recorded (when scoring)."""
    names = feature_names_of(X)
    if reset:
        if names is None:
            model.__dict__.pop("feature_names_in_", None)
        else:
            model.feature_names_in_ = names
        return
    fitted = getattr(model, "feature_names_in_", None)
    if fitted is None and names is None:
        return
    kind = type(model).__name__
    if fitted is None:
        warnings.warn(f"X has feature names, but {kind} was fitted without feature names", UserWarning,
                      stacklevel=3)
    elif names is None:
        warnings.warn(f"X does not have valid feature names, but {kind} was fitted with feature names",
                      UserWarning, stacklevel=3)
    elif len(names) != len(fitted) or (names != fitted).any():
        unseen = [n for n in names if n not in set(fitted)]
        missing = [n for n in fitted if n not in set(names)]
        detail = (f" Names unseen at fit time: {unseen[:5]}." if unseen else "") + \
                 (f" Names seen at fit time, yet now missing: {missing[:5]}." if missing else "") + \
                 ("" if unseen or missing else " The names are in another order than at fit.")
        raise ValueError(f"The feature names should match those that were passed during fit.{detail}")
