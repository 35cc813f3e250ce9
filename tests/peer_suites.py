"""Running a peer library's own test files (rewritten in memory to test suffstats) in a subprocess.

Each test file under ``tests/test_*_suite.py`` reads the peer's installed test
file, rewrites its imports, and hands the paths here: pytest runs them with
this checkout's suffstats first on the path, and every test's outcome is
recorded so the caller can count what passed, failed or was skipped.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_peer_tests(paths, excluded=(), plugins=(), extra_env=None, extra_args=(), timeout=900):
    """``(completed process, {test id: outcome})`` of pytest over ``paths`` with the ``excluded`` names deselected.

    ``excluded`` names are ``-k`` expressions (a name, or ``A or B``); ``plugins`` are extra ``-p`` plugins.
    """
    folder = Path(paths[0]).parent
    report = folder / f"report_{abs(hash((tuple(map(str, paths)), repr(extra_env))))}.json"
    plugin = folder / "record_outcomes.py"
    plugin.write_text(
        "import json, os\nresults = {}\n"
        "def pytest_runtest_logreport(report):\n"
        "    if report.when == 'call' or report.outcome != 'passed':\n"
        "        results[report.nodeid] = report.outcome\n"
        "def pytest_sessionfinish(session):\n"
        "    open(os.environ['SUFFSTATS_PEER_REPORT'], 'w').write(json.dumps(results))\n")
    args = [sys.executable, "-m", "pytest", "-p", "record_outcomes", *[a for p in plugins for a in ("-p", p)], "-q",
            "--no-header", "-p", "no:cacheprovider", *extra_args]
    if excluded:
        args += ["-k", " and ".join(f"not ({name})" for name in excluded)]
    # The suffstats of this checkout, not another one installed in the environment.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(folder), str(ROOT)]), SUFFSTATS_PEER_REPORT=str(report),
               **(extra_env or {}))
    env.pop("PYTEST_XDIST_WORKER", None)
    proc = subprocess.run(args + [str(p) for p in paths], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=timeout)
    outcomes = json.loads(report.read_text()) if report.exists() else {}
    return proc, outcomes
