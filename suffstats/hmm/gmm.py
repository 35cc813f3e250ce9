"""``GMMHMM``: each state emits from its own mixture of Gaussians (hmmlearn's ``GMMHMM``).

The E-step hands each state's posterior-weighted rows to its mixture: row
``t`` gives mixture component ``(k, m)`` the weight
``γ_t(k) · w_km N(x_t | μ_km, Σ_km) / Σ_m' w_km' N(x_t | μ_km', Σ_km')``.
The statistics are one :class:`~suffstats.statistics.Moments` value per
``(state, component)``, taken around the component's current mean, so they
add exactly across pieces, batches and processes. The M-step is hmmlearn's,
priors included: the covariance statistics are the scatter around the means
of the E-step, as in hmmlearn.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

from ..data.blocks import BLOCK_ROWS
from ..statistics import Composite, Moments
from ._emissions import gaussian_diag_log_density, gaussian_full_log_density, mixture_log_sum, state_moments
from .base import BaseHMM

__all__ = ["GMMHMM"]

COVARIANCE_TYPES = frozenset(("spherical", "diag", "full", "tied"))
#: Layout of each component's second moments, by covariance type.
_LAYOUT = {"spherical": "diag", "diag": "diag", "full": "full", "tied": "full"}


def _covars_shape(covariance_type, nc, nm, nf):
    return {"spherical": (nc, nm), "diag": (nc, nm, nf), "full": (nc, nm, nf, nf),
            "tied": (nc, nf, nf)}[covariance_type]


def _component_covars(covars, covariance_type, nm, nf):
    """Covariances of every (state, component) as (nc, nm, nf, nf) full matrices."""
    if covariance_type == "full":
        return covars
    if covariance_type == "tied":
        return np.repeat(covars[:, None], nm, axis=1)
    diag = covars if covariance_type == "diag" else np.repeat(covars[..., None], nf, axis=-1)
    return diag[..., :, None] * np.eye(nf)


class _DensityCache:
    """The weighted log-densities of the last piece (forward-backward and the statistics use the same rows)."""

    def __init__(self):
        self.rows, self.value = None, None

    def __deepcopy__(self, memo):
        return _DensityCache()


class GMMHMM(BaseHMM):
    """Hidden Markov model with Gaussian-mixture emissions, fitted exactly out of core (hmmlearn's ``GMMHMM``).

    Parameters
    ----------
    n_components : int
        Number of states.
    n_mix : int
        Number of Gaussians in each state's mixture.
    min_covar : float
        Added to the diagonal of the data covariance that initialises ``covars_``.
    startprob_prior, transmat_prior : float or array_like
        Dirichlet priors of the start and transition probabilities.
    weights_prior : float or array_like of shape (n_components, n_mix)
        Dirichlet prior of the mixture weights.
    means_prior, means_weight : float or array_like
        Normal prior of the means (mean and precision).
    covars_prior, covars_weight : float or array_like, optional
        Inverse-gamma (diag, spherical) or inverse-Wishart (full, tied) prior
        of the covariances; ``None``: hmmlearn's defaults, under which the
        estimate is the maximum-likelihood one.
    algorithm : {"viterbi", "map"}
        Decoder of :meth:`predict` / :meth:`decode`.
    covariance_type : {"diag", "full", "tied", "spherical"}
        ``tied``: the components of one state share one full covariance.
    random_state, n_iter, tol, verbose, implementation, batch_size
        As in :class:`~suffstats.GaussianHMM`.
    params, init_params : str
        ``s`` startprob, ``t`` transmat, ``m`` means, ``c`` covars, ``w`` weights.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components, n_mix)
        Mixture weights of each state.
    means_ : ndarray of shape (n_components, n_mix, n_features)
    covars_ : ndarray
        Shape (n_components, n_mix) spherical, (n_components, n_mix, n_features)
        diag, (n_components, n_mix, n_features, n_features) full,
        (n_components, n_features, n_features) tied.

    Notes
    -----
    Initialisation: the states' centres are k-means centres of all rows (read
    out of core); each state's mixture means are k-means centres of the rows
    of a sample of at most 100,000 rows nearest that state's centre (a state
    with fewer sampled rows than ``n_mix`` draws them around the data's
    mean); weights are uniform and covariances the data's. ``aic`` / ``bic``
    count ``n_components * (n_mix - 1)`` free weights.

    Examples
    --------
    >>> import numpy as np
    >>> from suffstats.hmm import GMMHMM
    >>> truth = GMMHMM(2, n_mix=2, covariance_type="diag")
    >>> truth.startprob_, truth.transmat_ = np.array([0.5, 0.5]), np.array([[0.95, 0.05], [0.1, 0.9]])
    >>> truth.weights_ = np.array([[0.5, 0.5], [0.3, 0.7]])
    >>> truth.means_ = np.array([[[0.0], [5.0]], [[10.0], [15.0]]])
    >>> truth.covars_ = np.full((2, 2, 1), 0.5)
    >>> X, _ = truth.sample(4000, random_state=0)
    >>> model = GMMHMM(2, n_mix=2, n_iter=50, random_state=0, batch_size=1000).fit(X)
    >>> np.round(np.sort(model.means_.ravel()))
    array([-0.,  5., 10., 15.])
    """

    _emission_letters = "mcw"
    _persisted = {"weights_": "weights_", "means_": "means_", "covars_": "covars_"}

    def __init__(self, n_components=1, n_mix=1, min_covar=1e-3, startprob_prior=1.0, transmat_prior=1.0,
                 weights_prior=1.0, means_prior=0.0, means_weight=0.0, covars_prior=None, covars_weight=None,
                 algorithm="viterbi", covariance_type="diag", random_state=None, n_iter=10, tol=1e-2, verbose=False,
                 params="stmcw", init_params="stmcw", implementation="log", batch_size=None):
        super().__init__(n_components, startprob_prior=startprob_prior, transmat_prior=transmat_prior,
                         algorithm=algorithm, random_state=random_state, n_iter=n_iter, tol=tol, verbose=verbose,
                         params=params, init_params=init_params, implementation=implementation,
                         batch_size=batch_size)
        self.covariance_type = covariance_type
        self.min_covar = min_covar
        self.n_mix = n_mix
        self.weights_prior = weights_prior
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight
        self._densities = _DensityCache()

    def _check_settings(self):
        super()._check_settings()
        if self.covariance_type not in COVARIANCE_TYPES:
            raise ValueError(f"covariance_type must be one of {sorted(COVARIANCE_TYPES)}; "
                             f"got {self.covariance_type!r}")
        if not (isinstance(self.n_mix, (int, np.integer)) and self.n_mix >= 1):
            raise ValueError(f"n_mix must be a positive integer; got {self.n_mix!r}")

    def _get_n_fit_scalars_per_param(self):
        nc, nf, nm = self.n_components, self.n_features, self.n_mix
        return {**super()._get_n_fit_scalars_per_param(), "m": nc * nm * nf,
                "c": {"spherical": nc * nm, "diag": nc * nm * nf, "full": nc * nm * nf * (nf + 1) // 2,
                      "tied": nc * nf * (nf + 1) // 2}[self.covariance_type],
                "w": nc * (nm - 1)}

    # -- priors --------------------------------------------------------------------------------
    def _priors(self):
        """The priors broadcast to their full shapes (hmmlearn's defaults where ``None``); settings are untouched."""
        nc, nf, nm = self.n_components, self.n_features, self.n_mix
        kind = self.covariance_type
        default_prior = {"full": 0.0, "tied": 0.0, "diag": -1.5, "spherical": -(nm + 2.0) / 2.0}[kind]
        default_weight = {"full": -(1.0 + nf + 1.0), "tied": -(nm + nf + 1.0), "diag": 0.0, "spherical": 0.0}[kind]
        prior = default_prior if self.covars_prior is None else self.covars_prior
        weight = default_weight if self.covars_weight is None else self.covars_weight
        prior_shape = {"full": (nc, nm, nf, nf), "tied": (nc, nf, nf), "diag": (nc, nm, nf), "spherical": (nc, nm)}
        weight_shape = {"full": (nc, nm), "tied": (nc,), "diag": (nc, nm, nf), "spherical": (nc, nm)}

        def broadcast(value, shape, name):
            try:
                return np.broadcast_to(np.asarray(value, dtype=np.float64), shape)
            except ValueError:
                raise ValueError(f"{name} of shape {np.shape(value)} does not broadcast to {shape}") from None

        return {"weights_prior": broadcast(self.weights_prior, (nc, nm), "weights_prior"),
                "means_prior": broadcast(self.means_prior, (nc, nm, nf), "means_prior"),
                "means_weight": broadcast(self.means_weight, (nc, nm), "means_weight"),
                "covars_prior": broadcast(prior, prior_shape[kind], "covars_prior"),
                "covars_weight": broadcast(weight, weight_shape[kind], "covars_weight")}

    # -- initialisation and checks -----------------------------------------------------------
    def _initialize_emissions(self, source, bounds, random_state):
        nc, nm = self.n_components, self.n_mix
        if self._needs_init("w", "weights_"):
            self.weights_ = np.full((nc, nm), 1.0 / nm)
        need_means, need_covars = self._needs_init("m", "means_"), self._needs_init("c", "covars_")
        cv = self._data_covariance(source) if need_means or need_covars else None
        if need_means:
            self.means_ = self._initial_means(source, random_state, cv)
        if need_covars:
            self.covars_ = {"tied": lambda: np.tile(cv, (nc, 1, 1)), "full": lambda: np.tile(cv, (nc, nm, 1, 1)),
                            "diag": lambda: np.tile(np.diag(cv), (nc, nm, 1)),
                            "spherical": lambda: np.full((nc, nm), cv.mean())}[self.covariance_type]()

    def _data_covariance(self, source):
        """The rows' covariance (one out-of-core pass, around the first row) plus ``min_covar`` on the diagonal."""
        total = None
        for start, X in self._block_pass(source):
            rows = self._check_rows(X, start)
            m = Moments.of(rows, shift=rows[0] if total is None else total.shift)
            total = m if total is None else total + m
        return total.scatter() / max(total.weight - 1, 1) + self.min_covar * np.eye(source.n_features)

    def _initial_means(self, source, random_state, cv):
        from ..mixture import KMeans

        nc, nm = self.n_components, self.n_mix
        seed = int(random_state.randint(np.iinfo(np.int32).max))
        states = KMeans(nc, n_init=10, random_state=seed, batch_size=self.batch_size).fit(source)
        rows = source.sample_indices(100_000, np.random.default_rng(seed))
        sample = self._check_rows(np.asarray(source.take(rows), dtype=np.float64), 0)
        labels = states.predict(sample)
        centre = np.mean(states.cluster_centers_, axis=0)
        means = []
        for k in range(nc):
            mine = sample[labels == k]
            if mine.shape[0] >= nm:
                means.append(KMeans(nm, n_init=10, random_state=seed).fit(mine).cluster_centers_)
            else:
                means.append(random_state.multivariate_normal(centre, cv, size=nm))
        return np.asarray(means, dtype=np.float64)

    def _check(self):
        self._densities = _DensityCache()
        super()._check()
        for name in ("weights_", "means_", "covars_"):
            if not hasattr(self, name):
                raise ValueError(f"this model has no {name}: fit it or set it first")
        self.means_ = np.asarray(self.means_, dtype=np.float64)
        if self.means_.ndim != 3:
            raise ValueError(f"means_ must have shape (n_components, n_mix, n_features); got {self.means_.shape}")
        if not hasattr(self, "n_features"):
            self.n_features = self.means_.shape[2]
        nc, nf, nm = self.n_components, self.n_features, self.n_mix
        self.weights_ = np.asarray(self.weights_, dtype=np.float64)
        if self.weights_.shape != (nc, nm):
            raise ValueError(f"weights_ must have shape (n_components, n_mix) = {(nc, nm)}; got {self.weights_.shape}")
        self._check_sum_1("weights_")
        if (self.weights_ < 0).any():
            raise ValueError("weights_ must be non-negative")
        if self.means_.shape != (nc, nm, nf):
            raise ValueError(f"means_ must have shape (n_components, n_mix, n_features) = {(nc, nm, nf)}; "
                             f"got {self.means_.shape}")
        self.covars_ = np.asarray(self.covars_, dtype=np.float64)
        shape = _covars_shape(self.covariance_type, nc, nm, nf)
        if self.covars_.shape != shape:
            raise ValueError(f"{self.covariance_type!r} mixture covars_ must have shape {shape}; "
                             f"got {self.covars_.shape}")
        if self.covariance_type in ("spherical", "diag"):
            if (self.covars_ <= 0).any() or not np.isfinite(self.covars_).all():
                raise ValueError(f"{self.covariance_type!r} mixture covars_ must be positive")
        else:
            flat = self.covars_.reshape(-1, nf, nf)
            for i, covar in enumerate(flat):
                where = f"state {i}" if self.covariance_type == "tied" else f"state {i // nm}, mixture {i % nm}"
                if not np.allclose(covar, covar.T):
                    raise ValueError(f"covars_ of {where} is not symmetric")
                if linalg.eigvalsh(covar).min() <= 0:
                    raise ValueError(f"covars_ of {where} is not positive definite")
        self._priors()

    # -- emissions -----------------------------------------------------------------------------
    def _weighted_log_densities(self, X):
        """``log w_km + log N(x | μ_km, Σ_km)``, shape (n_samples, n_components, n_mix)."""
        cache = self._densities
        if cache.rows is X:
            return cache.value
        X = np.asarray(X, dtype=np.float64)
        nc, nm, nf = self.n_components, self.n_mix, X.shape[1]
        n = X.shape[0]
        means = self.means_.reshape(nc * nm, nf)
        out = np.empty((n, nc * nm))
        if self.covariance_type in ("diag", "spherical"):
            cv = self.covars_ if self.covariance_type == "diag" else np.repeat(self.covars_[..., None], nf, axis=-1)
            cv = np.maximum(cv.reshape(nc * nm, nf), np.finfo(float).tiny)
            gaussian_diag_log_density(np.ascontiguousarray(X), np.ascontiguousarray(means), cv, out)
        else:
            covars = _component_covars(self.covars_, self.covariance_type, nm, nf).reshape(nc * nm, nf, nf)
            if not gaussian_full_log_density(np.ascontiguousarray(X), np.ascontiguousarray(means),
                                             np.ascontiguousarray(covars), 1e-7, out):
                raise ValueError("a covariance of covars_ is not positive definite")
        with np.errstate(divide="ignore"):
            value = out.reshape(n, nc, nm) + np.log(self.weights_)
        if n <= BLOCK_ROWS:
            cache.rows, cache.value = X, value
        return value

    def _compute_log_likelihood(self, X):
        dens = np.ascontiguousarray(self._weighted_log_densities(X))
        out = np.empty(dens.shape[:2])
        mixture_log_sum(dens, out, np.empty((0, 0, 0)))
        return out

    def _emission_statistics(self, X, posteriors):
        dens = np.ascontiguousarray(self._weighted_log_densities(X))
        # Each component's share within its state (0 where the state's density is 0 at the row).
        within = np.empty_like(dens)
        mixture_log_sum(dens, np.empty(dens.shape[:2]), within)
        nc, nm = self.n_components, self.n_mix
        resp = (posteriors[:, :, None] * within).reshape(len(dens), nc * nm)
        # Every component's moments in one compiled pass over the piece, in row order (around its current mean).
        shifts = np.ascontiguousarray(self.means_.reshape(nc * nm, -1), dtype=np.float64)
        weight, first, second = state_moments(np.ascontiguousarray(X, dtype=np.float64), resp, shifts,
                                              _LAYOUT[self.covariance_type] == "full")
        return Composite(Moments(weight[j], shifts[j], first[j], second[j]) for j in range(nc * nm))

    def _do_emission_mstep(self, stats):
        self._densities = _DensityCache()
        nc, nm, nf = self.n_components, self.n_mix, self.n_features
        parts = stats.parts
        post_mix = np.array([p.weight for p in parts]).reshape(nc, nm)
        post_sum = post_mix.sum(axis=1)
        shift = np.array([p.shift for p in parts]).reshape(nc, nm, nf)
        first = np.array([p.first for p in parts]).reshape(nc, nm, nf)
        second = np.array([p.second for p in parts])
        priors = self._priors()
        old_means = self.means_
        # The E-step's moments around the current means (the shift is the current mean within one pass).
        offset = shift - old_means
        first_old = first + offset * post_mix[..., None]  # Σ r (x - μ_old)
        sums = old_means * post_mix[..., None] + first_old
        if "w" in self.params:
            alphas = priors["weights_prior"] - 1
            with np.errstate(invalid="ignore", divide="ignore"):
                weights = (post_mix + alphas) / (post_sum + alphas.sum(axis=1))[:, None]
            self.weights_ = np.where(np.isfinite(weights).all(axis=1, keepdims=True), weights, self.weights_)
        means = old_means
        if "m" in self.params:
            lambdas, mus = priors["means_weight"], priors["means_prior"]
            m_n = lambdas[..., None] * mus + sums
            m_d = post_mix + lambdas
            m_d = np.where((self.weights_ == 0) & (m_n == 0).all(axis=-1), 1.0, m_d)
            with np.errstate(invalid="ignore", divide="ignore"):
                new = m_n / m_d[..., None]
            # A component that received no weight keeps its mean (hmmlearn's 0/0 would give NaN).
            means = np.where(np.isfinite(new), new, old_means)
        if "c" in self.params:
            self.covars_ = self._covars_mstep(priors, means, post_mix, post_sum, second, offset, first, first_old)
        self.means_ = means

    def _covars_mstep(self, priors, means, post_mix, post_sum, second, offset, first, first_old):
        nc, nm, nf = self.n_components, self.n_mix, self.n_features
        lambdas, mus = priors["means_weight"], priors["means_prior"]
        centered = means - mus
        kind = self.covariance_type
        w = post_mix[..., None]
        if kind in ("diag", "spherical"):
            # Σ r (x - μ_old)² from moments around the shift c: second + 2 (c - μ_old) first + w (c - μ_old)².
            c_n = second.reshape(nc, nm, nf) + 2 * offset * first + offset ** 2 * w
            alphas, betas = priors["covars_prior"], priors["covars_weight"]
            if kind == "diag":
                num = lambdas[..., None] * centered ** 2 + 2 * betas + c_n
                den = post_mix[..., None] + 1 + 2 * (alphas + 1)
            else:
                num = lambdas * np.einsum("...i,...i", centered, centered) + 2 * betas + c_n.sum(axis=-1)
                den = nf * (post_mix + 1) + 2 * (alphas + 1)
        else:
            second = second.reshape(nc, nm, nf, nf)
            cross = offset[..., :, None] * first[..., None, :]
            c_n = (second + cross + np.swapaxes(cross, -1, -2)
                   + offset[..., :, None] * offset[..., None, :] * w[..., None])
            dots = centered[..., :, None] * centered[..., None, :]
            psis_t = np.swapaxes(priors["covars_prior"], -1, -2)
            nus = priors["covars_weight"]
            if kind == "full":
                num = psis_t + lambdas[..., None, None] * dots + c_n
                den = (post_mix + 1 + nus + nf + 1)[..., None, None]
            else:
                num = np.einsum("ij,ijkl->ikl", lambdas, dots) + psis_t + c_n.sum(axis=1)
                den = (post_sum + nm + nus + nf + 1)[:, None, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            covars = num / den
        # A component (state, for tied) that received no weight keeps its covariance.
        bad = ~np.isfinite(covars) | (np.broadcast_to(den, covars.shape) <= 0)
        return np.where(bad, self.covars_, covars)

    def _generate_sample_from_state(self, state, random_state):
        i_gauss = random_state.choice(self.n_mix, p=self.weights_[state])
        if self.covariance_type == "tied":
            cov = self.covars_[state]
        else:
            cov = _component_covars(self.covars_, self.covariance_type, self.n_mix, self.n_features)[state, i_gauss]
        return random_state.multivariate_normal(self.means_[state, i_gauss], cov)
