"""The package logger. Library code logs through it and never prints."""

from __future__ import annotations

import logging

logger = logging.getLogger("cellbridge")
if not logger.handlers:
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("cellbridge: %(message)s"))
    logger.addHandler(_handler)
    logger.setLevel(logging.INFO)
    # Our own handler formats the message; do not print it twice through the root logger.
    logger.propagate = False
