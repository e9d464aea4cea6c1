"""Docstrings completed from shared parameter descriptions, so that each description is written once.

A function documented with :func:`document` keeps, in its source, only its summary and notes; the
numpydoc ``Parameters`` and ``Returns`` sections are added at import, so that ``help()`` and Sphinx read a
complete docstring.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping

#: numpydoc sections that come after Parameters and Returns
_LATER_SECTIONS = ("Yields", "Receives", "Raises", "Warns", "Warnings", "See Also", "Notes", "References",
                   "Examples")


def _indent(text: str) -> str:
    return "\n".join("    " + line if line else "" for line in inspect.cleandoc(text).split("\n"))


def document(shared: Mapping[str, str], rtype: str, returns: str, own: Mapping[str, str] | None = None) -> Callable:
    """Decorator: complete a docstring with the ``Parameters`` and ``Returns`` sections of its function.

    Parameters
    ----------
    shared
        Descriptions by parameter name; a key ``"a, b"`` documents parameters ``a`` and ``b`` together.
    rtype, returns
        The type and the description of the result.
    own
        The function's own descriptions, which take precedence over ``shared``.

    Returns
    -------
    Callable
        The decorator. It lists the parameters in signature order (every one needs a description), and
        puts the sections before any later section (``Raises``, ``Examples``, ...) of the docstring.
    """

    def complete(func: Callable) -> Callable:
        described = {**shared, **(own or {})}
        entry_of = {name: key for key in described for name in key.split(", ")}
        names = list(inspect.signature(func).parameters)
        missing = [n for n in names if n not in entry_of]
        if missing:
            raise KeyError(f"{func.__qualname__}: no description for the parameters {missing}")
        entries = dict.fromkeys(entry_of[n] for n in names)
        params = "\n".join(f"{entry}\n{_indent(described[entry])}" for entry in entries)
        sections = f"Parameters\n----------\n{params}\n\nReturns\n-------\n{rtype}\n{_indent(returns)}"
        lines = inspect.cleandoc(func.__doc__ or "").split("\n")
        at = next((k for k in range(len(lines) - 1)
                   if lines[k] in _LATER_SECTIONS and set(lines[k + 1]) == {"-"}), len(lines))
        head, tail = "\n".join(lines[:at]).rstrip(), "\n".join(lines[at:])
        func.__doc__ = f"{head}\n\n{sections}\n" + (f"\n{tail}\n" if tail else "")
        return func

    return complete
