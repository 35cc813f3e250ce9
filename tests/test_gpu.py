"""The CuPy backend on a real GPU (skipped unless a device answers): the same models as the NumPy reference."""

import warnings

import numpy as np
import pytest

import suffstats as ss
from suffstats.backends.device import device_unavailable_reason

from .tolerance import assert_close

_NO_DEVICE = device_unavailable_reason()
if _NO_DEVICE is not None:  # CuPy may import on a machine without a GPU: gate on the device, not the import
    pytest.skip(_NO_DEVICE, allow_module_level=True)
pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_cupy_fits_what_the_reference_fits(blobs_memmap, covariance_type):
    kwargs = dict(n_components=4, covariance_type=covariance_type, max_iter=5, tol=0, random_state=0,
                  init_params="k-means++", batch_size=70_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gpu = ss.GaussianMixture(backend="cupy", **kwargs).fit(blobs_memmap)
        cpu = ss.GaussianMixture(backend="numpy", **kwargs).fit(blobs_memmap)
    for name in ("weights_", "means_", "covariances_"):
        assert isinstance(getattr(gpu, name), np.ndarray)
        assert_close(getattr(gpu, name), getattr(cpu, name), rtol=1e-10, err_msg=name)


def test_cupy_kmeans_and_device_arrays_in(blobs_memmap):
    X = np.asarray(blobs_memmap)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gpu = ss.KMeans(4, backend="cupy", random_state=0, max_iter=5, tol=0).fit(X)
        cpu = ss.KMeans(4, backend="numpy", random_state=0, max_iter=5, tol=0).fit(X)
    assert_close(gpu.cluster_centers_, cpu.cluster_centers_, rtol=1e-10)
