"""Start-up: importing the package and asking the command for help do not import the estimators' dependencies.

scikit-learn takes about a second to import: the estimators are imported when first used, and the mixtures
follow scikit-learn's conventions without importing it. Checked in fresh processes by what is imported, not by time.
"""

import subprocess
import sys

import pytest

HEAVY = ("sklearn.base", "suffstats.mixture.gaussian")


def _imported(code, heavy=HEAVY):
    probe = f"import sys\n{code}\nprint(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


HELP = ("import suffstats.cli as cli, contextlib, io\nwith contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        cli.main(['--help'])\n    except SystemExit:\n        pass")


@pytest.mark.parametrize("code, heavy", [
    # SciPy takes a tenth of a second to import: the families and the command import it when first needed.
    ("import suffstats", HEAVY + ("numba", "scipy")),
    (HELP, HEAVY + ("numba", "scipy")),
    ("import suffstats; suffstats.Normal().fit([1.0, 2.0, 4.0])", HEAVY),
    # A mixture follows scikit-learn's conventions without importing it (a second of start-up).
    ("import numpy, suffstats; suffstats.GaussianMixture(2, random_state=0).fit(numpy.arange(40.0).reshape(20, 2))",
     ("sklearn.base", "scipy.special")),
    ("import numpy, suffstats; suffstats.KMeans(2, random_state=0).fit(numpy.arange(40.0).reshape(20, 2))",
     ("sklearn.base",)),
])
def test_the_estimators_are_not_imported_until_used(code, heavy):
    assert _imported(code, heavy) == "[]"


def test_an_estimator_is_imported_by_its_name_and_by_a_json_naming_it():
    assert "suffstats.mixture.gaussian" in _imported("import suffstats; suffstats.GaussianMixture")
    code = ("import suffstats; m = suffstats.from_json('{\"schema\": 1, \"family\": \"KMeans\", \"settings\": "
            "{\"n_clusters\": 1}, \"cluster_centers\": [[1.0]]}'); assert type(m).__name__ == 'KMeans'")
    assert "suffstats.mixture.kmeans" in _imported(code, ("suffstats.mixture.kmeans",))
