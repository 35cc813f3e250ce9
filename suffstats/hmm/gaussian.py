"""``GaussianHMM``: Gaussian emissions with full, diagonal, tied or spherical covariances."""

from __future__ import annotations

import numpy as np
from scipy import linalg

from ..statistics import Composite, Moments
from ._emissions import gaussian_diag_log_density, gaussian_full_log_density, state_moments
from .base import BaseHMM

__all__ = ["GaussianHMM"]

COVARIANCE_TYPES = frozenset(("spherical", "diag", "full", "tied"))
_LAYOUT = {"spherical": "diag", "diag": "diag", "full": "full", "tied": "full"}


def _validate_covars(covars, covariance_type, n_components):
    if covariance_type == "spherical":
        if covars.ndim == 0 or covars.shape[0] != n_components or covars.size != n_components:
            raise ValueError("'spherical' covars have length n_components")
        if np.any(covars <= 0):
            raise ValueError("'spherical' covars must be positive")
        return covars.reshape(n_components)
    if covariance_type == "tied":
        if covars.ndim != 2 or covars.shape[0] != covars.shape[1]:
            raise ValueError("'tied' covars must have shape (n_dim, n_dim)")
        if not np.allclose(covars, covars.T) or np.any(linalg.eigvalsh(covars) <= 0):
            raise ValueError("'tied' covars must be symmetric, positive-definite")
        return covars
    if covariance_type == "diag":
        if covars.ndim != 2:
            raise ValueError("'diag' covars must have shape (n_components, n_dim)")
        if np.any(covars <= 0):
            raise ValueError("'diag' covars must be positive")
        return covars
    if covariance_type == "full":
        if covars.ndim != 3 or covars.shape[1] != covars.shape[2]:
            raise ValueError("'full' covars must have shape (n_components, n_dim, n_dim)")
        for n, cv in enumerate(covars):
            if not np.allclose(cv, cv.T) or np.any(linalg.eigvalsh(cv) <= 0):
                raise ValueError(f"component {n} of 'full' covars must be symmetric, positive-definite")
        return covars
    raise ValueError(f"covariance_type must be one of {sorted(COVARIANCE_TYPES)}; got {covariance_type!r}")


def _full_covars(covars, covariance_type, n_components, n_features):
    if covariance_type == "full":
        return covars
    if covariance_type == "diag":
        return np.array([np.diag(cv) for cv in covars])
    if covariance_type == "tied":
        return np.tile(covars, (n_components, 1, 1))
    return np.array([np.eye(n_features) * cv for cv in covars])


class GaussianHMM(BaseHMM):
    """Hidden Markov model with Gaussian emissions, fitted exactly out of core (hmmlearn's ``GaussianHMM``).

    Baum–Welch over sequences from an array, a memory map, a path or any
    batch source, ``batch_size`` rows at a time. A sequence longer than a
    block of rows is handled by a forward sweep that keeps one message per
    block and a backward sweep that re-reads the blocks (see
    :doc:`/guide/hmm`), so the fitted model is the one of the
    in-memory recursion, bit for bit the same for every ``batch_size``.

    Parameters
    ----------
    n_components : int
        Number of states.
    covariance_type : {"diag", "full", "tied", "spherical"}
        Shape of the emission covariances.
    min_covar : float
        Added to the diagonal of the data covariance that initialises ``covars_``.
    startprob_prior, transmat_prior : float or array_like
        Dirichlet priors of the start and transition probabilities.
    means_prior, means_weight : float or array_like
        Normal prior of the means.
    covars_prior, covars_weight : float or array_like
        Inverse-gamma (diag, spherical) or inverse-Wishart (full, tied) prior of the covariances.
    algorithm : {"viterbi", "map"}
        Decoder of :meth:`predict` / :meth:`decode`.
    random_state : int, RandomState or None
        Randomness of the initialisation and of :meth:`sample`.
    n_iter : int
        Maximum EM iterations.
    tol : float
        EM stops when the log-likelihood gains less than ``tol``.
    verbose : bool
        Print each iteration to ``sys.stderr``.
    params, init_params : str
        Parameters updated by EM / initialised by :meth:`fit`: ``s`` startprob,
        ``t`` transmat, ``m`` means, ``c`` covars.
    implementation : {"log", "scaling"}
        Forward-backward in log space, or with scaled messages (faster; fails
        with an error where densities underflow).
    batch_size : int, optional
        Rows read at a time (``None``: all); the fit does not depend on it.

    Attributes
    ----------
    startprob_ : ndarray of shape (n_components,)
    transmat_ : ndarray of shape (n_components, n_components)
    means_ : ndarray of shape (n_components, n_features)
    covars_ : ndarray
        Covariances, always of shape (n_components, n_features, n_features);
        the stored form (``_covars_``) is (n_components,) spherical,
        (n_components, n_features) diag, (n_features, n_features) tied.
    monitor_ : ~suffstats.hmm.ConvergenceMonitor
        ``history`` of log-likelihoods, ``iter``, ``converged``.

    Examples
    --------
    >>> import numpy as np
    >>> from suffstats.hmm import GaussianHMM
    >>> truth = GaussianHMM(2, "diag", random_state=0)
    >>> truth.startprob_ = np.array([0.5, 0.5])
    >>> truth.transmat_ = np.array([[0.95, 0.05], [0.1, 0.9]])
    >>> truth.means_ = np.array([[0.0], [5.0]])
    >>> truth.covars_ = np.array([[1.0], [1.0]])
    >>> X, states = truth.sample(2000, random_state=1)
    >>> model = GaussianHMM(2, "diag", n_iter=50, random_state=0, batch_size=512).fit(X)
    >>> bool(np.allclose(np.sort(model.means_.ravel()), [0.0, 5.0], atol=0.2))
    True
    >>> model.monitor_.converged
    True
    """

    _emission_letters = "mc"
    _persisted = {"means_": "means_", "covars_": "_covars_"}

    def __init__(self, n_components=1, covariance_type="diag", min_covar=1e-3, startprob_prior=1.0,
                 transmat_prior=1.0, means_prior=0, means_weight=0, covars_prior=1e-2, covars_weight=1,
                 algorithm="viterbi", random_state=None, n_iter=10, tol=1e-2, verbose=False, params="stmc",
                 init_params="stmc", implementation="log", batch_size=None):
        super().__init__(n_components, startprob_prior=startprob_prior, transmat_prior=transmat_prior,
                         algorithm=algorithm, random_state=random_state, n_iter=n_iter, tol=tol, verbose=verbose,
                         params=params, init_params=init_params, implementation=implementation,
                         batch_size=batch_size)
        self.covariance_type = covariance_type
        self.min_covar = min_covar
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight

    @property
    def covars_(self):
        """Covariances of shape (n_components, n_features, n_features)."""
        return _full_covars(self._covars_, self.covariance_type, self.n_components, self.n_features)

    @covars_.setter
    def covars_(self, covars):
        covars = np.array(covars, dtype=np.float64, copy=True)
        self._covars_ = _validate_covars(covars, self.covariance_type, self.n_components)

    def _check_settings(self):
        super()._check_settings()
        if self.covariance_type not in COVARIANCE_TYPES:
            raise ValueError(f"covariance_type must be one of {sorted(COVARIANCE_TYPES)}; "
                             f"got {self.covariance_type!r}")

    def _get_n_fit_scalars_per_param(self):
        nc, nf = self.n_components, self.n_features
        return {**super()._get_n_fit_scalars_per_param(), "m": nc * nf,
                "c": {"spherical": nc, "diag": nc * nf, "full": nc * nf * (nf + 1) // 2,
                      "tied": nf * (nf + 1) // 2}[self.covariance_type]}

    def _initialize_emissions(self, source, bounds, random_state):
        if self._needs_init("m", "means_"):
            from ..mixture import KMeans

            seed = random_state.randint(np.iinfo(np.int32).max)
            kmeans = KMeans(self.n_components, n_init=10, random_state=int(seed), batch_size=self.batch_size)
            self.means_ = np.asarray(kmeans.fit(source).cluster_centers_, dtype=np.float64)
        if self._needs_init("c", "covars_"):
            total = None
            for start, X in self._block_pass(source):
                rows = self._check_rows(X, start)
                m = Moments.of(rows, shift=rows[0] if total is None else total.shift)
                total = m if total is None else total + m
            cv = total.scatter() / max(total.weight - 1, 1) + self.min_covar * np.eye(source.n_features)
            self._covars_ = {"spherical": np.full(self.n_components, cv.diagonal().mean()),
                             "diag": np.tile(np.diag(cv), (self.n_components, 1)),
                             "tied": cv, "full": np.tile(cv, (self.n_components, 1, 1))}[self.covariance_type]

    def _check(self):
        super()._check()
        if not hasattr(self, "means_") or not hasattr(self, "_covars_"):
            raise ValueError("this model has no means_ / covars_: fit it or set them first")
        self.means_ = np.asarray(self.means_, dtype=np.float64)
        if self.means_.ndim != 2 or self.means_.shape[0] != self.n_components:
            raise ValueError(f"means_ must have shape (n_components, n_features); got {self.means_.shape}")
        self.n_features = self.means_.shape[1]
        nc, nf = self.n_components, self.n_features
        expected = {"spherical": (nc,), "diag": (nc, nf), "full": (nc, nf, nf), "tied": (nf, nf)}[self.covariance_type]
        if np.shape(self._covars_) != expected:  # (a smaller array would broadcast, silently)
            raise ValueError(f"covars_ must have shape {expected} for covariance_type={self.covariance_type!r} "
                             f"with means_ of shape {self.means_.shape}; got {np.shape(self._covars_)}")

    # -- emissions -----------------------------------------------------------------------------
    def _compute_log_likelihood(self, X):
        """Log-density of each row under each state, shape (n_samples, n_components)."""
        X = np.asarray(X, dtype=np.float64)
        n, d = X.shape
        means = self.means_
        if self.covariance_type in ("diag", "spherical"):
            cv = self._covars_ if self.covariance_type == "diag" else np.repeat(self._covars_[:, None], d, axis=1)
            out = np.empty((n, self.n_components))
            gaussian_diag_log_density(np.ascontiguousarray(X), np.ascontiguousarray(means, dtype=np.float64),
                                      np.ascontiguousarray(cv, dtype=np.float64), out)
            return out
        covars = self._covars_ if self.covariance_type == "full" else np.broadcast_to(
            self._covars_, (self.n_components, d, d))
        out = np.empty((n, self.n_components))
        if not gaussian_full_log_density(np.ascontiguousarray(X), np.ascontiguousarray(means, dtype=np.float64),
                                         np.ascontiguousarray(covars, dtype=np.float64), 1e-7, out):
            raise ValueError("a covariance of covars_ is not positive definite")
        return out

    def _emission_statistics(self, X, posteriors):
        # Every state's moments in one compiled pass over the piece (around its current mean).
        shifts = np.ascontiguousarray(self.means_, dtype=np.float64)
        weight, first, second = state_moments(np.ascontiguousarray(X, dtype=np.float64),
                                              np.ascontiguousarray(posteriors, dtype=np.float64), shifts,
                                              _LAYOUT[self.covariance_type] == "full")
        return Composite(Moments(weight[k], shifts[k], first[k], second[k]) for k in range(self.n_components))

    def _do_emission_mstep(self, stats):
        parts = stats.parts
        post = np.array([m.weight for m in parts])
        shift = np.array([m.shift for m in parts])
        first = np.array([m.first for m in parts])
        second = np.array([m.second for m in parts])
        denom = post[:, None]
        means_prior, means_weight = self.means_prior, self.means_weight
        means = self.means_
        if "m" in self.params:
            obs = shift * denom + first
            with np.errstate(invalid="ignore", divide="ignore"):
                new = (means_weight * means_prior + obs) / (means_weight + denom)
            means = np.where(np.isfinite(new), new, self.means_)
        if "c" in self.params:
            dev = means - shift
            meandiff = means - means_prior
            if self.covariance_type in ("spherical", "diag"):
                scatter = second - 2 * dev * first + dev ** 2 * denom
                c_n = means_weight * meandiff ** 2 + scatter
                c_d = max(self.covars_weight - 1, 0) + denom
                covars = (self.covars_prior + c_n) / np.maximum(c_d, 1e-5)
                self._covars_ = covars.mean(axis=1) if self.covariance_type == "spherical" else covars
            else:
                outer = dev[:, :, None] * first[:, None, :]
                scatter = second - outer - outer.transpose(0, 2, 1) + dev[:, :, None] * dev[:, None, :] * post[:, None, None]
                mw = np.broadcast_to(np.asarray(means_weight, dtype=np.float64), (self.n_components,)) \
                    if np.ndim(means_weight) <= 1 else means_weight
                c_n = np.asarray(mw)[:, None, None] * meandiff[:, :, None] * meandiff[:, None, :] + scatter
                cvweight = max(self.covars_weight - self.n_features, 0)
                if self.covariance_type == "tied":
                    self._covars_ = (self.covars_prior + c_n.sum(axis=0)) / (cvweight + post.sum())
                else:
                    self._covars_ = (self.covars_prior + c_n) / (cvweight + post[:, None, None])
        self.means_ = means

    def _generate_sample_from_state(self, state, random_state):
        return random_state.multivariate_normal(self.means_[state], self.covars_[state])
