"""hmmlearn's own tests of ``GaussianHMM``, ``CategoricalHMM``, ``PoissonHMM`` and ``GMMHMM``, run against suffstats.

The test files are read from the installed hmmlearn at test time (nothing is
copied into this repository), their one import of the models (``from .. import
hmm``, ``from hmmlearn import hmm`` or ``from ..hmm import GMMHMM``) is
rewritten in memory to import them from suffstats and their helpers are
imported from ``hmmlearn.tests``; pytest runs them in a subprocess. Tests of
hmmlearn's internals are listed in ``EXCLUDED`` with the reason; none is
skipped silently. hmmlearn's own ``xfail`` marks stay as they are: all of
``test_gmm_hmm.py`` is marked so by hmmlearn (it sets a ``gmms_`` attribute
no GMMHMM has any more), and so is ``test_fit_zero_variance``.
"""

from pathlib import Path

import pytest

from .peer_suites import run_peer_tests

# A peer's whole test file in a subprocess: `pytest -m "not slow"` skips it while editing; CI runs it.
pytestmark = pytest.mark.slow

hmmlearn = pytest.importorskip("hmmlearn")

TESTS = Path(hmmlearn.__file__).parent / "tests"
MODEL_IMPORTS = {"from .. import hmm\n": "from suffstats import hmm\n",
                 "from hmmlearn import hmm\n": "from suffstats import hmm\n",
                 "from ..hmm import GMMHMM\n": "from suffstats.hmm import GMMHMM\n"}
HELPER_IMPORTS = {"from . import ": "from hmmlearn.tests import ",
                  "from .test_gmm_hmm import ": "from hmmlearn.tests.test_gmm_hmm import "}

#: hmmlearn test files run here, and the least number of tests each must pass.
FILES = {"test_gaussian_hmm.py": 98, "test_categorical_hmm.py": 20, "test_poisson_hmm.py": 12,
         "test_gmm_hmm_new.py": 70, "test_gmm_hmm_multisequence.py": 8, "test_gmm_hmm.py": 0}

#: Tests that exercise hmmlearn's internals rather than the models' public behaviour.
EXCLUDED = {
    "test__check_and_set_categorical_n_features":
        "calls hmmlearn's private _check_and_set_n_features on raw arrays; here symbols are checked block by "
        "block as they are read (non-integral or negative symbols are refused by fit, score and decode)",
}


@pytest.fixture(scope="module")
def rewritten(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hmmlearn_suite")
    paths = []
    for name in FILES:
        source = TESTS / name
        if not source.exists():
            pytest.skip(f"the installed hmmlearn ships no tests ({source} is missing)")
        text = source.read_text()
        found = [line for line in MODEL_IMPORTS if text.count(line) == 1]
        assert len(found) == 1, f"hmmlearn's {name} no longer imports its models as expected"
        text = text.replace(found[0], MODEL_IMPORTS[found[0]])
        for theirs, ours in HELPER_IMPORTS.items():
            text = text.replace(theirs, ours)
        path = folder / f"test_hmmlearn_{name.removeprefix('test_')}"
        path.write_text(text)
        paths.append(path)
    return paths


def _run(paths):
    return run_peer_tests(paths, EXCLUDED, extra_args=("-W", "ignore::RuntimeWarning"))


def test_hmmlearn_tests_pass(rewritten):
    proc, outcomes = _run(rewritten)
    failed = sorted(k for k, v in outcomes.items() if v == "failed")
    assert proc.returncode == 0 and not failed, f"failed: {failed}\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}"
    for name, least in FILES.items():
        stem = f"test_hmmlearn_{name.removeprefix('test_')}"
        passed = [k for k, v in outcomes.items() if v == "passed" and k.startswith(stem)]
        assert len(passed) >= least, f"only {len(passed)} tests of {name} passed: {proc.stdout[-2000:]}"
