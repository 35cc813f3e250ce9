"""The documentation builds without a single warning or dead reference, and documents every public method."""

import doctest
import inspect
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import suffstats

# Subprocesses and whole builds: `pytest -m "not slow"` skips them while editing; CI runs everything.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    """Build the site once: ``-W`` (warnings are errors) and ``-n`` (nitpicky: every reference must resolve)."""
    out = tmp_path_factory.mktemp("html")
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-n", "--keep-going", "-q", "-b", "html", str(DOCS), str(out)],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    return out


def test_docs_build_without_warnings_or_dead_references(html):
    assert (html / "index.html").exists()


def _public_members(cls):
    """Every public method and attribute a user can reach on ``cls`` (inherited ones included)."""
    return sorted(name for name in dir(cls) if not name.startswith("_"))


def _exported():
    return [(name, getattr(suffstats, name)) for name in suffstats.__all__]


@pytest.mark.parametrize("name, obj", _exported(), ids=[name for name, _ in _exported()])
def test_every_public_name_has_a_page_with_every_public_method(html, name, obj):
    page = html / "api" / "generated" / f"suffstats.{name}.html"
    assert page.exists(), f"no API page for suffstats.{name}"
    text = page.read_text(encoding="utf-8")
    assert f'id="suffstats.{name}"' in text, f"suffstats.{name} is not described on its page"
    if not inspect.isclass(obj) or issubclass(obj, Warning):
        return
    ids = set(re.findall(r'id="suffstats\.' + re.escape(name) + r'\.([A-Za-z0-9_]+)"', text))
    missing = [m for m in _public_members(obj) if m not in ids]
    assert not missing, f"suffstats.{name}: public members not rendered: {missing}"


def test_every_public_method_has_a_docstring_on_its_page(html):
    """An empty entry (a name with no text) is as useless as a missing one."""
    page = (html / "api" / "generated" / "suffstats.GaussianMixture.html").read_text(encoding="utf-8")
    for method in ("summarize", "from_summaries", "fit", "predict_proba", "statistics", "absorb"):
        entry = page.split(f'id="suffstats.GaussianMixture.{method}"', 1)[1].split("</dl>", 1)[0]
        assert "<dd>" in entry and len(re.sub(r"<[^>]+>", "", entry.split("<dd>", 1)[1]).strip()) > 10, method


GUIDE = sorted((DOCS / "guide").glob("*.rst"))


@pytest.mark.parametrize("page", GUIDE, ids=[p.stem for p in GUIDE])
def test_user_guide_snippets_run(page, tmp_path, monkeypatch):
    """Every ``>>>`` snippet of the user guide runs and prints what the page says (files go to a temp dir)."""
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = doctest.testfile(str(page), module_relative=False, verbose=False, report=True,
                                  optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} snippets failed in {page.name}"
    assert not os.listdir(tmp_path), f"{page.name} leaves files behind: {os.listdir(tmp_path)}"
