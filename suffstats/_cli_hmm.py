"""``suffstats fit-hmm``: a hidden Markov model fitted to a file out of core, saved as JSON.

The command's options and its run, kept beside :mod:`suffstats.cli` (which
registers it) so the mixture commands and the sequence command each stay one
idea. Errors follow the command's conventions: a :class:`UsageError` (exit 2)
for a command line that cannot work, a ``ValueError`` naming the problem
(exit 1) for data that cannot be fitted.
"""

from __future__ import annotations

import os

import numpy as np

from ._cli_checks import UsageError, check_columns, check_output, int_at_least, number, same_file
from .data.source import as_source
from .io import save

__all__ = ["add_fit_hmm"]

#: ``--model`` -> the class in :mod:`suffstats.hmm`.
MODELS = {"gaussian": "GaussianHMM", "gmm": "GMMHMM", "poisson": "PoissonHMM", "categorical": "CategoricalHMM"}
COVARIANCES = ("diag", "full", "tied", "spherical")


def _lengths(path, out):
    if path is None:
        return None
    if same_file(path, out):
        raise UsageError(f"--out and --lengths name the same file ({out})")
    if not os.path.isfile(path):
        raise UsageError(f"--lengths {path}: no such file")
    lengths = np.load(path, allow_pickle=False)
    if lengths.ndim != 1 or lengths.dtype.kind not in "iu":
        raise ValueError(f"--lengths {path} must hold a 1-D array of integers (rows per sequence); got shape "
                         f"{lengths.shape} and dtype {lengths.dtype}")
    return lengths


def _fit_hmm(args):
    from . import hmm

    check_output(args.out, "--out", args.data)
    if args.checkpoint is not None:
        check_output(args.checkpoint, "--checkpoint", args.data)
        if same_file(args.out, args.checkpoint):
            raise UsageError(f"--out and --checkpoint name the same file ({args.out})")
    X = as_source(args.data, columns=check_columns(args))
    lengths = _lengths(args.lengths, args.out)
    settings = dict(n_iter=args.n_iter, tol=args.tol, random_state=args.seed, batch_size=args.batch_size,
                    implementation=args.implementation, verbose=not args.quiet)
    if args.model in ("gaussian", "gmm"):
        settings["covariance_type"] = args.covariance
    if args.model == "gmm":
        settings["n_mix"] = args.n_mix
    model = getattr(hmm, MODELS[args.model])(args.states, **settings)
    sequences = "one sequence" if lengths is None else f"{len(lengths):,} sequences"
    print(f"fitting a {MODELS[args.model]} with {args.states} states to {X.describe()} ({sequences})", flush=True)
    model.fit(X, lengths, checkpoint=args.checkpoint)
    save(model, args.out)
    history = model.monitor_.history
    print(f"converged: {model.monitor_.converged} after {model.monitor_.iter} iterations; "
          f"log-likelihood {history[-1]:.6f}; written to {args.out}")
    return 0


def add_fit_hmm(command):
    """Add the ``fit-hmm`` command through ``command(name, help)`` (the parser's factory of commands)."""
    p = command("fit-hmm", "fit a hidden Markov model (Baum-Welch) to a file out of core")
    p.add_argument("data", help="a .npy file (memory-mapped), a directory or glob of .npy shards, FILE.h5:DATASET, "
                                "a .zarr array, a .parquet or a .csv file: the rows of the sequences, in order")
    p.add_argument("--columns", default=None,
                   help="comma-separated column names (Parquet and CSV only; default: all columns)")
    p.add_argument("--lengths", default=None,
                   help="a .npy file of the rows of each sequence, in order (default: all rows are one sequence)")
    p.add_argument("--states", type=int_at_least(1), required=True, help="hidden states (required)")
    p.add_argument("--model", default="gaussian", choices=list(MODELS), help="emission family")
    p.add_argument("--covariance", default="diag", choices=COVARIANCES, help="covariance type (gaussian, gmm)")
    p.add_argument("--n-mix", type=int_at_least(1), default=2, help="Gaussians per state (gmm)")
    p.add_argument("--n-iter", type=int_at_least(1), default=100, help="most EM iterations")
    p.add_argument("--tol", type=number(positive=False), default=1e-2,
                   help="stop when the log-likelihood improves by less")
    p.add_argument("--implementation", default="log", choices=("log", "scaling"),
                   help="forward-backward in log space or with scaled messages")
    p.add_argument("--batch-size", type=int_at_least(1), default=100_000,
                   help="rows read at a time (the fit does not depend on it)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the initialisation")
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint file: written after every iteration, resumed from if present (default: none)")
    p.add_argument("--out", required=True, help="where to write the model JSON (required)")
    p.add_argument("--quiet", action="store_true", help="no per-iteration log")
    p.set_defaults(run=_fit_hmm)
