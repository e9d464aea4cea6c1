r"""Simulation matching: integrate the flow from each snapshot to the next and match the next snapshot.

Bridge matching and velocity matching ([SF]2M, :mod:`cellbridge.methods.velocity`) are local regressions:
each pulls the flow towards a velocity estimated from OT-matched pairs. Neither asks whether the flow,
integrated over a whole interval, carries the cells of one snapshot onto the next. This term does: at every
step it draws ``batch_size`` cells from the start of every interval, integrates the probability-flow ODE
:math:`\dot x = v_\theta(t, x)` over the interval with ``n_euler`` Euler steps (differentiably), and
compares the result with ``batch_size`` cells of the interval's end by the energy distance

.. math::

    \mathcal{E}(P, Q) = 2\,\mathbb{E}\lVert X - Y \rVert - \mathbb{E}\lVert X - X' \rVert
    - \mathbb{E}\lVert Y - Y' \rVert, \qquad X, X' \sim P,\; Y, Y' \sim Q,

(a metric on distributions, zero only when they are equal; Szekely and Rizzo 2013), estimated from the two
minibatches (the diagonal terms left out) and averaged over the intervals. The flow is the velocity of the
fitted marginals, so the loss's minimiser is unchanged by it where the bridges already fit: the term adds the
global constraint that the local ones lack.

Used with ``CellBridgeModel.fit(..., simulation_matching=w)``; off by default. It costs two to five times
the training time of a default fit (``n_euler`` more flow evaluations per step). Measured with ``w = 10``
(the ``simulation`` preset of ``benchmarks/leave_one_out.py``; ``benchmarks/results/leave_one_out.md``):
on the TIGON simulation, whose populations grow, the balanced model's held-out days come out much closer
(its gain is mostly there; ``growth=True`` is the model of that data); EMT and HSMM stay about where the
defaults are and iPSC is a little worse. On the BEELINE networks it lowers the NGM's AUROC
(``benchmarks/results/grn.md``). Hence opt-in. Not with ``growth=True``: a growing population's cells carry
weights that the unweighted energy distance ignores.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from .base import Term, Trainer, register_term

__all__ = ["DEFAULT_N_EULER", "SimulationTerm", "energy_distance_loss"]

#: Euler steps per interval of the integration
DEFAULT_N_EULER = 8


def energy_distance_loss(x: torch.Tensor, y: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Unbiased squared energy distance of batched samples ``x (..., n, d)`` and ``y (..., m, d)``: shape ``(...)``.

    Differentiable and batched, unlike :func:`cellbridge.metrics.energy_distance` (a NumPy report of its
    square root, all pairs counted). The pairwise distances are :math:`\\sqrt{\\lVert a - b \\rVert^2 + \\epsilon}` so that the gradient is
    finite where two points coincide; the within-sample means leave the diagonal out.
    """
    def mean_dist(a, b, same):
        d2 = (a.unsqueeze(-2) - b.unsqueeze(-3)).pow(2).sum(-1)
        d = (d2 + eps).sqrt()
        if not same:
            return d.mean((-2, -1))
        n = a.shape[-2]
        return (d.sum((-2, -1)) - n * eps ** 0.5) / (n * (n - 1))

    return 2 * mean_dist(x, y, False) - mean_dist(x, x, True) - mean_dist(y, y, True)


@register_term("simulation")
class SimulationTerm(Term):
    """Energy distance between the flow's push-forward of each snapshot and the next (module notes).

    Parameters
    ----------
    trainer
        An [SF]2M trainer (its ``flow`` network is trained; its ``sampler`` holds the cells).
    seed
        Unused (the term has no networks of its own).
    weight
        Weight of the loss in the total.
    n_euler
        Euler steps per interval.
    batch_size
        Cells per side of every interval and step (default: the trainer's ``batch_size``).
    """

    loss_names: ClassVar[tuple[str, ...]] = ("simulation_loss",)

    def __init__(self, trainer: Trainer, *, seed: int, weight: float = 1.0, n_euler: int = DEFAULT_N_EULER,
                 batch_size: int | None = None):
        if not (weight > 0):
            raise ValueError(f"simulation_matching must be a positive weight, got {weight}")
        if int(n_euler) < 1:
            raise ValueError(f"n_euler must be a positive number of steps, got {n_euler}")
        self.flow_of(trainer, "simulation matching")
        self.trainer, self.weight, self.n_euler = trainer, float(weight), int(n_euler)
        self.batch_size = int(batch_size or trainer.config.batch_size)

    def losses(self, generator: torch.Generator) -> tuple[torch.Tensor]:
        s = self.trainer.sampler
        k = s.n_intervals
        x0, x1 = s.sample(self.batch_size, generator, record=False)  # (k, B, d) each
        t0 = s.t0.reshape(k, 1, 1).expand(k, self.batch_size, 1)
        dt = ((s.t1 - s.t0) / self.n_euler).reshape(k, 1, 1)
        x = x0
        for step in range(self.n_euler):
            t = (t0 + step * dt).reshape(-1, 1)
            x = x + dt * self.trainer.flow(t, x.reshape(-1, x.shape[-1])).reshape(x.shape)
        return (energy_distance_loss(x, x1).mean(),)
