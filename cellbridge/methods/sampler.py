"""Minibatches over the consecutive intervals of a time course, drawn on the device.

Shared by every method: a training step draws ``batch_size`` cells from the start and from the end of
every interval at once, as tensors of shape ``(n_intervals, batch_size, d)``, so that all intervals are
coupled by one batched OT solve and regressed by one network call.
"""

from __future__ import annotations

import numpy as np
import torch


class IntervalSampler:
    """Cells of a time course grouped by time point, on the device.

    Parameters
    ----------
    x
        States ``(n_cells, d)``.
    t
        Time of each cell ``(n_cells,)``; cells with equal times form a snapshot.
    device
        Where the cells live and batches are drawn.

    Attributes
    ----------
    time_points
        Sorted distinct times ``(K,)`` as a NumPy array.
    t0, t1
        Start and end of each of the ``K - 1`` intervals, tensors on the device.
    """

    def __init__(self, x: np.ndarray | torch.Tensor, t: np.ndarray | torch.Tensor, device: torch.device | str = "cpu"):
        t_np = np.asarray(t.cpu() if isinstance(t, torch.Tensor) else t, dtype=np.float64)
        x_t = torch.as_tensor(x, dtype=torch.float32)
        if x_t.ndim != 2 or len(x_t) != len(t_np):
            raise ValueError("x must be (n_cells, d) with one time per cell")
        self.time_points, inverse, counts = np.unique(t_np, return_inverse=True, return_counts=True)
        if len(self.time_points) < 2:
            raise ValueError("a time course needs at least two time points")
        order = np.argsort(inverse, kind="stable")
        self.device = torch.device(device)
        self.x = x_t[torch.as_tensor(order)].contiguous().to(self.device)
        self.counts = torch.as_tensor(counts, dtype=torch.float64, device=self.device)
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.offsets = torch.as_tensor(offsets, dtype=torch.long, device=self.device)
        tp = torch.as_tensor(self.time_points, dtype=torch.float32, device=self.device)
        self.t0, self.t1 = tp[:-1], tp[1:]
        self.dim = self.x.shape[1]

    @property
    def n_intervals(self) -> int:
        return len(self.time_points) - 1

    def _draw(self, which: slice, batch_size: int, generator: torch.Generator | None) -> torch.Tensor:
        counts, offsets = self.counts[which], self.offsets[which]
        u = torch.rand((len(counts), batch_size), generator=generator, device=self.device, dtype=torch.float64)
        idx = offsets[:, None] + (u * counts[:, None]).long()
        return self.x[idx]

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw ``batch_size`` cells, with replacement, from each side of every interval.

        With replacement keeps the draw one vectorised operation whatever the snapshot sizes; a snapshot
        smaller than the batch simply contributes repeated cells, each carrying its share of the mass.

        Returns
        -------
        (x0, x1)
            Tensors ``(n_intervals, batch_size, d)``: cells from the start and from the end of each interval.
        """
        x0 = self._draw(slice(0, -1), batch_size, generator)
        x1 = self._draw(slice(1, None), batch_size, generator)
        return x0, x1

    def sample_time_points(self, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``batch_size`` cells, with replacement, at every time point: ``(K, batch_size, d)``.

        Unlike :meth:`sample`, each draw serves both intervals its time point belongs to, so that plans of
        consecutive intervals can be chained (:func:`cellbridge.ot.sample_chains`).
        """
        return self._draw(slice(None), batch_size, generator)
