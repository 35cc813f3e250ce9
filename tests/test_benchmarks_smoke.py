"""The benchmark scripts run end to end at a tiny size (a smoke test: no timing is asserted)."""

import subprocess
import sys
from pathlib import Path

import pytest

# Subprocesses and whole builds: `pytest -m "not slow"` skips them while editing; CI runs everything.
pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.parametrize("args", [
    ["bench_em.py", "--cases", "A,diag,tied,spherical", "--scale", "0.002", "--iters", "2", "--repeats", "1"],
    ["bench_univariate.py", "--rows", "20000"],
    ["bench_naive_bayes.py", "--rows", "20000", "--features", "5", "--batch-size", "3000"],
    ["bench_classifiers.py", "--scale", "0.005", "--iters", "2"],
    ["bench_kmeans.py", "--scale", "0.01", "--iters", "3", "--repeats", "1", "--with-direct", "--fit-iters", "4"],
    ["bench_init.py", "--rows", "20000", "--features", "4", "--components", "3"],
    ["bench_discrete.py", "--rows", "3000", "--columns", "5"],
    ["bench_hmm.py", "--rows", "20000", "--iters", "1", "--batch-size", "5000"],
    ["bench_hmm_large.py", "--rows", "50000", "--batch-sizes", "16384,4096"],
    ["bench_select.py", "--rows", "20000", "--features", "4", "--max-k", "3", "--n-init", "2", "--max-iter", "5"],
    ["bench_missing.py", "--n", "6000", "--d", "5", "--iters", "2", "--repeats", "1", "--batch-size", "2000"],
    ["bench_missing.py", "--blocks", "--d", "5", "--fractions", "0.1"],
])
def test_benchmark_script_runs(args, tmp_path):
    result = subprocess.run([sys.executable, *args], cwd=BENCH, capture_output=True, text=True, timeout=600,
                            env={"SUFFSTATS_BENCH_CACHE": str(tmp_path), "PATH": "", "HOME": str(tmp_path),
                                 "PYTHONPATH": str(BENCH.parent)})  # this checkout's suffstats
    assert result.returncode == 0, result.stderr[-3000:]
    assert any(header in result.stdout for header in ("s/iter", "summarize ms", "init / epoch", "bytes / shared",
                                                       "speed-up", "theta_ rel. diff", "with holes ms"))
