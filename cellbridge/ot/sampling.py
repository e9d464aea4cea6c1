"""Drawing index pairs from transport plans, on the plan's device."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch


class _BlockedPlan(NamedTuple):
    """A batch of plans with each row cut into blocks of ``width`` columns, and the mass of every block."""

    entries: torch.Tensor  # (batch, n * n_blocks, width): row i's block q is entry i * n_blocks + q
    block_mass: torch.Tensor  # (batch, n, n_blocks)
    n_cols: int


def _block_width(m: int) -> int:
    """Columns per block: a divisor of ``m`` near ``sqrt(m)`` when there is one, else ``ceil(sqrt(m))`` (padded)."""
    root = math.sqrt(m)
    divisors = [w for w in range(max(1, int(root / 2)), int(2 * root) + 1) if m % w == 0]
    return min(divisors, key=lambda w: abs(w - root)) if divisors else math.ceil(root)


def _blocked(P: torch.Tensor) -> _BlockedPlan:
    batch, n, m = P.shape
    width = _block_width(m)
    n_blocks = -(-m // width)
    if n_blocks * width != m:  # zero columns never get drawn
        P = torch.nn.functional.pad(P, (0, n_blocks * width - m))
    blocks = P.reshape(batch, n, n_blocks, width)
    return _BlockedPlan(blocks.reshape(batch, n * n_blocks, width), blocks.sum(dim=3), m)


def _inverse_cdf(weights: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One index per row of ``weights`` ``(..., k)`` drawn proportionally to the row (need not be normalised)."""
    cdf = weights.cumsum(dim=-1)
    w = torch.rand((*cdf.shape[:-1], 1), generator=generator, device=cdf.device, dtype=cdf.dtype)
    idx = torch.searchsorted(cdf, w * cdf[..., -1:], right=True)
    return idx.squeeze(-1).clamp_max_(cdf.shape[-1] - 1)


def _draw_rows(plan: _BlockedPlan, n_samples: int, generator: torch.Generator | None) -> torch.Tensor:
    """``n_samples`` rows ``(batch, n_samples)`` drawn from each plan's row masses (cumulative sum in float64)."""
    row_cdf = plan.block_mass.sum(dim=2).to(torch.float64).cumsum(dim=1)  # (batch, n)
    u = torch.rand((row_cdf.shape[0], n_samples), generator=generator, device=row_cdf.device, dtype=torch.float64)
    return torch.searchsorted(row_cdf, u * row_cdf[:, -1:], right=True).clamp_max_(row_cdf.shape[1] - 1)


def _draw_columns(plan: _BlockedPlan, i: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """A column ``j`` drawn from row ``i[b, k]`` of plan ``b`` for every ``(b, k)``: first its block, then within it."""
    batch, k = i.shape
    n_blocks, width = plan.block_mass.shape[2], plan.entries.shape[2]
    q = _inverse_cdf(torch.gather(plan.block_mass, 1, i.unsqueeze(-1).expand(batch, k, n_blocks)), generator)
    within = torch.gather(plan.entries, 1, (i * n_blocks + q).unsqueeze(-1).expand(batch, k, width))
    return (q * width + _inverse_cdf(within, generator)).clamp_max_(plan.n_cols - 1)


def sample_pairs(
    plan: torch.Tensor, n_samples: int, *, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``(i, j)`` index pairs with probability proportional to ``plan[i, j]``, with replacement.

    Exact inverse-CDF sampling in three stages, batched over problems, with one pass over the plan: each
    row is cut into blocks of about ``sqrt(m)`` columns and the blocks' masses summed (the pass); a row
    ``i`` is drawn from the row masses (cumulative sum in float64 over ``n`` entries), a block from the
    drawn row's block masses, and a column within the block. Per draw this reads ``O(sqrt(m))`` numbers
    instead of the ``m`` of a whole row (timings in ``benchmarks/README.md``). Unlike ``torch.multinomial`` it has no limit on the
    number of categories (``n * m`` reaches 2^24 at 4096 x 4096), and it never holds an ``n * m``
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
    with torch.inference_mode():  # a few dozen small operations: skip autograd's bookkeeping on each
        blocked = _blocked(plan.unsqueeze(0) if squeeze else plan)
        i = _draw_rows(blocked, n_samples, generator)
        j = _draw_columns(blocked, i, generator)
    i, j = i.clone(), j.clone()  # normal tensors for the caller (in-place updates outside inference mode)
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
    with torch.inference_mode():  # as in sample_pairs
        blocked = _blocked(plans)  # one pass over all plans; each step then reads O(sqrt(B)) numbers per chain
        chain = []
        for k in range(plans.shape[0]):
            plan_k = _BlockedPlan(blocked.entries[k : k + 1], blocked.block_mass[k : k + 1], blocked.n_cols)
            if k == 0:
                chain.append(_draw_rows(plan_k, n_samples, generator)[0])
            chain.append(_draw_columns(plan_k, chain[-1].unsqueeze(0), generator)[0])
        chains = torch.stack(chain)
    return chains.clone()
