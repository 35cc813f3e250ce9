"""scikit-learn's own tests of ``BayesianGaussianMixture``, run against ``suffstats.BayesianGaussianMixture``.

As for ``GaussianMixture`` (``tests/test_sklearn_test_suite.py``): the test
file is read from the installed scikit-learn, its one import of the estimator
is rewritten in memory, and pytest runs it in a subprocess, in the default and
in the float32 mode.
"""

from pathlib import Path

import pytest
import sklearn

from .peer_suites import run_peer_tests

pytestmark = pytest.mark.slow

SOURCE = Path(sklearn.__file__).parent / "mixture" / "tests" / "test_bayesian_mixture.py"
IMPORT = "from sklearn.mixture import BayesianGaussianMixture\n"

#: Tests of scikit-learn's private functions, which never reach the estimator under test.
EXCLUDED = {
    "test_log_dirichlet_norm": "tests scikit-learn's private _log_dirichlet_norm, imported from scikit-learn",
    "test_log_wishart_norm": "tests scikit-learn's private _log_wishart_norm, imported from scikit-learn",
}


@pytest.fixture(scope="module")
def rewritten(tmp_path_factory):
    if not SOURCE.exists():
        pytest.skip(f"the installed scikit-learn ships no tests ({SOURCE} is missing)")
    text = SOURCE.read_text()
    assert text.count(IMPORT) == 1, "scikit-learn's test file no longer imports BayesianGaussianMixture as expected"
    path = tmp_path_factory.mktemp("sklearn_bgm_suite") / "test_sklearn_bayesian_mixture.py"
    path.write_text(text.replace(IMPORT, "from suffstats import BayesianGaussianMixture\n"))
    return path


@pytest.mark.parametrize("float32", [False, True], ids=["default", "float32"])
def test_scikit_learn_bayesian_mixture_tests_pass(rewritten, float32):
    proc, outcomes = run_peer_tests([rewritten], EXCLUDED, plugins=("sklearn.conftest",),
                                    extra_env={"SKLEARN_RUN_FLOAT32_TESTS": "1" if float32 else "0"}, timeout=600)
    failed = sorted(k for k, v in outcomes.items() if v == "failed")
    assert proc.returncode == 0 and not failed, f"failed: {failed}\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}"
    passed = [k for k, v in outcomes.items() if v == "passed"]
    assert len(passed) >= 15, f"only {len(passed)} tests ran: {proc.stdout[-2000:]}"
