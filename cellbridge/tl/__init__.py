"""Tools: fit dynamics to an AnnData time course, simulate them, read their velocities and cell-to-cell transitions (for CellRank), and evaluate them by leave-one-out."""

from ._cellrank import cellrank_kernel
from ._fates import fates, gene_trends, pull, push
from ._fit import fit
from ._grn import grn
from ._growth import growth_rate
from ._leave_one_out import leave_one_out
from ._simulate import simulate
from ._transitions import transition_matrix
from ._velocity import velocity

__all__ = ["fit", "simulate", "velocity", "leave_one_out", "grn", "transition_matrix", "cellrank_kernel", "fates", "push", "pull",
           "gene_trends", "growth_rate"]
