"""Exact (unregularised) optimal transport plans with POT's network simplex.

The network simplex runs on the host in C++, in float64: this is the one place where the OT core leaves
the device. It is the sigma -> 0 limit of the entropic plan and the reference for metrics.
"""

from __future__ import annotations

import numpy as np
import ot as pot
import torch

from .._logging import logger


def exact_plan(
    cost: torch.Tensor,
    a: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    *,
    max_iter: int = 1_000_000,
) -> torch.Tensor:
    """Exact optimal transport plan(s) for a cost ``(n, m)`` or a batch ``(batch, n, m)``.

    Parameters
    ----------
    cost
        Cost matrix or batch of cost matrices, any device and float dtype. It is solved in float64: a
        float64 cost as it is, a float32 one widened (so nothing is lost on the way to the solver).
    a, b
        Marginal weights (uniform if None), shaped like the rows and columns of ``cost``.
    max_iter
        Network simplex iteration limit; a warning is logged if it is reached (the plan is then only
        approximately optimal).

    Returns
    -------
    torch.Tensor
        The plan(s), on ``cost``'s device and dtype (float64 in, float64 out).
    """
    squeeze = cost.ndim == 2
    C = cost.unsqueeze(0) if squeeze else cost
    batch, n, m = C.shape
    C64 = C.detach().to("cpu", torch.float64).numpy()

    def weights(w, k):
        if w is None:
            return np.full((batch, k), 1.0 / k)
        w = torch.as_tensor(w).detach().to("cpu", torch.float64).numpy()
        return np.broadcast_to(w, (batch, k))

    wa, wb = weights(a, n), weights(b, m)
    plans = np.empty_like(C64)
    for i in range(batch):
        plans[i], log = pot.emd(wa[i], wb[i], C64[i], numItermax=max_iter, log=True)
        if log.get("warning"):
            logger.warning(f"exact OT: {log['warning']}")
    out = torch.from_numpy(plans).to(device=cost.device, dtype=cost.dtype)
    return out[0] if squeeze else out
