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
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from .._logging import logger
from .._utils import RNGLike, as_numpy_rng, torch_generator
from ..nn import NGMDrift, adaptive_weights
from ..ot import coupling, sample_chains, sample_pairs
from ..paths import (
    brownian_bridge,
    gaussian_path_flow_target,
    hermite_path,
    monotone_slopes,
    natural_spline_matrix,
    sf2m_flow_target,
    spline_path,
)
from ._common import LossLog, host_arrays, make_networks, make_optimizer
from .sampler import IntervalSampler


@dataclass
class SF2MConfig:
    """Settings of [SF]2M training (in the coordinates the trainer is given).

    Attributes
    ----------
    sigma
        Diffusion coefficient of the reference Brownian motion.
    n_steps
        Optimisation steps.
    batch_size
        Cells drawn from each side of every interval per step.
    lr, weight_decay
        Adam's learning rate and weight decay.
    lr_schedule
        ``"cosine"`` (default) decays the learning rate to 1% of ``lr`` over ``n_steps``: the regression
        targets are noisy, and at a constant rate the final networks keep an SGD-noise error that shows up
        as a bias of the simulated marginals; ``"constant"`` keeps ``lr``.
    hidden_dims, activation, n_freqs
        Architecture of the flow and score networks (:class:`cellbridge.nn.TimeMLP`). ``n_freqs=0``
        appends time as it is, as the peers' networks do; the default 4 Fourier time features fit the
        Gaussian closed form better (terminal variance within 2%, against 2.9% without), but let the field
        change faster in time than sparse snapshots constrain it, so a model bridges a missing time point
        less well (leave-one-out W1 on EMT, one seed: 0.359 with 4 frequencies, 0.324 without; the
        leave-one-out benchmark uses ``n_freqs=0``).
    ot_method
        ``"entropic"`` (the Schrodinger bridge coupling, default), ``"exact"`` (sigma -> 0 limit, POT on the
        host) or ``"independent"`` (no OT).
    ot_eps_rel
        Entropic regularisation relative to each minibatch's mean cost; None (default) uses the Schrodinger
        bridge value ``2 sigma^2 Delta``.
    ot_tol, ot_max_iter
        Sinkhorn stopping rule: L1 marginal error and iteration cap. The default 5% marginal error makes the
        plan the exact entropic plan to column weights at most 2.5% (total variation) from uniform, far
        below the noise of the pair draw itself (drawing B pairs leaves the columns' empirical weights
        about 0.74 in L1 from uniform); it needs 30-40% fewer iterations than 1% at 50 dimensions, and
        the Gaussian Schrodinger bridge's endpoint cross-covariance is the same (0.6188 with both).
    ot_sync_free, ot_sync_free_iter
        Run Sinkhorn for exactly ``ot_sync_free_iter`` iterations without reading its convergence back from
        the device, so that a training step never waits for the host. None (default) does so on CUDA,
        where each read stalls the pipeline, and uses the tolerance on the CPU, where reads are free.
    ot_reuse
        Training steps per OT solve: each step draws fresh pairs (and fresh bridge times and noise) from the
        last plan, which is recomputed on new cells every ``ot_reuse`` steps. 1 (default) is [SF]2M as
        published; larger values divide the OT cost per step, which dominates at large batches on a CPU.
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
        and ``"spline"`` for ``drift="ngm"``, the best of each on its benchmark: leave-one-timepoint-out W1
        relative to OT interpolation (3 seeds, ``benchmarks/results/leave_one_out.md``), PCHIP 0.969 / 0.767
        / 1.024 on iPSC / EMT / HSMM (mean 0.920), the natural spline 1.082 / 0.703 / 1.046 (0.944): the
        spline bends EMT's smooth trajectories better but overshoots on the branching iPSC data, where PCHIP
        is the only variant below the geometry. Gene-network recovery (``benchmarks/results/grn.md``) goes
        the other way, mean AUROC 0.733 with the spline against 0.715 with PCHIP, which flattens the
        oscillating genes of the cycle (dyn-CY 0.82 against 0.72). ``spline_tension`` applies to
        ``"spline"`` only. With two time points all three are the same straight bridge, trained by the same code.
    t_clip
        Bridge times are drawn uniformly from ``[t_clip, 1 - t_clip]`` of each interval: the flow target
        has a ``1 / sqrt(s)`` term at the ends whose variance would otherwise diverge logarithmically.
    score_weight
        Weight of the score loss relative to the flow loss.
    grad_clip
        Clip the gradient norm of each network (None: no clipping).
    val_fraction
        Fraction of the cells of each time point held out to compute a validation loss (0: none).
    val_every, val_batches
        Validation every ``val_every`` steps, averaged over ``val_batches`` fixed minibatches.
    patience
        Stop after this many validations without improvement and restore the best networks (None: never).
    log_every
        Steps between progress-bar updates (each reads the loss from the device once).
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
        Whether time enters each target's MLP (``True``, default; with ``n_freqs`` Fourier features) or the
        drift is autonomous (``False``). An autonomous drift is the natural prior for fixed regulatory rules,
        but with coarse snapshots the velocities are averages over long intervals and the clock helps: on
        the BEELINE benchmark (one seed, ``benchmarks/results/grn.md``) the mean AUROC over five networks was
        0.74 with time and 0.65 without.
    """

    sigma: float
    n_steps: int = 2000
    batch_size: int = 256
    lr: float = 1e-3
    lr_schedule: str = "cosine"
    weight_decay: float = 0.0
    hidden_dims: tuple[int, ...] = (64, 64, 64)
    activation: str = "selu"
    n_freqs: int = 4
    ot_method: str = "entropic"
    ot_eps_rel: float | None = None
    ot_tol: float = 5e-2
    ot_max_iter: int = 300
    ot_sync_free: bool | None = None
    ot_sync_free_iter: int = 100
    ot_reuse: int = 1
    path: str | None = None
    spline_tension: float = 1.0
    t_clip: float = 1e-3
    score_weight: float = 1.0
    grad_clip: float | None = None
    val_fraction: float = 0.0
    val_every: int = 100
    val_batches: int = 4
    patience: int | None = None
    log_every: int = 50
    drift: str = "mlp"
    ngm_hidden_dims: tuple[int, ...] = (16,)
    ngm_lambda: float = 1e-3
    ngm_adaptive: bool = False
    ngm_time: bool = True

    def __post_init__(self) -> None:
        if self.path is None:  # the measured best per use: see the ``path`` notes above
            self.path = "spline" if self.drift == "ngm" else "pchip"

    def validate(self) -> None:
        """Raise ValueError on settings that cannot work."""
        if not self.sigma > 0:
            raise ValueError(f"sigma must be positive, got {self.sigma}")
        if self.n_steps < 1 or self.batch_size < 2:
            raise ValueError("n_steps must be >= 1 and batch_size >= 2")
        if self.ot_method not in ("entropic", "exact", "independent"):
            raise ValueError(f"ot_method must be 'entropic', 'exact' or 'independent', not {self.ot_method!r}")
        if self.ot_reuse < 1:
            raise ValueError("ot_reuse must be >= 1")
        if self.path not in ("linear", "spline", "pchip"):
            raise ValueError(f"path must be 'linear', 'spline' or 'pchip', not {self.path!r}")
        if not 0 <= self.spline_tension <= 1:
            raise ValueError(f"spline_tension must lie in [0, 1], got {self.spline_tension}")
        if not 0 <= self.t_clip < 0.5:
            raise ValueError("t_clip must lie in [0, 0.5)")
        if not 0 <= self.val_fraction < 1:
            raise ValueError("val_fraction must lie in [0, 1)")
        if self.lr_schedule not in ("cosine", "constant"):
            raise ValueError(f"lr_schedule must be 'cosine' or 'constant', not {self.lr_schedule!r}")
        if self.patience is not None and self.val_fraction == 0:
            raise ValueError("early stopping (patience) needs a validation set: set val_fraction > 0")
        if self.drift not in ("mlp", "ngm"):
            raise ValueError(f"drift must be 'mlp' or 'ngm', not {self.drift!r}")
        if not (np.isfinite(self.ngm_lambda) and self.ngm_lambda >= 0):
            raise ValueError(f"ngm_lambda must be a non-negative number, got {self.ngm_lambda}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden_dims"] = list(self.hidden_dims)
        d["ngm_hidden_dims"] = list(self.ngm_hidden_dims)
        return d


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


class SF2MTrainer:
    """Trains the flow and score networks of [SF]2M on a time course.

    Parameters
    ----------
    x
        States ``(n_cells, d)``: an array or a tensor on any device.
    t
        Time of each cell (array or tensor); the model rescales time to ``[0, 1]`` before it gets here.
    config
        Training settings.
    device
        Torch device (already resolved).
    rng
        Seed or generator: network initialisation, validation split and every minibatch derive from it.
    """

    def __init__(self, x, t, config: SF2MConfig, *, device: torch.device | str = "cpu", rng: RNGLike = 0):
        config.validate()
        self.config = config
        self.device = torch.device(device)
        np_rng = as_numpy_rng(rng)
        # accept tensors on any device as well as arrays: the split and sampler work from host copies
        x, t = host_arrays(x, t)
        val_mask = split_validation(t, config.val_fraction, np_rng)
        self.sampler = IntervalSampler(x[~val_mask], t[~val_mask], self.device)
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
        params = list(self.flow.parameters()) + list(self.score.parameters())
        self.optimizer, self.scheduler = make_optimizer(params, lr=config.lr, weight_decay=config.weight_decay,
                                                        lr_schedule=config.lr_schedule, n_steps=config.n_steps,
                                                        device=self.device)
        self.generator = torch_generator(np_rng, self.device)
        sync_free = self.device.type == "cuda" if config.ot_sync_free is None else config.ot_sync_free
        self._sinkhorn_budget = (dict(tol=None, max_iter=config.ot_sync_free_iter) if sync_free
                                 else dict(tol=config.ot_tol, max_iter=config.ot_max_iter))
        self.sigma = float(config.sigma)
        self.history: list[tuple[int, float, float, float]] = []
        self.val_history: list[tuple[int, float]] = []
        self.steps_done = 0
        self._plan_cache = None  # (sampler, times used, x0, x1, plan) while a plan is being reused
        self._spline_matrix: dict = {}  # sampler -> natural-spline matrix of its time points

    # -- one step -----------------------------------------------------------------------------------------
    def _plan(self, sampler: IntervalSampler, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor | None:
        """Minibatch plans ``(n_intervals, B, B)`` between ``x0`` and ``x1`` (None for the independent coupling)."""
        cfg = self.config
        if cfg.ot_method == "independent":
            return None
        if cfg.ot_method == "exact":
            return coupling(x0, x1, "exact")
        # the static Schrodinger bridge of each of this sampler's intervals: eps = 2 sigma^2 Delta
        eps = None if cfg.ot_eps_rel is not None else 2 * self.sigma**2 * (sampler.t1 - sampler.t0)
        return coupling(x0, x1, "entropic", eps=eps, eps_rel=cfg.ot_eps_rel, block_size=8, **self._sinkhorn_budget)

    def coupled_batch(self, sampler: IntervalSampler, generator: torch.Generator, reuse: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """Pairs ``(x0, x1)``, each ``(n_intervals, batch_size, d)``, drawn from minibatch OT plans.

        With ``reuse > 1`` the plan (and its cells) is kept for ``reuse`` calls and only the pairs are redrawn.
        """
        cfg = self.config
        B = cfg.batch_size
        cache = self._plan_cache
        if reuse > 1 and cache is not None and cache[0] is sampler and cache[1] < reuse:
            _, used, x0, x1, plan = cache
        else:
            x0, x1 = sampler.sample(B, generator)
            plan = self._plan(sampler, x0, x1)
            if plan is None:
                return x0, x1
            used = 0
        if reuse > 1:
            self._plan_cache = (sampler, used + 1, x0, x1, plan)
        i, j = sample_pairs(plan, B, generator=generator)
        x0 = torch.gather(x0, 1, i.unsqueeze(-1).expand(-1, -1, x0.shape[-1]))
        x1 = torch.gather(x1, 1, j.unsqueeze(-1).expand(-1, -1, x1.shape[-1]))
        return x0, x1

    def coupled_chains(self, sampler: IntervalSampler, generator: torch.Generator, reuse: int = 1) -> torch.Tensor:
        """Trajectories ``(K, batch_size, d)`` through all ``K`` time points, drawn from chained OT plans.

        One draw of ``batch_size`` cells per time point serves both intervals it belongs to, so the plans
        of consecutive intervals share their cells and chain into a Markov coupling of all time points.
        """
        B = self.config.batch_size
        cache = self._plan_cache
        if reuse > 1 and cache is not None and cache[0] is sampler and cache[1] < reuse:
            _, used, cells, _, plan = cache
        else:
            cells = sampler.sample_time_points(B, generator)
            plan = self._plan(sampler, cells[:-1], cells[1:])
            if plan is None:
                plan = torch.ones((len(cells) - 1, B, B), device=cells.device, dtype=cells.dtype)
            used = 0
        if reuse > 1:
            self._plan_cache = (sampler, used + 1, cells, None, plan)
        chains = sample_chains(plan, B, generator=generator)  # (K, B)
        return torch.gather(cells, 1, chains.unsqueeze(-1).expand(-1, -1, cells.shape[-1]))

    def _spline_losses(self, sampler: IntervalSampler, generator: torch.Generator, reuse: int) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.config
        nodes = self.coupled_chains(sampler, generator, reuse)
        K, B, d = nodes.shape
        knots = torch.cat([sampler.t0, sampler.t1[-1:]])
        s = cfg.t_clip + (1 - 2 * cfg.t_clip) * torch.rand((K - 1, B, 1), generator=generator, device=self.device)
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
        s = cfg.t_clip + (1 - 2 * cfg.t_clip) * torch.rand((len(x0), 1), generator=generator, device=self.device)
        t = t0 + s * (t1 - t0)
        bridge = brownian_bridge(x0, x1, t0, t1, t, self.sigma, generator=generator)
        u = sf2m_flow_target(bridge, x0, x1)
        flow_loss = (self.flow(t, bridge.xt) - u).pow(2).mean()
        score_loss = (bridge.std * self.score(t, bridge.xt) + bridge.noise).pow(2).mean()
        return flow_loss, score_loss

    def step(self) -> torch.Tensor:
        """One optimisation step; returns the detached losses ``[total, flow, score]`` (no host read).

        With ``drift="ngm"`` the total includes the group lasso ``ngm_lambda * penalty``.
        """
        cfg = self.config
        flow_loss, score_loss = self.losses(self.sampler, self.generator, cfg.ot_reuse)
        loss = flow_loss + cfg.score_weight * score_loss
        if cfg.drift == "ngm" and cfg.ngm_lambda > 0:
            if cfg.ngm_adaptive and self._ngm_weights is None and self.steps_done >= cfg.n_steps // 2:
                self._ngm_weights = adaptive_weights(self.flow.group_norms(), mask=self.flow.penalty_mask)
            loss = loss + cfg.ngm_lambda * self.flow.group_lasso_penalty(self._ngm_weights)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.flow.parameters(), cfg.grad_clip)
            torch.nn.utils.clip_grad_norm_(self.score.parameters(), cfg.grad_clip)
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        self.steps_done += 1
        return torch.stack([loss, flow_loss, score_loss]).detach()

    @torch.no_grad()
    def validation_loss(self) -> float:
        """Mean total loss over fixed validation minibatches (same draws at every call)."""
        gen = torch_generator(self.val_seed, self.device)
        total = 0.0
        for _ in range(self.config.val_batches):
            fl, sl = self.losses(self.val_sampler, gen)
            total += float(fl + self.config.score_weight * sl)
        return total / self.config.val_batches

    # -- the loop -----------------------------------------------------------------------------------------
    def train(self, progress: bool = True) -> dict:
        """Run ``config.n_steps`` steps (fewer if early stopping triggers); return the loss history."""
        cfg = self.config
        best = (float("inf"), None, 0)
        bad_checks = 0
        start = time.perf_counter()
        bar = tqdm(total=cfg.n_steps, desc="[SF]2M", disable=not progress, leave=False)
        log = LossLog(cfg.n_steps, 3, self.device, log_every=cfg.log_every, bar=bar, name="[SF]2M")
        n_done = 0
        for k in range(cfg.n_steps):
            log.add(self.step())
            n_done = k + 1
            if self.val_sampler is not None and n_done % cfg.val_every == 0:
                val = self.validation_loss()
                self.val_history.append((n_done, val))
                if val < best[0]:
                    best = (val, (copy.deepcopy(self.flow.state_dict()), copy.deepcopy(self.score.state_dict())), n_done)
                    bad_checks = 0
                else:
                    bad_checks += 1
                if cfg.patience is not None and bad_checks >= cfg.patience:
                    logger.info(f"early stopping at step {n_done}: best validation loss {best[0]:.4g} at step {best[2]}")
                    break
        bar.close()
        if cfg.patience is not None and best[1] is not None:
            self.flow.load_state_dict(best[1][0])
            self.score.load_state_dict(best[1][1])
        losses = log.values()
        history = {
            "step": np.arange(1, n_done + 1),
            "loss": losses[:, 0],
            "flow_loss": losses[:, 1],
            "score_loss": losses[:, 2],
        }
        if self.val_history:
            history["val_step"] = np.array([s for s, _ in self.val_history])
            history["val_loss"] = np.array([v for _, v in self.val_history])
        history["train_seconds"] = time.perf_counter() - start
        return history
