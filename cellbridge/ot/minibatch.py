"""Minibatch couplings of consecutive snapshots: the one place the training methods get their OT from.

A :class:`MinibatchCoupling` owns every decision between "cells drawn at the ends of each interval" and
"pairs (or chains) of cells to regress on": the entropic regularisation (the static Schrodinger bridge of a
Brownian reference, ``eps = 2 sigma^2 Delta`` per interval, or a fraction of each minibatch's mean cost),
the Sinkhorn budget (a tolerance read back from the device, or a fixed number of iterations that never
waits for the host), plan reuse over several training steps, and the pair and chain draws with their
gathers. Every tensor stays on the cells' device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from .cost import sq_euclidean
from .coupling import coupling
from .sinkhorn import sinkhorn
from .sampling import sample_chains, sample_pairs

__all__ = ["MinibatchCoupling", "OT_METHODS"]

#: couplings a minibatch can be given
OT_METHODS = ("entropic", "exact", "independent")

CellDraw = Callable[[], tuple[torch.Tensor, torch.Tensor]]

#: Sinkhorn block of the source-relaxed plans: each block opens with two logsumexps over n x m (the costly
#: part of an unbalanced iteration) and then runs stabilised scaling iterations (two matrix-vector products
#: each); 32 gives the log-domain plan to 1e-13 down to eps = 1e-3 of the mean cost (tests/ot/test_unbalanced.py)
#: in about 2.5x less time per training step than 8 (benchmarks/results/leave_one_out.md, growth section)
UNBALANCED_BLOCK_SIZE = 32


def _gather(cells: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``cells[k, index[k, b]]`` for cells ``(K, n, d)`` and indices ``(K, b)``: ``(K, b, d)``."""
    return torch.gather(cells, 1, index.unsqueeze(-1).expand(-1, -1, cells.shape[-1]))


def _split(cells: torch.Tensor, s: int) -> torch.Tensor:
    """Cells ``(K, n, d)`` as ``s`` minibatches per interval, ``(K s, n // s, d)`` (interval-major)."""
    if s == 1:
        return cells
    K, n, d = cells.shape
    q = n // s
    return cells[:, :s * q].reshape(K * s, q, d)


def _merge(pairs: torch.Tensor, K: int, n_samples: int) -> torch.Tensor:
    """Pairs ``(K s, p, d)`` of :func:`_split`'s minibatches back to ``(K, n_samples, d)``."""
    return pairs.reshape(K, -1, pairs.shape[-1])[:, :n_samples]


@dataclass
class MinibatchCoupling:
    """How minibatches of consecutive snapshots are coupled, and pairs drawn from the plans.

    Parameters
    ----------
    method
        ``"entropic"`` (Sinkhorn on the device), ``"exact"`` (network simplex on the host: the sigma -> 0
        limit) or ``"independent"`` (no OT: pairs are the cells as drawn).
    sigma
        Diffusion coefficient of the reference Brownian motion: the entropic plan of an interval of length
        ``Delta`` has ``eps = 2 sigma^2 Delta`` (POT's convention). Needed for ``"entropic"`` unless
        ``eps_rel`` is given.
    eps_rel
        Regularisation relative to each minibatch's mean cost, used instead of the Schrodinger-bridge value.
    tol, max_iter
        Sinkhorn's stopping rule (L1 marginal error, iteration cap) when the tolerance is read back.
    sync_free, sync_free_iter
        Run exactly ``sync_free_iter`` Sinkhorn iterations without reading convergence back, so that a
        training step never waits for the host. None: on CUDA (where each read stalls the pipeline) but not
        on the CPU (where reads are free).
    block_size
        Sinkhorn iterations between convergence checks of balanced plans (unbalanced ones use
        ``UNBALANCED_BLOCK_SIZE``).
    reuse
        Training steps per plan: :meth:`pairs` and :meth:`chains` with a ``stream`` keep the cells and plan
        of that stream for ``reuse`` calls and only redraw the pairs. 1 is [SF]2M as published.
    tau
        Source-relaxed (unbalanced) coupling, in moscot's parameterisation (``tau_a = tau``, ``tau_b = 1``):
        the source marginal is replaced by the penalty ``reg_m KL(P 1 | a)`` with
        ``reg_m = eps tau / (1 - tau)`` (each Sinkhorn update of the source potential takes the fraction
        ``tau`` of a balanced one), the target marginal is kept. Mass is created or destroyed at the source,
        and the plan's row sums over the source masses are each source cell's growth over the interval.
        None (default): balanced. Entropic only.
    marginals
        ``marginals(shape0, shape1) -> (a, b)``: masses of the cells of the last draw (e.g.
        :meth:`cellbridge.methods.IntervalSampler.marginals`), used by the unbalanced coupling; None:
        uniform, each snapshot of mass 1.
    max_plan
        Cells per side of one plan (balanced entropic and exact couplings): a larger draw of ``n`` cells is
        split into ``s = ceil(n / max_plan)`` independent minibatches of ``n // s`` cells (the remainder
        unused), each with its own plan and an equal share of the pairs. A plan's cost grows as ``n^2``, so
        at batch 4096 the plan is most of a training step; ``s`` plans of ``n / s`` cells cost ``s`` times
        less. Each plan is still the exact entropic plan of its cells; what changes is the minibatch bias of
        the coupling, which shrinks as ``1 / n`` (measured figures: ``benchmarks/results/ot_scale.md``).
        None: one plan whatever the batch.
    """

    method: str = "entropic"
    sigma: float | None = None
    eps_rel: float | None = None
    tol: float | None = 5e-2
    max_iter: int = 300
    sync_free: bool | None = None
    sync_free_iter: int = 100
    block_size: int = 8
    reuse: int = 1
    tau: float | None = None
    marginals: Callable | None = field(default=None, repr=False, compare=False)
    max_plan: int | None = None

    def __post_init__(self) -> None:
        if self.method not in OT_METHODS:
            raise ValueError(f"ot_method must be one of {OT_METHODS}, not {self.method!r}")
        if self.method == "entropic" and self.eps_rel is None and not (self.sigma is not None and self.sigma > 0):
            raise ValueError("an entropic minibatch coupling needs sigma > 0 or eps_rel")
        if self.eps_rel is not None and not self.eps_rel > 0:
            raise ValueError(f"ot_eps_rel must be positive, got {self.eps_rel}")
        if int(self.reuse) != self.reuse or self.reuse < 1:
            raise ValueError(f"ot_reuse must be an integer >= 1, got {self.reuse}")
        if int(self.max_iter) != self.max_iter or self.max_iter < 1 or self.sync_free_iter < 1:
            raise ValueError("ot_max_iter and ot_sync_free_iter must be integers >= 1")
        if self.max_plan is not None and (int(self.max_plan) != self.max_plan or self.max_plan < 2):
            raise ValueError(f"ot_max_plan must be an integer >= 2 or None, got {self.max_plan}")
        if self.tau is not None:
            if not 0 < self.tau < 1:
                raise ValueError(f"tau (source relaxation) must lie in (0, 1), got {self.tau}")
            if self.method != "entropic":
                raise ValueError("an unbalanced coupling (tau) needs ot_method='entropic'")
        self._cache: dict = {}

    # -- plans ----------------------------------------------------------------------------------------------
    def eps(self, delta: torch.Tensor) -> torch.Tensor | None:
        """The entropic regularisation of intervals of lengths ``delta``: ``2 sigma^2 Delta`` (None with eps_rel)."""
        return None if self.eps_rel is not None else 2 * self.sigma**2 * delta

    def budget(self, device: torch.device) -> dict:
        """Sinkhorn's ``tol`` and ``max_iter`` on ``device`` (see ``sync_free``)."""
        sync_free = torch.device(device).type == "cuda" if self.sync_free is None else self.sync_free
        return dict(tol=None, max_iter=self.sync_free_iter) if sync_free else dict(tol=self.tol, max_iter=self.max_iter)

    def plan(self, x0: torch.Tensor, x1: torch.Tensor, delta: torch.Tensor) -> torch.Tensor | None:
        """Plans ``(K, n, m)`` between cells ``x0`` ``(K, n, d)`` and ``x1`` ``(K, m, d)`` of intervals of
        lengths ``delta`` ``(K,)``; None for the independent coupling."""
        if self.method == "independent":
            return None
        if self.method == "exact":
            return coupling(x0, x1, "exact")
        if self.tau is not None:
            return self.unbalanced_plan(x0, x1, delta)
        return coupling(x0, x1, "entropic", eps=self.eps(delta), eps_rel=self.eps_rel, block_size=self.block_size,
                        **self.budget(x0.device))

    def unbalanced_plan(self, x0: torch.Tensor, x1: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        """The source-relaxed entropic plans ``(K, n, m)`` (``tau``), with the masses of ``marginals``."""
        cost = sq_euclidean(x0, x1)
        eps = self.eps(delta)
        if eps is None:
            eps = self.eps_rel * cost.mean(dim=(-2, -1))
        a = b = None
        if self.marginals is not None:
            a, b = self.marginals(x0.shape[:-1], x1.shape[:-1])
        reg = eps * (self.tau / (1 - self.tau))
        plan = sinkhorn(cost, a, b, eps=eps, reg_m=(reg, None), block_size=UNBALANCED_BLOCK_SIZE, overwrite_cost=True,
                        **self.budget(x0.device)).plan
        self.last_plan = (x0, x1, plan)  # for a term that reads growth from the same plans (take_last_plan)
        return plan

    def n_plans(self, n: int) -> int:
        """Plans a draw of ``n`` cells per side is split into (see ``max_plan``; unbalanced and independent
        couplings are never split)."""
        if self.max_plan is None or n <= self.max_plan or self.tau is not None or self.method == "independent":
            return 1
        return -(-n // int(self.max_plan))

    def take_last_plan(self):
        """The cells and plan ``(x0, x1, plan)`` of the last unbalanced solve, once (None afterwards, or when
        no plan was solved since)."""
        last, self.last_plan = getattr(self, "last_plan", None), None
        return last

    # -- draws ----------------------------------------------------------------------------------------------
    def _reused(self, stream):
        """The cached entry of ``stream`` while it may still be reused, else None."""
        entry = self._cache.get(stream) if self.reuse > 1 and stream is not None else None
        return entry if entry is not None and entry[0] < self.reuse else None

    def _keep(self, stream, used: int, cells, plan) -> None:
        if self.reuse > 1 and stream is not None:
            self._cache[stream] = (used + 1, cells, plan)

    def pairs(self, draw: CellDraw, delta: torch.Tensor, n_samples: int, generator: torch.Generator | None = None,
              *, stream=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Coupled pairs ``(x0, x1)``, each ``(K, n_samples, d)``, drawn from the plans of fresh cells.

        Parameters
        ----------
        draw
            Called without arguments when a new plan is needed: cells ``(x0, x1)`` at the start and end of
            each interval, ``(K, n, d)`` and ``(K, m, d)``.
        delta
            Interval lengths ``(K,)`` (for the Schrodinger-bridge regularisation).
        n_samples
            Pairs per interval.
        generator
            Torch generator of the pair draw.
        stream
            A key (e.g. the training sampler): with ``reuse > 1`` its cells and plan are kept for ``reuse``
            calls. None never reuses.

        Returns
        -------
        (x0, x1)
            With the independent coupling, the cells as drawn.
        """
        entry = self._reused(stream)
        K = len(delta)
        if entry is not None:
            used, (x0, x1), plan = entry
        else:
            x0, x1 = draw()
            s = self.n_plans(min(x0.shape[1], x1.shape[1]))
            x0, x1 = _split(x0, s), _split(x1, s)  # (K s, n / s, d): independent minibatches
            plan = self.plan(x0, x1, delta.repeat_interleave(s))
            if plan is None:
                return x0, x1
            used = 0
        self._keep(stream, used, (x0, x1), plan)
        s = x0.shape[0] // K
        i, j = sample_pairs(plan, -(-n_samples // s), generator=generator)
        return _merge(_gather(x0, i), K, n_samples), _merge(_gather(x1, j), K, n_samples)

    def chains(self, draw: Callable[[], torch.Tensor], delta: torch.Tensor, n_samples: int,
               generator: torch.Generator | None = None, *, stream=None) -> torch.Tensor:
        """Trajectories ``(K + 1, n_samples, d)`` through all time points, drawn from chained plans.

        ``draw()`` gives cells ``(K + 1, n, d)``, one draw per time point serving both intervals it belongs
        to, so the plans of consecutive intervals share their cells and chain into a Markov coupling of all
        time points (:func:`cellbridge.ot.sample_chains`). The independent coupling chains uniformly.
        """
        entry = self._reused(stream)
        K = len(delta)
        if entry is not None:
            used, cells, plan = entry
        else:
            cells = draw()
            s = self.n_plans(cells.shape[1])
            q = cells.shape[1] // s
            cells = cells[:, :s * q]  # minibatch b of every time point: cells[:, b q : (b + 1) q]
            plan = self.plan(_split(cells[:-1], s), _split(cells[1:], s), delta.repeat_interleave(s))
            if plan is None:
                plan = torch.ones((K * s, q, q), device=cells.device, dtype=cells.dtype)
            used = 0
        self._keep(stream, used, cells, plan)
        s = plan.shape[0] // K
        q = plan.shape[1]
        per = -(-n_samples // s)
        plans = plan.reshape(K, s, q, q)
        chains = [_gather(cells[:, b * q:(b + 1) * q], sample_chains(plans[:, b], per, generator=generator))
                  for b in range(s)]
        return torch.cat(chains, dim=1)[:, :n_samples]

    def cached_cells(self, stream):
        """The cells behind ``stream``'s current reused plan (None when nothing is kept)."""
        entry = self._cache.get(stream)
        return None if entry is None else entry[1]

    def cache_state(self, stream) -> dict | None:
        """What is kept for ``stream`` (uses so far, cells, plan), for a checkpoint; None when nothing is."""
        entry = self._cache.get(stream)
        return None if entry is None else {"used": entry[0], "cells": entry[1], "plan": entry[2]}

    def load_cache_state(self, stream, state: dict | None) -> None:
        """Restore what :meth:`cache_state` returned."""
        self._cache.pop(stream, None)
        if state is not None:
            cells = state["cells"]
            self._cache[stream] = (int(state["used"]), tuple(cells) if isinstance(cells, list) else cells, state["plan"])
