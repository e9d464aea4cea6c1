"""Preprocessing: make an AnnData time course ready for :func:`cellbridge.tl.fit`."""

from ._prepare import prepare

__all__ = ["prepare"]
