"""Sphinx configuration for the suffstats documentation."""

project = "suffstats"
author = "suffstats developers"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "numpydoc"]
numpydoc_show_class_members = False
autodoc_default_options = {"members": False}
numpydoc_show_inherited_class_members = False
html_theme = "alabaster"
exclude_patterns = ["_build"]
nitpicky = False
