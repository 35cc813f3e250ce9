"""The documentation builds without a single warning or dead reference, and documents every public method."""

import doctest
import importlib
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


# -- what a user sees: no links into internals, no parameter without a description ------------------------------
_NOT_CONTENT = {"genindex.html", "py-modindex.html", "search.html"}  # indexes of every name, internals included


def _contributors_modules():
    """Modules listed under "For contributors" in ``docs/api/modules.rst``: internals, on their own pages."""
    text = (DOCS / "api" / "modules.rst").read_text(encoding="utf-8").split("For contributors", 1)[1]
    return set(re.findall(r"^\s+(suffstats\.[\w.]+)\s*$", text, flags=re.M))


def _is_private(target):
    """Whether a link target names a private module or member (a dotted or path component starting with ``_``)."""
    path, _, fragment = target.partition("#")
    if re.match(r"^[a-z]+:", path):  # another site
        return False
    parts = [p for p in re.split(r"[/.]", path) if p not in ("", "html", "..")]
    parts = [p for p in parts if p not in ("_static", "_images", "_sources", "_downloads")]
    return any(p.startswith("_") for p in parts + re.split(r"[.]", fragment.removeprefix("module-")))


def _article(page):
    """The page's own content (navigation bars list every page of the tree, the contributors' ones too)."""
    match = re.search(r'<article class="bd-article">(.*?)</article>', page.read_text(encoding="utf-8"), re.S)
    return match.group(1) if match else ""


def test_no_user_facing_page_links_into_a_private_module(html):
    internal = {f"{name}.html" for name in _contributors_modules()}
    assert "suffstats.mixture._initialize.html" in internal  # the contributors' section is where it should be
    offenders = {}
    pages = sorted(html.rglob("*.html"))
    for page in pages:
        relative = page.relative_to(html).as_posix()
        if relative.startswith("_") or page.name in _NOT_CONTENT or page.name in internal:
            continue
        content = _article(page)
        if relative == "api/modules.html":  # its "For contributors" section lists the internals on purpose
            content = content.split('id="for-contributors"', 1)[0]
        links = sorted({t for t in re.findall(r'href="([^"]+)"', content) if _is_private(t)})
        if links:
            offenders[relative] = links
    assert len(pages) > 50
    assert not offenders, f"user-facing pages link into private modules: {offenders}"


def test_the_private_link_check_sees_a_private_link():
    assert _is_private("generated/suffstats.mixture._initialize.html#module-suffstats.mixture._initialize")
    assert _is_private("suffstats.GaussianMixture.html#suffstats.GaussianMixture._initialize")
    assert not _is_private("../_static/suffstats.css")
    assert not _is_private("suffstats.data.iter_minibatches.html#suffstats.data.iter_minibatches")
    assert not _is_private("https://example.org/_private/")


def _api_names():
    """Every class and function with a page in the API reference (``docs/api/index.rst``)."""
    text = (DOCS / "api" / "index.rst").read_text(encoding="utf-8")
    names, module, listing = [], "suffstats", False
    for line in text.splitlines():
        current = re.match(r"\.\. currentmodule:: ([\w.]+)", line)
        if current:
            module = current.group(1)
        if line.strip().startswith(".. "):
            listing = line.strip() == ".. autosummary::"
        elif line and not line.startswith(" "):
            listing = False
        entry = re.match(r"^   ([A-Za-z]\w*)\s*$", line)
        if entry and listing:
            names.append(f"{module}.{entry.group(1)}")
    return names


def _signature_parameters(obj):
    target = obj.__init__ if inspect.isclass(obj) else obj
    if target is object.__init__:
        return []
    return [name for name, p in inspect.signature(target).parameters.items()
            if name not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _described_parameters(page, full_name):
    """``{name: description text}`` from the Parameters list of ``full_name`` on its built page."""
    text = page.read_text(encoding="utf-8").split(f'id="{full_name}"', 1)[1]
    text = re.split(r'<p class="rubric">Methods|<dl class="py ', text, maxsplit=1)[0]
    field = text.split('Parameters<span class="colon">:</span></dt>', 1)[1] if "Parameters<span" in text else ""
    field = re.split(r'<dt class="field-|<p class="rubric">', field, maxsplit=1)[0]  # up to the next section
    described = {}
    for names, body in re.findall(r"<dt><strong>(.*?)</strong>.*?</dt>\s*<dd>(.*?)</dd>", field, re.S):
        words = re.sub(r"<[^>]+>", "", body).strip()
        for name in re.sub(r"<[^>]+>", "", names).split(","):
            described[name.strip().lstrip("*")] = words
    return described


API = _api_names()


@pytest.mark.parametrize("full_name", API)
def test_every_public_parameter_has_a_description_on_its_page(html, full_name):
    """``n_components``, ``random_state``...: every argument of a public class or function, described."""
    module, _, name = full_name.rpartition(".")
    obj = getattr(importlib.import_module(module), name)
    if inspect.isclass(obj) and issubclass(obj, Warning):
        return
    page = html / "api" / "generated" / f"{full_name}.html"
    described = _described_parameters(page, full_name)
    missing = [p for p in _signature_parameters(obj) if not described.get(p)]
    assert not missing, f"{full_name}: parameters without a description on its page: {missing}"
    if not inspect.isclass(obj):
        return
    undescribed = {}
    for method in _public_methods(obj):
        described = _described_parameters(page, f"{full_name}.{method}")
        missing = [p for p in _signature_parameters(getattr(obj, method)) if not described.get(p)]
        if missing and method not in METHODS_NOT_YET_DESCRIBED and (name, method) not in METHODS_NOT_YET_DESCRIBED:
            undescribed[method] = missing
    assert not undescribed, f"{full_name}: method parameters without a description on its page: {undescribed}"


#: Methods whose parameters are still described in words rather than one by one (keep it empty).
METHODS_NOT_YET_DESCRIBED: set = set()


def _public_methods(cls):
    """Public methods of ``cls`` written in suffstats (scikit-learn's ``get_params`` and the like excluded)."""
    methods = []
    for name in _public_members(cls):
        raw, value = inspect.getattr_static(cls, name), getattr(cls, name)
        if isinstance(raw, property) or inspect.isclass(value) or not callable(value):
            continue
        if (getattr(value, "__module__", "") or "").startswith("suffstats"):
            methods.append(name)
    return methods


def test_the_api_list_covers_classes_and_functions():
    assert {"suffstats.GaussianMixture", "suffstats.Normal", "suffstats.save", "suffstats.data.as_source"} <= set(API)


def test_site_styles_wrap_long_names_and_scroll_long_lines(html):
    """Long method names in the sidebars wrap; notebook lines longer than the column scroll (not cut)."""
    page = (html / "api" / "generated" / "suffstats.GaussianMixture.html").read_text(encoding="utf-8")
    assert "_static/suffstats.css" in page
    css = (html / "_static" / "suffstats.css").read_text(encoding="utf-8")
    assert re.search(r"\.bd-sidebar-secondary \.toc-entry[^{]*\{[^}]*overflow-wrap: anywhere", css, re.S)
    assert re.search(r"div\.cell_output pre[^{]*\{[^}]*overflow-x: auto", css, re.S)


def test_readme_own_loop_runs_and_gives_the_plain_covariance(tmp_path, monkeypatch, capsys):
    """The README's first example, as written: with ``reg_covar=0.0`` it is ``np.cov(bias=True)`` to rounding."""
    import numpy as np

    code = re.search(r"## Write the loop yourself\s+```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"),
                     re.S).group(1)
    monkeypatch.chdir(tmp_path)
    rows = np.random.default_rng(0).normal(1e3, 2.0, size=(250_000, 3))
    np.save("rows.npy", rows)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    model = namespace.pop("model")
    namespace.clear()
    assert np.allclose(model.mean, rows.mean(axis=0), rtol=1e-12, atol=0)
    assert np.allclose(model.covariance, np.cov(rows.T, bias=True), rtol=1e-10, atol=0)
    # (with the default reg_covar=1e-6 the diagonal would be off by 1e-6 / 4 = 2.5e-7 relative: refused above)
    assert "reg_covar=0.0" in code and capsys.readouterr().out
