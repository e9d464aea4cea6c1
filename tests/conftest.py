"""Test-wide settings and fixtures."""

import logging

import pytest
import torch

# The suite runs as `pytest -n 2` on two cores: one torch thread per worker avoids oversubscription, which
# makes small CPU kernels many times slower (threads spin-waiting for a core).
torch.set_num_threads(1)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def cb_log():
    """Records of the ``cellbridge`` logger (it does not propagate, so caplog cannot see them)."""
    handler = _Records()
    logger = logging.getLogger("cellbridge")
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def cb_messages():
    """``(level, message)`` of everything the ``cellbridge`` logger says at info level and above, whatever
    the verbosity settings (for tests of what a call reports, not of the verbosity itself)."""
    handler, messages = logging.Handler(), []
    handler.emit = lambda record: messages.append((record.levelno, record.getMessage()))
    logger = logging.getLogger("cellbridge")
    level, filters = logger.level, list(logger.filters)
    logger.setLevel(logging.INFO)
    logger.filters.clear()
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.filters[:] = filters
