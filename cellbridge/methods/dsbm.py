"""DSBM: Diffusion Schrodinger Bridge Matching by Iterative Markovian Fitting (Shi et al., NeurIPS 2023).

Each interval ``[t_k, t_{k+1}]`` of the time course holds a set of endpoint pairs ``(x0, x1)``, a coupling of
the snapshots ``X_k`` and ``X_{k+1}``. One IMF iteration alternates the two projections of the paper:

* **Markovian projection.** Brownian bridges (diffusion ``sigma``) are drawn between the pairs, and one drift
  network over absolute time is regressed on the bridge's drift towards one end: the forward network
  ``f(t, x)`` on ``(x1 - x_t) / (t1 - t)``, or the backward network ``b(t, x)`` on ``(x0 - x_t) / (t - t0)``.
  The regression's minimiser is the drift of the Markov process with the same marginals as the bridge
  mixture: ``dx = f dt + sigma dW`` forwards in time, ``dx = b d(-t) + sigma dW`` backwards.
* **Reciprocal projection.** The SDE just learned is simulated (Euler-Maruyama, all intervals at once) to
  make new pairs: forwards from cells of ``X_k`` when the forward network was fitted, backwards from cells
  of ``X_{k+1}`` when it was the backward one. The next iteration fits the other direction on them, so the
  side that comes from the data alternates and both endpoint marginals stay those of the data.

Iterations start from an initial coupling: ``"independent"`` (DSBM-IMF), ``"reference"`` (``x1 = x0 +
sigma sqrt(Delta) z``, the Brownian motion's own coupling: DSBM-IPF), ``"ot"`` (minibatch OT, DSBM-IMF+) or
``"sf2m"`` (pairs simulated by a fitted [SF]2M model). The fixed point is the Schrodinger bridge.

Variance control. The forward target is ``(x1 - x0)/Delta - sigma sqrt(s / ((1 - s) Delta)) z`` (``s`` the
fraction of the interval elapsed, ``z`` the bridge noise): its variance grows like ``1 / (1 - s)`` near the
interval's end, and so does the backward target's like ``1 / s`` near its start, so that the expected loss
would diverge logarithmically and single minibatches would be dominated by a few bridge times. Bridge times
are therefore drawn from ``[t_clip, 1 - t_clip]`` of each interval (``t_clip = 1e-3`` as in the DSBM code;
the expected noise part of the loss is then ``sigma^2 (log(1 / t_clip) - 1) / Delta`` per dimension). This
changes nothing the sampler needs: Euler-Maruyama with ``sim_steps`` steps evaluates the drift at
``s <= 1 - 1 / sim_steps`` only, inside the trained range whenever ``t_clip < 1 / sim_steps``. Each sample's
squared error is also weighted by its interval's length over the mean length: under diffusive scaling the
loss of an interval of length ``Delta`` grows like ``1 / Delta``, so unequal intervals would otherwise be
fitted with unequal care (the weight is exactly 1 when intervals are equal, and never moves the
regression's minimiser, a per-time conditional mean).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from .._logging import logger
from .._utils import RNGLike, as_numpy_rng, torch_generator
from ..ot.minibatch import MinibatchCoupling
from ..paths import brownian_bridge, dsbm_backward_target, dsbm_forward_target
from ..sde import integrate
from ._common import LossLog, bridge_times, host_arrays, make_networks
from .base import DIRECTIONS, Drift, FitContext, Method, MethodConfig, Stage, Trainer, TrainResult, register_method
from .sampler import IntervalSampler

INIT_COUPLINGS = ("independent", "reference", "ot", "sf2m")


@dataclass
class DSBMConfig(MethodConfig):
    """Settings of DSBM training (in the coordinates the trainer is given).

    The fields shared by every method (``sigma``, ``n_steps``, ``batch_size``, ``lr``, ``lr_schedule``,
    ``weight_decay``, ``hidden_dims``, ``activation``, ``n_freqs``, ``ot_method``, ``t_clip``, ``grad_clip``,
    ``log_every``) are documented in :class:`cellbridge.methods.MethodConfig`. Here ``n_steps`` counts the
    optimisation steps of each iteration, ``batch_size`` the bridge samples per interval per step, and the
    cosine learning-rate decay runs over each iteration (a fresh Adam per iteration, as in the DSBM code):
    it also keeps the SGD-noise error of one fit out of the next coupling.

    Attributes
    ----------
    n_iterations
        Outer IMF iterations, each fitting one direction (alternating) and then simulating it to make the
        next coupling. 4 (default) takes the Gaussian example from the independent coupling to within 0.1% of
        the Schrodinger bridge (cross-covariance 0, 0.546, 0.611, 0.617, 0.618: the exact IMF iterates);
        from an OT or [SF]2M coupling fewer are needed.
    n_steps_first
        Steps of the first iteration, which starts from untrained networks (None: ``n_steps``). Later
        iterations start from the weights of the previous fit of the same direction (``warm_start``) and can
        be shorter, as in the DSBM code.
    n_freqs
        Fourier time features (4 by default): a drift towards one end of the interval changes fastest in
        time near that end, where it decides the simulated endpoint (``benchmarks/results/defaults.md``).
    init_coupling
        ``"ot"`` (default; DSBM-IMF+: minibatch OT, see ``ot_method``), ``"independent"`` (DSBM-IMF),
        ``"reference"`` (DSBM-IPF: ``x1 = x0 + sigma sqrt(Delta) z``; needs ``first_direction="backward"``,
        since its ``x1`` are not cells of the later snapshot) or ``"sf2m"`` (pairs from the SDE of a fitted
        [SF]2M model, passed to the trainer as ``init_drift``).
    ot_method
        Solver of the ``"ot"`` coupling on minibatches of ``batch_size`` cells: ``"entropic"`` (default; the
        static Schrodinger bridge of each interval, ``eps = 2 sigma^2 Delta``, so that the first iteration is
        [SF]2M-like) or ``"exact"`` (OT-CFM's coupling, the published DSBM-IMF+).
    n_sim
        Endpoint pairs per interval in each coupling (drawn with replacement from the snapshots). The
        regression of an iteration sees only these pairs, with fresh bridge times and noise at every step.
    refresh_every
        Remake the pairs every ``refresh_every`` steps within an iteration (new cells, new simulation noise);
        None (default) makes them once per iteration. The DSBM code remakes them after every pass over its
        pairs; refreshing trades simulation time for less dependence on one finite set of pairs.
    sim_steps
        Euler-Maruyama steps per interval of the reciprocal projection. 100 (default) keeps the Euler bias of
        the endpoint variance below about 0.5% (Gaussian example); 20 is the DSBM code's setting.
    first_direction
        Direction fitted in the first iteration, ``"backward"`` (default, as in the DSBM code) or
        ``"forward"``.
    warm_start
        Start each fit from the weights of the previous fit of the same direction (default) rather than from
        a fresh initialisation.
    """

    n_iterations: int = 4
    n_steps_first: int | None = None
    init_coupling: str = "ot"
    n_sim: int = 4096
    refresh_every: int | None = None
    sim_steps: int = 100
    first_direction: str = "backward"
    warm_start: bool = True

    OT_METHODS: ClassVar[tuple[str, ...]] = ("entropic", "exact")

    def validate(self) -> None:
        """Raise ValueError on settings that cannot work."""
        super().validate()
        if self.n_iterations < 1:
            raise ValueError("n_iterations must be >= 1")
        if self.n_steps_first is not None and self.n_steps_first < 1:
            raise ValueError("n_steps and n_steps_first must be >= 1")
        if self.n_sim < 2:
            raise ValueError("batch_size and n_sim must be >= 2")
        if self.init_coupling not in INIT_COUPLINGS:
            raise ValueError(f"init_coupling must be one of {INIT_COUPLINGS}, not {self.init_coupling!r}")
        if self.first_direction not in DIRECTIONS:
            raise ValueError(f"first_direction must be 'forward' or 'backward', not {self.first_direction!r}")
        if self.init_coupling == "reference" and self.first_direction != "backward":
            raise ValueError("init_coupling='reference' pairs cells of the earlier snapshot with Brownian motion's "
                             "endpoints, which only the backward fit can use: set first_direction='backward'")
        if self.sim_steps < 1:
            raise ValueError("sim_steps must be >= 1")
        if self.refresh_every is not None and self.refresh_every < 1:
            raise ValueError("refresh_every must be >= 1 (or None)")

    def coupling(self) -> MinibatchCoupling:
        """The initial ``"ot"`` coupling: one solve per iteration's pairs, so its tolerance is read back."""
        return MinibatchCoupling(self.ot_method, sigma=self.sigma, tol=1e-2, max_iter=300, sync_free=False,
                                 block_size=5)

    def direction(self, iteration: int) -> str:
        """The direction fitted in ``iteration`` (0-based): ``first_direction``, then alternating."""
        first = DIRECTIONS.index(self.first_direction)
        return DIRECTIONS[(first + iteration) % 2]

    def steps(self, iteration: int) -> int:
        """Optimisation steps of ``iteration`` (0-based)."""
        return self.n_steps_first if iteration == 0 and self.n_steps_first is not None else self.n_steps


class DSBMTrainer(Trainer):
    """Trains the forward and backward drift networks of DSBM on a time course by Iterative Markovian Fitting.

    Constructed as every :class:`cellbridge.methods.Trainer`, ``DSBMTrainer(x, t, config, device=, rng=)``
    (network initialisation and every draw: cells, couplings, bridges, simulation noise derive from
    ``rng``), and for ``init_coupling="sf2m"`` also:

    Parameters
    ----------
    init_drift, init_sigma
        For ``init_coupling="sf2m"``: the forward SDE drift ``(t, x) -> (n, d)`` of a fitted model in the
        trainer's coordinates (``t`` a column of absolute times) and its diffusion coefficient (default
        ``config.sigma``). The first pairs are simulated with it from cells of each earlier snapshot.

    Attributes
    ----------
    forward, backward
        The drift networks.
    iteration
        Iterations done so far.
    pairs
        The last coupling used, ``(x0, x1)`` each ``(n_intervals, n_sim, d)``.
    """

    label = "DSBM"

    def __init__(self, x, t, config: DSBMConfig, *, device: torch.device | str = "cpu", rng: RNGLike = 0,
                 init_drift: Drift | None = None, init_sigma: float | None = None):
        config.validate()
        if config.init_coupling == "sf2m" and init_drift is None:
            raise ValueError("init_coupling='sf2m' needs the drift of a fitted [SF]2M model (init_drift); "
                             "CellBridgeModel.fit(method='dsbm', init_coupling='sf2m') fits or takes one")
        self.config = config
        self.device = torch.device(device)
        np_rng = as_numpy_rng(rng)
        x, t = host_arrays(x, t)
        self.sampler = IntervalSampler(x, t, self.device)
        self.coupling = config.coupling()
        dim = self.sampler.dim
        self._make = lambda seed: make_networks(  # noqa: E731
            1, dim, config.hidden_dims, config.activation, config.n_freqs, seed, self.device)[0]
        self.forward, self.backward = make_networks(2, dim, config.hidden_dims, config.activation, config.n_freqs,
                                                    int(np_rng.integers(2**31)), self.device)
        # fresh initialisations for warm_start=False, fixed now so that the run depends on the seed alone
        self._reinit_seeds = [int(s) for s in np_rng.integers(2**31, size=config.n_iterations)]
        self.generator = torch_generator(np_rng, self.device)
        self.sigma = float(config.sigma)
        self.init_drift = init_drift
        self.init_sigma = self.sigma if init_sigma is None else float(init_sigma)
        s = self.sampler
        self.delta = s.t1 - s.t0
        self.weight = self.delta / self.delta.mean()  # interval-length weight of the loss (module docstring)
        self.iteration = 0
        self.trained: list[str] = []
        self.pairs: tuple[torch.Tensor, torch.Tensor] | None = None
        self.iteration_log: list[dict] = []
        self._losses: list[np.ndarray] = []
        self._iteration_index: list[np.ndarray] = []

    def network(self, direction: str) -> torch.nn.Module:
        return self.forward if direction == "forward" else self.backward

    # -- simulation (the reciprocal projection) -----------------------------------------------------------
    @torch.no_grad()
    def simulate(self, x_start: torch.Tensor, direction: str, *, drift: Drift | None = None,
                 sigma: float | None = None, n_steps: int | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Push cells across their intervals with the learned SDE, all intervals in one batch.

        Parameters
        ----------
        x_start
            ``(n_intervals, n, d)``: cells at the start of each interval (``t_k`` forwards, ``t_{k+1}``
            backwards).
        direction
            ``"forward"``: ``dx = f dt + sigma dW`` from ``t_k`` to ``t_{k+1}``; ``"backward"``:
            ``dx = b d(-t) + sigma dW`` from ``t_{k+1}`` back to ``t_k``.
        drift
            Drift to use instead of the network (forward-time SDE drift; ``direction="forward"`` only).
        sigma, n_steps, generator
            Diffusion coefficient (default the config's), Euler-Maruyama steps per interval (default
            ``sim_steps``) and the generator of the Brownian increments (default the trainer's).

        Returns
        -------
        torch.Tensor
            The states at the other end of each interval, ``(n_intervals, n, d)``.
        """
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be 'forward' or 'backward', not {direction!r}")
        K, n, d = x_start.shape
        sigma = self.sigma if sigma is None else float(sigma)
        n_steps = self.config.sim_steps if n_steps is None else int(n_steps)
        generator = self.generator if generator is None else generator
        f = drift if drift is not None else self.network(direction)
        col = lambda v: v.repeat_interleave(n).unsqueeze(-1)  # noqa: E731  per interval -> per row
        t0, delta = col(self.sampler.t0), col(self.delta)
        # Every interval runs in its own fraction of time s in [0, 1], in units of its own Brownian scale
        # c = sigma sqrt(Delta): y = x / c follows dy = f(t0 + s Delta, c y) Delta / c ds + dW_s, one
        # unit-diffusion SDE over s for all intervals at once, which sde.integrate handles in one batch.
        c = sigma * delta.sqrt()
        sign = 1.0 if direction == "forward" else -1.0  # backwards, integrate() steps with h < 0: x + h (-b)

        def g(s: float, y: torch.Tensor) -> torch.Tensor:
            return sign * f(t0 + s * delta, y * c) * (delta / c)

        s_eval = [0.0, 1.0] if direction == "forward" else [1.0, 0.0]
        y = integrate(g, x_start.reshape(K * n, d) / c, s_eval, dt=1.0 / n_steps, sigma=1.0,
                      generator=generator, return_path=False)
        return (y * c).reshape(K, n, d)

    # -- couplings ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def initial_pairs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The first coupling of every interval, ``(x0, x1)`` each ``(n_intervals, n_sim, d)``."""
        cfg = self.config
        gen = self.generator
        kind = cfg.init_coupling
        if kind == "ot":
            # n_sim pairs per interval from independent minibatches of batch_size cells, all solved at once
            B = cfg.batch_size
            n_blocks = math.ceil(cfg.n_sim / B)
            x0, x1 = self.sampler.sample(n_blocks * B, gen)
            K, _, d = x0.shape
            blocks = (x0.reshape(K * n_blocks, B, d), x1.reshape(K * n_blocks, B, d))
            x0, x1 = self.coupling.pairs(lambda: blocks, self.delta.repeat_interleave(n_blocks), B, gen)
            return x0.reshape(K, n_blocks * B, d)[:, :cfg.n_sim], x1.reshape(K, n_blocks * B, d)[:, :cfg.n_sim]
        x0, x1 = self.sampler.sample(cfg.n_sim, gen)
        if kind == "independent":
            return x0, x1
        if kind == "reference":
            noise = torch.randn(x0.shape, generator=gen, device=x0.device, dtype=x0.dtype)
            return x0, x0 + self.sigma * self.delta.sqrt()[:, None, None] * noise
        # "sf2m": the fitted model's SDE from the earlier snapshot
        return x0, self.simulate(x0, "forward", drift=self.init_drift, sigma=self.init_sigma)

    @torch.no_grad()
    def reciprocal_pairs(self, direction: str) -> tuple[torch.Tensor, torch.Tensor]:
        """New pairs from the SDE fitted in ``direction``: data at its start, simulated states at its end."""
        x0, x1 = self.sampler.sample(self.config.n_sim, self.generator)
        if direction == "forward":  # from uniformly drawn cells: terms that weigh paths resample them
            return self.reweight_pairs(x0, self.simulate(x0, "forward"))
        return self.simulate(x1, "backward"), x1

    def _pairs_for(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor]:
        if iteration == 0:
            return self.initial_pairs()
        return self.reciprocal_pairs(self.config.direction(iteration - 1))

    # -- one step -----------------------------------------------------------------------------------------
    def loss(self, direction: str, x0: torch.Tensor, x1: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """Bridge-matching loss of ``direction`` on pairs ``x0, x1`` ``(n_intervals, B, d)`` (differentiable)."""
        cfg = self.config
        generator = self.generator if generator is None else generator
        K, B, d = x0.shape
        x0, x1 = x0.reshape(K * B, d), x1.reshape(K * B, d)
        col = lambda v: v.repeat_interleave(B).unsqueeze(-1)  # noqa: E731
        t0, t1, w = col(self.sampler.t0), col(self.sampler.t1), col(self.weight)
        t = t0 + bridge_times((K * B, 1), cfg.t_clip, generator, x0.device) * (t1 - t0)
        bridge = brownian_bridge(x0, x1, t0, t1, t, self.sigma, generator=generator)
        if direction == "forward":
            target = dsbm_forward_target(x1, bridge.xt, t, t1)
        else:
            target = dsbm_backward_target(x0, bridge.xt, t, t0)
        return (w * (self.network(direction)(t, bridge.xt) - target).pow(2)).mean()

    def _batch(self, pairs: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        x0, x1 = pairs
        K, n, d = x0.shape
        idx = torch.randint(n, (K, self.config.batch_size, 1), generator=self.generator, device=x0.device)
        idx = idx.expand(-1, -1, d)
        return torch.gather(x0, 1, idx), torch.gather(x1, 1, idx)

    # -- hooks of the training loop -----------------------------------------------------------------------
    def _stage(self, iteration: int) -> Stage:
        direction = self.config.direction(iteration)
        return Stage(iteration, self.config.steps(iteration), (self.network(direction),),
                     label=f"{iteration + 1}/{self.config.n_iterations} {direction}")

    def stages(self) -> list[Stage]:
        return [self._stage(it) for it in range(self.iteration, self.config.n_iterations)]

    def begin_stage(self, stage: Stage) -> None:
        """Re-initialise the network when not warm-starting, and make the iteration's coupling."""
        it, direction = stage.index, self.config.direction(stage.index)
        self._start = time.perf_counter()
        if not self.config.warm_start and direction in self.trained:
            self.network(direction).load_state_dict(self._make(self._reinit_seeds[it]).state_dict())
        self.network(direction).train()
        self._stage_pairs = self._pairs_for(it)
        self._pair_cost = (self._stage_pairs[1] - self._stage_pairs[0]).pow(2).sum(-1).mean()  # read at the end

    def stage_losses(self, stage: Stage, step: int) -> tuple[torch.Tensor]:
        cfg = self.config
        if cfg.refresh_every is not None and step > 0 and step % cfg.refresh_every == 0:
            self._stage_pairs = self._pairs_for(stage.index)
        return (self.loss(cfg.direction(stage.index), *self._batch(self._stage_pairs)),)

    def end_stage(self, stage: Stage, losses: np.ndarray) -> None:
        cfg = self.config
        it, direction = stage.index, cfg.direction(stage.index)
        self.network(direction).eval()
        self.pairs = self._stage_pairs
        self.iteration += 1
        if direction not in self.trained:
            self.trained.append(direction)
        losses = losses[:, 0]
        self._losses.append(losses)
        self._iteration_index.append(np.full(len(losses), it, dtype=np.int64))
        self.iteration_log.append({"direction": direction, "steps": stage.n_steps, "pair_cost": float(self._pair_cost),
                                   "final_loss": float(losses[-min(cfg.log_every, len(losses)):].mean()),
                                   "seconds": time.perf_counter() - self._start})

    def extra_state(self) -> dict:
        stage_pairs = getattr(self, "_stage_pairs", None)
        return {"iteration": self.iteration, "trained": list(self.trained),
                "pairs": None if self.pairs is None else list(self.pairs),
                "stage_pairs": None if stage_pairs is None else list(stage_pairs),
                "pair_cost": getattr(self, "_pair_cost", None), "iteration_log": list(self.iteration_log),
                "losses": [torch.from_numpy(v) for v in self._losses],
                "iteration_index": [torch.from_numpy(v) for v in self._iteration_index]}

    def load_extra_state(self, state: dict) -> None:
        self.iteration = int(state["iteration"])
        self.trained = list(state["trained"])
        self.pairs = None if state["pairs"] is None else tuple(state["pairs"])
        if state["stage_pairs"] is not None:
            self._stage_pairs = tuple(state["stage_pairs"])
        self._pair_cost = state["pair_cost"]
        self.iteration_log = [dict(r) for r in state["iteration_log"]]
        self._losses = [v.numpy() for v in state["losses"]]
        self._iteration_index = [v.numpy() for v in state["iteration_index"]]
        self._start = time.perf_counter()  # a resumed iteration counts its seconds from the resume

    def run_iteration(self, log: LossLog | None = None) -> dict:
        """One IMF iteration: make the coupling, fit the network of this iteration's direction on it.

        Returns the iteration's record (direction, steps, mean squared pair displacement, seconds).
        """
        if self.iteration >= self.config.n_iterations:
            raise RuntimeError(f"all {self.config.n_iterations} iterations are done")
        stage = self._stage(self.iteration)
        self.run_stage(stage, self.new_log(stage.n_steps) if log is None else log)
        return self.iteration_log[-1]

    def history(self) -> dict:
        """The loss history of the iterations done so far.

        Returns
        -------
        dict
            ``step`` (1-based, counted over all iterations), ``iteration`` (the iteration of each step),
            ``loss``; per iteration ``iteration_direction``, ``iteration_steps``, ``iteration_pair_cost``
            (mean squared displacement of the pairs fitted, in the trainer's coordinates),
            ``iteration_final_loss`` and ``iteration_seconds``; after :meth:`train`, ``train_seconds``.
        """
        loss = np.concatenate(self._losses) if self._losses else np.zeros(0, dtype=np.float32)
        rec = self.iteration_log
        return {
            "step": np.arange(1, len(loss) + 1),
            "iteration": (np.concatenate(self._iteration_index) if self._iteration_index
                          else np.zeros(0, dtype=np.int64)),
            "loss": loss,
            "iteration_direction": np.array([r["direction"] for r in rec], dtype=object),
            "iteration_steps": np.array([r["steps"] for r in rec], dtype=np.int64),
            "iteration_pair_cost": np.array([r["pair_cost"] for r in rec]),
            "iteration_final_loss": np.array([r["final_loss"] for r in rec]),
            "iteration_seconds": np.array([r["seconds"] for r in rec]),
        }


@register_method("dsbm", label="DSBM", config=DSBMConfig, networks=("forward", "backward"), drift_network="forward",
                 fit_options=("init_model", "sf2m_options"),
                 untrained_hint=" (n_iterations=1): fit with n_iterations >= 2")
class DSBM(Method):
    """DSBM by Iterative Markovian Fitting: a forward and a backward drift network."""

    @classmethod
    def train(cls, x, t, config: DSBMConfig, *, context: FitContext, rng, init_model=None,
              sf2m_options: dict | None = None) -> TrainResult:
        """Fit by IMF; with ``init_coupling="sf2m"`` the first pairs come from ``init_model``'s SDE (an [SF]2M
        model of the same representation), or from one fitted first with ``sf2m_options``."""
        np_rng = as_numpy_rng(rng)
        init, extra = {}, {}
        if config.init_coupling == "sf2m":
            if init_model is None:
                logger.info("init_coupling='sf2m': fitting [SF]2M for the first coupling")
                init_model = context.fit("sf2m", rng=np_rng, **(sf2m_options or {}))
            elif sf2m_options is not None:
                raise TypeError("give either init_model or sf2m_options, not both")
            if init_model.method != "sf2m":
                raise ValueError(f"init_model must be an [SF]2M model, not {init_model.method!r}")
            if init_model.dim != x.shape[1]:
                raise ValueError(f"init_model has dimension {init_model.dim}, the data {x.shape[1]}")
            target = context.normalization
            init = {"init_drift": init_model.to(context.device).drift_in(target),
                    "init_sigma": target.sigma_to(init_model.sigma)}
            extra["init_model"] = {"method": init_model.method, "sigma": init_model.sigma,
                                   "train": init_model.config.get("train")}
        elif init_model is not None or sf2m_options is not None:
            raise TypeError("init_model and sf2m_options need init_coupling='sf2m'")
        trainer = DSBMTrainer(x, t, config, device=context.device, rng=np_rng, **init)
        history = context.run(trainer)
        extra["directions"] = [d for d in DIRECTIONS if d in trainer.trained]
        return TrainResult({"forward": trainer.forward, "backward": trainer.backward}, history, extra)

    @classmethod
    def drift(cls, networks, sigma, *, stochastic, direction):
        """Forwards ``f``, backwards ``b``; ODE ``+-(f - b)/2``.

        The forward SDE's reversal has drift ``-f + sigma^2 grad log p = b``, so ``sigma^2 grad log p = f + b``
        and the probability-flow velocity is ``f - sigma^2/2 grad log p = (f - b)/2``.
        """
        sign = 1.0 if direction == "forward" else -1.0
        fwd, bwd = networks["forward"], networks["backward"]
        if not stochastic:
            return lambda t, x: sign * 0.5 * (fwd(t, x) - bwd(t, x))
        net = fwd if direction == "forward" else bwd
        return lambda t, x: net(t, x)
