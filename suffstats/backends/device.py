"""Whether a CUDA device works: the gate of the CuPy backend, its tests and its doctests.

CuPy imports on machines without a GPU or a driver; what fails there is the
first call that touches the device. The gate therefore asks the device, not
the import: :func:`device_available` is true only where CuPy imports, reports
itself available and sees at least one device, and every error on the way
reads as "no device". Nothing here imports CuPy at module import.
"""

from __future__ import annotations

import importlib

__all__ = ["device_available", "device_unavailable_reason"]


def device_unavailable_reason():
    """Why no CUDA device can be used, or ``None`` when one works.

    Examples
    --------
    >>> reason = device_unavailable_reason()
    >>> reason is None or isinstance(reason, str)
    True
    """
    try:
        cupy = importlib.import_module("cupy")
    except Exception as error:  # noqa: BLE001 -- ImportError, or a broken CuPy install
        return f"CuPy does not import ({type(error).__name__}: {error})"
    try:
        is_available = getattr(cupy, "is_available", None)
        if is_available is not None and not is_available():
            return "CuPy imports but reports no usable CUDA device (cupy.is_available() is False)"
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # noqa: BLE001 -- CuPy raises its own CUDA errors (no driver, no device)
        return f"CuPy imports but the device does not answer ({type(error).__name__}: {error})"
    if not count:
        return "CuPy imports but sees no CUDA device (CUDA_VISIBLE_DEVICES?)"
    return None


def device_available():
    """``True`` when CuPy imports and a CUDA device answers, else ``False`` (never raises).

    Examples
    --------
    >>> isinstance(device_available(), bool)
    True
    """
    return device_unavailable_reason() is None
