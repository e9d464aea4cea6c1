"""The public names the API reference documents, read from the package itself.

Used by ``conf.py`` (to write one autosummary page per namespace) and by ``check_api_pages.py`` (to
check that the built HTML has a page for every name). A namespace's public names are its ``__all__``
(modules excluded: they are namespaces of their own), or, for a module without ``__all__``, the functions
and classes it defines whose names do not start with an underscore. New names therefore appear in the
reference by themselves.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

#: the namespaces of the reference, in the order of its table of contents: (module, title)
NAMESPACES: list[tuple[str, str]] = [
    ("cellbridge", "The model object"),
    ("cellbridge.pp", "Preprocessing"),
    ("cellbridge.tl", "Tools"),
    ("cellbridge.pl", "Plotting"),
    ("cellbridge.datasets", "Data sets and simulators"),
    ("cellbridge.metrics", "Distribution distances"),
    ("cellbridge.ot", "Optimal transport"),
    ("cellbridge.paths", "Brownian bridges and regression targets"),
    ("cellbridge.sde", "SDE and ODE integration"),
    ("cellbridge.nn", "Networks"),
    ("cellbridge.methods", "Training methods"),
    ("cellbridge.distributed", "Data-parallel training"),
    ("cellbridge.evaluation", "Leave-one-timepoint-out evaluation"),
    ("cellbridge.neighbors", "Simulated states onto observed cells"),
    ("cellbridge.transitions", "Transition matrices between cells"),
    ("cellbridge.fates", "Fates, push and pull"),
    ("cellbridge.grn", "Gene regulatory networks"),
]

#: modules documented beside a namespace although it does not re-export them (their public names that the
#: namespaces above do not already document): the model, its normalisation and default sigma, and the helpers
#: that read a time course from an AnnData. The top level takes only these (its other modules are
#: namespaces of their own, or the command line); a subpackage also takes its submodules with ``__all__``.
EXTRA_MODULES: dict[str, list[str]] = {
    "cellbridge": ["cellbridge.model", "cellbridge.normalization", "cellbridge.timecourse", "cellbridge.time_labels"],
}


def _defined_here(module: ModuleType) -> list[str]:
    return [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and getattr(obj, "__module__", None) == module.__name__
    ]


def public_names(modname: str) -> list[str]:
    """The public names of module ``modname``: its ``__all__`` less submodules, or what it defines."""
    module = importlib.import_module(modname)
    names = getattr(module, "__all__", None)
    if names is None:
        names = _defined_here(module)
    return [n for n in names if not n.startswith("__") and not inspect.ismodule(getattr(module, n))]


def submodules(modname: str) -> list[str]:
    """Public submodules of package ``modname`` (at any depth: a subpackage's too), plus the extras."""
    module = importlib.import_module(modname)
    found = []
    if hasattr(module, "__path__") and modname != "cellbridge":
        for info in pkgutil.walk_packages(module.__path__, f"{modname}."):
            if not any(part.startswith("_") for part in info.name.split(".")):
                found.append(info.name)
    return found + EXTRA_MODULES.get(modname, [])


def submodule_names(modname: str) -> list[str]:
    """The names a submodule's section lists: its ``__all__`` (the extras of :data:`EXTRA_MODULES`: also
    what they define); a submodule without ``__all__`` is documented by its docstring alone, its functions
    and classes being those its package re-exports."""
    module = importlib.import_module(modname)
    if hasattr(module, "__all__") or any(modname in subs for subs in EXTRA_MODULES.values()):
        return public_names(modname)
    return []


def api_tree() -> list[tuple[str, str, list[str], list[tuple[str, list[str]]]]]:
    """``(namespace, title, names, [(submodule, its further names), ...])`` for every namespace.

    Every public submodule gets a section with its docstring (so that references to it resolve), listing
    only the names whose objects no namespace (nor an earlier submodule) documents already, so that each
    object has one page.
    """
    documented: set[int] = set()
    tree = []
    for modname, title in NAMESPACES:
        module = importlib.import_module(modname)
        names = public_names(modname)
        documented.update(id(getattr(module, n)) for n in names)
        tree.append([modname, title, names, []])
    for entry in tree:
        for sub in submodules(entry[0]):
            module = importlib.import_module(sub)
            extra = [n for n in submodule_names(sub) if id(getattr(module, n)) not in documented]
            documented.update(id(getattr(module, n)) for n in extra)
            entry[3].append((sub, extra))
    return [tuple(e) for e in tree]


def all_documented() -> list[tuple[str, object]]:
    """Every documented full name with its object."""
    out = []
    for modname, _, names, subs in api_tree():
        for mod, ns in [(modname, names), *subs]:
            module = importlib.import_module(mod)
            out.extend((f"{mod}.{n}", getattr(module, n)) for n in ns)
    return out
