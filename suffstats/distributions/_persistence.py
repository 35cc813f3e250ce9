"""What a distribution writes to JSON and how it is read back, with every field checked.

A description is plain data: the family name, the schema version, the
parameters (numbers or nested lists of numbers, ``null`` when unfitted),
``inertia``, ``frozen`` and the family's settings. Reading one checks the
types here (numbers are numbers, finite; ``frozen`` is a bool) and leaves the
ranges (a positive standard deviation, probabilities summing to one, a
positive-definite covariance) to the family's constructor, the same checks a
user's arguments get.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .._validation import json_numbers
from ._registry import SCHEMA_VERSION

__all__ = ["JSONModel"]


class JSONModel:
    """Mixin of :class:`~suffstats.Distribution`: ``to_dict`` and the checked ``_from_dict``."""

    parameter_names: tuple = ()

    def to_dict(self) -> dict:
        """JSON-safe description: family, parameters, settings, schema version."""
        params = {k: (None if getattr(self, k) is None else v.tolist()) for k, v in self._raw_parameters().items()}
        return {
            "schema": SCHEMA_VERSION,
            "family": type(self).__name__,
            "parameters": params,
            "inertia": self.inertia,
            "frozen": self.frozen,
            **({} if self.missing == "error" else {"missing": self.missing}),
            **self._settings(),
        }

    def _raw_parameters(self):
        return {k: np.asarray(getattr(self, k) if getattr(self, k) is not None else np.nan, dtype=np.float64)
                for k in self.parameter_names}

    def _settings(self) -> dict:
        """Constructor settings other than parameters, inertia and frozen."""
        return {}

    @classmethod
    def _from_dict(cls, data: dict):
        params = data.get("parameters")
        if not isinstance(params, Mapping):
            raise ValueError(f"'parameters' must be an object with {list(cls.parameter_names)}; got {params!r:.60}")
        if set(params) != set(cls.parameter_names):
            raise ValueError(f"'parameters' must have exactly {list(cls.parameter_names)}; got {list(params)}")
        values = {k: json_numbers(v, f"parameters.{k}") for k, v in params.items()}
        return cls(**values, **cls._settings_from_dict(data), **common_settings(data))

    @classmethod
    def _settings_from_dict(cls, data: dict) -> dict:
        return {}


def common_settings(data) -> dict:
    """``inertia``, ``frozen`` and ``missing`` of a description (checked by the constructor that receives them)."""
    # "missing" only when written (a policy other than "error"): families written outside the package may not take it.
    return {"inertia": data.get("inertia", 0.0), "frozen": data.get("frozen", False),
            **({"missing": data["missing"]} if "missing" in data else {})}
