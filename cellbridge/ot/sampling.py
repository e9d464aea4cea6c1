"""Drawing index pairs from transport plans, on the plan's device."""

from __future__ import annotations

import torch


def sample_pairs(
    plan: torch.Tensor, n_samples: int, *, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``(i, j)`` index pairs with probability proportional to ``plan[i, j]``, with replacement.

    Inverse-CDF sampling over the flattened plan (a cumulative sum and a binary search), batched over
    problems. Unlike ``torch.multinomial`` it has no limit on the number of categories (``n * m`` reaches
    2^24 at 4096 x 4096), and the cumulative sum is taken in float64 so that the last categories of a
    large plan keep their probability.

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
    cdf = P.reshape(batch, n * m).to(torch.float64).cumsum(dim=1)
    total = cdf[:, -1:]
    u = torch.rand((batch, n_samples), generator=generator, device=P.device, dtype=torch.float64) * total
    flat = torch.searchsorted(cdf, u, right=True).clamp_max_(n * m - 1)
    i, j = flat // m, flat % m
    return (i[0], j[0]) if squeeze else (i, j)
