"""Sphinx configuration of fpsolve's documentation (``make docs``).

Sources are Markdown (MyST, Debian ``python3-myst-parser``) beside this file;
the API reference is autodoc of the docstrings.  Everything comes from Debian
packages (``scripts/debian-packages.txt``); nothing is fetched at build time.
"""

import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)  # the checkout's fpsolve, also without `make setup`

project = "fpsolve"
author = "the fpsolve developers"
copyright = "the fpsolve developers"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# headings become link targets (#model-options) as GitHub renders them
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
# type hints stay in the signatures; they name numpy/mpi4py/UFL classes that
# have no page here
autodoc_typehints = "signature"

napoleon_google_docstring = True
napoleon_numpy_docstring = True

html_theme = "alabaster"
html_title = "fpsolve"
# a plain, offline build: no search index language downloads, no sources copied
html_copy_source = False
