"""The host → device streaming schedule on the CPU: a NumPy stand-in whose streams run only when waited for."""

import numpy as np
import pytest

from suffstats.backends import numpy_kernels
from suffstats.backends.streaming import DeferredHostOps, stream_pass
from suffstats.block_tree import BlockTree

BLOCK = 64
RNG = np.random.default_rng(3)
X = RNG.normal(size=(1000, 3)) * [1.0, 2.0, 0.5] + 1e3  # 15 full blocks and a tail of 40 rows
W = RNG.uniform(0.5, 2.0, size=1000)
MEANS = X[[0, 400, 800]]
PREC = np.stack([np.eye(3) * s for s in (1.0, 0.7, 1.3)])
LOG_WEIGHTS = np.log([0.2, 0.3, 0.5])


def gaussian(X, w, stream=None):
    """The reference Gaussian statistics of one block as one flat vector (values with ``+``)."""
    weight, ll, resp, first, second = numpy_kernels.gaussian_block(X, w, MEANS, PREC, LOG_WEIGHTS, "full")
    return np.concatenate([[weight, ll], resp, first.ravel(), second.ravel()])


def batches(X, w, size):
    return [(X[s:s + size], None if w is None else w[s:s + size]) for s in range(0, X.shape[0], size)]


def reference(X, w):
    tree = BlockTree()
    for s in range(0, X.shape[0], BLOCK):
        tree.push(gaussian(X[s:s + BLOCK], None if w is None else w[s:s + BLOCK]))
    return tree.total()


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("batch_size, buffer_rows, n_buffers", [
    (1000, 256, 2), (64, 64, 2), (7, 128, 3), (333, 192, 2), (100, 64, 1), (1, 512, 3),
])
def test_the_total_is_bit_identical_whatever_the_batches_and_buffers(weighted, batch_size, buffer_rows, n_buffers):
    w = W if weighted else None
    total = stream_pass(batches(X, w, batch_size), gaussian, DeferredHostOps(), buffer_rows=buffer_rows,
                        n_buffers=n_buffers, block_rows=BLOCK)
    np.testing.assert_array_equal(total, reference(X, w))
    whole = numpy_kernels.gaussian_block(X, w, MEANS, PREC, LOG_WEIGHTS, "full")  # and it is the right sum
    np.testing.assert_allclose(total[:2], whole[:2], rtol=1e-12)
    np.testing.assert_allclose(total[5:14], whole[3].ravel(), rtol=1e-9, atol=1e-9)


def test_a_schedule_that_refills_a_buffer_before_its_copy_ran_gives_wrong_numbers():
    """The stand-in has teeth: without the wait before reuse, copies read refilled buffers, and the sum is off."""

    class Hasty(DeferredHostOps):
        final = False

        def synchronize(self, event):
            if self.final:  # only the synchronisations after the source is exhausted run
                super().synchronize(event)

    ops = Hasty()

    def source():
        yield from batches(X, None, 128)
        ops.final = True
    total = stream_pass(source(), gaussian, ops, buffer_rows=128, n_buffers=2, block_rows=BLOCK)
    assert ops.pending() == 0
    assert not np.array_equal(total, reference(X, None))


def test_buffers_are_reused_only_after_the_compute_that_read_them():
    ops = DeferredHostOps()
    stream_pass(batches(X, None, 1000), gaussian, ops, buffer_rows=128, n_buffers=2, block_rows=BLOCK)
    log = ops.log
    assert [entry for entry in log if entry[0] == "host_buffer"] == [("host_buffer", 128)] * 2
    assert [entry for entry in log if entry[0] == "device_buffer"] == [("device_buffer", 128)] * 2
    copies = [i for i, entry in enumerate(log) if entry[0] == "copy"]
    assert [log[i][2] for i in copies] == [128] * 7 + [64, 40]  # 15 full blocks, then the 40-row tail
    done_events = []
    for n, i in enumerate(copies):
        # every copy is followed by: record on the copy stream, the compute stream waits on it
        assert log[i + 1][:2] == ("record", "copy") and log[i + 2][:2] == ("wait", "compute")
        assert log[i + 2][2:] == log[i + 1][1:]
        if n >= 2:  # the host first waited for the compute that last read this buffer pair
            assert ("synchronize",) + done_events[n - 2] in log[copies[n - 1]:i]
        # the compute event of this chunk: the first record on the compute stream after its launches
        after = next(entry for entry in log[i:] if entry[:2] == ("record", "compute"))
        done_events.append(after[1:])
    assert log[-1] == ("to_host",) and ops.pending() == 0
    assert [entry for entry in log if entry[0] == "to_host"] == [("to_host",)]  # the total comes back once


def test_tails_and_an_empty_source():
    for n in (1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 5):
        calls = []

        def count(X, w, stream):
            calls.append(X.shape[0])
            return np.array([float(X.shape[0])])
        total = stream_pass(batches(X[:n], None, 50), count, DeferredHostOps(), buffer_rows=2 * BLOCK,
                            block_rows=BLOCK)
        assert total.tolist() == [float(n)]
        assert calls == [BLOCK] * (n // BLOCK) + ([n % BLOCK] if n % BLOCK else [])
    ops = DeferredHostOps()
    assert stream_pass([], gaussian, ops, buffer_rows=BLOCK, block_rows=BLOCK) is None
    assert ops.pending() == 0


def test_an_error_in_a_block_or_in_the_source_propagates_and_leaves_no_queued_work():
    def failing(X, w, stream):
        if failing.calls == 2:
            raise ArithmeticError("block 3")
        failing.calls += 1
        return gaussian(X, w)
    failing.calls = 0
    ops = DeferredHostOps()
    with pytest.raises(ArithmeticError, match="block 3"):
        stream_pass(batches(X, None, 1000), failing, ops, buffer_rows=BLOCK, block_rows=BLOCK)
    assert ops.pending() == 0

    def source():
        yield X[:100], None
        raise OSError("disk")
    ops = DeferredHostOps()
    with pytest.raises(OSError, match="disk"):
        stream_pass(source(), gaussian, ops, buffer_rows=BLOCK, block_rows=BLOCK)
    assert ops.pending() == 0


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="buffer_rows"):
        stream_pass([], gaussian, DeferredHostOps(), buffer_rows=100, block_rows=BLOCK)
    with pytest.raises(ValueError, match="n_buffers"):
        stream_pass([], gaussian, DeferredHostOps(), buffer_rows=BLOCK, n_buffers=0, block_rows=BLOCK)
    with pytest.raises(ValueError, match="every batch or for none"):
        stream_pass([(X[:64], W[:64]), (X[64:128], None)], gaussian, DeferredHostOps(), buffer_rows=BLOCK,
                    block_rows=BLOCK)
