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
