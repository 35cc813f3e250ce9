"""The documentation builds without a single warning."""

import subprocess
import sys
from pathlib import Path


def test_docs_build_without_warnings(tmp_path):
    docs = Path(__file__).resolve().parents[1] / "docs"
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(docs), str(tmp_path)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr + result.stdout
