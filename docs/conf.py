"""Sphinx configuration of the sklearn-multihead documentation.

Build it with ``python -m sphinx -W -b html docs docs/_build/html`` after
``pip install ".[docs]"``. The examples are rendered as a gallery without
being run (sphinx-gallery runs only files named ``plot_*``).
"""

from sklearn_multihead import __version__

project = "sklearn-multihead"
author = "the sklearn-multihead developers"
copyright = "the sklearn-multihead developers, BSD 3-Clause"
release = version = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

autosummary_generate = True
autodoc_default_options = {"members": True}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# numpydoc's cross-references of parameter types would need every type
# named in a docstring to resolve: off, the types are read as text
numpydoc_xref_param_type = False

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",  # render, do not run: no example is plot_*
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
}

templates_path = ["_templates"]
exclude_patterns = ["_build"]
html_theme = "pydata_sphinx_theme"
html_title = "sklearn-multihead"
html_theme_options = {"navigation_with_keys": False}
html_static_path = []
