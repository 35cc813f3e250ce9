"""The seams later models stand on: sequences read in order with a carried state, and the missing-value policy."""

import numpy as np
import pytest

from suffstats._validation import MISSING_POLICIES, check_batch
from suffstats.data import as_source
from suffstats.fit.running_total import RunningTotal
from suffstats.fit.sequences import SequenceBoundaries, sequence_pass
from suffstats.statistics import Additive


class LagProducts:
    """A sequence statistic that needs the previous row: Σ_t x_t·x_{t-1} within each sequence, carried across pieces."""

    def __init__(self):
        self.pieces = []

    def _new_accumulator(self):
        return RunningTotal()

    def _sequence_piece(self, acc, X, w, state, first, last, row_offset):
        self.pieces.append((row_offset, X.shape[0], first, last))
        x = X[:, 0]
        lag = float(x[1:] @ x[:-1]) + (0.0 if state is None else float(state * x[0]))
        acc.add(Additive({"weight": x.size, "lag": lag, "starts": float(first), "ends": float(last)}))
        return x[-1]


def _lag_in_memory(x, lengths):
    starts = np.concatenate([[0], np.cumsum(lengths)])
    return sum(float(x[a + 1:b] @ x[a:b - 1]) for a, b in zip(starts[:-1], starts[1:]))


@pytest.fixture(scope="module")
def sequences(tmp_path_factory):
    rng = np.random.default_rng(0)
    lengths = np.array([1, 4095, 4097, 3, 10_000, 1, 7000])
    x = rng.normal(size=(int(lengths.sum()), 1))
    path = tmp_path_factory.mktemp("seq") / "x.npy"
    np.save(path, x)
    return x, lengths, str(path)


def test_sequence_pass_equals_the_in_memory_statistic_and_counts_every_sequence(sequences):
    x, lengths, _ = sequences
    total = sequence_pass(LagProducts(), as_source(x), lengths).to_statistics().fields
    assert total["weight"] == x.shape[0]
    assert total["starts"] == total["ends"] == lengths.size
    assert total["lag"] == pytest.approx(_lag_in_memory(x[:, 0], lengths), rel=1e-12)


@pytest.mark.parametrize("batch_size", [1, 1000, 4096, 10_007])
def test_sequence_pass_is_bit_identical_for_every_batch_size_and_from_a_memory_map(sequences, batch_size):
    x, lengths, path = sequences
    reference = sequence_pass(LagProducts(), as_source(x), lengths).to_statistics()
    model = LagProducts()
    assert sequence_pass(model, as_source(path), lengths, batch_size=batch_size).to_statistics() == reference
    # Pieces are cut at block and sequence boundaries only, and a piece continues its sequence's state.
    assert all(size <= 4096 for _, size, _, _ in model.pieces)
    assert sum(first for _, _, first, _ in model.pieces) == lengths.size


def test_one_long_sequence_carries_its_state_across_every_block(sequences):
    x, _, path = sequences
    total = sequence_pass(LagProducts(), as_source(path), None, batch_size=5000).to_statistics().fields
    assert total["starts"] == total["ends"] == 1
    assert total["lag"] == pytest.approx(float(x[1:, 0] @ x[:-1, 0]), rel=1e-12)


@pytest.mark.parametrize("lengths, message", [
    ([3, 0, 2], r"lengths\[1\] is 0"),
    ([3, 3], "lengths sum to 6 rows, but the data has 5 rows"),
    ([2.5, 2.5], "integers"),
    ([], "non-empty"),
])
def test_bad_lengths_are_refused_naming_the_problem(lengths, message):
    with pytest.raises(ValueError, match=message):
        SequenceBoundaries(lengths, n_rows=5)


def test_missing_policy_is_one_parameter_of_the_batch_check():
    X = np.ones((6, 3))
    X[4, 2] = np.nan
    with pytest.raises(ValueError, match="row 4, column 2"):
        check_batch(X)
    kept = check_batch(X, missing="marginalize")
    assert np.isnan(kept[4, 2]) and np.isfinite(np.delete(kept.ravel(), 14)).all()
    X[5, 0] = -np.inf
    with pytest.raises(ValueError, match="-inf .* at row 5, column 0"):
        check_batch(X, missing="marginalize")
    with pytest.raises(ValueError, match=r"missing must be one of \['error', 'marginalize'\]"):
        check_batch(X, missing="ignore")
    assert MISSING_POLICIES == ("error", "marginalize")
