r"""Velocity matching: pull the flow at the observed cells towards their OT-matched velocities.

Bridge matching ([SF]2M) regresses the flow on the velocities of Brownian bridges between coupled cells of
consecutive snapshots, at points *between* them. With coarse snapshots a pair spans a long, curved stretch
of a trajectory, and the minimiser is the conditional mean of those chords through each point: a smoothed,
path-averaged velocity. On the BEELINE BoolODE networks at 5 snapshots the gene network read from such a
drift (an NGM, :func:`cellbridge.tl.grn`) ranks edges worse than a linear regression of the raw OT
displacements (``benchmarks/results/grn.md``).

This term adds, at every step, a regression of the trainer's flow at the observed cells onto velocities
that are local in time: each snapshot is split into ``n`` sub-snapshots by each cell's progress along its
OT direction of motion (:func:`cellbridge.ot.progress.snapshot_progress`,
:func:`cellbridge.ot.progress.refine_time_points`), consecutive sub-snapshots are matched by exact OT and
each cell's velocity is its barycentric displacement over the sub-interval
(:func:`cellbridge.ot.velocity.ot_velocities`), averaged over ``n`` in ``n_sub`` (default 3, 4, 5 and 6:
the resolutions of the model-free route, :mod:`cellbridge.grn.velocity_regression`). Each cell is evaluated
at the mean of its refined times. The loss is

.. math::

    w \, \frac{1}{B d} \sum_{b} \lVert v_\theta(t_b, x_b) - \hat v_b \rVert^2

over ``batch_size`` cells drawn uniformly, in the trainer's coordinates, i.e. the same scale as the bridge
flow loss, so the weight ``w`` compares the two directly. The targets are computed once, before training
(exact OT on the host; about a second for 1000 cells), and live on the device.

The flow stays the probability-flow velocity of the fitted marginals (the OT velocity is the velocity of
the population's mass, the quantity the flow estimates), so the model still simulates; the bridge loss
keeps it defined between the cells and trains the score network as before.

Used with ``CellBridgeModel.fit(..., velocity_matching=w)``; default ``w = 10`` for ``drift="ngm"`` fits
(gene networks) and off otherwise (``benchmarks/results/grn.md`` has the measurements).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import torch

from .._logging import logger
from .base import Term, Trainer, register_term

__all__ = ["DEFAULT_NGM_VELOCITY_WEIGHT", "VelocityTerm", "velocity_targets"]

#: velocity-matching weight of a ``drift="ngm"`` fit when none is given (module notes)
DEFAULT_NGM_VELOCITY_WEIGHT = 10.0
#: sub-snapshots per snapshot of the velocity targets (as the model-free route of ``tl.grn``)
DEFAULT_N_SUB = (3, 4, 5, 6)


def velocity_targets(x: np.ndarray, t: np.ndarray, n_sub: int | Sequence[int] = DEFAULT_N_SUB
                     ) -> tuple[np.ndarray, np.ndarray]:
    """OT-matched velocities on refined sub-snapshots, averaged over resolutions (see the module notes).

    Parameters
    ----------
    x
        Cells ``(n, d)``.
    t
        Snapshot time of each cell ``(n,)``; at least two distinct times.
    n_sub
        Sub-snapshots per snapshot: one number or several (1: the snapshots themselves).

    Returns
    -------
    v : numpy.ndarray
        ``(n, d)`` float64: each cell's velocity, the mean over the resolutions.
    t_cell : numpy.ndarray
        ``(n,)`` float64: each cell's refined time, the mean over the resolutions.
    """
    from ..ot.progress import check_n_sub, refine_time_points, snapshot_progress
    from ..ot.velocity import ot_velocities

    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    resolutions = (n_sub,) if isinstance(n_sub, (int, np.integer)) else tuple(n_sub)
    if not resolutions:
        raise ValueError("velocity_n_sub must name at least one number of sub-snapshots")
    for n in resolutions:
        check_n_sub(t, n)
    progress = snapshot_progress(x, t) if any(n > 1 for n in resolutions) else None
    v = np.zeros_like(x)
    t_cell = np.zeros_like(t)
    for n in resolutions:
        tr = refine_time_points(t, progress, int(n)) if n > 1 else t
        v += ot_velocities(x, tr)
        t_cell += tr
    return v / len(resolutions), t_cell / len(resolutions)


@register_term("velocity")
class VelocityTerm(Term):
    """Regression of the trainer's flow at the observed cells onto their OT velocities (module notes).

    Parameters
    ----------
    trainer
        An [SF]2M trainer (its ``flow`` network is trained; its ``sampler`` holds the cells).
    seed
        Unused (the term has no networks of its own).
    weight
        Weight of the loss in the total.
    n_sub
        Sub-snapshots per snapshot of the targets (one number or several, averaged); numbers larger than the
        smallest snapshot are dropped (all of them: 1, the snapshots themselves), with a log line.
    batch_size
        Cells per step (default: the trainer's ``batch_size``, at least 256).
    """

    loss_names: ClassVar[tuple[str, ...]] = ("velocity_loss",)

    def __init__(self, trainer: Trainer, *, seed: int, weight: float = DEFAULT_NGM_VELOCITY_WEIGHT,
                 n_sub: int | Sequence[int] = DEFAULT_N_SUB, batch_size: int | None = None):
        if not (np.isfinite(weight) and weight > 0):
            raise ValueError(f"velocity_matching must be a positive weight, got {weight}")
        self.flow_of(trainer, "velocity matching")
        s = trainer.sampler
        # the sampler's cells in time order, and the time of each
        x_sorted = s.cells_in_time_order()
        t = np.repeat(s.time_points, s.counts.cpu().numpy().astype(np.int64))
        requested = (int(n_sub),) if isinstance(n_sub, (int, np.integer)) else tuple(int(n) for n in n_sub)
        smallest = int(s.counts.min().item())
        usable = tuple(n for n in requested if n <= smallest) or (1,)
        if usable != requested:
            logger.info(f"velocity matching: the smallest snapshot has {smallest} cells, so its targets use "
                        f"{', '.join(map(str, usable))} sub-snapshot(s) per snapshot instead of "
                        f"{', '.join(map(str, requested))}")
        self.n_sub = usable
        v, t_cell = velocity_targets(x_sorted.detach().cpu().numpy(), t, usable)
        self.trainer, self.weight = trainer, float(weight)
        dev = trainer.device
        self.x = x_sorted.detach().to(dev)
        self.t = torch.as_tensor(t_cell, dtype=torch.float32, device=dev).reshape(-1, 1)
        self.v = torch.as_tensor(v, dtype=torch.float32, device=dev)
        self.batch_size = int(batch_size or max(256, trainer.config.batch_size))

    def losses(self, generator: torch.Generator) -> tuple[torch.Tensor]:
        idx = torch.randint(len(self.x), (min(self.batch_size, len(self.x)),), generator=generator,
                            device=self.x.device)
        return ((self.trainer.flow(self.t[idx], self.x[idx]) - self.v[idx]).pow(2).mean(),)
