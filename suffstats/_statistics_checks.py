"""Checks of statistics values that cross the boundary: ``absorb``'s argument and the totals it makes.

A value given to ``absorb`` must have the kind, fields, dimensions and layout of
the model's own statistics (its *signature*) and finite numbers; the sum it
makes with the pending total must not overflow. Each refusal says what was
expected and what came.
"""

from __future__ import annotations

import numpy as np

from .statistics import Statistics, describe_signature, signature_matches

__all__ = ["check_statistics_value", "checked_sum"]


def check_statistics_value(stats, expected, owner):
    """Check a statistics value given to ``owner.absorb``: its kind and shape, then its numbers.

    ``expected`` is a :meth:`~suffstats.Statistics.signature` (``None`` entries match any
    dimension); errors say what was expected and what came.
    """
    if not isinstance(stats, Statistics):
        raise TypeError(f"{owner}.absorb takes a Statistics value (from statistics() or Statistics.from_dict); "
                        f"got {type(stats).__name__}")
    got = stats.signature()
    if not signature_matches(expected, got):
        raise ValueError(f"{owner}.absorb: expected {describe_signature(expected)}; got {describe_signature(got)}")
    stats.check_numbers(f"{owner}.absorb")


def checked_sum(pending, stats, owner, expected=None):
    """``pending + stats`` after checking ``stats`` against ``expected`` (or ``pending``'s signature).

    Raises ``TypeError`` for a value that is not statistics, ``ValueError`` for
    one of another kind or shape, with non-finite numbers, or whose sum with
    ``pending`` overflows float64.
    """
    check_statistics_value(stats, expected if pending is None else pending.signature(), owner)
    if pending is None:
        return stats
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            total = pending + stats
    except (ValueError, TypeError) as err:
        raise ValueError(f"{owner}.absorb: these statistics do not add to the pending ones ({err})") from None
    if not total.is_finite():
        raise ValueError(f"{owner}.absorb: the pending statistics would overflow float64; rescale the data")
    return total
