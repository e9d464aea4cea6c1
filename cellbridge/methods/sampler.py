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
    rates
        Prior growth rate of each cell ``(n_cells,)`` (log-mass per unit of ``t``), or None (no prior): the
        source mass of a cell in an interval of length ``Delta`` is proportional to ``exp(rate Delta)``.
    population
        Relative population size of each time point ``(K,)`` (sorted by time), or None (unknown: every
        snapshot carries mass 1, so that only relative growth can be learned).

    Attributes
    ----------
    time_points
        Sorted distinct times ``(K,)`` as a NumPy array.
    t0, t1
        Start and end of each of the ``K - 1`` intervals, tensors on the device.
    """

    def __init__(self, x: np.ndarray | torch.Tensor, t: np.ndarray | torch.Tensor, device: torch.device | str = "cpu",
                 *, rates: np.ndarray | None = None, population: np.ndarray | None = None):
        t_np = np.asarray(t.cpu() if isinstance(t, torch.Tensor) else t, dtype=np.float64)
        x_t = torch.as_tensor(x, dtype=torch.float32)
        if x_t.ndim != 2 or len(x_t) != len(t_np):
            raise ValueError("x must be (n_cells, d) with one time per cell")
        self.time_points, inverse, counts = np.unique(t_np, return_inverse=True, return_counts=True)
        if len(self.time_points) < 2:
            raise ValueError("a time course needs at least two time points")
        order = np.argsort(inverse, kind="stable")
        self.device = torch.device(device)
        # the cells stay in the caller's order (no sorted copy: on the CPU, no copy at all); draws are made
        # in time-sorted positions and mapped to rows through the permutation
        self.x = x_t.contiguous().to(self.device)
        self._rows = None if np.array_equal(order, np.arange(len(order))) else torch.as_tensor(order, device=self.device)
        self.counts = torch.as_tensor(counts, dtype=torch.float64, device=self.device)
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.offsets = torch.as_tensor(offsets, dtype=torch.long, device=self.device)
        tp = torch.as_tensor(self.time_points, dtype=torch.float32, device=self.device)
        self.t0, self.t1 = tp[:-1], tp[1:]
        self.dim = self.x.shape[1]
        self._order = order
        self.set_masses(rates, population)
        self._last: tuple | None = None  # (which draw, indices) of the last draw, for :meth:`marginals`

    def set_masses(self, rates: np.ndarray | None = None, population: np.ndarray | None = None) -> None:
        """Set the prior growth ``rates`` (one per cell, in the order given to the constructor) and the
        relative ``population`` size of each time point (see the class parameters); None clears them."""
        self.rates = None
        if rates is not None:
            rates = np.asarray(rates, dtype=np.float64)
            if rates.shape != self._order.shape or not np.isfinite(rates).all():
                raise ValueError("rates must hold one finite prior growth rate per cell")
            self.rates = torch.as_tensor(rates[self._order], dtype=torch.float32, device=self.device)
        log_pop = np.zeros(len(self.time_points))
        if population is not None:
            population = np.asarray(population, dtype=np.float64)
            if population.shape != self.time_points.shape or not (np.isfinite(population) & (population > 0)).all():
                raise ValueError(f"population must hold one positive size per time point ({len(self.time_points)})")
            log_pop = np.log(population)
        #: log of the population ratio of each interval, log(N_{k+1} / N_k)
        self.log_ratio = torch.as_tensor(np.diff(log_pop), dtype=torch.float32, device=self.device)

    def cells_in_time_order(self) -> torch.Tensor:
        """The cells ``(n, d)`` sorted by time (stable), as the draws index them; a view when they already are."""
        return self.x if self._rows is None else self.x[self._rows]

    @property
    def n_intervals(self) -> int:
        return len(self.time_points) - 1

    def _draw(self, which: slice, batch_size: int, generator: torch.Generator | None) -> torch.Tensor:
        counts, offsets = self.counts[which], self.offsets[which]
        u = torch.rand((len(counts), batch_size), generator=generator, device=self.device, dtype=torch.float64)
        idx = offsets[:, None] + (u * counts[:, None]).long()
        self._last_idx = idx
        return self.x[idx if self._rows is None else self._rows[idx]]

    def sample(self, batch_size: int, generator: torch.Generator | None = None, *, record: bool = True
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw ``batch_size`` cells, with replacement, from each side of every interval.

        With replacement keeps the draw one vectorised operation whatever the snapshot sizes; a snapshot
        smaller than the batch simply contributes repeated cells, each carrying its share of the mass.
        ``record=False`` leaves :meth:`marginals` describing the previous draw (a term's own draw must not
        change the masses of the method's coupling).

        Returns
        -------
        (x0, x1)
            Tensors ``(n_intervals, batch_size, d)``: cells from the start and from the end of each interval.
        """
        x0 = self._draw(slice(0, -1), batch_size, generator)
        i0 = self._last_idx
        x1 = self._draw(slice(1, None), batch_size, generator)
        if record:
            self._last = (i0, self._last_idx)
        return x0, x1

    def sample_time_points(self, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``batch_size`` cells, with replacement, at every time point: ``(K, batch_size, d)``.

        Unlike :meth:`sample`, each draw serves both intervals its time point belongs to, so that plans of
        consecutive intervals can be chained (:func:`cellbridge.ot.sample_chains`).
        """
        cells = self._draw(slice(None), batch_size, generator)
        self._last = (self._last_idx[:-1], self._last_idx[1:])
        return cells

    def marginals(self, shape0: tuple[int, ...] | None = None, shape1: tuple[int, ...] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Source and target masses ``(a, b)`` of the cells of the last draw, per interval.

        Target cells carry ``rho_k / m`` each (``rho_k = N_{k+1} / N_k``, 1 without population sizes), source
        cells ``rho_k exp(rate_i Delta_k) / sum(exp(rate Delta_k))``: the prior of a source-relaxed coupling
        (:class:`cellbridge.ot.MinibatchCoupling` with ``tau``), whose row sums then say how much each source
        cell grew. ``shape0`` / ``shape1`` reshape them (e.g. to minibatch blocks of the same draw).
        """
        if self._last is None:
            raise RuntimeError("no cells drawn yet")
        i0, i1 = self._last
        K = len(i0)
        # a draw split into blocks (shape0 (K * n_blocks, n)): the masses of each block sum to its interval's
        n0 = i0.shape[1] if shape0 is None else shape0[-1]
        n1 = i1.shape[1] if shape1 is None else shape1[-1]
        i0, i1 = i0.reshape(K, -1, n0), i1.reshape(K, -1, n1)
        ratio = self.log_ratio.exp().reshape(K, 1, 1)
        if self.rates is None:
            a = ratio.expand(i0.shape) / n0
        else:
            log_a = self.rates[i0] * (self.t1 - self.t0).reshape(K, 1, 1)
            a = torch.softmax(log_a, dim=-1) * ratio
        b = ratio.expand(i1.shape) / n1
        a, b = a.reshape(-1, n0).contiguous(), b.reshape(-1, n1).contiguous()
        if shape0 is None:
            a, b = a.reshape(K, n0), b.reshape(K, n1)
        return (a if shape0 is None else a.reshape(shape0)), (b if shape1 is None else b.reshape(shape1))
