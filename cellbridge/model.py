"""The fitted model: configuration, networks and the coordinate normalisation, with simulate and save/load.

Training runs in normalised coordinates, ``x' = (x - center) / scale`` with one scalar ``scale`` (the RMS
per-dimension spread of the cells) and ``t' = (t - t_first) / (t_last - t_first)``, so that networks see
inputs of order one whatever the units of the representation and of time. A scalar scale keeps the
geometry: squared costs, hence OT plans, are unchanged up to the factor ``scale^2``. The SDE
``dx = f dt + sigma dW`` becomes ``dx' = f T / scale dt' + sigma sqrt(T) / scale dW'`` with ``T`` the time span,
and the model converts both ways; users only ever see their own units.

The model knows methods only through :class:`cellbridge.methods.Method` (the registry maps a name to one):
which networks a method owns, which is its drift, its drift in each direction for the SDE and the ODE,
and how it trains. Every method simulates forwards from an earlier time or backwards from a later one, by
the SDE or by its probability-flow ODE.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ._logging import logger
from ._utils import RNGLike, as_numpy_rng, auto_num_threads, cpu_threads, resolve_device, torch_generator
from .distributed import GROUP, DataParallel, cpu_share, resolve_devices, spawn_fit
from .methods import FitContext, Method, get_method, get_term
from .methods.growth import DEFAULT_TAU
from .methods.checkpoint import Checkpointer, fingerprint
from .nn import build_network
from .normalization import (DEFAULT_SIGMA_FRACTION, Normalization, _sigma_for_spread,  # noqa: F401 (re-exported)
                            column_moments, default_sigma, rms_spread)
from .sde import integrate

#: training steps between checkpoints when a checkpoint_dir is given: a checkpoint of the default networks
#: takes milliseconds, a default fit runs a few hundred steps per second at most
DEFAULT_CHECKPOINT_EVERY = 200
#: fraction of the fitted time span beyond the first or last time point where a warning says the model
#: extrapolates (no snapshot constrains it there)
EXTRAPOLATION_MARGIN = 0.1
#: Euler steps per (median) interval when simulating
DEFAULT_STEPS_PER_INTERVAL = 100
#: particles integrated at once by :meth:`CellBridgeModel.simulate` (a batch's states and network activations
#: stay tens of MB in 50-D); more are integrated batch after batch
DEFAULT_SIMULATION_BATCH = 65536
#: version of the saved format: 2 adds the SHA-256 of weights.pt to config.json (1 still loads, unverified)
_FORMAT_VERSION = 2



class CellBridgeModel:
    """A fitted dynamical model of a time course.

    Create one with :meth:`fit` (or :func:`cellbridge.tl.fit` from an AnnData) or :meth:`load`.

    Attributes
    ----------
    config
        JSON-serialisable settings: method, sigma (user units), time points, training config, metadata.
    networks
        The method's networks by name (e.g. ``flow`` and ``score`` for [SF]2M), in normalised coordinates.
    normalization
        The map between user units and training coordinates.
    history
        Loss history of training (empty after :meth:`load` unless it was saved).
    """

    def __init__(self, config: dict, networks: dict[str, torch.nn.Module], normalization: Normalization, history: dict | None = None):
        self.config = config
        self.networks = networks
        self.normalization = normalization
        self.history = history or {}
        for net in networks.values():
            net.eval()

    # -- properties ---------------------------------------------------------------------------------------
    @property
    def method(self) -> str:
        """Name of the training method (a key of the method registry, e.g. ``"sf2m"``)."""
        return self.config["method"]

    @property
    def method_class(self) -> type[Method]:
        """The registered :class:`cellbridge.methods.Method` that trained the model."""
        return get_method(self.method)

    @property
    def directions(self) -> tuple[str, ...]:
        """Directions the model can simulate by its SDE (a DSBM model: the ones it trained)."""
        return self.method_class.directions(self.config)

    @property
    def drift_network(self) -> torch.nn.Module:
        """The network that is the model's drift (normalised coordinates): the one a gene network is read from."""
        return self.networks[self.method_class.drift_network]

    @property
    def has_growth(self) -> bool:
        """Whether the model has a growth rate network (fitted with ``growth=True``)."""
        return "growth" in self.config.get("terms", {})

    @property
    def growth_identifiable(self) -> str | None:
        """``"absolute"`` when population sizes were given, ``"relative"`` when only rate differences mean
        anything (no population sizes), None without growth."""
        if not self.has_growth:
            return None
        return "absolute" if self.config["terms"]["growth"].get("population_size") is not None else "relative"

    @torch.no_grad()
    def growth_rate(self, t, x: np.ndarray) -> np.ndarray:
        """The learned growth rate ``g(t, x)`` (log-mass per user time unit) at time(s) ``t`` (a number, or
        one per cell) and states ``x`` ``(n, d)`` in user units.

        Without population sizes at the fit only differences between rates are identified (see
        :mod:`cellbridge.methods.growth`). Raises ValueError for a model without growth.
        """
        if not self.has_growth:
            raise ValueError("this model has no growth network: fit it with growth=True")
        n = self.normalization
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (n_cells, {self.dim}), got {x.shape}")
        xt = torch.as_tensor(n.x_to(x), dtype=torch.float32, device=self.device)
        tt = torch.as_tensor(np.broadcast_to(n.t_to(t), (len(x),)).copy(), dtype=torch.float32, device=self.device)
        return self.networks["growth"](tt, xt).reshape(-1).cpu().numpy().astype(np.float64) / n.t_span

    @property
    def sigma(self) -> float:
        """Diffusion coefficient in user units (representation units per square root of time unit)."""
        return float(self.config["sigma"])

    @property
    def time_points(self) -> np.ndarray:
        return np.asarray(self.config["time_points"], dtype=np.float64)

    @property
    def dim(self) -> int:
        return int(self.config["dim"])

    @property
    def use_rep(self) -> str | None:
        return self.config.get("use_rep")

    @property
    def time_key(self) -> str | None:
        return self.config.get("time_key")

    @property
    def device(self) -> torch.device:
        return next(next(iter(self.networks.values())).parameters()).device

    def to(self, device: str | torch.device) -> "CellBridgeModel":
        """Move the networks to ``device`` (``"auto"`` allowed); returns self."""
        dev = resolve_device(device)
        for net in self.networks.values():
            net.to(dev)
        return self

    def __repr__(self) -> str:
        tp = ", ".join(f"{t:g}" for t in self.time_points)
        return f"CellBridgeModel(method={self.method!r}, dim={self.dim}, sigma={self.sigma:.4g}, time_points=[{tp}], use_rep={self.use_rep!r})"

    # -- training -----------------------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        t: np.ndarray,
        *,
        method: str = "sf2m",
        sigma: float | None = None,
        device: str | torch.device = "auto",
        rng: RNGLike = 0,
        progress: bool = True,
        metadata: dict | None = None,
        num_threads: int | None = None,
        checkpoint_dir: str | Path | None = None,
        checkpoint_every: int | None = None,
        growth: bool = False,
        population_size=None,
        growth_prior=None,
        growth_tau: float = DEFAULT_TAU,
        growth_weight: float = 1.0,
        velocity_matching: float | None = None,
        velocity_n_sub=None,
        simulation_matching: float = 0.0,
        devices=None,
        **train_kwargs,
    ) -> "CellBridgeModel":
        """Fit a model to cells ``x`` ``(n, d)`` observed at times ``t`` ``(n,)`` (AnnData-free).

        Parameters
        ----------
        x, t
            States and times in the user's units.
        method
            A registered method (:func:`cellbridge.methods.available_methods`): ``"sf2m"`` ([SF]2M,
            :class:`cellbridge.methods.SF2MConfig`) or ``"dsbm"`` (Iterative Markovian Fitting,
            :class:`cellbridge.methods.DSBMConfig`).
        sigma
            Diffusion coefficient in user units; None picks :func:`default_sigma`. A value more than 10x away
            from the default is allowed, with a warning (usually a unit mistake).
        device
            ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ...
        rng
            Seed or NumPy generator; the same seed gives the same model on CPU.
        progress
            Show a progress bar.
        metadata
            Extra JSON-serialisable entries for the config (e.g. ``use_rep``, ``time_key``).
        num_threads
            Torch CPU threads during training, restored afterwards. None (default) chooses: 1 thread when a
            step's work is below ``THREADED_WORK`` (``cellbridge._utils``) FLOPs (every default fit; more
            threads gain little there and collapse when another process holds a core), else as many as the
            load average leaves idle, at most torch's setting (``cellbridge._utils.auto_num_threads``;
            measurements in ``benchmarks/results/threads.md``). An integer forces that many.
        checkpoint_dir, checkpoint_every
            Write a checkpoint of the whole training state to ``checkpoint_dir`` every ``checkpoint_every``
            steps (default 200) and at the end, atomically. Calling the same fit again with the same folder
            resumes from it, and ends with the same model, bit for bit on the CPU, as a run never interrupted;
            a checkpoint of another fit (other data, settings or seed) is refused. Needs a seed (``rng``). A
            data-parallel fit (``devices``) checkpoints too: rank 0 writes every rank's generator beside the
            shared networks, and the same call with the same number of processes resumes (the folder must be
            visible to every process: on several nodes, a shared file system).
        growth
            Learn unbalanced dynamics: a growth rate network ``g(t, x)`` (log-mass per time unit) trained
            jointly with the method's networks, which are then fitted on source-relaxed couplings
            (:mod:`cellbridge.methods.growth`). False (default): balanced.
        population_size
            Relative population size per time point: a dict ``{time: size}`` or a sequence in the order of
            the sorted time points. Without it (None) every snapshot has mass 1 and only differences of
            growth rates are identified.
        growth_prior
            Prior growth rate of each cell (log-mass per time unit, e.g. from proliferation and apoptosis
            scores), shaping the source masses ``~ exp(rate Delta)``; None: uniform.
        growth_tau
            Source relaxation in ``(0, 1)`` (moscot's ``tau_a``); the default 0.95 and its rationale:
            :mod:`cellbridge.methods.growth`.
        growth_weight
            Weight of the growth loss in the total.
        velocity_matching
            Weight of a loss that pulls the flow at the observed cells towards their OT-matched velocities on
            refined sub-snapshots ([SF]2M only; :mod:`cellbridge.methods.velocity`). None (default) picks
            ``DEFAULT_NGM_VELOCITY_WEIGHT`` (10) for ``drift="ngm"``, where it makes the drift read as a gene
            network (measurements: ``benchmarks/results/grn.md``), and 0 (off) otherwise; 0 turns it off.
        velocity_n_sub
            Sub-snapshots per snapshot of those velocities: a number or several, averaged (None: 3, 4, 5 and
            6, as ``tl.grn`` without a model). Use 1 for synchronous snapshots (every cell of a snapshot
            recorded at the same time), where splitting a snapshot orders cells by position, not stage.
        simulation_matching
            Weight of a loss that integrates the flow from each snapshot to the next and compares the result
            with the next snapshot by the energy distance ([SF]2M only, not with growth;
            :mod:`cellbridge.methods.simulation`, where the measurements are). 0 (default): off.
        devices
            Data-parallel training (:mod:`cellbridge.distributed`): an integer ``N`` trains in ``N`` processes
            (on ``N`` CUDA devices when ``device`` is CUDA, NCCL; else on the CPU, gloo), a list of integers on
            those CUDA devices, ``"group"`` over the processes of an initialised torch.distributed group (as
            ``torchrun`` makes; every rank returns the model). Each rank draws its own minibatches and the
            gradients are averaged, so the effective batch is ``N x batch_size`` at the same ``lr``. None
            (default) or 1: this process. Same seed and same ``N``: the same model on the CPU.
        **train_kwargs
            Fields of the method's configuration (n_steps, batch_size, lr, ...) and the method's own fit
            options (DSBM with ``init_coupling="sf2m"``: ``init_model``, a fitted [SF]2M model whose SDE makes
            the first coupling, or ``sf2m_options``, the settings of the [SF]2M fit made for it).
        """
        call = {k: v for k, v in locals().items() if k not in ("cls", "x", "t", "device", "devices", "train_kwargs")}
        call.update(train_kwargs)  # this call's arguments, for the processes of a data-parallel fit
        if not isinstance(method, str):
            raise TypeError(f"method must be a method name (a string), not {type(method).__name__}")
        method_cls = get_method(method)
        parallel = resolve_devices(devices, device)
        # float64 until centred, by blocks (Normalization): a large common offset must not swallow the
        # variation in a float32 cast, and a million cells need no float64 copy of the representation
        x = np.asarray(x)
        if x.dtype not in (np.float32, np.float64):
            x = np.asarray(x, dtype=np.float64)
        t = np.asarray(t, dtype=np.float64)
        if x.ndim != 2 or t.shape != (len(x),):
            raise ValueError(f"x must be (n_cells, n_dims) with one time per cell, got x {x.shape} and t {t.shape}")
        norm = Normalization.fit(x, t)
        suggested = _sigma_for_spread(norm.scale, t)  # default_sigma(x, t) without a second pass over x
        if sigma is None:
            sigma = suggested
        else:
            if isinstance(sigma, (bool, np.bool_)) or not isinstance(sigma, (int, float, np.integer, np.floating)):
                raise TypeError(f"sigma must be a number (representation units per sqrt(time unit)), "
                                f"not {type(sigma).__name__} {sigma!r}")
            if not (np.isfinite(sigma) and sigma > 0):
                raise ValueError(f"sigma must be a positive number, got {sigma}")
            if not 0.1 <= sigma / suggested <= 10:
                logger.warning(f"sigma={sigma:.4g} is {sigma / suggested:.3g}x the default {suggested:.4g} "
                               "(0.25 x spread / sqrt(median interval)): is it in representation units per square "
                               "root of the time unit?")
        config_cls = method_cls.config_class
        options = {k: train_kwargs.pop(k) for k in method_cls.fit_options if k in train_kwargs}
        unknown = set(train_kwargs) - set(config_cls.__dataclass_fields__) - {"sigma"}
        if unknown:
            raise TypeError(f"unknown training arguments for method={method!r}: {sorted(unknown)}")
        cfg = config_cls(sigma=norm.sigma_to(sigma), **train_kwargs)
        cfg.validate()
        largest = int(np.unique(t, return_counts=True)[1].max())
        if cfg.batch_size > largest:
            logger.info(f"batch_size={cfg.batch_size} exceeds the largest time point ({largest} cells): using "
                        f"batch_size={largest}")
            cfg.batch_size = largest
            call["batch_size"] = largest  # the processes of a data-parallel fit start from the lowered value
        x_train = norm.x_to_float32(x)
        terms, term_record = _growth_terms(growth, population_size, growth_prior, growth_tau, growth_weight, t, norm)
        _velocity_term(velocity_matching, velocity_n_sub, method, cfg, terms, term_record)
        _simulation_term(simulation_matching, method, terms, term_record)
        data_parallel = DataParallel.from_group() if parallel == GROUP else None
        n_processes = len(parallel) if isinstance(parallel, list) else getattr(data_parallel, "world_size", 1)
        checkpoint = None
        if checkpoint_dir is not None:
            if rng is None:
                raise ValueError("checkpoints need a reproducible run: pass rng= a seed or a numpy Generator")
            every = DEFAULT_CHECKPOINT_EVERY if checkpoint_every is None else checkpoint_every
            checkpoint = Checkpointer(checkpoint_dir, every, fingerprint(
                method, cfg.to_dict(), float(sigma), x_train, t, _rng_identity(rng),
                {k: _option_identity(v) for k, v in sorted(options.items())},
                # the ranks of a data-parallel fit share one checkpoint (written by rank 0) across their devices
                str(resolve_device(device)) if n_processes == 1 else resolve_device(device).type,
                *([f"{n_processes} processes"] if n_processes > 1 else []),
                *([term_record] if term_record else []),
                *([np.asarray(terms["growth"]["rates"], dtype=np.float64)] if "growth" in terms else [])))
        elif checkpoint_every is not None:
            raise ValueError("checkpoint_every needs checkpoint_dir")
        if isinstance(parallel, list):  # settings checked here, once: now train in len(parallel) processes
            return spawn_fit(x, t, parallel, call)
        if num_threads is None and resolve_device(device).type == "cpu":
            num_threads = auto_num_threads(method_cls.work_per_step(cfg, x.shape[1], len(np.unique(t)) - 1))
            if data_parallel is not None:  # the ranks share this machine's cores
                num_threads = min(num_threads, cpu_share(data_parallel.world_size))
        with cpu_threads(num_threads):
            dev = resolve_device(device, announce=True)

            def fit_other(other: str, *, rng: RNGLike, **settings) -> "CellBridgeModel":
                sub = {} if checkpoint is None else {"checkpoint_dir": checkpoint.directory / other,
                                                     "checkpoint_every": checkpoint.every}
                return cls.fit(x, t, method=other, sigma=sigma, device=dev, rng=rng, progress=progress, **sub,
                               devices=GROUP if data_parallel is not None else None, **settings)

            context = FitContext(x=x, t=t, sigma=float(sigma), normalization=norm, device=dev, progress=progress,
                                 fit=fit_other, checkpoint=checkpoint, terms=terms, data_parallel=data_parallel)
            try:
                result = method_cls.train(x_train, norm.t_to(t), cfg, context=context, rng=rng, **options)
            except FloatingPointError as err:
                raise FloatingPointError(f"{err} (sigma={float(sigma):.4g}, default {suggested:.4g}; "
                                         f"lr={cfg.lr:g})") from None
        networks = {**result.networks, **context.term_networks}
        for net in context.term_networks.values():
            net.eval()
        config = {
            "format_version": _FORMAT_VERSION,
            "method": method,
            "sigma": float(sigma),
            "dim": int(x.shape[1]),
            "time_points": [float(v) for v in np.unique(t)],
            "train": cfg.to_dict(),
            "network": next(iter(networks.values())).config,
            "networks": {name: net.config for name, net in networks.items()},
            **result.config,
            **({"terms": term_record} if term_record else {}),
            **(metadata or {}),
        }
        return cls(config, networks, norm, result.history)

    def drift_in(self, target: Normalization, *, stochastic: bool = True, direction: str = "forward"):
        """This model's drift as a function ``(t, x)`` of another normalisation's coordinates.

        Used to start one fit from another model (DSBM's [SF]2M initial coupling): ``t`` and ``x`` are tensors
        in ``target``'s coordinates on the model's device, and the drift comes back in them.
        """
        src = self.normalization
        f = self._normalized_drift(stochastic, direction)
        device = self.device
        shift = torch.as_tensor(np.asarray(target.center - src.center, dtype=np.float32), device=device)
        f_factor = (src.scale / src.t_span) * (target.t_span / target.scale)

        def drift(t, x):
            # target coordinates -> user units -> this model's coordinates, and the drift back again
            x_src = (x * target.scale + shift) / src.scale
            t_src = (t * target.t_span + target.t_origin - src.t_origin) / src.t_span
            return f(t_src, x_src) * f_factor

        return drift

    # -- dynamics -----------------------------------------------------------------------------------------
    def check_simulable(self, direction: str = "forward", stochastic: bool = True) -> None:
        """Raise ValueError, saying what is missing, when this model cannot simulate ``direction`` by its SDE
        (``stochastic=True``) or by the probability-flow ODE (which needs both directions' networks).

        Tools that simulate (:func:`cellbridge.tl.fates`, :func:`cellbridge.tl.velocity`, ...) call it before
        any work.
        """
        if direction not in ("forward", "backward"):
            raise ValueError(f"direction must be 'forward' or 'backward', not {direction!r}")
        needed = (direction,) if stochastic else ("forward", "backward")
        missing = [d for d in needed if d not in self.directions]
        if missing:
            what = "the probability-flow ODE" if not stochastic else f"simulating {direction}"
            raise ValueError(f"{what} needs the {' and '.join(missing)} network, which this {self.method_class.label} "
                             f"model never trained{self.method_class.untrained_hint}")

    def _normalized_drift(self, stochastic: bool, direction: str = "forward"):
        """Drift in the direction of travel, in normalised coordinates (see :meth:`Method.drift`)."""
        self.check_simulable(direction, stochastic)
        sigma = self.normalization.sigma_to(self.sigma)
        return self.method_class.drift(self.networks, sigma, stochastic=stochastic, direction=direction)

    def extrapolates(self, t) -> np.ndarray:
        """Which times lie beyond the fitted range by more than :data:`EXTRAPOLATION_MARGIN` of its span."""
        tp, t = self.time_points, np.asarray(t, dtype=np.float64)
        margin = EXTRAPOLATION_MARGIN * (tp[-1] - tp[0])
        return (t < tp[0] - margin) | (t > tp[-1] + margin)

    @torch.no_grad()
    def drift(self, t: float, x: np.ndarray, *, stochastic: bool = True, direction: str = "forward") -> np.ndarray:
        """The learned drift at time ``t`` (user units) and states ``x`` ``(n, d)``, in user units per time.

        ``direction="forward"``: the drift of ``dx = drift dt + sigma dW`` (SDE, ``stochastic=True``) or the
        probability-flow velocity (``stochastic=False``). ``"backward"``: the drift of the time-reversed
        process in reversed time ``tau = -t``, ``dx = drift dtau + sigma dW`` (minus the velocity for the ODE).
        Each method defines it (:meth:`cellbridge.methods.Method.drift`): for [SF]2M ``v + sigma^2/2 s``
        forwards and ``-v + sigma^2/2 s`` backwards; for DSBM its forward and backward networks, and the ODE
        velocity ``(f - b) / 2``.
        """
        n = self.normalization
        xt = torch.as_tensor(n.x_to(np.asarray(x, dtype=np.float64)), dtype=torch.float32, device=self.device)
        f = self._normalized_drift(stochastic, direction)(float(n.t_to(t)), xt)
        return f.cpu().numpy() * n.scale / n.t_span

    @torch.no_grad()
    def simulate(
        self,
        x0: np.ndarray,
        t_eval,
        *,
        stochastic: bool = True,
        steps_per_interval: int = DEFAULT_STEPS_PER_INTERVAL,
        method: str = "euler",
        direction: str = "forward",
        rng: RNGLike = 0,
        return_log_weights: bool = False,
        num_threads: int | None = None,
        batch_size: int | None = None,
    ):
        """Push cells ``x0`` ``(n, d)`` from ``t_eval[0]`` through the times ``t_eval`` (user units).

        Parameters
        ----------
        x0
            Initial states in user units.
        t_eval
            Times, the first being the start (need not be a time point of the data): increasing forwards,
            decreasing backwards.
        stochastic
            Euler-Maruyama on the SDE (True) or the probability-flow ODE (False).
        steps_per_interval
            Integration steps per median interval between the model's time points.
        method
            ODE scheme (``"euler"``, ``"heun"``, ``"rk4"``); the SDE always uses Euler-Maruyama.
        direction
            ``"forward"`` (default) in time, or ``"backward"``: from a later time towards earlier ones with the
            time-reversed dynamics (DSBM's backward network; for [SF]2M the reversal ``-v + sigma^2/2 s``
            of its SDE, in reversed time).
        rng
            Seed (a non-negative int), NumPy generator or None for the Brownian increments.
        return_log_weights
            Also return each particle's log-weight, integrated along its path, ``d log w = g(t, x) dt``
            with the growth network ``g`` (a model fitted with ``growth=True``; zero at ``t_eval[0]``;
            backwards the mass gained forwards is removed). Without growth the log-weights are zero.
        num_threads
            Torch CPU threads while integrating, restored afterwards. None (default) chooses as
            :meth:`fit` does: 1 thread while a step's work (forward passes of the networks over all
            particles) is below ``cellbridge._utils.THREADED_WORK``, else the idle cores; threads that wait
            for each other collapse when another process holds a core.
        batch_size
            Particles integrated at once (None: ``DEFAULT_SIMULATION_BATCH``, 65,536), so that any number of
            cells fits on the device; the batches run one after the other, each with a torch generator seeded
            by the next draw from ``rng`` (as a NumPy generator). So a batched call equals the concatenation
            of calls on the consecutive batches that share one NumPy generator, and a call with at most
            ``batch_size`` cells is unchanged by it.

        Returns
        -------
        np.ndarray
            States ``(len(t_eval), n, d)`` in user units; with ``return_log_weights`` the pair
            ``(states, log_weights)``, log-weights ``(len(t_eval), n)``.

        Raises
        ------
        TypeError, ValueError
            An argument of the wrong type or out of range (checked before any work; the message names it).
        FloatingPointError
            The states became NaN or infinite (checked at every time of ``t_eval``): the message says between
            which times, rather than returning them.

        Notes
        -----
        Times of ``t_eval`` more than 10% of the fitted span (last minus first time point) before the first
        or after the last time point log a warning: the model extrapolates there, where no snapshot
        constrained it.
        """
        import numbers

        if not isinstance(stochastic, (bool, np.bool_)):
            raise TypeError(f"stochastic must be True or False, got {stochastic!r}")
        stochastic = bool(stochastic)
        if (isinstance(steps_per_interval, (bool, np.bool_)) or not isinstance(steps_per_interval, numbers.Integral)
                or steps_per_interval < 1):
            raise ValueError(f"steps_per_interval must be a positive integer, got {steps_per_interval!r}")
        if not isinstance(method, str) or method not in ("euler", "heun", "rk4"):
            raise ValueError(f"method (the ODE scheme) must be 'euler', 'heun' or 'rk4', got {method!r}")
        if isinstance(rng, (bool, np.bool_)) or not (rng is None or isinstance(rng, (numbers.Integral, np.random.Generator))):
            raise TypeError(f"rng must be an int seed, a numpy.random.Generator or None, not {type(rng).__name__}")
        if isinstance(rng, numbers.Integral) and rng < 0:
            raise ValueError(f"rng must be a non-negative seed, got {rng}")
        try:
            np.asarray(x0, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"x0 must be an array of numbers (n_cells, {self.dim}), got {type(x0).__name__}") from None
        x0 = np.asarray(x0, dtype=np.float64)  # centred in float64 below: a large offset survives
        if x0.ndim != 2 or x0.shape[1] != self.dim:
            raise ValueError(f"x0 must have shape (n_cells, {self.dim}), got {x0.shape}")
        if not np.isfinite(x0).all():
            raise ValueError(f"x0 holds NaN or infinite values in {int((~np.isfinite(x0)).any(axis=1).sum())} of "
                             f"{len(x0)} cells")
        self.check_simulable(direction, stochastic)
        try:
            t_eval = np.asarray(t_eval, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"t_eval must be a sequence of numbers (times), got {t_eval!r}") from None
        if t_eval.ndim != 1 or len(t_eval) < 1:
            raise ValueError("t_eval must be a non-empty sequence of times")
        if not np.isfinite(t_eval).all():
            raise ValueError(f"t_eval holds NaN or infinite times: {t_eval.tolist()}")
        if direction == "forward" and np.any(np.diff(t_eval) < 0):
            raise ValueError("t_eval must be increasing to simulate forward")
        if direction == "backward" and np.any(np.diff(t_eval) > 0):
            raise ValueError("t_eval must be decreasing to simulate backward")
        tp = self.time_points
        outside = t_eval[self.extrapolates(t_eval)]
        if outside.size:
            logger.warning(f"simulating at t={', '.join(f'{v:g}' for v in outside)}, beyond the fitted time range "
                           f"[{tp[0]:g}, {tp[-1]:g}] by more than 10% of its span: the model extrapolates there, "
                           "where no snapshot constrained it")
        if batch_size is None:
            batch_size = DEFAULT_SIMULATION_BATCH
        if isinstance(batch_size, (bool, np.bool_)) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}")
        n = self.normalization
        dt = float(np.median(np.diff(n.t_to(self.time_points)))) / steps_per_interval
        dev = self.device
        np_rng = as_numpy_rng(rng)
        sigma = n.sigma_to(self.sigma) if stochastic else 0.0
        drift = self._normalized_drift(stochastic, direction)
        if direction == "backward":  # integrate() steps x + h drift with h < 0: hand it the drift in dt
            travel = drift
            drift = lambda t, x: -travel(t, x)  # noqa: E731
        rate = self.networks["growth"] if self.has_growth and return_log_weights else None
        if num_threads is None and dev.type == "cpu":
            # multiply-adds of one forward pass of every network over every particle, times 2 FLOPs
            params = sum(p.numel() for net in self.networks.values() for p in net.parameters())
            num_threads = auto_num_threads(2.0 * params * min(len(x0), int(batch_size)))
        paths, log_ws = [], []
        with cpu_threads(num_threads):
            for start in range(0, len(x0), int(batch_size)):
                x = torch.as_tensor(n.x_to(x0[start:start + int(batch_size)]), dtype=torch.float32, device=dev)
                path = integrate(drift, x, n.t_to(t_eval), dt=dt, sigma=sigma, method="euler" if stochastic else method,
                                 generator=torch_generator(np_rng, dev), rate=rate)
                if rate is not None:
                    path, log_w = path
                    log_ws.append(log_w.cpu().numpy().astype(np.float64))
                paths.append(n.x_from(path.cpu().numpy()))
        states = paths[0] if len(paths) == 1 else np.concatenate(paths, axis=1)
        log_w = None
        if rate is not None:
            log_w = log_ws[0] if len(log_ws) == 1 else np.concatenate(log_ws, axis=1)
        elif return_log_weights:
            log_w = np.zeros((len(t_eval), len(x0)))
        broken = ~np.isfinite(states).reshape(len(t_eval), -1).all(axis=1)  # one check per output time
        if broken.any():
            k = int(np.argmax(broken))
            when = f"between t={t_eval[k - 1]:g} and t={t_eval[k]:g}" if k else f"at t={t_eval[0]:g}"
            n_bad = int((~np.isfinite(states[k])).any(axis=1).sum())
            raise FloatingPointError(
                f"the simulated states became NaN or infinite {when} ({n_bad} of {len(x0)} cells): the drift "
                f"diverged; try more steps_per_interval (now {steps_per_interval}), times within the fitted range "
                f"[{tp[0]:g}, {tp[-1]:g}], or check the model's weights")
        return (states, log_w) if return_log_weights else states

    # -- persistence --------------------------------------------------------------------------------------
    def save(self, directory: str | Path, *, overwrite: bool = False) -> Path:
        """Write ``config.json`` (settings, normalisation, loss history, the SHA-256 of the weights) and
        ``weights.pt`` (state dicts).

        Both files are written under temporary names and then renamed, so that a failure leaves no
        half-written model behind; :meth:`load` checks ``weights.pt`` against the recorded SHA-256 (format
        version 2), so a model whose files do not belong together is refused rather than loaded.
        """
        import hashlib

        path = Path(directory)
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(f"{path} exists and is not a directory")
        if path.exists() and any(path.iterdir()) and not overwrite:
            raise FileExistsError(f"{path} exists and is not empty; pass overwrite=True to replace it")
        history = {k: (np.asarray(v).tolist() if np.ndim(v) else float(v)) for k, v in self.history.items()}
        config = {**self.config, "format_version": _FORMAT_VERSION}  # a model loaded from format 1 is written as 2
        states = {k: {n: p.detach().cpu() for n, p in v.state_dict().items()} for k, v in self.networks.items()}
        path.mkdir(parents=True, exist_ok=True)
        # write to temporary names first, so that a failure leaves no half-written model behind
        tmp_json, tmp_pt = path / "config.json.tmp", path / "weights.pt.tmp"
        try:
            torch.save(states, tmp_pt)
            with open(tmp_pt, "rb") as f:
                digest = hashlib.file_digest(f, "sha256").hexdigest()
            payload = {"config": config, "normalization": self.normalization.to_dict(), "history": history,
                       "weights_sha256": digest}
            tmp_json.write_text(json.dumps(payload, indent=1), encoding="utf-8")
            # a crash between the two renames leaves weights and a config whose checksum disagree: load refuses them
            tmp_pt.replace(path / "weights.pt")
            tmp_json.replace(path / "config.json")
        except BaseException:
            for tmp in (tmp_json, tmp_pt):
                tmp.unlink(missing_ok=True)
            raise
        logger.info(f"saved model to {path}")
        return path

    @classmethod
    def load(cls, directory: str | Path, *, device: str | torch.device = "cpu") -> "CellBridgeModel":
        """Load a model written by :meth:`save`, after checking that it is whole and consistent.

        Before anything is built, ``config.json`` is validated: the required fields and their types (a
        registered ``method``, ``dim`` a positive integer, ``sigma`` a positive finite number,
        ``time_points`` a non-empty strictly increasing list of finite numbers), the normalisation
        (``center`` of length ``dim``, ``scale`` and ``t_span`` positive and finite, consistent with the
        time points) and each network's config (its input dimension ``dim``). Then ``weights.pt`` is
        checked against the SHA-256 that :meth:`save` recorded (models saved in format 1 carry none: they
        load unverified, with an info message), read with ``weights_only=True``, and every network's
        weights must fit the network its config describes exactly and be finite.

        Raises
        ------
        FileNotFoundError
            ``directory`` lacks ``config.json`` or ``weights.pt``.
        ValueError
            Anything else is wrong; the message names the file and the problem.
        """
        import hashlib
        import math
        import numbers

        path = Path(directory)
        cfg_file, weights_file = path / "config.json", path / "weights.pt"
        if not cfg_file.is_file() or not weights_file.is_file():
            raise FileNotFoundError(f"{path} does not hold a saved cellbridge model (config.json and weights.pt)")

        def bad(problem: str, file: Path = cfg_file) -> ValueError:
            return ValueError(f"{file}: {problem}")

        def is_int(v) -> bool:
            return isinstance(v, numbers.Integral) and not isinstance(v, bool)

        def is_finite(v) -> bool:
            return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)

        # -- config.json: read and validated before anything is built
        try:
            payload = json.loads(cfg_file.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise bad(f"is not valid JSON ({err})") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("config"), dict):
            raise bad("holds no 'config' object: not a config written by CellBridgeModel.save")
        config = payload["config"]
        version = config.get("format_version", 1)  # the earliest saves recorded none
        if not is_int(version) or version < 1:
            raise bad(f"format_version must be a positive integer, got {version!r}")
        if version > _FORMAT_VERSION:
            raise bad(f"model format {version} is newer than this cellbridge understands (at most {_FORMAT_VERSION}); "
                      "upgrade cellbridge to load it")
        missing = [k for k in ("method", "dim", "sigma", "time_points") if k not in config]
        if missing:
            raise bad(f"the config lacks the required field(s) {', '.join(map(repr, missing))}")
        if not isinstance(config["method"], str):
            raise bad(f"method must be the name of a registered method, got {config['method']!r}")
        try:
            method_cls = get_method(config["method"])
        except ValueError as err:
            raise bad(f"holds a model of method {config['method']!r}, which this cellbridge does not know ({err})") from None
        dim = config["dim"]
        if not is_int(dim) or dim < 1:
            raise bad(f"dim must be a positive integer, got {dim!r}")
        if not is_finite(config["sigma"]) or not config["sigma"] > 0:
            raise bad(f"sigma must be a positive finite number, got {config['sigma']!r}")
        tp = config["time_points"]
        if not isinstance(tp, list) or not tp:
            raise bad(f"time_points must be a non-empty list of numbers, got {tp!r}")
        if not all(is_finite(v) for v in tp):
            raise bad(f"time_points must hold finite numbers only, got {tp!r}")
        if any(b <= a for a, b in zip(tp, tp[1:])):
            raise bad(f"time_points must be strictly increasing, got {tp!r}")
        directions = config.get("directions", ["forward", "backward"])
        if (not isinstance(directions, list) or not directions
                or not all(isinstance(d, str) and d in ("forward", "backward") for d in directions)):
            raise bad(f"directions must be a non-empty list of 'forward' and/or 'backward', got {directions!r}")
        norm = payload.get("normalization")
        if not isinstance(norm, dict):
            raise bad("holds no 'normalization' object")
        missing = [k for k in ("center", "scale", "t_origin", "t_span") if k not in norm]
        if missing:
            raise bad(f"the normalization lacks the field(s) {', '.join(map(repr, missing))}")
        center = norm["center"]
        if not isinstance(center, list) or len(center) != dim or not all(is_finite(v) for v in center):
            size = len(center) if isinstance(center, list) else type(center).__name__
            raise bad(f"dim is {dim}, but the normalization's center holds {size} numbers (it must hold {dim} finite ones)")
        for key in ("scale", "t_span"):
            if not is_finite(norm[key]) or not norm[key] > 0:
                raise bad(f"the normalization's {key} must be a positive finite number, got {norm[key]!r}")
        if not is_finite(norm["t_origin"]):
            raise bad(f"the normalization's t_origin must be a finite number, got {norm['t_origin']!r}")
        if len(tp) > 1 and not (math.isclose(norm["t_origin"], tp[0], rel_tol=1e-9, abs_tol=1e-12 * norm["t_span"])
                                and math.isclose(norm["t_span"], tp[-1] - tp[0], rel_tol=1e-9)):
            raise bad(f"the normalization (t_origin {norm['t_origin']!r}, t_span {norm['t_span']!r}) does not match "
                      f"time_points {tp!r}")
        net_cfgs = config.get("networks")
        if net_cfgs is None:  # older saves hold one "network" config shared by all
            net_cfgs = {name: config.get("network") for name in method_cls.networks}
        if not isinstance(net_cfgs, dict):
            raise bad(f"networks must map network names to configs, got {type(net_cfgs).__name__}")
        terms = config.get("terms", {})
        if not isinstance(terms, dict):
            raise bad(f"terms must map term names to settings, got {type(terms).__name__}")
        expected = list(method_cls.networks)
        for term_name, settings in terms.items():
            try:
                expected += list(get_term(term_name).network_names(settings))
            except ValueError as err:
                raise bad(f"holds a term this cellbridge does not know ({err})") from None
        for name in expected:
            net_cfg = net_cfgs.get(name)
            if not isinstance(net_cfg, dict):
                raise bad(f"holds no config of network {name!r}, which method {config['method']!r} needs")
            if net_cfg.get("dim") != dim or not is_int(net_cfg.get("dim")):
                raise bad(f"network {name!r} takes states of dimension {net_cfg.get('dim')!r}, but dim is {dim}")
            out_dim = net_cfg.get("out_dim", dim)
            if not is_int(out_dim) or out_dim < 1 or (name == method_cls.drift_network and out_dim != dim):
                raise bad(f"network {name!r} has out_dim {out_dim!r}, but dim is {dim}")
        history = payload.get("history", {})
        if not isinstance(history, dict):
            raise bad(f"history must be an object, got {type(history).__name__}")

        # -- weights.pt: checksum, then read (weights only), then fitted to the networks the config describes
        if version >= 2:
            recorded = payload.get("weights_sha256")
            if not isinstance(recorded, str) or len(recorded) != 64:
                raise bad(f"records no valid SHA-256 of weights.pt (format {version} requires 'weights_sha256')")
            with open(weights_file, "rb") as f:
                actual = hashlib.file_digest(f, "sha256").hexdigest()
            if actual != recorded.lower():
                raise bad(f"its SHA-256 ({actual[:16]}...) is not the one config.json records ({recorded[:16]}...): "
                          "the file is corrupted or truncated, or it is not the one saved with this config", weights_file)
        else:
            logger.info(f"{path} was saved in model format {version}, without a checksum: weights.pt is loaded unverified")
        try:
            states = torch.load(weights_file, map_location="cpu", weights_only=True)
        except Exception as err:  # torch raises pickle, zip, EOF and runtime errors for a damaged file
            first = (str(err).strip().splitlines() or [""])[0]
            raise bad(f"cannot be read as saved weights ({type(err).__name__}: {first})", weights_file) from None
        if not isinstance(states, dict) or not all(isinstance(s, dict) for s in states.values()):
            raise bad("does not hold one state dict per network", weights_file)
        if set(states) != set(expected):
            raise bad(f"holds networks {sorted(states)}, expected {sorted(expected)} for method "
                      f"{config['method']!r}", weights_file)
        networks = {}
        for name in expected:
            state = states[name]
            try:
                net = build_network(net_cfgs[name])
            except (TypeError, KeyError, ValueError) as err:
                raise bad(f"the config of network {name!r} does not describe a network ({type(err).__name__}: {err})") from None
            try:
                net.load_state_dict(state, strict=True)
            except RuntimeError as err:
                raise bad(f"the weights of network {name!r} do not fit the network config.json describes ({err})",
                          weights_file) from None
            for key, value in state.items():
                if torch.is_tensor(value) and value.is_floating_point() and not torch.isfinite(value).all():
                    raise bad(f"network {name!r} holds NaN or infinite weights ({key})", weights_file)
            networks[name] = net
        history = {k: (np.asarray(v) if isinstance(v, list) else v) for k, v in history.items()}
        model = cls(config, networks, Normalization.from_dict(norm), history)
        return model.to(device)


def _velocity_term(weight, n_sub, method: str, cfg, terms: dict, record: dict) -> None:
    """Add the velocity-matching term's settings and record (``weight`` None: the default of the drift)."""
    from .methods.velocity import DEFAULT_N_SUB, DEFAULT_NGM_VELOCITY_WEIGHT

    if weight is None:
        weight = DEFAULT_NGM_VELOCITY_WEIGHT if method == "sf2m" and getattr(cfg, "drift", None) == "ngm" else 0.0
    if isinstance(weight, (bool, np.bool_)) or not isinstance(weight, (int, float, np.integer, np.floating)):
        raise TypeError(f"velocity_matching must be a number (a weight) or None, got {weight!r}")
    if not (np.isfinite(weight) and weight >= 0):
        raise ValueError(f"velocity_matching must be a non-negative weight, got {weight}")
    if n_sub is None:
        n_sub = DEFAULT_N_SUB
    n_sub = [int(n) for n in np.atleast_1d(n_sub)]
    if weight > 0:
        terms["velocity"] = {"weight": float(weight), "n_sub": tuple(n_sub)}
        record["velocity"] = {"weight": float(weight), "n_sub": n_sub}
    elif n_sub != list(DEFAULT_N_SUB):
        raise ValueError("velocity_n_sub needs velocity matching (velocity_matching > 0)")


def _simulation_term(weight, method: str, terms: dict, record: dict) -> None:
    """Add the simulation-matching term's settings and record when ``weight`` > 0."""
    if isinstance(weight, (bool, np.bool_)) or not isinstance(weight, (int, float, np.integer, np.floating)):
        raise TypeError(f"simulation_matching must be a number (a weight), got {weight!r}")
    if not (np.isfinite(weight) and weight >= 0):
        raise ValueError(f"simulation_matching must be a non-negative weight, got {weight}")
    if weight > 0:
        if method != "sf2m":
            raise ValueError("simulation_matching integrates the flow of an [SF]2M fit: it needs method='sf2m'")
        if "growth" in terms:
            raise ValueError("simulation_matching compares unweighted clouds: it cannot be combined with growth=True")
        terms["simulation"] = {"weight": float(weight)}
        record["simulation"] = {"weight": float(weight)}


def _growth_terms(growth, population_size, growth_prior, tau, weight, t: np.ndarray, norm: Normalization):
    """The growth term's settings (trainer coordinates) and its JSON record; ``({}, {})`` without growth."""
    if not isinstance(growth, (bool, np.bool_)):
        raise TypeError(f"growth must be True or False, got {growth!r}")
    if not growth:
        if population_size is not None or growth_prior is not None:
            raise ValueError("population_size and growth_prior need growth=True")
        return {}, {}
    tp = np.unique(t)
    population = None
    if population_size is not None:
        if isinstance(population_size, dict):
            keys = np.asarray([float(k) for k in population_size], dtype=np.float64)
            values = np.asarray(list(population_size.values()), dtype=np.float64)
            population = np.empty(len(tp))
            for k, time in enumerate(tp):
                hit = np.flatnonzero(np.isclose(keys, time))
                if len(hit) != 1:
                    raise ValueError(f"population_size has no (single) entry for time point {time:g}; "
                                     f"time points: {tp.tolist()}")
                population[k] = values[hit[0]]
        else:
            population = np.asarray(population_size, dtype=np.float64).reshape(-1)
            if population.shape != tp.shape:
                raise ValueError(f"population_size must hold one size per time point ({len(tp)}), got {population.size}")
        if not (np.isfinite(population) & (population > 0)).all():
            raise ValueError(f"population sizes must be positive and finite, got {population.tolist()}")
    rates = None
    if growth_prior is not None:
        rates = np.asarray(growth_prior, dtype=np.float64).reshape(-1)
        if rates.shape != t.shape or not np.isfinite(rates).all():
            raise ValueError(f"growth_prior must hold one finite rate per cell ({len(t)})")
        rates = rates * norm.t_span  # per unit of the trainer's time
    settings = {"tau": float(tau), "weight": float(weight), "population": population, "rates": rates}
    record = {"growth": {"tau": float(tau), "weight": float(weight), "prior": rates is not None,
                         "population_size": None if population is None else population.tolist()}}
    return {"growth": settings}, record


def _rng_identity(rng: RNGLike):
    """What identifies a seed in a checkpoint's fingerprint: the integer, or a generator's state."""
    if isinstance(rng, np.random.Generator):
        return rng.bit_generator.state
    return int(rng)


def _option_identity(value):
    """A method option as a checkpoint's fingerprint sees it (a model by its config and weights)."""
    if isinstance(value, CellBridgeModel):
        weights = [p.detach().cpu().numpy() for net in value.networks.values() for p in net.state_dict().values()]
        return fingerprint(value.config, *weights)
    return value


def load(directory: str | Path, *, device: str | torch.device = "cpu") -> CellBridgeModel:
    """Load a model saved with :meth:`CellBridgeModel.save`."""
    return CellBridgeModel.load(directory, device=device)
