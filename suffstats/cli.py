"""The ``suffstats`` command: ``fit`` a mixture to a file, ``fit-hmm`` a hidden Markov model, ``select`` the number
of components, ``impute`` missing values, or run the ``demo``.

Errors are reported as one line, ``suffstats: error: <message>``, on stderr:
exit status 2 for a command line that cannot work (bad option values,
conflicting options, an output path that cannot be written), 1 for an error
while reading the data or fitting, 130 on Ctrl-C. ``--debug`` adds the
traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings


from ._cli_checks import (
    UsageError,
    check_columns,
    check_output,
    choices,
    int_at_least,
    int_range,
    number,
    same_file,
)
from ._cli_hmm import add_fit_hmm
from ._validation import MISSING_POLICIES
from .data.source import as_source
from .distributions.covariance import COVARIANCE_TYPES
from .demo import demo_rows, run_demo
from .fit.estimator import checkpoint_progress
from .io import save
from .mixture import INIT_METHODS
from .mixture._params import CRITERIA

__all__ = ["main"]

PROG = "suffstats"

class _Parser(argparse.ArgumentParser):
    """Usage errors in two lines (the message, then where to read more), not the whole usage."""

    def error(self, message):
        self.exit(2, f"{PROG}: error: {message}\nTry '{self.prog} --help' for more information.\n")


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: ...)`` for every option that has a default worth showing."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or action.default is argparse.SUPPRESS:
            return action.help or ""
        return super()._get_help_string(action)


def _resume_message(args, X, model):
    """What the checkpoint holds, read (and checked against this fit) before the fit starts; or None."""
    if args.checkpoint is None:
        return None
    # The same check the fit makes: a checkpoint for other data or settings is refused here, not later.
    progress = checkpoint_progress(model, X, args.checkpoint, args.checkpoint_every)
    if progress is None:
        return None
    if progress.finished:
        return (f"checkpoint {args.checkpoint} holds a finished fit ({progress.epochs_done} epochs); "
                "nothing left to run")
    return (f"resuming from epoch {progress.epochs_done + 1}, row {progress.rows_done} of {progress.epoch_rows} "
            f"(checkpoint {args.checkpoint})")


# -- commands ----------------------------------------------------------------------------------
def _checked_input(args):
    """The data source, after the output paths were checked (writable, never an input file)."""
    columns = check_columns(args)
    check_output(args.out, "--out", args.data)
    if args.checkpoint is not None:
        check_output(args.checkpoint, "--checkpoint", args.data)
        if same_file(args.out, args.checkpoint):
            raise UsageError(f"--out and --checkpoint name the same file ({args.out})")
    return as_source(args.data, columns=columns)


def _fit(args):
    # The estimators are imported when a command needs them: --help is quick.
    from .mixture import BayesianGaussianMixture, GaussianMixture

    X = _checked_input(args)
    shared = dict(covariance_type=args.covariance, batch_size=args.batch_size, max_iter=args.max_iter, tol=args.tol,
                  init_params=args.init, random_state=args.seed, verbose=0 if args.quiet else 2, verbose_interval=1,
                  progress=not args.quiet)
    if args.variational:
        if args.batches_per_epoch is not None or args.missing != "error":
            raise UsageError("--variational fits by exact epochs over complete rows: drop --batches-per-epoch "
                             "and --missing")
        model = BayesianGaussianMixture(args.components, weight_concentration_prior=args.weight_concentration_prior,
                                        **shared)
    else:
        if args.weight_concentration_prior is not None:
            raise UsageError("--weight-concentration-prior needs --variational")
        model = GaussianMixture(args.components, batches_per_epoch=args.batches_per_epoch, missing=args.missing,
                                **shared)
    resume = _resume_message(args, X, model)
    kind = "a variational mixture of at most " if args.variational else ""
    print(f"fitting {kind}{args.components} components ({args.covariance}) to {X.describe()}", flush=True)
    if resume:
        print(resume, flush=True)
    model.fit(X, checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every)
    save(model, args.out)
    if args.variational:
        used = int((model.weights_ > 0.01).sum())
        summary = f"lower bound {model.lower_bound_:.6f}; {used} of {args.components} components weigh over 1%"
    else:
        summary = f"mean log-likelihood {model.lower_bound_:.6f}"
    print(f"converged: {model.converged_} after {model.n_iter_} epochs; {summary}; written to {args.out}")
    return 0


def _select(args):
    from .mixture import GaussianMixtureSearch

    X = _checked_input(args)
    search = GaussianMixtureSearch(
        args.components, covariance_type=args.covariance, n_init=args.n_init, criterion=args.criterion,
        validation_fraction=args.validation_fraction,
        batch_size=args.batch_size, batches_per_epoch=args.batches_per_epoch, max_iter=args.max_iter, tol=args.tol,
        init_params=args.init, random_state=args.seed, verbose=0 if args.quiet else 2, verbose_interval=1,
        progress=not args.quiet, missing=args.missing)
    print(f"trying {len(args.components) * len(args.covariance) * args.n_init} candidates on {X.describe()}",
          flush=True)
    search.fit(X, checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every)
    print()
    print(results_table(search.results_, args.criterion))
    save(search.best_estimator_, args.out)
    best = search.best_params_
    print(f"best by {args.criterion}: {best['n_components']} components ({best['covariance_type']}), "
          f"after {search.n_iter_} reads of the data; written to {args.out}")
    return 0


def results_table(results, criterion) -> str:
    """The search's candidates as a table, best first, with each one's distance to the best by ``criterion``."""
    heldout = "heldout_log_likelihood" in results[0]
    # (header, row -> text); totals to 0.1, mean log-likelihoods to 6 decimals, so neighbours can be told apart
    columns = [("k", lambda r: str(r["n_components"])), ("covariance", lambda r: r["covariance_type"]),
               ("run", lambda r: str(r["init"])), ("epochs", lambda r: str(r["n_iter"])),
               ("converged", lambda r: "yes" if r["converged"] else "no"),
               ("log-likelihood", lambda r: f"{r['log_likelihood']:,.1f}"), ("bic", lambda r: f"{r['bic']:,.1f}"),
               ("aic", lambda r: f"{r['aic']:,.1f}")]
    if heldout:
        columns.append(("held-out mean log-lik", lambda r: f"{r['heldout_log_likelihood']:.6f}"))
    ordered = sorted(results, key=lambda r: r[criterion])
    best = ordered[0][criterion]
    places = 6 if criterion == "heldout" else 1
    columns.append((f"{criterion} - best", lambda r: f"{r[criterion] - best:,.{places}f}"))
    cells = [[text(r) for _, text in columns] for r in ordered]
    widths = [max(len(name), *(len(row[i]) for row in cells)) for i, (name, _) in enumerate(columns)]
    lines = ["  ".join(name.rjust(w) for (name, _), w in zip(columns, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def _impute(args):
    from .impute import GaussianMixtureImputer

    X = _checked_input(args)
    if not str(args.out).endswith(".npy"):
        raise UsageError(f"--out must name a .npy file; got {args.out}")
    imputer = GaussianMixtureImputer(args.components, covariance_type=args.covariance, batch_size=args.batch_size,
                                     max_iter=args.max_iter, tol=args.tol, random_state=args.seed)
    print(f"fitting {args.components} components ({args.covariance}), missing values marginalised, "
          f"to {X.describe()}", flush=True)
    imputer.fit(X)
    imputer.transform(X, out=args.out)
    print(f"EM: {imputer.n_iter_} epochs; every NaN filled with its conditional expectation; written to {args.out}")
    return 0


def _demo(args):
    n_rows = demo_rows(args.megabytes, args.features)
    if n_rows < args.components:
        raise UsageError(f"--megabytes {args.megabytes:g} gives {n_rows} rows, fewer than "
                         f"--components {args.components}")
    if args.dir is not None:
        if not os.path.isdir(args.dir):
            raise UsageError(f"--dir {args.dir} is not a directory")
        if not os.access(args.dir, os.W_OK | os.X_OK):
            raise UsageError(f"--dir {args.dir} is not writable")
    identical = run_demo(megabytes=args.megabytes, features=args.features, components=args.components,
                         batch_size=args.batch_size, max_iter=args.max_iter, seed=args.seed, folder=args.dir,
                         keep=args.keep, progress=not args.quiet)
    return 0 if identical else 1


# -- the command line --------------------------------------------------------------------------
def _parser():
    parser = _Parser(prog=PROG, formatter_class=_Formatter,
                     description="Fit a mixture to a file out of core, or run the out-of-core demo.",
                     epilog="exit status: 0 done, 1 an error while reading or fitting, 2 a usage error, "
                            "130 interrupted. Errors are one line on stderr; --debug adds the traceback.")
    parser.add_argument("--debug", action="store_true", help="print the full traceback of an error")
    # Also accepted after the command; SUPPRESS keeps a subcommand from resetting the flag given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="print the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{fit,fit-hmm,select,impute,demo}")

    def command(name, help):
        return sub.add_parser(name, help=help, description=help, parents=[common], formatter_class=_Formatter)

    def data_and_em_arguments(p):
        p.add_argument("data", help="a .npy file (memory-mapped), a directory or glob of .npy shards, FILE.h5:DATASET, "
                                    "a .zarr array, a .parquet or a .csv file")
        p.add_argument("--columns", default=None,
                       help="comma-separated column names (Parquet and CSV only; default: all columns)")
        p.add_argument("--checkpoint", default=None,
                       help="checkpoint file: written during the fit, resumed from if present (default: none)")
        p.add_argument("--checkpoint-every", type=int_at_least(1), default=None,
                       help="batches between checkpoint writes (default: every minute of work, and after each epoch)")
        p.add_argument("--batch-size", type=int_at_least(1), default=100_000, help="rows read at a time")
        p.add_argument("--batches-per-epoch", type=int_at_least(1), default=None,
                       help="batches per EM update (default: all of them, i.e. exact EM)")
        p.add_argument("--max-iter", type=int_at_least(0), default=100, help="most EM epochs")
        p.add_argument("--tol", type=number(positive=False), default=1e-3,
                       help="stop when the mean log-likelihood improves by less (with --variational: the lower "
                            "bound, a total over the rows)")
        p.add_argument("--init", default="kmeans", choices=list(INIT_METHODS), help="initialisation")
        p.add_argument("--seed", type=int, default=0, help="random seed")
        p.add_argument("--out", required=True, help="where to write the model JSON (required)")
        p.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch log")
        p.add_argument("--missing", default="error", choices=list(MISSING_POLICIES),
                       help="NaN in the data: refused (error) or integrated out by exact EM (marginalize)")

    fit = command("fit", "fit a Gaussian mixture to a file out of core")
    data_and_em_arguments(fit)
    fit.add_argument("--components", type=int_at_least(1), default=8, help="mixture components")
    fit.add_argument("--covariance", default="full", choices=list(COVARIANCE_TYPES), help="covariance type")
    fit.add_argument("--variational", action="store_true",
                     help="fit a BayesianGaussianMixture (Dirichlet process prior): --components is the most, and "
                          "surplus ones end with weights near zero")
    fit.add_argument("--weight-concentration-prior", type=number(positive=True), default=None,
                     help="with --variational: smaller switches off more components (default: 1/components)")
    fit.set_defaults(run=_fit)
    add_fit_hmm(command)

    impute = command("impute", "fill the NaN of a file with their conditional expectation under a Gaussian mixture "
                               "fitted with the holes marginalised, streaming to a .npy file")
    impute.add_argument("data", help="a .npy file (memory-mapped), a directory or glob of .npy shards, FILE.h5:DATASET, "
                                     "a .zarr array, a .parquet or a .csv file")
    impute.add_argument("--columns", default=None,
                        help="comma-separated column names (Parquet and CSV only; default: all columns)")
    impute.add_argument("--out", required=True, help="the filled rows, written as a .npy file (required)")
    impute.add_argument("--components", type=int_at_least(1), default=1, help="mixture components")
    impute.add_argument("--covariance", default="full", choices=list(COVARIANCE_TYPES), help="covariance type")
    impute.add_argument("--batch-size", type=int_at_least(1), default=100_000, help="rows read at a time")
    impute.add_argument("--max-iter", type=int_at_least(0), default=100, help="most EM epochs")
    impute.add_argument("--tol", type=number(positive=False), default=1e-3,
                        help="stop when the mean log-likelihood improves by less")
    impute.add_argument("--seed", type=int, default=0, help="random seed")
    impute.set_defaults(run=_impute, checkpoint=None)

    select = command("select", "choose the number of components: many mixtures, one read of the file per epoch")
    data_and_em_arguments(select)
    select.add_argument("--components", type=int_range, default="1-10",
                        help="numbers of components to try: a range 1-12, a list 2,4,8, or both")
    select.add_argument("--covariance", type=choices(COVARIANCE_TYPES), default="full",
                        help="covariance types to try, comma-separated")
    select.add_argument("--n-init", type=int_at_least(1), default=1, help="initialisations per candidate")
    select.add_argument("--criterion", default="bic", choices=list(CRITERIA),
                        help="bic, aic (lower is better) or the held-out log-likelihood (needs --validation-fraction)")
    select.add_argument("--validation-fraction", type=number(positive=True), default=None,
                        help="share of rows held out of every fit, chosen by a seeded hash of the row index")
    select.set_defaults(run=_select)

    demo = command("demo", "write a synthetic memory-mapped file and fit it out of core")
    demo.add_argument("--megabytes", type=number(positive=True), default=300.0, help="size of the generated file")
    demo.add_argument("--features", type=int_at_least(1), default=20, help="columns of the generated file")
    demo.add_argument("--components", type=int_at_least(1), default=4, help="blobs generated and components fitted")
    demo.add_argument("--batch-size", type=int_at_least(1), default=100_000, help="rows read at a time")
    demo.add_argument("--max-iter", type=int_at_least(0), default=8, help="EM epochs")
    demo.add_argument("--seed", type=int, default=0, help="random seed")
    demo.add_argument("--dir", default=None, help="folder for the file (default: a temporary one)")
    demo.add_argument("--keep", action="store_true", help="keep the generated file")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(run=_demo)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"{PROG}: warning: {message}", file=sys.stderr if file is None else file, flush=True)


def _error(err):
    """One line for an exception: the library's messages already name the file and the problem."""
    if isinstance(err, OSError) and err.strerror and err.filename is not None:
        return f"{err.filename}: {err.strerror}"
    if isinstance(err, (ValueError, OSError, ImportError, UsageError)):
        return str(err) or type(err).__name__
    return f"{type(err).__name__}: {err}"


def main(argv=None):
    """Entry point of the ``suffstats`` command; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: ``sys.argv[1:]``).
    """
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit:  # --help, or a usage error already printed by argparse
        return exit.code if isinstance(exit.code, int) else 2
    debug = args.debug
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return args.run(args)
        except KeyboardInterrupt:
            if debug:
                traceback.print_exc()
            hint = f"; run the same command again to resume from {args.checkpoint}" \
                if getattr(args, "checkpoint", None) and os.path.exists(args.checkpoint) else ""
            print(f"{PROG}: interrupted{hint}", file=sys.stderr, flush=True)
            return 130
        except BrokenPipeError:
            # The reader went away (``suffstats fit ... | head``): stop quietly, as Python's docs advise.
            try:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            except (OSError, ValueError, AttributeError):
                pass
            return 1
        except Exception as err:  # noqa: BLE001 -- the boundary: one line, the traceback only on request
            if debug:
                traceback.print_exc()
            print(f"{PROG}: error: {_error(err)}", file=sys.stderr, flush=True)
            if not debug and not isinstance(err, (ValueError, OSError, ImportError, UsageError)):
                print(f"{PROG}: (an unexpected error; run with --debug for the traceback)", file=sys.stderr)
            return 2 if isinstance(err, UsageError) else 1


if __name__ == "__main__":
    sys.exit(main())
