"""Optimal transport on the device: costs, entropic and exact plans, unbalanced plans, pair sampling, and
the minibatch coupling the training methods use.

AnnData-free; every function takes and returns torch tensors on the caller's device.
"""

from .cost import sq_euclidean
from .coupling import coupling
from .exact import exact_plan
from .minibatch import MinibatchCoupling
from .sampling import sample_chains, sample_pairs
from .sinkhorn import SinkhornOutput, sinkhorn

__all__ = ["sq_euclidean", "coupling", "exact_plan", "MinibatchCoupling", "sample_pairs", "sample_chains", "sinkhorn", "SinkhornOutput"]
