"""Plotting: matplotlib figures of time courses and fitted dynamics (scanpy-style ``pl`` namespace)."""

from __future__ import annotations

from ._fates import fates
from ._gene_trends import gene_trends
from ._grn import grn_graph, grn_heatmap
from ._growth import growth_rate
from ._leave_one_out import leave_one_out, leave_one_out_cells
from ._trajectories import trajectories

__all__ = ["trajectories", "fates", "gene_trends", "leave_one_out", "leave_one_out_cells", "grn_heatmap", "grn_graph",
           "growth_rate"]
