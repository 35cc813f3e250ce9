"""scikit-learn's estimator conventions, kept without importing scikit-learn.

Importing scikit-learn takes about a second (it imports SciPy's statistics and
pandas), which used to be most of a small fit's time in a fresh process. The
estimators here follow its conventions — parameters named in ``__init__``,
``get_params`` / ``set_params``, ``clone``, tags, ``NotFittedError`` and
``ConvergenceWarning`` — and import scikit-learn only when scikit-learn itself
asks (``clone``, the tags) or when an error or warning of its kinds is raised.

Examples
--------
>>> from suffstats._estimator import Estimator
>>> class Scale(Estimator):
...     def __init__(self, factor=1.0, batch_size=None):
...         self.factor = factor
...         self.batch_size = batch_size
>>> Scale(factor=2.0)
Scale(factor=2.0)
>>> Scale().set_params(batch_size=10).get_params()
{'batch_size': 10, 'factor': 1.0}
"""

import inspect
import warnings

import numpy as np


class Estimator:
    """Parameters from ``__init__``, ``get_params`` / ``set_params`` and the tags, as scikit-learn's ``BaseEstimator``."""

    @classmethod
    def _get_param_names(cls):
        """The names of ``__init__``'s parameters, sorted (no ``*args``: every parameter has a name)."""
        if cls.__init__ is object.__init__:
            return []
        names = []
        for parameter in inspect.signature(cls.__init__).parameters.values():
            if parameter.name == "self" or parameter.kind == parameter.VAR_KEYWORD:
                continue
            if parameter.kind == parameter.VAR_POSITIONAL:
                raise RuntimeError(f"{cls.__name__}.__init__ must name its parameters (no *args)")
            names.append(parameter.name)
        return sorted(names)

    def get_params(self, deep=True):
        """The estimator's parameters by name.

        Parameters
        ----------
        deep : bool, default=True
            Also give the parameters of parameters that are estimators, as ``name__parameter``.

        Returns
        -------
        dict
        """
        params = {}
        for name in self._get_param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                params.update((f"{name}__{key}", inner) for key, inner in value.get_params().items())
            params[name] = value
        return params

    def set_params(self, **params):
        """Set parameters by name (``name__parameter`` for a parameter's own parameters).

        Returns
        -------
        self
        """
        if not params:
            return self
        valid = self.get_params(deep=True)
        nested = {}
        for key, value in params.items():
            name, delimiter, inner = key.partition("__")
            if name not in valid:
                raise ValueError(f"Invalid parameter {name!r} for estimator {self}. "
                                 f"Valid parameters are: {self._get_param_names()!r}.")
            if delimiter:
                nested.setdefault(name, {})[inner] = value
            else:
                setattr(self, name, value)
                valid[name] = value
        for name, inner_params in nested.items():
            valid[name].set_params(**inner_params)
        return self

    def __repr__(self):
        defaults = {name: parameter.default
                    for name, parameter in inspect.signature(type(self).__init__).parameters.items()}
        changed = [f"{name}={value!r}" for name, value in self.get_params(deep=False).items()
                   if not _same(value, defaults.get(name, inspect.Parameter.empty))]
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_clone__(self):
        from sklearn.base import _clone_parametrized

        return _clone_parametrized(self)

    def __sklearn_tags__(self):
        from sklearn.utils import Tags, TargetTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=False))


class DensityMixin:
    """Tags an estimator as a density estimator, as scikit-learn's ``DensityMixin``."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "density_estimator"
        return tags


class TransformerMixin:
    """``fit_transform`` and the transformer tags, as scikit-learn's ``TransformerMixin``."""

    def __sklearn_tags__(self):
        from sklearn.utils import TransformerTags

        tags = super().__sklearn_tags__()
        tags.transformer_tags = TransformerTags()
        return tags

    def fit_transform(self, X, y=None, **fit_params):
        """Fit to ``X``, then transform it.

        Parameters
        ----------
        X : array, memory map, path or batch source
            The rows to fit and then transform.
        y : ignored
            Not used; present for scikit-learn's API.
        **fit_params
            Passed to ``fit``.

        Returns
        -------
        ndarray
        """
        return self.fit(X, y, **fit_params).transform(X)


def check_fitted(estimator, attribute):
    """Raise scikit-learn's ``NotFittedError`` if ``estimator`` has no ``attribute`` yet."""
    if not hasattr(estimator, attribute):
        from sklearn.exceptions import NotFittedError

        raise NotFittedError(f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with "
                             "appropriate arguments before using this estimator.")


def warn_not_converged(message):
    """Warn with scikit-learn's ``ConvergenceWarning``, from the line that calls this."""
    from sklearn.exceptions import ConvergenceWarning

    warnings.warn(message, ConvergenceWarning, stacklevel=2)


def _same(value, default):
    """Whether a parameter still shows as its default: equal representations, or both NaN (scikit-learn's rule)."""
    if repr(value) == repr(default):
        return True
    return all(isinstance(v, (float, np.floating)) and np.isnan(v) for v in (value, default))
