"""``cb.settings``: package-wide settings.

For now one: :attr:`Settings.verbosity`, how much the package logger prints. By default (``None``)
cellbridge follows scanpy's ``scanpy.settings.verbosity``, read again at every message, so that changing
scanpy's setting later takes effect at once; setting ``cb.settings.verbosity`` overrides it for cellbridge.
"""

from __future__ import annotations

import numbers

#: verbosity names, as scanpy spells them (``scanpy.settings.verbosity`` takes the same names and numbers)
VERBOSITY_NAMES = {"error": 0, "warning": 1, "info": 2, "hint": 3, "debug": 4}


def check_verbosity(value, what: str = "verbosity") -> int:
    """``value`` as a verbosity level 0-4: an int, a scanpy ``Verbosity`` or a name (``"info"``)."""
    if isinstance(value, str):
        if value.lower() not in VERBOSITY_NAMES:
            raise ValueError(f"{what} must be one of {list(VERBOSITY_NAMES)} or 0-4, got {value!r}")
        return VERBOSITY_NAMES[value.lower()]
    # scanpy's Verbosity is an IntEnum, so it is an Integral; a bool is not a verbosity
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what} must be an integer 0-4 or one of {list(VERBOSITY_NAMES)}, not {type(value).__name__}")
    if not 0 <= int(value) <= 4:
        raise ValueError(f"{what} must be between 0 (errors only) and 4 (debug), got {int(value)}")
    return int(value)


class Settings:
    """Package-wide settings of cellbridge, the object ``cb.settings``."""

    def __init__(self) -> None:
        self._verbosity: int | None = None

    @property
    def verbosity(self) -> int | None:
        """What the package logger prints: 0 errors, 1 warnings, 2 info, 3-4 hints and debug messages.

        ``None`` (default): follow ``scanpy.settings.verbosity`` (scanpy's default is 1, warnings), read at
        every message. Set an int 0-4, a name (``"error"``, ``"warning"``, ``"info"``, ``"hint"``,
        ``"debug"``) or a scanpy ``Verbosity`` to override it for cellbridge; set ``None`` to follow scanpy
        again. This decides what cellbridge prints to stderr; a handler you add to the ``"cellbridge"``
        logger yourself receives every record and filters by its own level.
        """
        return self._verbosity

    @verbosity.setter
    def verbosity(self, value) -> None:
        self._verbosity = None if value is None else check_verbosity(value, "cellbridge.settings.verbosity")

    def __repr__(self) -> str:
        return f"cellbridge.settings(verbosity={self._verbosity!r})"


settings = Settings()
