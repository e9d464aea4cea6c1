"""Preprocessing: make an AnnData time course ready for :func:`cellbridge.tl.fit`."""

from ._prepare import prepare
from ._refine_time import refine_time

__all__ = ["prepare", "refine_time"]
