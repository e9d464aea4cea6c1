"""Sphinx configuration of the cellbridge documentation.

Build (from the repository root)::

    pip install -e ".[docs]"
    python -m sphinx -W --keep-going -b html docs docs/_build/html

Two folders of the source tree are written here at every build and are git-ignored:

* ``api/``: one page per namespace, listing its public names (``api_names.py``: a namespace's ``__all__``,
  or what a module without one defines), from which autosummary writes one page per name under
  ``api/generated/``. A name added to a namespace appears in the reference without editing these docs.
* ``tutorials/``: copies of the notebooks in ``../tutorials/``, rendered from their committed outputs and
  never executed (``nb_execution_mode = "off"``).
"""

from __future__ import annotations

import importlib
import inspect
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))  # api_names
sys.path.insert(0, str(ROOT))  # the package, also when it is not installed

import cellbridge  # noqa: E402
from api_names import api_tree  # noqa: E402

# -- project -----------------------------------------------------------------------------------------------
project = "cellbridge"
author = "cellbridge developers"
copyright = "cellbridge developers, BSD-3-Clause"
release = cellbridge.__version__
version = release

# -- extensions --------------------------------------------------------------------------------------------
extensions = [
    "myst_nb",  # Markdown pages (MyST) and notebooks; includes myst_parser
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",  # the docstrings are numpydoc-style
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]
# no intersphinx: the build runs without network, so no inventories are fetched
nitpicky = False

templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"

# -- autodoc / autosummary / numpydoc ----------------------------------------------------------------------
autosummary_generate = True
autosummary_generate_overwrite = True
autodoc_member_order = "bysource"
# types live in the signatures (the docstrings name parameters without types, often several in one entry,
# "x, t", which numpydoc keeps together; napoleon repeated the text once per name and read a colon in the
# first line of a property's docstring as its type)
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
maximum_signature_line_length = 100  # longer signatures get one parameter per line
add_module_names = False
numpydoc_show_class_members = False  # a class page documents its members itself (autoclass :members:)
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- MyST and notebooks ------------------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # tutorials are rendered from their committed outputs, never re-executed
nb_merge_streams = True

# -- HTML --------------------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"cellbridge {release}"
html_static_path: list[str] = []


# -- generated sources -------------------------------------------------------------------------------------
def _underline(text: str, char: str) -> str:
    return f"{text}\n{char * len(text)}\n"


def _autosummary(module: str, names: list[str]) -> str:
    items = "".join(f"   {n}\n" for n in names)
    return f".. currentmodule:: {module}\n\n.. autosummary::\n   :toctree: generated\n   :nosignatures:\n\n{items}\n"


def write_api_pages() -> None:
    """``api/index.rst`` and one page per namespace, from the package's public names."""
    api = HERE / "api"
    api.mkdir(exist_ok=True)
    tree = api_tree()
    pages = []
    for modname, title, names, subs in tree:
        text = [_underline(f"{modname}: {title.lower()}", "=")]
        text.append(f".. automodule:: {modname}\n   :no-members:\n\n")
        text.append(_autosummary(modname, names))
        for sub, sub_names in subs:
            text.append(_underline(f"``{sub}``", "-"))
            # a submodule named like a function of its package (evaluation.leave_one_out) is not indexed
            # as a module, so that the name is the function's only
            parent, leaf = sub.rsplit(".", 1)
            same_name = getattr(importlib.import_module(parent), leaf, None)
            shadowed = same_name is not None and not inspect.ismodule(same_name)
            text.append(f".. automodule:: {sub}\n   :no-members:\n" + ("   :no-index:\n" if shadowed else "") + "\n")
            if sub_names:
                text.append(_autosummary(sub, sub_names))
        page = api / f"{modname}.rst"
        content = "\n".join(text)
        if not page.exists() or page.read_text() != content:  # unchanged pages keep their time stamps
            page.write_text(content)
        pages.append(modname)
    # autosummary never removes the page of a name that has gone (renamed, moved): an orphan page would
    # fail the build, so drop it here
    current = {f"{mod}.{n}" for modname, _, names, subs in tree for mod, ns in [(modname, names), *subs] for n in ns}
    for stale in (api / "generated").glob("*.rst"):
        if stale.stem not in current:
            stale.unlink()
    toc = "".join(f"   {p}\n" for p in pages)
    index = (
        _underline("API reference", "=")
        + "\nOne page per public function and class, by namespace. ``cb`` stands for ``import cellbridge as cb``:\n"
        "``cb.pp``, ``cb.tl`` and ``cb.pl`` work on an AnnData; the other namespaces are AnnData-free cores that\n"
        "take arrays or tensors.\n\n"
        f".. toctree::\n   :maxdepth: 1\n\n{toc}"
    )
    if not (api / "index.rst").exists() or (api / "index.rst").read_text() != index:
        (api / "index.rst").write_text(index)


def copy_tutorials() -> None:
    """Copy ``../tutorials/*.ipynb`` into ``tutorials/`` (only when changed, to keep incremental builds)."""
    dest = HERE / "tutorials"
    dest.mkdir(exist_ok=True)
    sources = sorted((ROOT / "tutorials").glob("*.ipynb"))
    for old in dest.glob("*.ipynb"):
        if old.name not in {s.name for s in sources}:
            old.unlink()
    for src in sources:
        target = dest / src.name
        if not target.exists() or target.read_bytes() != src.read_bytes():
            shutil.copyfile(src, target)


# -- constants: their ``#:`` comments ---------------------------------------------------------------------
_BUILTIN_TYPES = (dict, list, tuple, set, frozenset, str, bytes, int, float, bool, type(None))
_analyzed: dict[str, dict] = {}


def _attr_comment(name: str, obj: object) -> list[str] | None:
    """The ``#:`` comment of the constant ``name`` (``pkg.mod.NAME``) in whichever cellbridge module
    assigns it: a namespace re-exports constants whose comments live in the submodule that defines them."""
    from sphinx.pycode import ModuleAnalyzer

    modname, attr = name.rsplit(".", 1)
    # the module that assigns a re-exported constant has been imported by its namespace already
    loaded = sorted(m for m in sys.modules if m.startswith("cellbridge.") and not m.endswith("__main__"))
    for mod in [modname, *loaded]:
        module = sys.modules.get(mod)
        if module is None or getattr(module, attr, None) is not obj:
            continue
        if mod not in _analyzed:
            try:
                _analyzed[mod] = ModuleAnalyzer.for_module(mod).find_attr_docs()
            except Exception:
                _analyzed[mod] = {}
        doc = _analyzed[mod].get(("", attr))
        if doc:
            return list(doc)
    return None


def constant_docstring(app, what, name, obj, options, lines) -> None:
    """A constant re-exported by a namespace is documented by its ``#:`` comment where it is assigned;
    without one it has no description (never the docstring of its type, ``dict`` or ``tuple``)."""
    if what != "data":
        return
    comment = _attr_comment(name, obj)
    if comment is not None:
        lines[:] = comment
    elif isinstance(obj, _BUILTIN_TYPES):
        lines[:] = []


def setup(app) -> None:
    # before numpydoc (priority 500) rewrites the docstring, so that it formats the comment, not dict's doc
    app.connect("autodoc-process-docstring", constant_docstring, priority=400)


write_api_pages()
copy_tutorials()
