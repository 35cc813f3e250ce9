"""Sphinx configuration for the suffstats documentation.

Build with ``sphinx-build -W -n -b html docs docs/_build/html`` (the test suite does,
``tests/test_docs.py``): every warning is an error and, with ``nitpicky``, so is every
reference that does not resolve.

Links to other projects' docs (intersphinx)
    Not used, on purpose. Intersphinx fetches each project's ``objects.inv`` over the network
    at build time, and the documentation is built where there is no network (CI, the test
    suite); none of NumPy, SciPy, scikit-learn, Dask or CuPy ships its inventory inside the
    installed package, so there is nothing local to point it at. Names from those projects
    are written as plain text (``numpy.memmap``) in our prose; where they come in through
    signatures or through docstrings we inherit (scikit-learn's ``get_params``,
    ``set_fit_request``...), :data:`nitpick_ignore_regex` below accepts them -- only names of
    those projects and of the Python standard library, never a ``suffstats`` name.
"""

from __future__ import annotations

import re

import suffstats

project = "suffstats"
author = "suffstats developers"
copyright = "suffstats developers"
release = version = suffstats.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "numpydoc",
    "myst_nb",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "jupyter_execute"]
source_suffix = {".rst": "restructuredtext", ".ipynb": "myst-nb"}

# -- API pages -------------------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"          # types are written in the numpydoc sections
numpydoc_show_class_members = False  # the class template lists every method and attribute
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = False

# -- every reference must resolve -------------------------------------------------------------
nitpicky = True
_EXTERNAL = r"(numpy|np|scipy|sklearn|dask|cupy|h5py|zarr|pyarrow|tqdm|threadpoolctl|numba|pathlib|os|typing" \
            r"|collections|concurrent|dataclasses|io|json|argparse|enum)"
_BUILTINS = r"(int|float|str|bytes|bool|dict|list|tuple|set|object|callable|None|type|Exception|ValueError" \
            r"|TypeError|RuntimeError|Warning|UserWarning|RuntimeWarning|ndarray|array-like|array_like|iterable" \
            r"|Generator|Path)"
nitpick_ignore_regex = [
    (r"py:.*", _EXTERNAL + r"(\..*)?"),
    (r"py:.*", _BUILTINS),
    # scikit-learn's inherited docstrings (get_params, set_fit_request, ...) name its own guide pages.
    (r"std:ref", r"(metadata_routing|.*sklearn.*)"),
]

# -- notebooks (the gallery) --------------------------------------------------------------------
# The notebooks are stored with the outputs of a full-size run; the docs show those. The test
# suite executes each notebook separately at a small size (tests/test_notebooks.py).
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath"]
suppress_warnings = ["mystnb.unknown_mime_type"]

# -- HTML ---------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = "suffstats"
html_static_path = ["_static"]
# Long names wrap in the sidebars; long notebook and code lines scroll instead of being cut.
html_css_files = ["suffstats.css"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_sidebars = {"index": []}


def _plain_external_roles(app, what, name, obj, options, lines):
    """Docstrings inherited from scikit-learn refer to its own guide; show those as plain text."""
    module = getattr(obj, "__module__", "") or ""
    if not module.startswith("sklearn"):
        return
    pattern = re.compile(r":(?:ref|doc|term):`([^`<]*?)\s*(?:<[^>]*>)?`")
    lines[:] = [pattern.sub(lambda m: m.group(1).strip() or "this", line) for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", _plain_external_roles)
