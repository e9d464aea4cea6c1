"""One entry point from two point clouds to a coupling: cost, regularisation and solver in one call."""

from __future__ import annotations

from typing import Literal

import torch

from .cost import sq_euclidean
from .exact import exact_plan
from .sinkhorn import sinkhorn

CouplingMethod = Literal["entropic", "exact", "independent"]


def coupling(
    x: torch.Tensor,
    y: torch.Tensor,
    method: CouplingMethod = "entropic",
    *,
    eps: float | torch.Tensor | None = None,
    eps_rel: float | None = None,
    reg_m: float | None = None,
    **sinkhorn_kwargs,
) -> torch.Tensor:
    """Couple point clouds ``x`` and ``y`` (uniform weights) under the squared Euclidean cost.

    Parameters
    ----------
    x, y
        Points ``(n, d)``/``(m, d)`` or batches ``(batch, n, d)``/``(batch, m, d)``.
    method
        ``"entropic"`` (Sinkhorn in torch, on the device), ``"exact"`` (network simplex on the host) or
        ``"independent"`` (the product of the marginals, as in I-CFM).
    eps
        Absolute entropic regularisation; for a Brownian reference of diffusion sigma over an interval of
        length Delta the static Schrodinger bridge has ``eps = 2 sigma^2 Delta``.
    eps_rel
        Regularisation relative to the mean cost of each problem (used instead of ``eps`` when given).
    reg_m
        Marginal relaxation for unbalanced transport (entropic only).
    **sinkhorn_kwargs
        Passed to :func:`cellbridge.ot.sinkhorn`.

    Returns
    -------
    torch.Tensor
        The plan ``(n, m)`` or ``(batch, n, m)``.
    """
    if method == "independent":
        shape = (*x.shape[:-1], y.shape[-2])
        return torch.full(shape, 1.0 / (x.shape[-2] * y.shape[-2]), dtype=x.dtype, device=x.device)
    cost = sq_euclidean(x, y)
    if method == "exact":
        if reg_m is not None:
            raise ValueError("unbalanced transport (reg_m) needs method='entropic'")
        return exact_plan(cost)
    if method != "entropic":
        raise ValueError(f"unknown coupling method {method!r}: use 'entropic', 'exact' or 'independent'")
    if eps_rel is not None:
        if eps_rel <= 0:
            raise ValueError("eps_rel must be positive")
        eps = eps_rel * cost.mean(dim=(-2, -1))
    if eps is None:
        raise ValueError("entropic coupling needs eps or eps_rel")
    # the cost was built for this call: the plan can take its memory
    return sinkhorn(cost, eps=eps, reg_m=reg_m, overwrite_cost=True, **sinkhorn_kwargs).plan
