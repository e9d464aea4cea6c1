"""The project's reference data (``../shared/data`` from the repository root) for the tests of
:mod:`cellbridge.datasets`, imported by the test modules next to this one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).parents[2].parent / "shared" / "data"


def need(path: Path) -> Path:
    """``path`` when it exists; otherwise the test is skipped, or fails under CI (env ``CI``), which must
    have the shared data folder."""
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing (CI must have the shared data folder)")
        pytest.skip(f"shared data not available: {path}")
    return path
