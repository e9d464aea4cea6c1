"""Transport costs between point clouds, batched, on the tensors' device."""

from __future__ import annotations

import torch


def sq_euclidean(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean cost ``C[..., i, j] = |x_i - y_j|^2``.

    Parameters
    ----------
    x
        Points of shape ``(..., n, d)``.
    y
        Points of shape ``(..., m, d)`` with the same leading shape.

    Returns
    -------
    torch.Tensor
        Cost of shape ``(..., n, m)``, clamped at zero (the expansion below can round slightly negative).
    """
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[-1]} and {y.shape[-1]}")
    # |x|^2 + |y|^2 - 2 x.y is one matrix product: far faster than pairwise differences at n = m = 4096.
    x2 = (x * x).sum(-1, keepdim=True)
    y2 = (y * y).sum(-1).unsqueeze(-2)
    if x.ndim not in (2, 3):
        return (x2 + y2 - 2.0 * x @ y.transpose(-1, -2)).clamp_min_(0.0)
    # everything in one n x m buffer: on the CPU each fresh n x m allocation costs more than a pass of
    # arithmetic over it (page faults), and the matrix product accumulates into the sum in place
    cost = torch.add(x2, y2)
    product = cost.baddbmm_ if x.ndim == 3 else cost.addmm_
    return product(x, y.transpose(-1, -2), alpha=-2.0).clamp_min_(0.0)
