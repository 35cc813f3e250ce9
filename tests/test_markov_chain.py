"""MarkovChain against counts taken by brute force, read out of core through the sequence seam."""

import json
from collections import Counter

import numpy as np
import pytest

import suffstats
from suffstats import MarkovChain

C = 4


def _sequences(seed=0):
    rng = np.random.default_rng(seed)
    # Sequences shorter than the order, sequences crossing the 65,536-row blocks, one spanning several blocks.
    lengths = np.array([1, 2, 3, 70_000, 5, 1, 140_001, 17, 2])
    cumulative = np.cumsum(rng.dirichlet(np.ones(C), size=(C, C)), axis=-1).tolist()
    x = np.empty(int(lengths.sum()), dtype=np.int64)
    draws = rng.random(x.size).tolist()
    start = 0
    for n in lengths:
        seq = [int(v) for v in rng.integers(0, C, min(n, 2))]
        for t in range(len(seq), n):
            row, u = cumulative[seq[-2]][seq[-1]], draws[start + t]
            seq.append(min(sum(c <= u for c in row), C - 1))
        x[start:start + n] = seq
        start += n
    return x, lengths


@pytest.fixture(scope="module")
def chain_data():
    return _sequences()


def _brute_force(x, lengths, k, weights=None):
    """Probability tables counted with a loop over every sequence, the way the model is defined."""
    w = np.ones(x.size) if weights is None else weights
    initial = [Counter() for _ in range(k)]
    transitions = Counter()
    start = 0
    for n in lengths:
        seq = x[start:start + n]
        for t in range(n):
            key = tuple(int(v) for v in seq[max(t - k, 0):t + 1])
            (initial[t] if t < k else transitions)[key] += w[start + t]
        start += n

    def table(counter, order):
        counts = np.zeros((C,) * (order + 1))
        for key, value in counter.items():
            counts[key] += value
        total = counts.sum(axis=-1, keepdims=True)
        return np.where(total > 0, counts / np.where(total > 0, total, 1), 1 / C)

    return [table(initial[p], p) for p in range(k)], table(transitions, k)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_tables_equal_brute_force_counts(chain_data, k):
    x, lengths = chain_data
    model = MarkovChain(k).fit(x, lengths)
    initial, transitions = _brute_force(x, lengths, k)
    assert model.n_categories_ == C
    for ours, ref in zip(model.initial_probs_, initial):
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=0)
    np.testing.assert_allclose(model.transition_probs_, transitions, rtol=1e-12, atol=0)


def test_log_probability_per_sequence_equals_a_loop(chain_data):
    x, lengths = chain_data
    model = MarkovChain(2, pseudocount=0.5).fit(x, lengths)
    ours = model.log_probability(x, lengths)
    assert ours.shape == (lengths.size,)
    start = 0
    for s, n in enumerate(lengths[:6]):
        seq = x[start:start + n]
        expected = 0.0
        for t in range(n):
            table = model.initial_probs_[t] if t < 2 else model.transition_probs_
            expected += np.log(table[tuple(seq[max(t - 2, 0):t + 1])])
        assert ours[s] == pytest.approx(expected, rel=1e-12)
        start += n
    whole = model.log_probability(x[:30])
    assert whole.shape == (1,)


@pytest.mark.parametrize("lengths_given", [True, False])
def test_fit_from_a_memory_map_is_bit_identical_for_every_batch_size(tmp_path, chain_data, lengths_given):
    x, lengths = chain_data
    lengths = lengths if lengths_given else None
    path = tmp_path / "codes.npy"
    np.save(path, x.astype(np.uint8))
    weights = np.random.default_rng(1).random(x.size)
    reference = MarkovChain(2).fit(x, lengths, weights)
    for batch_size in (1_000, 65_536, 99_999, 10**6):
        model = MarkovChain(2).fit(str(path), lengths, weights, batch_size=batch_size)
        np.testing.assert_array_equal(model.transition_probs_, reference.transition_probs_)
        for a, b in zip(model.initial_probs_, reference.initial_probs_):
            np.testing.assert_array_equal(a, b)


def test_one_long_sequence_and_summarize_give_fit(chain_data):
    x, lengths = chain_data
    whole = MarkovChain(1).fit(x)
    initial, transitions = _brute_force(x, [x.size], 1)
    np.testing.assert_allclose(whole.transition_probs_, transitions, rtol=1e-12)
    np.testing.assert_array_equal(whole.initial_probs_[0], np.eye(C)[x[0]])
    looped = MarkovChain(1, n_categories=C)
    looped.summarize(x[:70_006], lengths[:4])
    looped.summarize(x[70_006:], lengths[4:])
    looped.from_summaries()
    fitted = MarkovChain(1).fit(x, lengths)
    np.testing.assert_array_equal(looped.transition_probs_, fitted.transition_probs_)
    absorbed = MarkovChain(1, n_categories=C)
    absorbed.absorb(MarkovChain(1, n_categories=C).statistics(x[:5]) + MarkovChain(1, n_categories=C).statistics(x[5:9]))
    with pytest.raises(ValueError, match="statistics of another shape"):
        absorbed.absorb(MarkovChain(2, n_categories=C).statistics(x[:5]))
    absorbed.from_summaries()
    np.testing.assert_array_equal(absorbed.transition_probs_, MarkovChain(1, n_categories=C).fit(x[:9], [5, 4]).transition_probs_)
    np.testing.assert_array_equal(looped.initial_probs_[0], fitted.initial_probs_[0])


def test_integer_weights_equal_repeated_sequences():
    x, lengths = np.array([0, 1, 1, 2, 0, 2, 2, 1, 0]), np.array([4, 5])
    w = np.repeat([3, 2], lengths)
    weighted = MarkovChain(1).fit(x, lengths, w)
    repeated = MarkovChain(1).fit(np.concatenate([x[:4]] * 3 + [x[4:]] * 2), [4, 4, 4, 5, 5])
    np.testing.assert_allclose(weighted.transition_probs_, repeated.transition_probs_, rtol=1e-15)
    np.testing.assert_allclose(weighted.initial_probs_[0], repeated.initial_probs_[0], rtol=1e-15)


def test_samples_follow_the_chain(chain_data):
    x, lengths = chain_data
    model = MarkovChain(2).fit(x, lengths)
    drawn = model.sample(2_000, 60, random_state=0)
    assert drawn.shape == (2_000, 60) and drawn.min() >= 0 and drawn.max() < C
    refit = MarkovChain(2, n_categories=C).fit(drawn.ravel(), np.full(2_000, 60))
    np.testing.assert_allclose(refit.transition_probs_, model.transition_probs_, atol=0.03)


def test_json_round_trip(tmp_path, chain_data):
    x, lengths = chain_data
    model = MarkovChain(3, pseudocount=1.0).fit(x, lengths)
    suffstats.save(model, tmp_path / "chain.json")
    again = suffstats.load(tmp_path / "chain.json")
    np.testing.assert_array_equal(again.log_probability(x, lengths), model.log_probability(x, lengths))
    doc = json.loads(suffstats.to_json(model))
    doc["fitted"]["initial_probs"] = doc["fitted"]["initial_probs"][:1]
    with pytest.raises(ValueError, match="initial_probs must list 3 tables"):
        suffstats.from_json(json.dumps(doc))


@pytest.mark.parametrize("bad, message", [
    (4, r"4\.0 at row 70010, column 0; codes of column 0 must be integers in 0\.\.3"),
    (-2, r"-2\.0 at row 70010"),
    (1.5, r"1\.5 at row 70010"),
])
def test_bad_codes_are_refused_naming_the_row_and_leave_the_model(chain_data, bad, message):
    x, lengths = chain_data
    model = MarkovChain(1, n_categories=C).fit(x[:1000])
    before = suffstats.to_json(model)
    X = x.astype(float)
    X[70_010] = bad
    with pytest.raises(ValueError, match=message):
        model.fit(X, lengths, batch_size=30_000)
    assert suffstats.to_json(model) == before


def test_bad_arguments_are_refused(chain_data):
    x, _ = chain_data
    with pytest.raises(ValueError, match="lengths sum to 3 rows"):
        MarkovChain(1).fit(x, [1, 2])
    with pytest.raises(ValueError, match="k must be"):
        MarkovChain(0)
    with pytest.raises(ValueError, match="needs n_categories"):
        MarkovChain(1).summarize(x[:10])
    with pytest.raises(ValueError, match="transition table would have"):
        MarkovChain(9, n_categories=100).fit(x[:10])
    with pytest.raises(ValueError, match="fit it first"):
        MarkovChain(1).log_probability(x[:10])


class _TinyBlocks(MarkovChain):
    """The same chain counted in blocks of 2 rows: every sequence is cut into pieces shorter than the order."""

    _block_rows = 2


@pytest.mark.parametrize("k", [1, 3])
def test_pieces_shorter_than_the_order_carry_the_context(chain_data, k):
    x, lengths = chain_data[0][:2_000], np.array([1, 2, 3, 5, 1_000, 989])
    small = _TinyBlocks(k).fit(x, lengths, batch_size=3)
    initial, transitions = _brute_force(x, lengths, k)
    np.testing.assert_allclose(small.transition_probs_, transitions, rtol=1e-12, atol=0)
    for ours, ref in zip(small.initial_probs_, initial):
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=0)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_many_short_sequences_equal_brute_force_and_any_batch_size(tmp_path, k):
    rng = np.random.default_rng(5)
    lengths = rng.integers(1, 7, 40_000)  # many sequences shorter than the order, crossing every block
    x = rng.integers(0, C, int(lengths.sum()))
    weights = rng.random(x.size)
    path = tmp_path / "codes.npy"
    np.save(path, x.astype(np.int8))
    reference = MarkovChain(k, n_categories=C).fit(x, lengths, weights)
    initial, transitions = _brute_force(x, lengths, k, weights)
    np.testing.assert_allclose(reference.transition_probs_, transitions, rtol=1e-12, atol=0)
    for ours, ref in zip(reference.initial_probs_, initial):
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=0)
    for batch_size in (1, 4_099, 65_536, 10**6):
        model = MarkovChain(k, n_categories=C).fit(str(path), lengths, weights, batch_size=batch_size)
        assert model.to_dict() == reference.to_dict()
    looped = MarkovChain(k, n_categories=C)
    cut = np.searchsorted(np.cumsum(lengths), x.size // 2) + 1  # a whole number of sequences per call
    end = int(lengths[:cut].sum())
    looped.summarize(x[:end], lengths[:cut], weights[:end])
    looped.summarize(x[end:], lengths[cut:], weights[end:])
    looped.from_summaries()
    np.testing.assert_allclose(looped.transition_probs_, transitions, rtol=1e-12, atol=0)


def test_threads_and_a_resume_from_saved_statistics_give_the_fit_bit_for_bit(chain_data):
    from concurrent.futures import ThreadPoolExecutor

    from suffstats.statistics import Statistics

    rng = np.random.default_rng(2)
    lengths = rng.integers(1, 40, 6_000)
    x = rng.integers(0, C, int(lengths.sum()))
    fitted = MarkovChain(2, n_categories=C).fit(x, lengths)
    ends = np.cumsum(lengths)
    parts = []
    for a, b in zip(range(0, lengths.size, 500), range(500, lengths.size + 500, 500)):
        lo, hi = (0 if a == 0 else int(ends[a - 1])), int(ends[min(b, lengths.size) - 1])
        parts.append((x[lo:hi], lengths[a:b]))
    threaded = MarkovChain(2, n_categories=C)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda part: threaded.summarize(*part), parts))
    threaded.from_summaries()
    assert threaded.to_dict() == fitted.to_dict()
    first = MarkovChain(2, n_categories=C)
    for part in parts[:5]:
        first.summarize(*part)
    resumed = MarkovChain(2, n_categories=C)
    resumed.absorb(Statistics.from_dict(json.loads(json.dumps(first.pending.to_dict()))))
    for part in parts[5:]:
        resumed.summarize(*part)
    resumed.from_summaries()
    assert resumed.to_dict() == fitted.to_dict()
