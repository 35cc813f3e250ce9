"""Discrete Bayesian networks fitted exactly out of core from count tables."""

from __future__ import annotations

import numpy as np

from .._transaction import lock_of, transactional
from .._validation import as_numeric_array, check_positive_int, check_weights
from ..backends.numba_counts import count_tables, table_layout
from ..data import as_source
from ..data.blocks import batch_ranges
from ..distributed import as_strategy
from ..distributions._registry import register_builtin
from ..fit.local import LocalAccumulation
from ..fit.protocol import FitModel
from ..fit.running_total import RunningTotal
from ..fit.summaries import Summaries
from ..statistics import Additive
from ._codes import check_codes, check_table_size, max_codes
from ._inference import log_evidence, posteriors
from ._persistence import network_from_dict, network_to_dict
from ._structure import bic_score, check_structure, chow_liu, topological_order
from ._tables import check_prior, cpt_from_counts

__all__ = ["BayesianNetwork"]

#: Structure-learning algorithms (pomegranate's names).
ALGORITHMS = (None, "chow-liu")
DEFAULT_BATCH_ROWS = 1 << 18


class BayesianNetwork(Summaries, FitModel):
    """A Bayesian network over discrete columns, its tables counted in one pass over data of any size.

    Parameters
    ----------
    structure : tuple of tuples of int, optional
        For each column, the tuple of its parents' column indices
        (pomegranate's convention), e.g. ``((), (0,), (0, 1))``.
    algorithm : {None, "chow-liu"}
        Learn the structure: ``"chow-liu"`` finds the maximum spanning tree
        over pairwise mutual information from the pairwise count tables of
        one pass, directed away from ``root``. Give a ``structure`` or an
        ``algorithm``.
    n_categories : int or sequence of int, optional
        Categories of each column (codes ``0 .. c-1``). ``None``: read from
        the data (its largest code + 1, one extra pass); ``summarize`` before
        a fit needs it.
    prior : {None, "bdeu", "k2"}
        ``None``: maximum likelihood with ``pseudocount`` added to every
        count; ``"bdeu"``: Dirichlet with ``equivalent_sample_size / (q·r)``
        per cell (``q`` contexts of the parents, ``r`` categories);
        ``"k2"``: one per cell.
    equivalent_sample_size : float
        Strength of the BDeu prior (pgmpy's default, 5).
    pseudocount : float
        Added to every count when ``prior`` is ``None``.
    root : int
        Root column of a learned Chow–Liu tree (pomegranate's convention: 0).

    Attributes
    ----------
    structure_ : tuple of tuples of int
        The fitted structure (given or learned).
    cpts_ : list of ndarray
        Column ``i``'s conditional table, of shape ``(cards of its parents..., cards[i])``:
        ``cpts_[i][parent codes]`` is its distribution given its parents.
    n_categories_ : tuple of int
        Categories of each column.

    Notes
    -----
    Counts are the statistics: a batch's value holds the count table of every
    family (or, when learning, of every pair of columns), values add, and the
    tables of unit-weight rows are integers summed exactly. ``fit`` gives the
    same bits for every ``batch_size`` and from a memory map as from memory;
    ``summarize`` on batches then ``from_summaries`` gives ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from suffstats import BayesianNetwork
    >>> rng = np.random.default_rng(0)
    >>> a = rng.integers(0, 2, 1000)
    >>> X = np.column_stack([a, (a + (rng.random(1000) < 0.1)) % 2])
    >>> model = BayesianNetwork(algorithm="chow-liu").fit(X)
    >>> model.structure_
    ((), (0,))
    >>> model.predict_proba([[1, -1]])[1].round(2)
    array([[0.11, 0.89]])
    """

    _transactional = True
    _block_rows = 1 << 16
    inertia = 0.0

    def __init__(self, structure=None, algorithm=None, *, n_categories=None, prior=None,
                 equivalent_sample_size=5.0, pseudocount=0.0, root=0):
        self.structure = structure
        self.algorithm = algorithm
        self.n_categories = n_categories
        self.prior = prior
        self.equivalent_sample_size = equivalent_sample_size
        self.pseudocount = pseudocount
        self.root = root
        self._check_settings()
        self._pending = None

    # -- settings ------------------------------------------------------------------------------------
    def _check_settings(self):
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {list(ALGORITHMS)}; got {self.algorithm!r}")
        if self.structure is not None and self.algorithm is not None:
            raise ValueError("give a structure or an algorithm to learn one, not both")
        if self.structure is not None:
            check_structure(self.structure)
        check_prior(self.prior, self.equivalent_sample_size, self.pseudocount)
        check_positive_int(self.root, "root", minimum=0)

    def _cards_setting(self, n_columns=None):
        """The categories per column from ``n_categories`` (``None`` when not given)."""
        value = self.n_categories
        if value is None:
            return None
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            if n_columns is None:
                return None
            value = [value] * n_columns
        cards = tuple(check_positive_int(c, f"n_categories[{j}]") for j, c in enumerate(value))
        if n_columns is not None and len(cards) != n_columns:
            raise ValueError(f"n_categories lists {len(cards)} columns, but the data has {n_columns} columns")
        return cards

    def _layout(self, cards) -> dict:
        """What a pass counts -- each family's table, or (learning) each column's and each pair's -- sizes checked."""
        d = len(cards)
        if self.algorithm == "chow-liu":
            if not 0 <= self.root < d:
                raise ValueError(f"root is {self.root}, but the data has columns 0..{d - 1}")
            tables = [(f"count_{i}", (i,)) for i in range(d)]
            tables += [(f"pair_{i}_{j}", (i, j)) for i in range(d) for j in range(i + 1, d)]
            structure = None
        else:
            if self.structure is None:
                raise ValueError("BayesianNetwork needs a structure, or algorithm='chow-liu' to learn one")
            structure = check_structure(self.structure, d)
            tables = [(f"family_{i}", parents + (i,)) for i, parents in enumerate(structure)]
        for name, columns in tables:
            what = f"the table of column {columns[-1]}" if name.startswith("family") else \
                f"the count table of columns {columns}"
            check_table_size([cards[c] for c in columns], what)
        return {"cards": tuple(cards), "structure": structure, "tables": tables,
                "layout": table_layout([columns for _, columns in tables], cards)}

    # -- the fit-model hooks ------------------------------------------------------------------------
    def statistics(self, X, sample_weight=None):
        self._plan_for(X)
        return super().statistics(X, sample_weight)

    statistics.__doc__ = Summaries.statistics.__doc__

    def summarize(self, X, sample_weight=None):
        self._plan_for(X)
        return super().summarize(X, sample_weight)

    summarize.__doc__ = Summaries.summarize.__doc__
    summarize.__transactional__ = True

    def _plan_for(self, X):
        """Before a fit, one ``n_categories`` for every column takes the number of columns from the batch."""
        if getattr(self, "_plan", None) is None and self.structure is None and getattr(X, "ndim", 2) == 2 \
                and isinstance(self.n_categories, (int, np.integer)):
            cards = self._cards_setting(np.shape(X)[1])
            with lock_of(self):
                if getattr(self, "_plan", None) is None:
                    self._plan = self._layout(cards)

    def _check_fitted(self):
        if getattr(self, "_plan", None) is None:
            cards = getattr(self, "n_categories_", None) or self._cards_setting(
                None if self.structure is None else len(self.structure))
            if cards is None:
                raise ValueError("BayesianNetwork needs n_categories (or a fit) before summarize: every batch "
                                 "must count into tables of the same size")
            self._plan = self._layout(cards)

    def _validate_batch(self, X, w, row_offset):
        # Codes are checked as they are counted (a compiled pass); a bad one is then named by check_codes.
        arr = as_numeric_array(X)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.shape[1] != len(self._plan["cards"]):
            raise ValueError(f"X must be 2-D with {len(self._plan['cards'])} columns of category codes; got shape "
                             f"{arr.shape}")
        if arr.dtype.kind == "b":
            arr = arr.view(np.uint8)
        if w is not None:
            w = check_weights(w, arr.shape[0], row_offset=row_offset)
        return arr, w

    def _new_accumulator(self):
        return RunningTotal()

    def _block_values(self, X, w, acc, row_offset=0):
        plan = self._plan
        offsets = plan["layout"][2]
        values = []
        step = self._block_rows
        for a in range(0, X.shape[0], step):
            block = X[a:a + step]
            weights = None if w is None else w[a:a + step]
            bad, flat = count_tables(block, weights, plan["layout"])
            if bad >= 0:
                check_codes(block[bad:bad + 1], plan["cards"], row_offset=row_offset + a + bad)
                raise AssertionError("a code refused by the counting kernel passed check_codes")
            fields = {"weight": block.shape[0] if weights is None else float(np.sum(weights))}
            for t, (name, columns) in enumerate(plan["tables"]):
                fields[name] = flat[offsets[t]:offsets[t + 1]].reshape([plan["cards"][c] for c in columns])
            values.append(Additive(fields))
        return values

    def _accumulator_from_statistics(self, stats):
        cards = self._plan["cards"]
        expected = {"weight": ()}
        expected.update({name: tuple(cards[c] for c in columns) for name, columns in self._plan["tables"]})
        fields = getattr(stats, "fields", None)
        if not isinstance(stats, Additive) or {k: v.shape for k, v in fields.items()} != expected:
            raise ValueError(f"statistics of another shape: this network counts {', '.join(expected)} with "
                             f"shapes {list(expected.values())}")
        if not all(np.isfinite(v).all() and (v >= 0).all() for v in fields.values()):
            raise ValueError("statistics with negative or non-finite counts cannot be absorbed")
        return super()._accumulator_from_statistics(stats)

    def _maximize(self, acc, inertia):
        stats = acc.to_statistics().fields
        cards, structure = self._plan["cards"], self._plan["structure"]
        if structure is None:
            d = len(cards)
            pairs = {(i, j): stats[f"pair_{i}_{j}"] for i in range(d) for j in range(i + 1, d)}
            structure = chow_liu(pairs, d, self.root)
            families = []
            for i, parents in enumerate(structure):
                if not parents:
                    families.append(stats[f"count_{i}"])
                else:
                    p = parents[0]
                    families.append(pairs[(p, i)] if p < i else pairs[(i, p)].T)
        else:
            families = [stats[f"family_{i}"] for i in range(len(cards))]
        self.structure_ = structure
        self.n_categories_ = tuple(cards)
        self.cpts_ = [cpt_from_counts(f, self.prior, self.equivalent_sample_size, self.pseudocount)
                      for f in families]
        self._family_counts = families

    def _fit_parameters(self):
        return {"cpts": [t.tolist() for t in self.cpts_]}

    def _load_fit_parameters(self, params):
        self.cpts_ = [np.asarray(t, dtype=np.float64) for t in params["cpts"]]

    # -- public --------------------------------------------------------------------------------------
    @transactional
    def fit(self, X, sample_weight=None, *, batch_size=DEFAULT_BATCH_ROWS, client=None):
        """Count every table in one pass over ``X`` (two when ``n_categories`` is not given); returns ``self``.

        Parameters
        ----------
        X : array_like, memory map, path or BatchSource of shape (n_rows, n_columns)
            Integer codes ``0 .. c-1`` per column (integer or integral float
            data): anything :func:`suffstats.data.as_source` reads -- a
            memory-mapped ``.npy``, Parquet, CSV.
        sample_weight : array_like of shape (n_rows,), optional
            Non-negative weights; integer weights equal repeated rows.
        batch_size : int
            Rows read at a time; the result does not depend on it.
        client : distributed.Client or suffstats.distributed.DaskAccumulation, optional
            Count on a Dask cluster: tasks read their own row ranges on the
            workers and return count tables; the result is the local fit bit
            for bit.

        Raises
        ------
        ValueError
            A code that is negative, fractional or at least its column's
            categories (naming the row and the column), a structure with a
            cycle or naming a missing column, a table too large for memory.
            The model is left as it was.
        """
        batch_size = check_positive_int(batch_size, "batch_size")
        self._check_settings()
        source = as_source(X)
        if sample_weight is not None:
            sample_weight = check_weights(sample_weight, source.n_rows)
        d = source.n_features
        cards = self._cards_setting(d)
        if cards is None:
            cards = max_codes(source, batch_size, n_columns=d)
        self._plan = self._layout(cards)
        strategy = as_strategy(client) or LocalAccumulation()
        acc = strategy.accumulate(self, source, batch_ranges(source.n_rows, batch_size), sample_weight)
        if not acc.blocks:
            raise ValueError("X is empty: a fit needs at least one row")
        self._pending = acc
        self.from_summaries()
        return self

    def _require_fitted(self):
        if getattr(self, "cpts_", None) is None:
            raise ValueError("BayesianNetwork has no tables yet: fit it first")

    def log_probability(self, X) -> np.ndarray:
        """Log-probability of each row; unobserved values (NaN or -1) are summed out exactly.

        Parameters
        ----------
        X : array_like of shape (n_rows, n_variables)
            Codes of each row; NaN or -1 marks an unobserved value.

        Examples
        --------
        >>> import numpy as np
        >>> from suffstats import BayesianNetwork
        >>> model = BayesianNetwork(((), (0,))).fit([[0, 0], [0, 1], [1, 1], [1, 1]])
        >>> np.exp(model.log_probability([[0, 1], [1, -1]]))
        array([0.25, 0.5 ])
        """
        self._require_fitted()
        codes = check_codes(X, self.n_categories_, missing=True)
        if (codes >= 0).all():
            out = np.zeros(codes.shape[0])
            with np.errstate(divide="ignore"):
                for i, parents in enumerate(self.structure_):
                    out += np.log(self.cpts_[i][tuple(codes[:, v] for v in parents + (i,))])
            return out
        return log_evidence(self.cpts_, self.structure_, codes)

    def probability(self, X) -> np.ndarray:
        """Probability of each row (see :meth:`log_probability`).

        Parameters
        ----------
        X : array_like of shape (n_rows, n_variables)
            Codes of each row; NaN or -1 marks an unobserved value.
        """
        return np.exp(self.log_probability(X))

    def predict_proba(self, X) -> list:
        """Posterior of every column given the observed values of each row, by exact variable elimination.

        Parameters
        ----------
        X : array_like of shape (n, n_columns)
            Codes, with NaN or -1 marking the values to infer.

        Returns
        -------
        list of ndarray
            One array per column, of shape ``(n, n_categories_[j])``: the
            posterior of an unobserved value, or one-hot at an observed code.
            A row whose observed codes have probability zero gets NaN posteriors.

        Examples
        --------
        >>> from suffstats import BayesianNetwork
        >>> model = BayesianNetwork(((), (0,))).fit([[0, 0], [0, 1], [1, 1], [1, 1]])
        >>> model.predict_proba([[-1, 1]])[0]
        array([[0.33333333, 0.66666667]])
        """
        self._require_fitted()
        codes = check_codes(X, self.n_categories_, missing=True)
        return posteriors(self.cpts_, self.structure_, self.n_categories_, codes)

    def predict(self, X) -> np.ndarray:
        """``X`` with each unobserved value replaced by its most probable code (per column, not jointly).

        Parameters
        ----------
        X : array_like of shape (n_rows, n_variables)
            Codes of each row; NaN or -1 marks an unobserved value.
        """
        probs = self.predict_proba(X)
        return np.column_stack([p.argmax(axis=1) for p in probs])

    def sample(self, n, random_state=None) -> np.ndarray:
        """Draw ``n`` rows of codes by ancestral sampling.

        Parameters
        ----------
        n : int
            Number of rows.
        random_state : int, numpy Generator or None
            Seed or generator of the draw.
        """
        self._require_fitted()
        n = check_positive_int(n, "n", minimum=0)
        rng = np.random.default_rng(random_state)
        out = np.zeros((n, len(self.structure_)), dtype=np.int64)
        for i in topological_order(self.structure_):
            probs = self.cpts_[i][tuple(out[:, p] for p in self.structure_[i])]
            probs = np.broadcast_to(probs, (n, probs.shape[-1]))
            cum = np.cumsum(probs, axis=1)
            u = rng.random(n)[:, None] * cum[:, -1:]
            out[:, i] = np.minimum((cum <= u).sum(axis=1), probs.shape[-1] - 1)
        return out

    def bic(self) -> float:
        """BIC of the fitted structure from the counts of the last fit: ``log L̂ - log(N)/2 · parameters``."""
        self._require_fitted()
        return bic_score(self._family_counts, self.structure_, self.n_categories_)

    def to_dict(self) -> dict:
        """JSON-safe description: settings, the fitted structure, categories and tables."""
        return network_to_dict(self)

    @classmethod
    def _from_dict(cls, data):
        return network_from_dict(cls, data)

    def __repr__(self):
        shown = getattr(self, "structure_", None) or self.structure
        return f"BayesianNetwork(structure={shown!r}, algorithm={self.algorithm!r})"


register_builtin(BayesianNetwork)
