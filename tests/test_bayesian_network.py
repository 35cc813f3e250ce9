"""BayesianNetwork against pgmpy (tables, Chow–Liu tree, posteriors, BIC) and brute-force enumeration."""

import itertools
import json

import numpy as np
import pytest

import suffstats
from suffstats import BayesianNetwork


class _Pgmpy:
    """pgmpy's estimators and inference (the reference; in the ``test`` extra as pgmpy-no-torch)."""

    def __init__(self):
        pytest.importorskip("pgmpy")
        from pgmpy import estimators, inference, models

        self.BIC, self.BayesianEstimator = estimators.BIC, estimators.BayesianEstimator
        self.MaximumLikelihoodEstimator, self.TreeSearch = estimators.MaximumLikelihoodEstimator, estimators.TreeSearch
        self.VariableElimination, self.DiscreteBayesianNetwork = inference.VariableElimination, models.DiscreteBayesianNetwork

CARDS = (3, 2, 4, 2, 3)
STRUCTURE = ((), (0,), (0, 1), (2,), (1, 3))


def _draw(n, seed=0):
    """Rows from a fixed random network over CARDS with STRUCTURE (every family context is seen)."""
    rng = np.random.default_rng(seed)
    tables = [rng.dirichlet(np.ones(CARDS[i]) * 2, size=tuple(CARDS[p] for p in parents))
              for i, parents in enumerate(STRUCTURE)]
    truth = BayesianNetwork(STRUCTURE)
    truth.structure_, truth.n_categories_, truth.cpts_ = STRUCTURE, CARDS, tables
    return truth.sample(n, random_state=seed)


@pytest.fixture(scope="module")
def data():
    return _draw(20_011)


@pytest.fixture(scope="module")
def frame(data):
    pd = pytest.importorskip("pandas")
    return pd.DataFrame(data, columns=[str(j) for j in range(data.shape[1])])


@pytest.fixture(scope="module")
def pg():
    return _Pgmpy()


def _pgmpy_model(structure):
    model = _Pgmpy().DiscreteBayesianNetwork([(str(p), str(i)) for i, parents in enumerate(structure) for p in parents])
    model.add_nodes_from([str(i) for i in range(len(structure))])
    return model


def _table(cpd, i, parents):
    """A pgmpy CPD as our layout: parents' axes in structure order, then the column's own."""
    order = [str(p) for p in parents] + [str(i)]
    return np.transpose(cpd.values, [cpd.variables.index(v) for v in order])


@pytest.mark.parametrize("prior, kwargs", [
    (None, {}),
    ("bdeu", {"prior_type": "BDeu", "equivalent_sample_size": 7}),
    ("k2", {"prior_type": "K2"}),
])
def test_tables_equal_pgmpy_estimators(data, frame, pg, prior, kwargs):
    ours = BayesianNetwork(STRUCTURE, prior=prior, equivalent_sample_size=7).fit(data)
    reference = _pgmpy_model(STRUCTURE)
    estimator = (pg.MaximumLikelihoodEstimator if prior is None else pg.BayesianEstimator)(reference, frame)
    for i, parents in enumerate(STRUCTURE):
        cpd = estimator.estimate_cpd(str(i), **kwargs)
        np.testing.assert_allclose(ours.cpts_[i], _table(cpd, i, parents), rtol=0, atol=1e-12)
    assert ours.n_categories_ == CARDS


def test_chow_liu_tree_equals_pgmpy_tree_search(data, frame, pg):
    ours = BayesianNetwork(algorithm="chow-liu").fit(data)
    dag = pg.TreeSearch(frame, root_node="0").estimate(estimator_type="chow-liu", show_progress=False)
    assert {(str(p), str(i)) for i, parents in enumerate(ours.structure_) for p in parents} == set(dag.edges())
    # The tables of the learned tree are those of the tree given as a structure.
    given = BayesianNetwork(ours.structure_).fit(data)
    for a, b in zip(ours.cpts_, given.cpts_):
        np.testing.assert_array_equal(a, b)
    assert ours.structure_[0] == ()


def test_chow_liu_root_is_a_setting(data):
    model = BayesianNetwork(algorithm="chow-liu", root=3).fit(data)
    assert model.structure_[3] == () and sum(len(p) for p in model.structure_) == len(CARDS) - 1


def test_log_probability_equals_the_product_of_pgmpy_tables_and_enumeration_with_missing(data, frame, pg):
    ours = BayesianNetwork(STRUCTURE).fit(data)
    reference = _pgmpy_model(STRUCTURE)
    reference.fit(frame, estimator=pg.MaximumLikelihoodEstimator)
    rows = data[:50]
    expected = np.zeros(rows.shape[0])
    for i, parents in enumerate(STRUCTURE):
        table = _table(reference.get_cpds(str(i)), i, parents)
        expected += np.log(table[tuple(rows[:, v] for v in parents + (i,))])
    np.testing.assert_allclose(ours.log_probability(rows), expected, rtol=1e-12)
    # The joint over every row of codes sums to one; unobserved values are summed out.
    joint = np.array(list(itertools.product(*[range(c) for c in CARDS])))
    p = ours.probability(joint)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    partial = rows.astype(float)
    partial[:, [1, 3]] = np.nan
    expected_partial = [np.log(p[(joint[:, [0, 2, 4]] == r[[0, 2, 4]]).all(axis=1)].sum()) for r in rows]
    np.testing.assert_allclose(ours.log_probability(partial), expected_partial, rtol=1e-12)


def test_posteriors_equal_pgmpy_variable_elimination(data, frame, pg):
    ours = BayesianNetwork(STRUCTURE).fit(data)
    reference = _pgmpy_model(STRUCTURE)
    reference.fit(frame, estimator=pg.MaximumLikelihoodEstimator)
    inference = pg.VariableElimination(reference)
    rng = np.random.default_rng(1)
    rows = data[:12].copy()
    hidden = rng.random(rows.shape) < 0.5
    hidden[0] = [True, False, True, False, False]
    rows[hidden] = -1
    posteriors = ours.predict_proba(rows)
    as_nan = np.where(rows < 0, np.nan, rows.astype(float))
    again = ours.predict_proba(as_nan)
    for r, row in enumerate(rows):
        evidence = {str(j): int(v) for j, v in enumerate(row) if v >= 0}
        for j in np.flatnonzero(row < 0):
            if len(evidence) == 0:
                continue
            answer = inference.query([str(j)], evidence=evidence, show_progress=False)
            np.testing.assert_allclose(posteriors[j][r], answer.values, rtol=0, atol=1e-12)
            np.testing.assert_array_equal(again[j][r], posteriors[j][r])
        for j in np.flatnonzero(row >= 0):
            assert posteriors[j][r, row[j]] == 1.0 and posteriors[j][r].sum() == 1.0
    nothing = ours.predict_proba(np.full((2, len(CARDS)), -1))
    np.testing.assert_allclose(nothing[0], np.tile(ours.cpts_[0], (2, 1)), rtol=1e-12)
    marginal_2 = np.einsum("a,ab,abc->c", ours.cpts_[0], ours.cpts_[1], ours.cpts_[2])
    np.testing.assert_allclose(nothing[2][0], marginal_2, rtol=1e-12)
    predicted = ours.predict(rows)
    assert (predicted[rows >= 0] == rows[rows >= 0]).all()


def test_bic_equals_pgmpy(data, frame, pg):
    ours = BayesianNetwork(STRUCTURE).fit(data)
    assert ours.bic() == pytest.approx(pg.BIC(frame).score(_pgmpy_model(STRUCTURE)), rel=1e-12)


@pytest.mark.parametrize("algorithm", [None, "chow-liu"])
def test_fit_from_a_memory_map_is_bit_identical_for_every_batch_size(tmp_path, data, algorithm):
    path = tmp_path / "codes.npy"
    np.save(path, data.astype(np.int16))
    weights = np.random.default_rng(2).random(data.shape[0])
    structure = None if algorithm else STRUCTURE
    reference = BayesianNetwork(structure, algorithm, prior="bdeu").fit(data, weights)
    for batch_size in (1_000, 7_777, 65_536, 10**6):
        model = BayesianNetwork(structure, algorithm, prior="bdeu").fit(str(path), weights, batch_size=batch_size)
        assert model.structure_ == reference.structure_
        for a, b in zip(model.cpts_, reference.cpts_):
            np.testing.assert_array_equal(a, b)


def test_summarize_loop_and_absorbed_statistics_give_fit(data):
    fitted = BayesianNetwork(STRUCTURE, n_categories=CARDS).fit(data)
    looped = BayesianNetwork(STRUCTURE, n_categories=CARDS)
    for start in range(0, data.shape[0], 5_000):
        looped.summarize(data[start:start + 5_000])
    looped.from_summaries()
    worker = BayesianNetwork(STRUCTURE, n_categories=CARDS)
    absorbed = BayesianNetwork(STRUCTURE, n_categories=CARDS)
    absorbed.absorb(worker.statistics(data[:10_000]) + worker.statistics(data[10_000:]))
    absorbed.from_summaries()
    for a, b, c in zip(fitted.cpts_, looped.cpts_, absorbed.cpts_):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    with pytest.raises(ValueError, match="statistics of another shape"):
        absorbed.absorb(BayesianNetwork(STRUCTURE[:4], n_categories=CARDS[:4]).statistics(data[:10, :4]))
    learner = BayesianNetwork(algorithm="chow-liu", n_categories=4)
    learner.summarize(data[:7_000])
    learner.summarize(data[7_000:])
    learner.from_summaries()
    assert learner.structure_ == BayesianNetwork(algorithm="chow-liu").fit(data).structure_
    counts = worker.statistics(data).fields["family_2"]
    assert counts.sum() == data.shape[0] and np.array_equal(counts, np.round(counts))


def test_integer_weights_equal_repeated_rows(data):
    rows = data[:3_000]
    w = np.random.default_rng(3).integers(0, 4, rows.shape[0])
    weighted = BayesianNetwork(STRUCTURE, n_categories=CARDS).fit(rows, w)
    repeated = BayesianNetwork(STRUCTURE, n_categories=CARDS).fit(np.repeat(rows, w, axis=0))
    for a, b in zip(weighted.cpts_, repeated.cpts_):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=0)


def test_samples_follow_the_network(data):
    model = BayesianNetwork(STRUCTURE).fit(data)
    drawn = model.sample(200_000, random_state=4)
    assert drawn.shape == (200_000, len(CARDS))
    refit = BayesianNetwork(STRUCTURE, n_categories=CARDS).fit(drawn)
    for a, b in zip(model.cpts_, refit.cpts_):
        np.testing.assert_allclose(a, b, atol=0.03)
    assert np.array_equal(model.sample(10, random_state=5), model.sample(10, random_state=5))


def test_json_round_trip(tmp_path, data):
    model = BayesianNetwork(algorithm="chow-liu", prior="k2").fit(data)
    path = tmp_path / "net.json"
    suffstats.save(model, path)
    again = suffstats.load(path)
    assert type(again) is BayesianNetwork and again.structure_ == model.structure_
    np.testing.assert_array_equal(again.log_probability(data[:100]), model.log_probability(data[:100]))
    unfitted = suffstats.from_json(suffstats.to_json(BayesianNetwork(STRUCTURE)))
    assert unfitted.structure == STRUCTURE and getattr(unfitted, "cpts_", None) is None
    doc = json.loads(suffstats.to_json(model))
    doc["fitted"]["cpts_"][1] = [[0.5, 0.6]] * 3
    with pytest.raises(ValueError, match=r"fitted.cpts_\[1\]"):
        suffstats.from_json(json.dumps(doc))
    doc = json.loads(suffstats.to_json(model))
    doc["fitted"]["structure_"] = [[1], [0], [], [], []]
    with pytest.raises(ValueError, match="cycle"):
        suffstats.from_json(json.dumps(doc))


def _state(model):
    return suffstats.to_json(model)


@pytest.mark.parametrize("change, message", [
    (lambda X: X.__setitem__((7, 2), 4), r"row 7, column 2; codes of column 2 must be integers in 0\.\.3"),
    (lambda X: X.__setitem__((5, 0), -1), r"-1.* at row 5, column 0"),
    (lambda X: X.__setitem__((9, 1), 0.5), r"0\.5 at row 9, column 1"),
    (lambda X: X.__setitem__((3, 4), np.nan), r"nan at row 3, column 4"),
])
def test_bad_codes_are_refused_naming_row_and_column_and_leave_the_model(data, change, message):
    model = BayesianNetwork(STRUCTURE, n_categories=CARDS).fit(data[:1000])
    before = _state(model)
    X = data[:1000].astype(float)
    change(X)
    with pytest.raises(ValueError, match=message):
        model.fit(X, batch_size=256)
    assert _state(model) == before


def test_bad_codes_in_a_file_name_the_row_of_the_file(tmp_path, data):
    X = data.copy()
    X[15_000, 3] = 7
    np.save(tmp_path / "bad.npy", X)
    with pytest.raises(ValueError, match="row 15000, column 3"):
        BayesianNetwork(STRUCTURE, n_categories=CARDS).fit(str(tmp_path / "bad.npy"), batch_size=4096)


@pytest.mark.parametrize("structure, error, message", [
    (((1,), (2,), (0,)), ValueError, r"cycle through columns \[0, 1, 2\]"),
    (((), (5,), ()), ValueError, r"structure\[1\] names parent 5, but there are only columns 0\.\.2"),
    (((), (1,), ()), ValueError, "own parent"),
    (((), (0, 0), ()), ValueError, "twice"),
    (((), ("a",), ()), TypeError, "integer column indices"),
    ("abc", TypeError, "tuple"),
])
def test_bad_structures_are_refused(structure, error, message):
    with pytest.raises(error, match=message):
        BayesianNetwork(structure)


def test_refused_settings_and_sizes(data):
    with pytest.raises(ValueError, match="not both"):
        BayesianNetwork(STRUCTURE, "chow-liu")
    with pytest.raises(ValueError, match="algorithm must be one of"):
        BayesianNetwork(algorithm="greedy")
    with pytest.raises(ValueError, match="prior must be one of"):
        BayesianNetwork(STRUCTURE, prior="dirichlet")
    with pytest.raises(ValueError, match="needs a structure"):
        BayesianNetwork().fit(data)
    model = BayesianNetwork(STRUCTURE).fit(data[:500])
    before = _state(model)
    with pytest.raises(ValueError, match="data has 4 columns"):
        model.fit(data[:500, :4])
    assert _state(model) == before
    wide = BayesianNetwork(((), (0,), (0, 1), (0, 1, 2)), n_categories=1000)
    with pytest.raises(ValueError, match=r"table of column 2 would have 1,000,000,000 cells \(7.5 GiB"):
        wide.fit(np.zeros((10, 4), dtype=int))
    with pytest.raises(ValueError, match="needs n_categories"):
        BayesianNetwork(STRUCTURE).summarize(data[:10])


def test_fit_from_parquet_and_csv_equals_the_fit_in_memory(tmp_path, data):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = data[:3_000]
    pq.write_table(pa.table({f"c{j}": pa.array(rows[:, j]).dictionary_encode() for j in range(rows.shape[1])}),
                   tmp_path / "codes.parquet")
    np.savetxt(tmp_path / "codes.csv", rows, fmt="%d", delimiter=",", header=",".join(f"c{j}" for j in range(5)),
               comments="")
    reference = BayesianNetwork(STRUCTURE).fit(rows)
    for path in ("codes.parquet", "codes.csv"):
        model = BayesianNetwork(STRUCTURE).fit(str(tmp_path / path), batch_size=1_000)
        for a, b in zip(model.cpts_, reference.cpts_):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("algorithm", [None, "chow-liu"])
def test_peak_memory_is_set_by_the_block_not_the_file(tmp_path, algorithm):
    import tracemalloc

    rows = np.random.default_rng(5).integers(0, 3, (600_000, 6)).astype(np.int8)
    path = tmp_path / "codes.npy"
    np.save(path, rows)
    del rows
    structure = None if algorithm else ((), (0,), (1,), (2,), (3,), (4,))
    # The same fit once untraced: the peak measured is the fit's, not the JIT compiler's (a fresh machine
    # compiles each kernel signature on first use).
    BayesianNetwork(structure, algorithm, n_categories=3).fit(str(path), batch_size=20_000)
    tracemalloc.start()
    try:
        BayesianNetwork(structure, algorithm, n_categories=3).fit(str(path), batch_size=20_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * 2**20, f"peak {peak / 2**20:.1f} MiB for a {path.stat().st_size / 2**20:.1f} MiB file"


def test_fit_from_parquet_categorical_columns_equals_the_fit_of_their_codes(tmp_path, data):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from suffstats.data import CategoricalParquetSource

    rows = data[:6_000]
    names = np.array(["apple", "kiwi", "lime", "pear"])  # sorted: code i is names[i]
    columns = {f"c{j}": pa.array(names[rows[:, j]]).dictionary_encode() for j in range(4)}
    columns["c4"] = pa.array(names[rows[:, 4]])  # plain strings
    path = tmp_path / "fruit.parquet"
    # Row groups of 700 rows: each has its own dictionary, its values in the order they first appear there.
    pq.write_table(pa.table(columns), path, row_group_size=700)
    source = CategoricalParquetSource(str(path))
    assert source.categories == {f"c{j}": names[:CARDS[j]].tolist() for j in range(5)}
    reference = BayesianNetwork(STRUCTURE).fit(rows)
    for batch_size in (999, 10_000):
        model = BayesianNetwork(STRUCTURE).fit(CategoricalParquetSource(str(path)), batch_size=batch_size)
        assert model.to_dict() == reference.to_dict()
    # Categories given in another order: codes follow the given order.
    order = ["lime", "apple", "kiwi"]
    given = CategoricalParquetSource(str(path), columns=["c0"], categories={"c0": order})
    np.testing.assert_array_equal(given.read(0, 6_000)[:, 0], [order.index(v) for v in names[rows[:, 0]]])
    with pytest.raises(ValueError, match=r"column 'c0' has 'lime' at data row \d+, which is not one of its categories"):
        CategoricalParquetSource(str(path), columns=["c0"], categories={"c0": ["apple", "kiwi"]}).read(0, 6_000)
    with pytest.raises(ValueError, match="categories name column"):
        CategoricalParquetSource(str(path), columns=["c0"], categories={"c9": ["x"]})
    pq.write_table(pa.table({"x": pa.array([0.5, 1.5])}), tmp_path / "floats.parquet")
    with pytest.raises(ValueError, match="column 'x' .* is double: categories must be"):
        CategoricalParquetSource(str(tmp_path / "floats.parquet"))


@pytest.mark.parametrize("algorithm", [None, "chow-liu"])
def test_threads_and_a_resume_from_saved_statistics_give_the_fit_bit_for_bit(data, algorithm):
    from concurrent.futures import ThreadPoolExecutor

    from suffstats.statistics import Statistics

    structure = None if algorithm else STRUCTURE
    fitted = BayesianNetwork(structure, algorithm, n_categories=CARDS).fit(data)
    threaded = BayesianNetwork(structure, algorithm, n_categories=CARDS)
    chunks = [data[a:a + 1_500] for a in range(0, data.shape[0], 1_500)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(threaded.summarize, chunks))
    threaded.from_summaries()
    assert threaded.to_dict() == fitted.to_dict()
    # A pass stopped half way: its statistics saved as JSON, loaded in a new process's model, the rest counted.
    first = BayesianNetwork(structure, algorithm, n_categories=CARDS)
    first.summarize(data[:9_000])
    saved = json.loads(json.dumps(first.pending.to_dict()))
    resumed = BayesianNetwork(structure, algorithm, n_categories=CARDS)
    resumed.absorb(Statistics.from_dict(saved))
    resumed.summarize(data[9_000:])
    resumed.from_summaries()
    assert resumed.to_dict() == fitted.to_dict()
