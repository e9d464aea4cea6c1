"""Growth: a rate network ``g(t, x)`` (log-mass per unit time) trained jointly with any method.

Cells divide and die between snapshots, so the mass of a time course need not be conserved. With this
term attached (``CellBridgeModel.fit(..., growth=True)``):

* the method's minibatch coupling becomes **source-relaxed** entropic OT
  (:class:`cellbridge.ot.MinibatchCoupling` with ``tau``): the target snapshot's marginal is kept and the
  source's is replaced by a KL penalty towards its prior masses, so mass is created or destroyed at the
  source (moscot's ``tau_a < 1, tau_b = 1``; relaxing both sides would split the growth between them and
  halve the log-growth between separated populations). The pairs the method regresses on are drawn from
  these plans, so its flow carries a growth-weighted source onto the target;
* each step takes the source-relaxed plans the method's step solved (or, where it solved none, as in DSBM
  after its first coupling, draws a minibatch and solves them), and reads each source cell's
  growth over its interval from the plan's row sum against the cell's share of its snapshot,
  ``log(n P1_i) / Delta``; the rate network is regressed onto it at Brownian-bridge points between pairs
  drawn from the plan (simulation-free, as velocity-growth flow matching does). Its minimiser is the
  conditional mean of the rate of the paths through ``(t, x)``.

Masses. Every snapshot carries mass 1 unless relative population sizes are given (``population``, one
per time point), when the target of interval ``k`` carries ``N_{k+1} / N_k``. Without them only relative
growth is identifiable: the learned rates are the true ones minus the log-ratio of the population sizes
over the interval (a common constant per interval), and only differences of rates mean anything. Prior
rates per cell (``rates``, e.g. from proliferation and apoptosis scores) shape the source prior
``a_i ~ exp(rate_i Delta)``; ``tau`` sets how far the plan may depart from it.

Default ``tau = 0.95``. The source update of each Sinkhorn iteration takes the fraction ``tau`` of a
balanced one, ``reg_m = eps tau / (1 - tau) = 19 eps``: Waddington-OT's defaults (``lambda1 = 1`` at
``epsilon = 0.05``, ``tau_a = 1 / 1.05``). Creating mass ``e``-fold then costs ``19 eps``, about the squared
distance of the Brownian displacement over 10 intervals, so nearby mass is transported rather than created,
and mass that no nearby source can supply (a population that grows while its neighbours do not) is created
where it is needed. Smaller ``tau`` lets the plan explain more by growth and less by transport.

DSBM's reciprocal projection simulates pairs from uniformly drawn cells; with growth, those simulated
forwards are resampled by the mass their path gains, ``exp(Delta (g(t0, x0) + g(t1, x1)) / 2)``
(:meth:`GrowthTerm.reweight_pairs`), so every iteration keeps the growth-weighted source.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import torch

from ..ot.sampling import sample_pairs
from ..paths import brownian_bridge
from ..nn import TimeMLP
from ._common import bridge_times
from .base import Term, Trainer, register_term

__all__ = ["DEFAULT_TAU", "GrowthTerm"]

#: default source relaxation (see the module notes)
DEFAULT_TAU = 0.95


def _gather(cells: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return torch.gather(cells, 1, index.unsqueeze(-1).expand(-1, -1, cells.shape[-1]))


@register_term("growth")
class GrowthTerm(Term):
    """The growth rate network and its simulation-free regression (see the module notes).

    Parameters
    ----------
    trainer
        The method's trainer; its ``sampler`` gets the masses and its ``coupling`` becomes source-relaxed.
    seed
        Seed of the network's initialisation.
    tau
        Source relaxation in ``(0, 1)`` (moscot's ``tau_a``).
    weight
        Weight of the growth loss in the total.
    population
        Relative population size per time point (sorted by time), or None (relative growth only).
    rates
        Prior growth rate per cell (in the trainer's time units, cells in the trainer's order), or None.
    hidden_dims
        Hidden widths of the rate network (default: the method's).
    """

    loss_names: ClassVar[tuple[str, ...]] = ("growth_loss",)

    def __init__(self, trainer: Trainer, *, seed: int, tau: float = DEFAULT_TAU, weight: float = 1.0,
                 population=None, rates=None, hidden_dims=None):
        cfg = trainer.config
        if not 0 < tau < 1:
            raise ValueError(f"growth_tau must lie in (0, 1), got {tau}")
        if not (np.isfinite(weight) and weight > 0):
            raise ValueError(f"growth_weight must be positive, got {weight}")
        coupling = getattr(trainer, "coupling", None)
        if coupling is None or coupling.method != "entropic":
            raise ValueError("growth needs the entropic coupling (ot_method='entropic'): the unbalanced plans are "
                             "entropic")
        self.trainer, self.tau, self.weight = trainer, float(tau), float(weight)
        self.sampler = trainer.sampler
        val_sampler = getattr(trainer, "val_sampler", None)
        if val_sampler is not None:  # held-out cells keep their own prior masses, in their own coupling
            held_out = np.asarray(trainer.val_mask, dtype=bool)
            val_sampler.set_masses(None if rates is None else np.asarray(rates)[held_out], population)
            rates = None if rates is None else np.asarray(rates)[~held_out]
            trainer.val_coupling = dataclasses.replace(coupling, tau=self.tau, marginals=val_sampler.marginals, reuse=1)
        self.sampler.set_masses(rates, population)
        self.coupling = dataclasses.replace(coupling, tau=self.tau, marginals=self.sampler.marginals, reuse=1)
        self.method_coupling = dataclasses.replace(coupling, tau=self.tau, marginals=self.sampler.marginals)
        trainer.coupling = self.method_coupling
        hidden = tuple(cfg.hidden_dims if hidden_dims is None else hidden_dims)
        with torch.random.fork_rng(devices=[]):  # the global random state is left alone
            torch.manual_seed(seed)
            self.growth = TimeMLP(self.sampler.dim, hidden, cfg.activation, cfg.n_freqs, out_dim=1).to(trainer.device)
        self.sigma = float(cfg.sigma)
        self.batch_size = int(cfg.batch_size)
        self.t_clip = float(cfg.t_clip)

    def networks(self) -> dict[str, torch.nn.Module]:
        return {"growth": self.growth}

    @classmethod
    def network_names(cls, settings: dict) -> tuple[str, ...]:
        return ("growth",)

    @torch.no_grad()
    def targets(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One minibatch: pairs ``(x0, x1)`` ``(K, B, d)`` from the source-relaxed plans, the bridge times
        and each pair's source growth rate ``log(n P1_i) / Delta`` ``(K, B)``."""
        s = self.sampler
        B = self.batch_size
        delta = s.t1 - s.t0
        # the plans the method's step has just solved, when it solved any ([SF]2M), else fresh ones (DSBM)
        last = self.method_coupling.take_last_plan()
        if last is not None and last[2].shape[0] == len(delta):
            x0, x1, plan = last
        else:
            x0, x1 = s.sample(B, generator)
            plan = self.coupling.plan(x0, x1, delta)
        rows = plan.sum(-1)
        # each source cell is 1 / n of its snapshot's mass: its growth is its row sum over that share
        log_growth = (rows * x0.shape[1]).clamp_min(torch.finfo(rows.dtype).tiny).log()
        i, j = sample_pairs(plan, B, generator=generator)
        rate = torch.gather(log_growth, 1, i) / delta.unsqueeze(-1)
        return _gather(x0, i), _gather(x1, j), delta, rate

    def losses(self, generator: torch.Generator) -> tuple[torch.Tensor]:
        x0, x1, delta, rate = self.targets(generator)
        K, B, d = x0.shape
        s = self.sampler
        col = lambda v: v.repeat_interleave(B).unsqueeze(-1)  # noqa: E731
        t0, t1 = col(s.t0), col(s.t1)
        t = t0 + bridge_times((K * B, 1), self.t_clip, generator, x0.device) * (t1 - t0)
        bridge = brownian_bridge(x0.reshape(-1, d), x1.reshape(-1, d), t0, t1, t, self.sigma, generator=generator)
        # rates per unit of time: weight by Delta^2 so that every interval's log-growth counts alike
        w = (delta / delta.mean()).pow(2).repeat_interleave(B).unsqueeze(-1)
        return ((w * (self.growth(t, bridge.xt) - rate.reshape(-1, 1)).pow(2)).mean(),)

    @torch.no_grad()
    def reweight_pairs(self, x0: torch.Tensor, x1: torch.Tensor, generator: torch.Generator):
        """Resample pairs ``(K, n, d)`` simulated forwards from uniform cells by the mass their path gains
        (trapezoid rule on the rate network at both ends)."""
        K, n, d = x0.shape
        s = self.sampler
        t0, t1 = s.t0.repeat_interleave(n).unsqueeze(-1), s.t1.repeat_interleave(n).unsqueeze(-1)
        g = self.growth(t0, x0.reshape(-1, d)) + self.growth(t1, x1.reshape(-1, d))
        log_w = (0.5 * g.reshape(K, n) * (s.t1 - s.t0).unsqueeze(-1))
        idx = torch.multinomial(torch.softmax(log_w, dim=1), n, replacement=True, generator=generator)
        return _gather(x0, idx), _gather(x1, idx)
