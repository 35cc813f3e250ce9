"""Checks of statistics values that cross the boundary: ``absorb``'s argument and the totals it makes.

A value given to ``absorb`` must have the kind, fields, dimensions and layout of
the model's own statistics (its *signature*) and finite numbers; the sum it
makes with the pending total must not overflow. Each refusal says what was
expected and what came.
"""

from __future__ import annotations

import numpy as np

from .statistics import Additive, Composite, Moments, Statistics

__all__ = ["statistics_signature", "describe_signature", "check_statistics_value", "statistics_finite",
           "checked_sum"]


def statistics_signature(stats):
    """What a statistics value must match to be added to another: kind, fields, dimensions, layout."""
    if isinstance(stats, Moments):
        return ("moments", stats.first.shape[0] if stats.first.ndim == 1 else stats.first.shape, stats.layout)
    if isinstance(stats, Additive):
        return ("additive", tuple(sorted((k, v.shape, stats.rules[k]) for k, v in stats.fields.items())))
    if isinstance(stats, Composite):
        return ("composite", tuple(statistics_signature(p) for p in stats.parts))
    return (type(stats).__name__,)


def describe_signature(sig) -> str:
    """A signature in words, for messages."""
    if sig is None:
        return "any statistics"
    if sig[0] == "moments":
        d = "d" if sig[1] is None else sig[1]
        return f"moments of {d} feature(s) with {sig[2]} second moments"
    if sig[0] == "additive":
        return "additive statistics with fields " + ", ".join(
            f"{k}{list(shape) if shape else ''}" + ("" if rule == "sum" else f" ({rule})") for k, shape, rule in sig[1])
    if sig[0] == "composite":
        return f"composite statistics of {len(sig[1])} part(s) [" + "; ".join(describe_signature(p) for p in sig[1]) + "]"
    return f"a {sig[0]}"


def _matches(expected, got) -> bool:
    if expected is None:
        return True
    if expected[0] != got[0] or len(expected) != len(got):
        return False
    if expected[0] == "moments":
        return expected[1] in (None, got[1]) and expected[2] == got[2]
    if expected[0] == "composite":
        return len(expected[1]) == len(got[1]) and all(_matches(e, g) for e, g in zip(expected[1], got[1]))
    return expected == got


def _check_values(stats, where):
    if isinstance(stats, Composite):
        for j, part in enumerate(stats.parts):
            _check_values(part, f"{where} part {j}")
        return
    if isinstance(stats, Moments):
        d = stats.first.shape[0] if stats.first.ndim == 1 else -1
        if d < 0 or stats.shift.shape != (d,) or stats.second.shape not in ((d, d), (d,), ()):
            raise ValueError(f"{where}: moments with inconsistent shapes: shift {stats.shift.shape}, "
                             f"first {stats.first.shape}, second {stats.second.shape}")
        arrays, weight = stats.arrays(), stats.weight
    elif isinstance(stats, Additive):
        arrays = {k: v for k, v in stats.fields.items() if stats.rules[k] == "sum"}
        for k, v in stats.fields.items():
            if np.isnan(v).any():
                raise ValueError(f"{where}: field {k!r} holds NaN")
        weight = stats.fields["weight"] if "weight" in stats.fields else 0.0
    else:
        return
    for k, v in arrays.items():
        if not np.isfinite(v).all():
            raise ValueError(f"{where}: field {k!r} is not finite ({v.ravel()[~np.isfinite(v.ravel())][0]})")
    if np.any(np.asarray(weight) < 0):
        raise ValueError(f"{where}: the total weight is negative ({weight})")


def check_statistics_value(stats, expected, owner):
    """Check a statistics value given to ``owner.absorb``: its kind and shape, then its numbers.

    ``expected`` is a :func:`statistics_signature` (``None`` entries match any
    dimension); errors say what was expected and what came.
    """
    if not isinstance(stats, Statistics):
        raise TypeError(f"{owner}.absorb takes a Statistics value (from statistics() or Statistics.from_dict); "
                        f"got {type(stats).__name__}")
    got = statistics_signature(stats)
    if not _matches(expected, got):
        raise ValueError(f"{owner}.absorb: expected {describe_signature(expected)}; got {describe_signature(got)}")
    _check_values(stats, f"{owner}.absorb")


def statistics_finite(stats) -> bool:
    """Whether every summed number of a statistics value is finite (no overflow, no NaN)."""
    if isinstance(stats, Composite):
        return all(statistics_finite(p) for p in stats.parts)
    if isinstance(stats, Moments):
        return all(np.isfinite(v).all() for v in stats.arrays().values())
    if isinstance(stats, Additive):
        return all(np.isfinite(v).all() if stats.rules[k] == "sum" else not np.isnan(v).any()
                   for k, v in stats.fields.items())
    return True


def checked_sum(pending, stats, owner, expected=None):
    """``pending + stats`` after checking ``stats`` against ``expected`` (or ``pending``'s signature).

    Raises ``TypeError`` for a value that is not statistics, ``ValueError`` for
    one of another kind or shape, with non-finite numbers, or whose sum with
    ``pending`` overflows float64.
    """
    check_statistics_value(stats, expected if pending is None else statistics_signature(pending), owner)
    if pending is None:
        return stats
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            total = pending + stats
    except (ValueError, TypeError) as err:
        raise ValueError(f"{owner}.absorb: these statistics do not add to the pending ones ({err})") from None
    if not statistics_finite(total):
        raise ValueError(f"{owner}.absorb: the pending statistics would overflow float64; rescale the data")
    return total
