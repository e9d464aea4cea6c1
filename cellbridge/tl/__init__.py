"""Tools: fit dynamics to an AnnData time course, simulate them, read their velocities, and evaluate them by leave-one-out."""

from ._fit import fit
from ._grn import grn
from ._leave_one_out import leave_one_out
from ._simulate import simulate
from ._velocity import velocity

__all__ = ["fit", "simulate", "velocity", "leave_one_out", "grn"]
