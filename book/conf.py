"""Sphinx configuration of the course's book (``make book``; see book/build.py).

book/build.py copies this file into the staging folder next to the executed notebooks and a
``book.json`` that holds what changes from build to build (mode, repository, commit).
"""

import json
from pathlib import Path

settings = json.loads((Path(__file__).parent / "book.json").read_text(encoding="utf-8"))

project = settings["title"]
author = "the course's authors"
copyright = settings["year"]  # noqa: A001 (Sphinx's name)
extensions = ["myst_nb", "sphinx_copybutton"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "book.json"]

# The notebooks were executed by `make course`; the book shows those outputs, never its own.
nb_execution_mode = "off"
nb_ipywidgets_js = {}  # widget outputs are made static by build.py: no require.js from a CDN
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

# MathJax 3 from the site itself (build.py copies it into _static/mathjax): no CDN.
mathjax_path = "mathjax/tex-chtml.js"
mathjax3_config = {"tex": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]]}}

html_theme = "sphinx_book_theme"
html_title = settings["title"]
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_last_updated_fmt = None
html_context = {"default_mode": "light"}  # none set: the theme logs a console error
html_theme_options = {
    "repository_url": settings["repository"],
    "repository_branch": settings["branch"],
    "path_to_docs": "notebooks",
    "use_repository_button": True,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "launch_buttons": {"colab_url": "https://colab.research.google.com"},
    "show_toc_level": 2,
    "announcement": settings["announcement"],
}
