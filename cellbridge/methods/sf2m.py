"""[SF]2M: simulation-free score and flow matching (Tong et al., AISTATS 2024).

Each step draws a minibatch from both ends of every interval, couples each interval by entropic OT
(the static Schrodinger bridge of the Brownian reference, ``eps = 2 sigma^2 Delta``), draws pairs from the
plans, samples Brownian bridges between them, and regresses

* a flow network ``v(t, x)`` on the bridge's probability-flow velocity, and
* a score network ``s(t, x)`` on the bridge score ``-z / std``, weighted by ``std^2`` so that the loss
  ``|std * s + z|^2`` stays bounded at the interval ends (torchcfm's ``lambda(t)`` weighting).

The SDE drift is ``v + sigma^2 / 2 * s``; the probability-flow ODE drift is ``v``. Nothing is simulated
during training, and every tensor of a step stays on the device.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from .._logging import logger
from .._utils import RNGLike, as_numpy_rng, torch_generator
from ..nn import NGMDrift, adaptive_weights
from ..ot.minibatch import MinibatchCoupling
from ..paths import (
    brownian_bridge,
    gaussian_path_flow_target,
    hermite_path,
    monotone_slopes,
    natural_spline_matrix,
    sf2m_flow_target,
    spline_path,
)
from ._common import bridge_times, host_arrays, make_networks
from .base import FitContext, Method, MethodConfig, Stage, Trainer, TrainResult, register_method
from .sampler import IntervalSampler


@dataclass
class SF2MConfig(MethodConfig):
    """Settings of [SF]2M training (in the coordinates the trainer is given).

    The fields shared by every method (``sigma``, ``n_steps``, ``batch_size``, ``lr``, ``lr_schedule``,
    ``weight_decay``, ``hidden_dims``, ``activation``, ``n_freqs``, ``ot_method``, ``t_clip``, ``grad_clip``,
    ``log_every``) are documented in :class:`cellbridge.methods.MethodConfig`; here ``n_steps`` defaults to
    2000, ``batch_size`` counts the cells drawn from each side of every interval per step, and
    ``lr_schedule`` None (default) picks ``"cosine"`` for the default drift and ``"constant"`` for
    ``drift="ngm"``: the NGM's gene network is read from its Jacobian, not from simulated marginals, and the
    cosine decay left it under-fitted at the same number of steps (``benchmarks/results/grn.md``).

    Attributes
    ----------
    n_freqs
        Fourier time features of the flow and score networks. None (default) picks 0 (time appended as it
        is, as the peers' networks do) for the default drift: chosen by the leave-one-out benchmark over the
        four visible time courses, where Fourier features let the field change faster in time than sparse
        snapshots constrain it (``benchmarks/results/leave_one_out.md``); and 4 for ``drift="ngm"``, the
        setting of its gene-network benchmark (``benchmarks/results/grn.md``). Fourier features fit the
        Gaussian closed form better (``benchmarks/results/defaults.md``).
    ot_method
        ``"entropic"`` (the Schrodinger bridge coupling, default), ``"exact"`` (sigma -> 0 limit, POT on the
        host) or ``"independent"`` (no OT).
    ot_eps_rel
        Entropic regularisation relative to each minibatch's mean cost; None (default) uses the Schrodinger
        bridge value ``2 sigma^2 Delta``.
    ot_tol, ot_max_iter
        Sinkhorn stopping rule: L1 marginal error and iteration cap. The default 5% marginal error keeps the
        plan's column weights within 2.5% (total variation) of uniform, far below the noise of the pair draw
        itself (drawing B pairs leaves the columns' empirical weights about 0.74 in L1 from uniform), at
        fewer iterations than a tighter tolerance (``benchmarks/results/defaults.md``).
    ot_sync_free, ot_sync_free_iter
        Run Sinkhorn for exactly ``ot_sync_free_iter`` iterations without reading its convergence back from
        the device, so that a training step never waits for the host. None (default) does so on CUDA,
        where each read stalls the pipeline, and uses the tolerance on the CPU, where reads are free.
    ot_reuse
        Training steps per OT solve: each step draws fresh pairs (and fresh bridge times and noise) from the
        last plan, which is recomputed on new cells every ``ot_reuse`` steps. 1 (default) is [SF]2M as
        published; larger values divide the OT cost per step, which dominates at large batches on a CPU.
    ot_max_plan
        Cells per side of one OT plan: a larger batch is coupled as ``ceil(batch_size / ot_max_plan)``
        independent minibatches, each with its own plan (:class:`cellbridge.ot.MinibatchCoupling`,
        ``max_plan``). A plan costs ``batch_size^2``, so above this size more cells per step cost linearly
        instead. The minibatch bias of the coupling shrinks as ``1 / n`` in the plan size ``n``; the default
        2048 keeps it a small fraction of the default batch's own while bounding the step at large batches
        (measured: ``benchmarks/results/ot_scale.md``). Batches up to 2048, the default 256 among them, are
        unchanged.
        None: one plan per interval whatever the batch.
    path, spline_tension
        Conditional paths. ``"linear"`` is [SF]2M as published: each interval is coupled on its own and
        bridged by straight Brownian bridges. The two others sample cells at every time point, glue the
        consecutive OT plans into chains through all time points (:func:`cellbridge.ot.sample_chains`) and
        centre the bridges on a cubic through each chain, so that a cell's path across an interval is
        informed by where it came from and goes next; this is what lets a model trained without a time point
        bend through the gap instead of cutting the chord. ``"spline"`` is the natural cubic spline, weighted
        by ``spline_tension`` (0: straight, 1: the full spline; :func:`cellbridge.paths.spline_path`).
        ``"pchip"`` is the shape-preserving cubic (:func:`cellbridge.paths.monotone_slopes`,
        :func:`cellbridge.paths.hermite_path`): where a chain turns back in a coordinate (noisy couplings,
        branching cells) it stays between the nodes instead of overshooting them, at the price of flattening
        true extrema that fall between time points. None (default) picks ``"pchip"`` for the default drift
        (it bridges held-out time points of branching data best: ``benchmarks/results/defaults.md``)
        and ``"spline"`` for ``drift="ngm"`` (it keeps oscillating genes: ``benchmarks/results/grn.md``).
        ``spline_tension`` applies to ``"spline"`` only. With two time points all three are the same
        straight bridge, trained by the same code.
    score_weight
        Weight of the score loss relative to the flow loss.
    val_fraction
        Fraction of the cells of each time point held out to compute a validation loss (0: none).
    val_every, val_batches
        Validation every ``val_every`` steps, averaged over ``val_batches`` fixed minibatches.
    patience
        Stop after this many validations without improvement and restore the best networks (None: never).
    drift
        ``"mlp"`` (default): the flow network is a :class:`cellbridge.nn.TimeMLP`. ``"ngm"``: a neural
        graphical model (:class:`cellbridge.nn.NGMDrift`, one MLP per target dimension over all inputs)
        whose first-layer column norms are the edges of a gene network (:func:`cellbridge.tl.grn`); fit it in
        gene space. The score network stays a TimeMLP.
    ngm_hidden_dims
        Hidden widths of each target's MLP in the NGM.
    ngm_lambda
        Weight of the NGM's group lasso, added to the flow loss (a mean squared error per dimension in
        normalised coordinates) as ``ngm_lambda * sum_{j != i} ||W_i[:, j]||``. Larger values prune more
        inputs; see ``benchmarks/results/grn.md`` for the grid behind the default.
    ngm_adaptive
        Adaptive group lasso: after half of the steps, reweight each column by (mean norm / its norm), so
        that weak columns are pruned harder and strong ones shrink less
        (:func:`cellbridge.nn.adaptive_weights`).
    ngm_time
        Whether time enters each target's MLP (``True``; with ``n_freqs`` Fourier features) or the drift is
        autonomous (``False``, default): the natural prior for fixed regulatory rules, which makes the genes,
        not the clock, explain the velocities. With the default velocity matching it reads the better network
        (``benchmarks/results/grn.md``); a network per time bin still differs between bins, through the
        states at which the Jacobian is taken.
    """

    n_steps: int = 2000
    lr_schedule: str | None = None
    n_freqs: int | None = None
    ot_eps_rel: float | None = None
    ot_tol: float = 5e-2
    ot_max_iter: int = 300
    ot_sync_free: bool | None = None
    ot_sync_free_iter: int = 100
    ot_reuse: int = 1
    ot_max_plan: int | None = 2048
    path: str | None = None
    spline_tension: float = 1.0
    score_weight: float = 1.0
    val_fraction: float = 0.0
    val_every: int = 100
    val_batches: int = 4
    patience: int | None = None
    drift: str = "mlp"
    ngm_hidden_dims: tuple[int, ...] = (16,)
    ngm_lambda: float = 1e-3
    ngm_adaptive: bool = False
    ngm_time: bool = False

    TUPLE_FIELDS: ClassVar[tuple[str, ...]] = ("hidden_dims", "ngm_hidden_dims")

    def __post_init__(self) -> None:
        # the measured best per use: see the ``path`` and ``n_freqs`` notes above
        if self.path is None:
            self.path = "spline" if self.drift == "ngm" else "pchip"
        if self.n_freqs is None:
            self.n_freqs = 4 if self.drift == "ngm" else 0
        if self.lr_schedule is None:
            self.lr_schedule = "constant" if self.drift == "ngm" else "cosine"

    def validate(self) -> None:
        """Raise ValueError on settings that cannot work."""
        super().validate()
        if self.ot_reuse < 1:
            raise ValueError("ot_reuse must be >= 1")
        if self.path not in ("linear", "spline", "pchip"):
            raise ValueError(f"path must be 'linear', 'spline' or 'pchip', not {self.path!r}")
        if not 0 <= self.spline_tension <= 1:
            raise ValueError(f"spline_tension must lie in [0, 1], got {self.spline_tension}")
        if not 0 <= self.val_fraction < 1:
            raise ValueError("val_fraction must lie in [0, 1)")
        if self.patience is not None and self.val_fraction == 0:
            raise ValueError("early stopping (patience) needs a validation set: set val_fraction > 0")
        if self.drift not in ("mlp", "ngm"):
            raise ValueError(f"drift must be 'mlp' or 'ngm', not {self.drift!r}")
        if not (np.isfinite(self.ngm_lambda) and self.ngm_lambda >= 0):
            raise ValueError(f"ngm_lambda must be a non-negative number, got {self.ngm_lambda}")
        self.coupling()  # checks the OT settings

    def coupling(self) -> MinibatchCoupling:
        """The minibatch coupling these settings describe (Sinkhorn checks convergence every 8 iterations)."""
        return MinibatchCoupling(self.ot_method, sigma=self.sigma, eps_rel=self.ot_eps_rel, tol=self.ot_tol,
                                 max_iter=self.ot_max_iter, sync_free=self.ot_sync_free,
                                 sync_free_iter=self.ot_sync_free_iter, block_size=8, reuse=self.ot_reuse,
                                 max_plan=self.ot_max_plan)


def split_validation(t: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of held-out cells: ``fraction`` of each time point, at least one cell kept for training."""
    mask = np.zeros(len(t), dtype=bool)
    if fraction <= 0:
        return mask
    for tp in np.unique(t):
        idx = np.flatnonzero(t == tp)
        n_val = min(int(round(fraction * len(idx))), len(idx) - 2)
        if n_val > 0:
            mask[rng.choice(idx, n_val, replace=False)] = True
    return mask


class SF2MTrainer(Trainer):
    """Trains the flow and score networks of [SF]2M on a time course.

    Constructed as every :class:`cellbridge.methods.Trainer`, ``SF2MTrainer(x, t, config, device=, rng=)``;
    the network initialisation, the validation split and every minibatch derive from ``rng``.

    Attributes
    ----------
    flow, score
        The networks.
    coupling
        The :class:`cellbridge.ot.MinibatchCoupling` of the training minibatches.
    sampler, val_sampler
        Training and validation cells (:class:`cellbridge.methods.IntervalSampler`; no validation: None).
    val_mask
        Which of the cells given were held out for validation (boolean, all False without a split).
    val_coupling
        The coupling of the validation minibatches when it differs from ``coupling`` (a term that weighs
        cells sets it, e.g. growth with prior rates: the validation cells' own masses); None: ``coupling``.
    """

    label = "[SF]2M"
    loss_names = ("loss", "flow_loss", "score_loss")

    def __init__(self, x, t, config: SF2MConfig, *, device: torch.device | str = "cpu", rng: RNGLike = 0):
        config.validate()
        self.config = config
        self.device = torch.device(device)
        np_rng = as_numpy_rng(rng)
        # accept tensors on any device as well as arrays: the split and sampler work from host copies
        x, t = host_arrays(x, t)
        val_mask = split_validation(t, config.val_fraction, np_rng)
        self.val_mask = val_mask
        self.val_coupling = None
        train_cells = (x, t) if not val_mask.any() else (x[~val_mask], t[~val_mask])  # no copy without a split
        self.sampler = IntervalSampler(*train_cells, self.device)
        self.val_sampler = None
        if val_mask.any():
            if len(np.unique(t[val_mask])) < 2:
                raise ValueError(f"val_fraction={config.val_fraction} holds out cells of fewer than two time points; "
                                 "raise it or set it to 0")
            self.val_sampler = IntervalSampler(x[val_mask], t[val_mask], self.device)
        self.val_seed = int(np_rng.integers(2**31))
        dim = self.sampler.dim
        self.flow, self.score = make_networks(2, dim, config.hidden_dims, config.activation, config.n_freqs,
                                              int(np_rng.integers(2**31)), self.device)
        self._ngm_weights = None  # adaptive group-lasso weights, once computed
        if config.drift == "ngm":
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(np_rng.integers(2**31)))
                self.flow = NGMDrift(dim, config.ngm_hidden_dims, config.activation, config.n_freqs,
                                     time_conditioned=config.ngm_time).to(self.device)
        self.generator = torch_generator(np_rng, self.device)
        self.coupling = config.coupling()
        self.sigma = float(config.sigma)
        self.val_history: list[tuple[int, float]] = []
        self.steps_done = 0
        self._stage = Stage(0, config.n_steps, (self.flow, self.score))
        self._best = (float("inf"), None, 0)  # validation loss, networks' states, step
        self._bad_checks = 0
        self._spline_matrix: dict = {}  # sampler -> natural-spline matrix of its time points

    # -- couplings ----------------------------------------------------------------------------------------
    def coupled_batch(self, sampler: IntervalSampler, generator: torch.Generator, reuse: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """Pairs ``(x0, x1)``, each ``(n_intervals, batch_size, d)``, drawn from minibatch OT plans.

        With ``reuse > 1`` the plan (and its cells) of ``sampler`` is kept for ``config.ot_reuse`` calls and
        only the pairs are redrawn.
        """
        B = self.config.batch_size
        return self._coupling_for(sampler).pairs(lambda: sampler.sample(B, generator), sampler.t1 - sampler.t0, B,
                                                 generator, stream=sampler if reuse > 1 else None)

    def _coupling_for(self, sampler: IntervalSampler) -> MinibatchCoupling:
        return self.val_coupling if sampler is self.val_sampler and self.val_coupling is not None else self.coupling

    def coupled_chains(self, sampler: IntervalSampler, generator: torch.Generator, reuse: int = 1) -> torch.Tensor:
        """Trajectories ``(K, batch_size, d)`` through all ``K`` time points, drawn from chained OT plans."""
        B = self.config.batch_size
        return self._coupling_for(sampler).chains(lambda: sampler.sample_time_points(B, generator),
                                                  sampler.t1 - sampler.t0, B, generator,
                                                  stream=sampler if reuse > 1 else None)

    # -- losses -------------------------------------------------------------------------------------------
    def _spline_losses(self, sampler: IntervalSampler, generator: torch.Generator, reuse: int) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.config
        nodes = self.coupled_chains(sampler, generator, reuse)
        K, B, d = nodes.shape
        knots = torch.cat([sampler.t0, sampler.t1[-1:]])
        s = bridge_times((K - 1, B, 1), cfg.t_clip, generator, self.device)
        if cfg.path == "pchip":
            mean, velocity = hermite_path(nodes, monotone_slopes(nodes, knots), knots, s)
        else:
            if sampler not in self._spline_matrix:
                self._spline_matrix[sampler] = natural_spline_matrix(sampler.time_points).to(self.device, nodes.dtype)
            mean, velocity = spline_path(nodes, knots, self._spline_matrix[sampler], s, cfg.spline_tension)
        h = (sampler.t1 - sampler.t0).reshape(-1, 1, 1)
        std = self.sigma * torch.sqrt(h * s * (1 - s))
        noise = torch.randn(mean.shape, generator=generator, device=self.device)
        xt = mean + std * noise
        u = gaussian_path_flow_target(xt, mean, velocity, s, h)
        t = (sampler.t0.reshape(-1, 1, 1) + s * h).reshape(-1, 1)
        xt = xt.reshape(-1, d)
        flow_loss = (self.flow(t, xt) - u.reshape(-1, d)).pow(2).mean()
        score_loss = (std.reshape(-1, 1) * self.score(t, xt) + noise.reshape(-1, d)).pow(2).mean()
        return flow_loss, score_loss

    def losses(self, sampler: IntervalSampler, generator: torch.Generator, reuse: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """Flow and score losses on one minibatch from ``sampler`` (differentiable)."""
        cfg = self.config
        # with one interval every path is the straight bridge: the chain machinery would only add operations
        if cfg.path in ("spline", "pchip") and sampler.n_intervals > 1:
            return self._spline_losses(sampler, generator, reuse)
        B = cfg.batch_size
        x0, x1 = self.coupled_batch(sampler, generator, reuse)
        d = x0.shape[-1]
        x0, x1 = x0.reshape(-1, d), x1.reshape(-1, d)
        t0 = sampler.t0.repeat_interleave(B).unsqueeze(-1)
        t1 = sampler.t1.repeat_interleave(B).unsqueeze(-1)
        t = t0 + bridge_times((len(x0), 1), cfg.t_clip, generator, self.device) * (t1 - t0)
        bridge = brownian_bridge(x0, x1, t0, t1, t, self.sigma, generator=generator)
        u = sf2m_flow_target(bridge, x0, x1)
        flow_loss = (self.flow(t, bridge.xt) - u).pow(2).mean()
        score_loss = (bridge.std * self.score(t, bridge.xt) + bridge.noise).pow(2).mean()
        return flow_loss, score_loss

    @torch.no_grad()
    def validation_loss(self) -> float:
        """Mean total loss over fixed validation minibatches (same draws at every call)."""
        gen = torch_generator(self.val_seed, self.device)
        total = 0.0
        for _ in range(self.config.val_batches):
            fl, sl = self.losses(self.val_sampler, gen)
            total += float(fl + self.config.score_weight * sl)
        return total / self.config.val_batches

    # -- hooks of the training loop -----------------------------------------------------------------------
    def stages(self) -> list[Stage]:
        return [self._stage]

    def stage_losses(self, stage: Stage, step: int) -> tuple[torch.Tensor, ...]:
        """``(total, flow, score)``; with ``drift="ngm"`` the total includes ``ngm_lambda`` times the group lasso."""
        cfg = self.config
        flow_loss, score_loss = self.losses(self.sampler, self.generator, cfg.ot_reuse)
        loss = flow_loss + cfg.score_weight * score_loss
        if cfg.drift == "ngm" and cfg.ngm_lambda > 0:
            if cfg.ngm_adaptive and self._ngm_weights is None and self.steps_done >= cfg.n_steps // 2:
                self._ngm_weights = adaptive_weights(self.flow.group_norms(), mask=self.flow.penalty_mask)
            loss = loss + cfg.ngm_lambda * self.flow.group_lasso_penalty(self._ngm_weights)
        self.steps_done += 1
        return loss, flow_loss, score_loss

    def step(self) -> torch.Tensor:
        """One optimisation step; returns the detached losses ``[total, flow, score]`` (no host read)."""
        return self.take_step(self._stage, self.steps_done)

    def after_step(self, stage: Stage, n_done: int) -> bool:
        """Validation every ``val_every`` steps; True (stop) after ``patience`` checks without improvement."""
        cfg = self.config
        if self.val_sampler is None or n_done % cfg.val_every:
            return False
        val = self.validation_loss()
        self.val_history.append((n_done, val))
        if val < self._best[0]:
            self._best = (val, (copy.deepcopy(self.flow.state_dict()), copy.deepcopy(self.score.state_dict())), n_done)
            self._bad_checks = 0
        else:
            self._bad_checks += 1
        if cfg.patience is not None and self._bad_checks >= cfg.patience:
            logger.info(f"early stopping at step {n_done}: best validation loss {self._best[0]:.4g} at step {self._best[2]}")
            return True
        return False

    def extra_state(self) -> dict:
        best_val, best_states, best_step = self._best
        return {"steps_done": self.steps_done, "val_history": [list(v) for v in self.val_history],
                "best": {"val": best_val, "step": best_step,
                         "states": None if best_states is None else list(best_states)},
                "bad_checks": self._bad_checks, "ngm_weights": self._ngm_weights,
                "coupling": self.coupling.cache_state(self.sampler)}

    def load_extra_state(self, state: dict) -> None:
        self.steps_done = int(state["steps_done"])
        self.val_history = [(int(s), float(v)) for s, v in state["val_history"]]
        best = state["best"]
        self._best = (float(best["val"]), None if best["states"] is None else tuple(best["states"]), int(best["step"]))
        self._bad_checks = int(state["bad_checks"])
        self._ngm_weights = state["ngm_weights"]
        self.coupling.load_cache_state(self.sampler, state["coupling"])

    def end_training(self) -> None:
        if self.config.patience is not None and self._best[1] is not None:
            self.flow.load_state_dict(self._best[1][0])
            self.score.load_state_dict(self._best[1][1])

    def history(self) -> dict:
        """``step``, ``loss``, ``flow_loss``, ``score_loss`` per step and, with validation, ``val_step``, ``val_loss``."""
        history = super().history()
        if self.val_history:
            history["val_step"] = np.array([s for s, _ in self.val_history])
            history["val_loss"] = np.array([v for _, v in self.val_history])
        return history


@register_method("sf2m", label="[SF]2M", config=SF2MConfig, networks=("flow", "score"), drift_network="flow")
class SF2M(Method):
    """[SF]2M: a flow and a score network; SDE drift ``v + sigma^2/2 s``, probability-flow ODE ``v``."""

    @classmethod
    def train(cls, x, t, config: SF2MConfig, *, context: FitContext, rng, **options) -> TrainResult:
        trainer = SF2MTrainer(x, t, config, device=context.device, rng=rng)
        history = context.run(trainer)
        return TrainResult({"flow": trainer.flow, "score": trainer.score}, history)

    @classmethod
    def work_per_step(cls, config: SF2MConfig, dim: int, n_intervals: int) -> float:
        work = super().work_per_step(config, dim, n_intervals)
        if config.drift == "ngm":  # one MLP per target over all inputs: the first layer is dim x dim x width
            work += 6.0 * config.batch_size * n_intervals * dim * dim * config.ngm_hidden_dims[0]
        return work

    @classmethod
    def drift(cls, networks, sigma, *, stochastic, direction):
        """Forwards ``v + sigma^2/2 s``, backwards (the time reversal) ``-v + sigma^2/2 s``; ODE ``+-v``."""
        sign = 1.0 if direction == "forward" else -1.0
        flow, score = networks["flow"], networks["score"]
        if not stochastic:
            return lambda t, x: sign * flow(t, x)
        return lambda t, x: sign * flow(t, x) + 0.5 * sigma**2 * score(t, x)
