"""The GPU gate asks the device, not the import: a stand-in ``cupy`` that imports but whose device calls raise."""

import sys
import types

import pytest

from suffstats.backends import device


class CUDARuntimeError(RuntimeError):
    """What CuPy raises where no driver is installed."""


def _stand_in(is_available, device_count):
    """A module shaped like CuPy: ``is_available()`` and ``cuda.runtime.getDeviceCount()`` from the arguments."""
    cupy = types.ModuleType("cupy")

    def call(value):
        if isinstance(value, Exception):
            raise value
        return value

    cupy.is_available = lambda: call(is_available)
    cupy.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=lambda: call(device_count)))
    return cupy


@pytest.mark.parametrize("is_available, device_count, needle", [
    (False, CUDARuntimeError("cudaErrorInsufficientDriver"), "is_available"),
    (CUDARuntimeError("cudaErrorInsufficientDriver"), 0, "cudaErrorInsufficientDriver"),
    (True, CUDARuntimeError("cudaErrorNoDevice"), "cudaErrorNoDevice"),
    (True, 0, "sees no CUDA device"),
])
def test_a_cupy_that_imports_without_a_working_device_is_no_device(monkeypatch, is_available, device_count, needle):
    monkeypatch.setitem(sys.modules, "cupy", _stand_in(is_available, device_count))
    assert device.device_available() is False
    assert needle in device.device_unavailable_reason()


def test_a_cupy_that_does_not_import_is_no_device(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import raises ImportError
    assert device.device_available() is False
    assert "does not import" in device.device_unavailable_reason()


def test_a_device_that_answers_opens_the_gate(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", _stand_in(True, 1))
    assert device.device_available() is True
    assert device.device_unavailable_reason() is None


def test_collection_ignores_the_cupy_backend_exactly_when_no_device_answers(monkeypatch):
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for cupy, ignored in [(_stand_in(False, CUDARuntimeError("no driver")), True), (None, True),
                          (_stand_in(True, 1), False)]:
        monkeypatch.setitem(sys.modules, "cupy", cupy)
        spec = importlib.util.spec_from_file_location("_root_conftest_probe", root / "conftest.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert ("suffstats/backends/cupy_kernels.py" in module.collect_ignore) is ignored
