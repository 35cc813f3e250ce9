"""scikit-learn's own ``GaussianNB`` tests, run against ``suffstats.GaussianNB``.

As in ``tests/test_sklearn_test_suite.py``: the test file is read from the
installed scikit-learn (nothing is copied here), its import of ``GaussianNB``
is rewritten in memory to take ours, and pytest runs it in a subprocess with
scikit-learn's fixtures. The file also tests the discrete naive Bayes
estimators, which this library does not provide: those tests are deselected,
each with its reason in ``EXCLUDED``.
"""

from pathlib import Path

import pytest

from .peer_suites import run_peer_tests

# A peer's whole test file in a subprocess: `pytest -m "not slow"` skips it while editing; CI runs it.
pytestmark = pytest.mark.slow
import sklearn

SOURCE = Path(sklearn.__file__).parent / "tests" / "test_naive_bayes.py"
IMPORT = "    GaussianNB,\n"
OTHERS = "scikit-learn's discrete naive Bayes estimators (BernoulliNB, CategoricalNB, ComplementNB, MultinomialNB)"

#: Tests deselected, with the reason. Parametrized tests are deselected for the other estimators only.
EXCLUDED = {
    "test_gnb_check_update_with_no_data": "calls scikit-learn's private static _update_mean_variance",
    "test_discretenb": f"tests {OTHERS}",
    "test_mnnb": "tests MultinomialNB",
    "test_mnb": "tests MultinomialNB",
    "test_bnb": "tests BernoulliNB",
    "test_cnb": "tests ComplementNB",
    "test_categoricalnb": "tests CategoricalNB",
    "test_alpha": f"tests the alpha smoothing of {OTHERS}",
    "test_check_alpha": "tests BernoulliNB's private _check_alpha",
    "test_check_accuracy_on_digits": "its first assertions are MultinomialNB's and BernoulliNB's accuracies "
                                     "(the GaussianNB part is checked in tests/test_classifiers.py)",
    "BernoulliNB or CategoricalNB or ComplementNB or MultinomialNB": f"parametrized over {OTHERS}",
    "test_gnb_array_api_compliance": "array-API dispatch (CuPy, PyTorch, array_api_strict arrays) is not supported: "
                                     "rows are read as NumPy arrays",
}


@pytest.fixture(scope="module")
def rewritten(tmp_path_factory):
    if not SOURCE.exists():
        pytest.skip(f"the installed scikit-learn ships no tests ({SOURCE} is missing)")
    text = SOURCE.read_text()
    assert text.count(IMPORT) == 1, "scikit-learn's test file no longer imports GaussianNB as expected"
    text = text.replace(IMPORT, "", 1)
    marker = "from sklearn.utils._array_api import (\n"
    text = text.replace(marker, "from suffstats import GaussianNB\n" + marker, 1)
    path = tmp_path_factory.mktemp("sklearn_nb_suite") / "test_sklearn_naive_bayes.py"
    path.write_text(text)
    return path


def _run(path, float32):
    return run_peer_tests([path], EXCLUDED, plugins=("sklearn.conftest",),
                          extra_env={"SKLEARN_RUN_FLOAT32_TESTS": "1" if float32 else "0"}, timeout=600)


def test_scikit_learn_gaussian_nb_tests_pass(rewritten):
    # The float32 mode runs every test, its float32 parametrizations included (a superset of the default mode).
    proc, outcomes = _run(rewritten, float32=True)
    failed = sorted(k for k, v in outcomes.items() if v == "failed")
    assert proc.returncode == 0 and not failed, f"failed: {failed}\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}"
    passed = sorted(k for k, v in outcomes.items() if v == "passed")
    # Every GaussianNB test of the file ran against suffstats.GaussianNB (the count grows with the file's seeds).
    assert any("test_gnb_partial_fit" in k for k in passed) and any("GaussianNB" in k for k in passed)
    assert any("test_gnb_partial_fit[float32]" in k for k in passed)
    assert len(passed) >= 15, f"only {len(passed)} tests ran: {proc.stdout[-2000:]}"
    assert not any(v == "skipped" for v in outcomes.values()), outcomes
