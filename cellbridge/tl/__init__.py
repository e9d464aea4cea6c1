"""Tools: fit dynamics to an AnnData time course and simulate them."""

from ._fit import fit
from ._simulate import simulate

__all__ = ["fit", "simulate"]
