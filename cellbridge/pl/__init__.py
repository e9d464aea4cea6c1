"""Plotting: matplotlib figures of time courses and fitted dynamics (scanpy-style ``pl`` namespace)."""

from __future__ import annotations

from ._trajectories import trajectories

__all__ = ["trajectories"]
