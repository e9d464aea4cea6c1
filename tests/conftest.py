"""Test-wide settings and fixtures."""

import logging
import os

# The suite runs as `pytest -n 2` on two cores: one thread per worker avoids oversubscription, which makes
# small CPU kernels many times slower (threads spin-waiting for a core). Numba (scanpy, scVelo, CellRank)
# reads its thread count when first imported, so it is set before any test module imports them; torch and
# the OpenMP / BLAS pools (scikit-learn's neighbour search, NumPy) are limited here.
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

torch.set_num_threads(1)
threadpool_limits(1)


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
