"""The package logger. Library code logs through it and never prints.

What it prints follows scanpy: ``scanpy.settings.verbosity`` (0 error, 1 warning, 2 info, 3 hint and 4
debug, both of which print debug messages), unless ``cellbridge.settings.verbosity`` is set. The level is
read at every message (a :class:`logging.Filter` on the package's handler), so changing either setting
later takes effect at once. When scanpy has not been imported its setting is still its default,
:data:`SCANPY_DEFAULT_VERBOSITY`, so cellbridge does not import scanpy to find it out.

The logger itself passes every record (level DEBUG) to its handlers: the package's own (stderr, filtered
by the verbosity) and any a user adds, which filter by their own level.
"""

from __future__ import annotations

import logging
import sys

from ._settings import settings

#: scanpy's default verbosity (``scanpy.settings.verbosity`` before anyone sets it): warnings
SCANPY_DEFAULT_VERBOSITY = 1

#: Python logging level that each verbosity lets through
_LEVELS = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO, 3: logging.DEBUG, 4: logging.DEBUG}


def verbosity() -> int:
    """The verbosity in effect now: ``cellbridge.settings.verbosity`` if set, else scanpy's."""
    if settings.verbosity is not None:
        return settings.verbosity
    scanpy = sys.modules.get("scanpy")
    if scanpy is None:  # not imported: nobody can have changed it
        return SCANPY_DEFAULT_VERBOSITY
    try:
        level = int(scanpy.settings.verbosity)
    except (AttributeError, TypeError, ValueError):  # scanpy half-imported, or an unexpected value
        return SCANPY_DEFAULT_VERBOSITY
    return min(max(level, 0), 4)


def level() -> int:
    """The Python logging level the current verbosity prints (``logging.WARNING`` for verbosity 1)."""
    return _LEVELS[verbosity()]


class VerbosityFilter(logging.Filter):
    """Let a record through when its level is at least the one the current verbosity prints."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= level()


logger = logging.getLogger("cellbridge")
if not logger.handlers:
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("cellbridge: %(message)s"))
    _handler.addFilter(VerbosityFilter())
    logger.addHandler(_handler)
    logger.setLevel(logging.DEBUG)
    # Our own handler formats the message; do not print it twice through the root logger.
    logger.propagate = False

#: the package's own stderr handler, the one the verbosity filters (None when the application configured
#: the "cellbridge" logger before cellbridge was imported: then its handlers decide)
handler = next((h for h in logger.handlers if any(isinstance(f, VerbosityFilter) for f in h.filters)), None)
