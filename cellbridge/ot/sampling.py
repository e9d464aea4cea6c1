"""Drawing index pairs from transport plans, on the plan's device."""

from __future__ import annotations

import torch


def sample_pairs(
    plan: torch.Tensor, n_samples: int, *, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``(i, j)`` index pairs with probability proportional to ``plan[i, j]``, with replacement.

    Two-stage inverse-CDF sampling, batched over problems: a row ``i`` from the row sums (cumulative sum in
    float64, ``n`` entries), then a column from the drawn row (cumulative sums in the plan's dtype over
    ``m`` entries per drawn row, where float32 rounding is far below sampling noise). Unlike
    ``torch.multinomial`` it has no limit on the number of categories (``n * m`` reaches 2^24 at
    4096 x 4096), and unlike one cumulative sum over the flattened plan it never holds an ``n * m``
    float64 buffer.

    Parameters
    ----------
    plan
        Non-negative plan ``(n, m)`` or batch ``(batch, n, m)``; need not be normalised (unbalanced plans).
    n_samples
        Pairs to draw per problem.
    generator
        Torch generator on the plan's device, for reproducibility.

    Returns
    -------
    (i, j)
        Row and column indices, each ``(n_samples,)`` or ``(batch, n_samples)``, dtype int64.
    """
    squeeze = plan.ndim == 2
    P = plan.unsqueeze(0) if squeeze else plan
    batch, n, m = P.shape
    row_cdf = P.sum(dim=2, dtype=torch.float64).cumsum(dim=1)
    u = torch.rand((batch, n_samples), generator=generator, device=P.device, dtype=torch.float64)
    i = torch.searchsorted(row_cdf, u * row_cdf[:, -1:], right=True).clamp_max_(n - 1)
    rows = torch.gather(P, 1, i.unsqueeze(-1).expand(batch, n_samples, m))  # (batch, n_samples, m)
    col_cdf = rows.cumsum(dim=2)
    w = torch.rand((batch, n_samples, 1), generator=generator, device=P.device, dtype=P.dtype)
    j = torch.searchsorted(col_cdf, w * col_cdf[:, :, -1:], right=True).squeeze(-1).clamp_max_(m - 1)
    return (i[0], j[0]) if squeeze else (i, j)


def sample_chains(plans: torch.Tensor, n_samples: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw index chains ``(i_0, ..., i_{K-1})`` through ``K - 1`` consecutive plans (a Markov chain).

    ``i_0`` is drawn from the first plan's row sums, and each ``i_{k+1}`` from row ``i_k`` of ``plans[k]``
    (normalised), so consecutive indices are distributed as ``plans[k]`` whenever the column sums of
    ``plans[k-1]`` equal the row sums of ``plans[k]`` (balanced plans between the same cells). This glues
    the pairwise couplings of a time course into trajectories through every time point, the multi-marginal
    coupling that spline paths (:func:`cellbridge.paths.spline_path`) are drawn through.

    Parameters
    ----------
    plans
        Non-negative plans ``(K - 1, B, B)``: ``plans[k]`` couples the cells drawn at time point ``k`` with
        those at ``k + 1``.
    n_samples
        Chains to draw.
    generator
        Torch generator on the plans' device.

    Returns
    -------
    torch.Tensor
        Indices ``(K, n_samples)``, int64: row ``k`` indexes the cells drawn at time point ``k``.
    """
    if plans.ndim != 3 or plans.shape[1] != plans.shape[2]:
        raise ValueError(f"plans must be (K - 1, B, B), got shape {tuple(plans.shape)}")
    n_int, B, _ = plans.shape
    start, _ = sample_pairs(plans[0], n_samples, generator=generator)
    chain = [start]
    for k in range(n_int):
        rows = plans[k][chain[-1]]  # (n_samples, B): the conditional law of the next index
        cdf = rows.cumsum(dim=1)
        w = torch.rand((n_samples, 1), generator=generator, device=plans.device, dtype=plans.dtype)
        chain.append(torch.searchsorted(cdf, w * cdf[:, -1:], right=True).squeeze(-1).clamp_max_(B - 1))
    return torch.stack(chain)
