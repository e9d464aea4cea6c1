"""The method interface: a configuration base, one training loop, and the registry of methods.

A training method is three things, each one class:

* a :class:`MethodConfig` subclass: its settings (the shared ones are declared, documented and checked here
  once);
* a :class:`Trainer` subclass: its losses and what happens between stages; the loop itself (optimiser and
  scheduler steps, gradient clipping, loss log, non-finite check, progress bar, history) is
  :meth:`Trainer.train`, the same for every method;
* a :class:`Method` subclass, registered with :func:`register_method`: the networks it owns, the network
  that is its drift, its drift for a direction (SDE or probability-flow ODE), the directions it can
  simulate, and how a fit is set up (including initialising from another fitted model).

:class:`cellbridge.CellBridgeModel` talks to methods only through :class:`Method`, so a new method is one
file and one registration (``tests/methods/test_registry.py`` registers a toy method in a few lines).

A *term* is trained jointly with any method's networks: a :class:`Term` subclass registered with
:func:`register_term` owns its networks and loss, and may change the trainer's coupling when it is
attached (:meth:`Trainer.attach_terms`, called by :meth:`FitContext.run`). Its loss is added to every step's
total, its networks join every stage's optimiser and checkpoint, and the model saves them beside the
method's. Growth (:mod:`cellbridge.methods.growth`) is one: one file and one registration.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from ..ot.minibatch import OT_METHODS
from ._common import LossLog, make_optimizer

if TYPE_CHECKING:
    from ..distributed import DataParallel
    from ..model import CellBridgeModel
    from ..normalization import Normalization
    from .checkpoint import Checkpointer

__all__ = ["FitContext", "Method", "MethodConfig", "Stage", "Term", "Trainer", "TrainResult", "available_methods",
           "available_terms", "get_method", "get_term", "register_method", "register_term", "unregister_method"]

DIRECTIONS = ("forward", "backward")
Drift = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# ----------------------------------------------------------------------------------------------------------
# configuration
# ----------------------------------------------------------------------------------------------------------


@dataclass
class MethodConfig:
    """Settings every method shares, in the coordinates the trainer is given.

    Attributes
    ----------
    sigma
        Diffusion coefficient of the reference Brownian motion.
    n_steps
        Optimisation steps (for a method with stages, such as DSBM's iterations: per stage).
    batch_size
        Cells (or bridge samples) per interval per step.
    lr, weight_decay
        Adam's learning rate and weight decay.
    lr_schedule
        ``"cosine"`` (default) decays the learning rate to 1% of ``lr`` over each stage: the regression
        targets are noisy, and at a constant rate the final networks keep an SGD-noise error that shows up
        as a bias of the simulated marginals; ``"constant"`` keeps ``lr``.
    hidden_dims, activation, n_freqs
        Architecture of the networks (:class:`cellbridge.nn.TimeMLP`): hidden widths, activation, and the
        number of Fourier time features (0: time appended as it is).
    ot_method
        How minibatches of consecutive snapshots are coupled (:class:`cellbridge.ot.MinibatchCoupling`);
        each method lists the ones it accepts in ``OT_METHODS``.
    t_clip
        Bridge times are drawn from ``[t_clip, 1 - t_clip]`` of each interval: the regression targets have
        terms in ``1 / s`` or ``1 / (1 - s)`` at the interval ends whose variance would otherwise diverge
        logarithmically.
    grad_clip
        Clip each trained network's gradient norm (None: no clipping).
    log_every
        Steps between reads of the loss from the device (progress bar, non-finite check).
    """

    sigma: float
    n_steps: int = 1000
    batch_size: int = 256
    lr: float = 1e-3
    lr_schedule: str = "cosine"
    weight_decay: float = 0.0
    hidden_dims: tuple[int, ...] = (64, 64, 64)
    activation: str = "selu"
    n_freqs: int = 4
    ot_method: str = "entropic"
    t_clip: float = 1e-3
    grad_clip: float | None = None
    log_every: int = 50

    #: couplings ``ot_method`` may name
    OT_METHODS: ClassVar[tuple[str, ...]] = OT_METHODS
    #: fields holding tuples (stored as lists in JSON)
    TUPLE_FIELDS: ClassVar[tuple[str, ...]] = ("hidden_dims",)

    def check_types(self) -> None:
        """Raise TypeError naming the field when a value is not of its declared type (``int``, ``float``,
        ``bool``, ``str``, a tuple of ints, or None where the type allows it)."""
        for f in fields(self):
            value, kind = getattr(self, f.name), str(f.type).replace(" ", "")
            if value is None and kind.endswith("|None"):
                continue
            kind = kind.removesuffix("|None")
            if kind == "int":
                ok = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
                what = "an integer"
            elif kind == "float":
                ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
                what = "a number"
            elif kind == "bool":
                ok, what = isinstance(value, (bool, np.bool_)), "True or False"
            elif kind == "str":
                ok, what = isinstance(value, str), "a string"
            elif kind.startswith("tuple[int"):
                ok = (isinstance(value, (tuple, list)) and len(value) > 0
                      and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in value))
                what = "a non-empty sequence of positive integers"
            else:
                continue
            if not ok:
                none = " or None" if str(f.type).replace(" ", "").endswith("|None") else ""
                raise TypeError(f"{f.name} must be {what}{none}, got {value!r}")

    def validate(self) -> None:
        """Raise TypeError or ValueError on settings that cannot work (subclasses extend it)."""
        self.check_types()
        if not self.sigma > 0:
            raise ValueError(f"sigma must be positive, got {self.sigma}")
        if self.n_steps < 1 or self.batch_size < 2:
            raise ValueError("n_steps must be >= 1 and batch_size >= 2")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.ot_method not in self.OT_METHODS:
            allowed = ", ".join(repr(m) for m in self.OT_METHODS)
            raise ValueError(f"ot_method must be one of {allowed}, not {self.ot_method!r}")
        if not 0 <= self.t_clip < 0.5:
            raise ValueError("t_clip must lie in [0, 0.5)")
        if self.lr_schedule not in ("cosine", "constant"):
            raise ValueError(f"lr_schedule must be 'cosine' or 'constant', not {self.lr_schedule!r}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"grad_clip must be positive or None, got {self.grad_clip}")

    def to_dict(self) -> dict:
        """JSON-serialisable fields (tuples as lists)."""
        d = asdict(self)
        for name in self.TUPLE_FIELDS:
            d[name] = list(d[name])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "MethodConfig":
        """The config :meth:`to_dict` wrote (unknown keys are an error)."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"{cls.__name__} has no fields {sorted(unknown)}")
        return cls(**{k: (tuple(v) if k in cls.TUPLE_FIELDS else v) for k, v in d.items()})


# ----------------------------------------------------------------------------------------------------------
# the training loop
# ----------------------------------------------------------------------------------------------------------


@dataclass
class Stage:
    """A run of steps with one optimiser: [SF]2M trains in one stage, DSBM in one per IMF iteration.

    Attributes
    ----------
    index
        Position among the method's stages (0-based).
    n_steps
        Optimisation steps of the stage.
    networks
        The networks trained in it; their parameters form the optimiser, and each one's gradient is
        clipped on its own.
    label
        Shown on the progress bar.
    """

    index: int
    n_steps: int
    networks: Sequence[torch.nn.Module]
    label: str = ""
    optimizer: Any = field(default=None, repr=False)
    scheduler: Any = field(default=None, repr=False)


class Trainer:
    """The one training loop; a method's trainer supplies the hooks.

    Subclasses set ``config`` (a :class:`MethodConfig`), ``device`` and ``label``, and implement
    :meth:`stages` and :meth:`stage_losses`; the other hooks are optional. A trainer is constructed as
    ``Trainer(x, t, config, *, device="cpu", rng=0)``, with

    * ``x``: states ``(n_cells, d)``, an array or a tensor on any device;
    * ``t``: the time of each cell (array or tensor), rescaled by the model to ``[0, 1]`` before it gets here;
    * ``config``: the method's :class:`MethodConfig`;
    * ``device``: the torch device (already resolved);
    * ``rng``: a seed or NumPy generator from which everything random derives, so that the same seed gives
      the same networks on the CPU.
    """

    #: progress-bar label and name in error messages
    label: ClassVar[str] = "training"
    #: entries of each step's loss vector; the first is the total that is minimised
    loss_names: ClassVar[tuple[str, ...]] = ("loss",)

    config: MethodConfig
    device: torch.device
    #: set by :meth:`cellbridge.distributed.DataParallel.prepare`: gradients are averaged over its ranks
    data_parallel: "DataParallel | None" = None

    # -- hooks --------------------------------------------------------------------------------------------
    def stages(self) -> Sequence[Stage]:
        """The stages still to run, in order."""
        raise NotImplementedError

    def stage_losses(self, stage: Stage, step: int) -> Sequence[torch.Tensor]:
        """Differentiable losses of step ``step`` (0-based within the stage), the total first."""
        raise NotImplementedError

    def begin_stage(self, stage: Stage) -> None:
        """Called before a stage's first step (e.g. DSBM makes the iteration's coupling)."""

    def after_step(self, stage: Stage, n_done: int) -> bool:
        """Called after each step (``n_done`` steps of the stage done); True stops training (early stopping)."""
        return False

    def end_stage(self, stage: Stage, losses: np.ndarray) -> None:
        """Called after a stage with its loss vectors ``(n_steps_done, len(loss_names))``."""

    def end_training(self) -> None:
        """Called once after the last stage (e.g. restore the best weights)."""

    def modules(self) -> dict[str, torch.nn.Module]:
        """Every network the trainer holds, by name (checkpointed; default: the registered networks found as
        attributes of the trainer)."""
        return {name: m for name, m in vars(self).items() if isinstance(m, torch.nn.Module)}

    def extra_state(self) -> dict:
        """The method's own state a checkpoint must hold to continue bit for bit (tensors, numbers, strings,
        lists and dicts of them)."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        """Restore what :meth:`extra_state` returned."""

    def history(self) -> dict:
        """The loss history of :meth:`train`: ``step`` (1-based) and one array per entry of ``loss_names``."""
        log = getattr(self, "loss_log", None)
        losses = log.values() if log is not None else np.zeros((0, len(self.loss_names)), dtype=np.float32)
        history = {"step": np.arange(1, len(losses) + 1)}
        history.update({name: losses[:, k] for k, name in enumerate(self.loss_names)})
        return history

    # -- terms trained jointly ----------------------------------------------------------------------------
    #: attached :class:`Term` instances (none by default)
    terms: Sequence["Term"] = ()

    def attach_terms(self, specs: dict[str, dict]) -> None:
        """Attach the registered terms ``{name: settings}`` (before training): their networks become
        attributes of the trainer (checkpointed, optimised in every stage) and their losses entries of the
        loss vector. Seeds derive from the trainer's generator, so a fit without terms is unchanged."""
        terms = []
        for name, settings in specs.items():
            seed = int(torch.randint(2**31 - 1, (1,), generator=self.generator, device=self.generator.device))
            term = get_term(name)(self, seed=seed, **settings)
            for net_name, net in term.networks().items():
                if hasattr(self, net_name):
                    raise ValueError(f"term {name!r} names a network {net_name!r} the trainer already has")
                setattr(self, net_name, net)
            terms.append(term)
        self.terms = tuple(terms)
        self.loss_names = type(self).loss_names + tuple(n for term in terms for n in term.loss_names)

    def term_networks(self) -> dict[str, torch.nn.Module]:
        """The networks of the attached terms, by name."""
        return {k: v for term in self.terms for k, v in term.networks().items()}

    def _trained_networks(self, stage: Stage) -> list[torch.nn.Module]:
        return [*stage.networks, *self.term_networks().values()]

    def reweight_pairs(self, x0: torch.Tensor, x1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pairs ``(K, n, d)`` made by simulating from uniformly drawn cells, resampled by each term that
        weighs paths (growth: by the mass a path gains); unchanged without such terms."""
        for term in self.terms:
            x0, x1 = term.reweight_pairs(x0, x1, self.generator)
        return x0, x1

    # -- the loop -----------------------------------------------------------------------------------------
    def _optimizer(self, stage: Stage):
        if stage.optimizer is None:
            params = [p for net in self._trained_networks(stage) for p in net.parameters()]
            cfg = self.config
            stage.optimizer, stage.scheduler = make_optimizer(params, lr=cfg.lr, weight_decay=cfg.weight_decay,
                                                              lr_schedule=cfg.lr_schedule, n_steps=stage.n_steps,
                                                              device=self.device)
        return stage.optimizer, stage.scheduler

    def take_step(self, stage: Stage, step: int) -> torch.Tensor:
        """One optimisation step of ``stage``; returns the detached loss vector (no host read)."""
        optimizer, scheduler = self._optimizer(stage)
        losses = tuple(self.stage_losses(stage, step))
        for term in self.terms:  # joint training: each term's weighted loss joins the total
            extra = tuple(term.losses(self.generator))
            losses = (losses[0] + term.weight * extra[0], *losses[1:], *extra)
        optimizer.zero_grad(set_to_none=True)
        losses[0].backward()
        loss_vector = torch.stack(list(losses)).detach()
        if self.data_parallel is not None:  # mean gradient (and loss) over the ranks, before clipping
            loss_vector = self.data_parallel.average(self._trained_networks(stage), loss_vector)
        if self.config.grad_clip is not None:
            for net in self._trained_networks(stage):
                torch.nn.utils.clip_grad_norm_(net.parameters(), self.config.grad_clip)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        return loss_vector

    def new_log(self, n_steps: int, bar=None) -> LossLog:
        """A loss log for ``n_steps`` steps (with a disabled progress bar unless one is given)."""
        return LossLog(n_steps, len(self.loss_names), self.device, log_every=self.config.log_every,
                       bar=tqdm(disable=True) if bar is None else bar, name=self.label)

    def run_stage(self, stage: Stage, log: LossLog, *, start_step: int = 0, resume: dict | None = None,
                  checkpoint: "Checkpointer | None" = None) -> bool:
        """Run one stage into ``log``; True when :meth:`after_step` stopped training early.

        ``start_step > 0`` continues a stage restored from a checkpoint (``resume`` holds its optimiser and
        scheduler states): :meth:`begin_stage` is not called again.
        """
        first = log.n_done - start_step
        if start_step == 0:
            self.begin_stage(stage)
        else:
            optimizer, scheduler = self._optimizer(stage)
            optimizer.load_state_dict(resume["optimizer"])
            if scheduler is not None:
                scheduler.load_state_dict(resume["scheduler"])
        stopped = False
        for k in range(start_step, stage.n_steps):
            log.add(self.take_step(stage, k))
            if self.after_step(stage, k + 1):
                stopped = True
                break
            if checkpoint is not None and checkpoint.due(log.n_done):
                self._save_checkpoint(checkpoint, stage, k + 1)
        log.check()
        self.end_stage(stage, log.buffer[first:log.n_done].cpu().numpy())
        return stopped

    # -- checkpoints --------------------------------------------------------------------------------------
    def _save_checkpoint(self, checkpoint: "Checkpointer", stage: Stage | None, step: int, finished: bool = False) -> None:
        state = {
            "position": {"stage": -1 if stage is None else stage.index, "step": step, "finished": finished},
            "modules": {name: m.state_dict() for name, m in self.modules().items()},
            "generator": self.generator.get_state(),
            "optimizer": None if stage is None or stage.optimizer is None else stage.optimizer.state_dict(),
            "scheduler": None if stage is None or stage.scheduler is None else stage.scheduler.state_dict(),
            "log": self.loss_log.buffer[:self.loss_log.n_done].cpu(),
            "extra": self.extra_state(),
        }
        if self.data_parallel is not None:
            # the networks and optimiser are the same on every rank; the generators (and a reused plan) are not
            ranks = self.data_parallel.gather({"generator": state["generator"], "extra": state["extra"]})
            if not self.data_parallel.is_main:
                return
            state["ranks"] = ranks
        checkpoint.save(state)

    def _restore_checkpoint(self, state: dict) -> None:
        modules = self.modules()
        if set(state["modules"]) != set(modules):
            raise ValueError(f"the checkpoint holds networks {sorted(state['modules'])}, this trainer {sorted(modules)}")
        for name, module in modules.items():
            module.load_state_dict(state["modules"][name])
        own = state
        if self.data_parallel is not None:
            ranks = state.get("ranks") or []
            if len(ranks) != self.data_parallel.world_size:
                raise ValueError(f"the checkpoint holds {len(ranks)} ranks' states, this fit runs "
                                 f"{self.data_parallel.world_size} processes")
            own = ranks[self.data_parallel.rank]
        self.generator.set_state(own["generator"])
        self.load_extra_state(own["extra"])

    def train(self, progress: bool = True, checkpoint: "Checkpointer | None" = None) -> dict:
        """Run the remaining stages with a progress bar; return the loss history (with ``train_seconds``).

        With a :class:`cellbridge.methods.checkpoint.Checkpointer`, a checkpoint is written every
        ``checkpoint.every`` steps and when training ends, and a run that finds one of its own resumes from
        it: the result is the same, bit for bit on the CPU, as a run never interrupted.
        """
        start = time.perf_counter()
        state = checkpoint.load() if checkpoint is not None else None
        position = {"stage": -1, "step": 0, "finished": False}
        logged = torch.zeros((0, len(self.loss_names)))
        if state is not None:
            self._restore_checkpoint(state)
            position, logged = state["position"], state["log"]
            checkpoint.resumed(position)
        stages = [] if position["finished"] else list(self.stages())
        step0 = position["step"] if stages and stages[0].index == position["stage"] else 0
        total = len(logged) + sum(s.n_steps for s in stages) - step0
        bar = tqdm(total=total, initial=len(logged), desc=self.label, disable=not progress, leave=False)
        self.loss_log = self.new_log(total, bar)
        self.loss_log.buffer[:len(logged)] = logged.to(self.loss_log.buffer)
        self.loss_log.n_done = len(logged)
        last = None
        try:
            for i, stage in enumerate(stages):
                if stage.label:
                    bar.set_description(f"{self.label} {stage.label}")
                last = stage
                resume = state if i == 0 and step0 else None
                if self.run_stage(stage, self.loss_log, start_step=step0 if resume else 0, resume=resume,
                                  checkpoint=checkpoint):
                    break
        finally:
            bar.close()
        if checkpoint is not None and stages:
            self._save_checkpoint(checkpoint, last, 0, finished=True)
        self.end_training()
        history = self.history()
        history["train_seconds"] = time.perf_counter() - start
        return history


# ----------------------------------------------------------------------------------------------------------
# methods and their registry
# ----------------------------------------------------------------------------------------------------------


@dataclass
class TrainResult:
    """What a method's fit hands the model: trained networks, loss history, extra config entries."""

    networks: dict[str, torch.nn.Module]
    history: dict
    config: dict = field(default_factory=dict)


@dataclass
class FitContext:
    """What a method may use of the fit that called it, beyond its own config.

    Attributes
    ----------
    x, t
        The cells and times in the user's units (the trainer gets them normalised).
    sigma
        Diffusion coefficient in the user's units.
    normalization
        The map between user units and training coordinates.
    device
        The training device.
    progress
        Whether to show progress bars.
    fit
        ``fit(method, rng=..., **settings)`` fits another model on the same cells with the same sigma and
        device (e.g. DSBM's [SF]2M initial coupling), checkpointed in a subfolder when this fit is.
    checkpoint
        Where the trainer checkpoints (pass it to :meth:`Trainer.train`); None: no checkpoints.
    terms
        Terms to train jointly, ``{name: settings}`` (see :func:`register_term`); :meth:`run` attaches them.
    data_parallel
        The ranks to average gradients over (:class:`cellbridge.distributed.DataParallel`); None: one process.
    term_networks
        Filled by :meth:`run`: the terms' trained networks, saved with the model.
    """

    x: np.ndarray
    t: np.ndarray
    sigma: float
    normalization: "Normalization"
    device: torch.device
    progress: bool
    fit: Callable[..., "CellBridgeModel"]
    checkpoint: "Checkpointer | None" = None
    terms: dict[str, dict] = field(default_factory=dict)
    data_parallel: "DataParallel | None" = None
    term_networks: dict[str, torch.nn.Module] = field(default_factory=dict)

    def run(self, trainer: Trainer) -> dict:
        """Attach this fit's terms to ``trainer``, make it one rank of a data-parallel fit when there is one,
        train it (progress bar on rank 0, checkpoints) and return the loss history; the terms' trained networks
        are kept in ``term_networks`` for the model."""
        if self.terms:
            trainer.attach_terms(self.terms)
        progress = self.progress
        if self.data_parallel is not None:
            self.data_parallel.prepare(trainer)
            progress = progress and self.data_parallel.is_main
        history = trainer.train(progress=progress, checkpoint=self.checkpoint)
        self.term_networks.update(trainer.term_networks())
        return history


class Method:
    """A training method as the model sees it. Subclass, implement :meth:`train` and :meth:`drift`, and
    register the class with :func:`register_method`, which sets the attributes below.

    Attributes
    ----------
    name
        Registry name (``method=`` of :func:`cellbridge.tl.fit`).
    label
        Human-readable name for messages.
    config_class
        The method's :class:`MethodConfig` subclass.
    networks
        Names of the networks a fitted model holds.
    drift_network
        The network that is the model's drift (read by :func:`cellbridge.tl.grn`).
    fit_options
        Keyword arguments of a fit that are not config fields (e.g. DSBM's ``init_model``).
    untrained_hint
        Appended to the error raised when a direction the method did not train is simulated.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    config_class: ClassVar[type[MethodConfig]]
    networks: ClassVar[tuple[str, ...]]
    drift_network: ClassVar[str]
    fit_options: ClassVar[tuple[str, ...]] = ()
    untrained_hint: ClassVar[str] = ""

    @classmethod
    def train(cls, x: np.ndarray, t: np.ndarray, config: MethodConfig, *, context: FitContext, rng,
              **options) -> TrainResult:
        """Train on normalised cells ``x`` and times ``t`` (in ``[0, 1]``); ``options`` are ``fit_options``."""
        raise NotImplementedError

    @classmethod
    def drift(cls, networks: dict[str, torch.nn.Module], sigma: float, *, stochastic: bool, direction: str) -> Drift:
        """The drift in the direction of travel, in normalised coordinates (``sigma`` normalised too).

        Forwards: ``dx = drift dt + sigma dW`` (SDE) or ``dx = drift dt`` (probability-flow ODE).
        Backwards, in reversed time ``tau = -t``: ``dx = drift dtau + sigma dW`` (the time reversal).
        """
        raise NotImplementedError

    @classmethod
    def work_per_step(cls, config: MethodConfig, dim: int, n_intervals: int) -> float:
        """Rough training FLOPs per step (forward and backward passes), for the default thread count.

        Default: every network a :class:`cellbridge.nn.TimeMLP` of the config's shape, each evaluated on
        ``batch_size`` samples of every interval.
        """
        widths = [dim + 1 + 2 * config.n_freqs, *config.hidden_dims, dim]
        params = sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))
        return 6.0 * config.batch_size * n_intervals * params * len(cls.networks)

    @classmethod
    def directions(cls, config: dict) -> tuple[str, ...]:
        """Directions a fitted model (its saved ``config``) can simulate by its SDE; both by default."""
        return tuple(config.get("directions", DIRECTIONS))



_REGISTRY: dict[str, type[Method]] = {}


def register_method(name: str, *, label: str, config: type[MethodConfig], networks: Sequence[str],
                    drift_network: str, fit_options: Sequence[str] = (), untrained_hint: str = ""):
    """Class decorator: set a :class:`Method` subclass's description and register it as ``name``.

    Parameters
    ----------
    name
        Registry name (``method=`` of :func:`cellbridge.tl.fit`).
    label
        Human-readable name for messages and progress bars.
    config
        The method's :class:`MethodConfig` subclass.
    networks
        Names of the networks a fitted model holds.
    drift_network
        The one among them that is the drift (read by :func:`cellbridge.tl.grn`).
    fit_options
        Keyword arguments of a fit that are not config fields, handed to :meth:`Method.train`.
    untrained_hint
        Appended to the error raised when a direction the method did not train is simulated.
    """
    if drift_network not in networks:
        raise TypeError(f"drift_network {drift_network!r} is not among the networks {tuple(networks)}")

    def register(cls: type[Method]) -> type[Method]:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"a method named {name!r} is registered already")
        cls.name, cls.label, cls.config_class = name, label, config
        cls.networks, cls.drift_network = tuple(networks), drift_network
        cls.fit_options, cls.untrained_hint = tuple(fit_options), untrained_hint
        _REGISTRY[name] = cls
        return cls

    return register


def unregister_method(name: str) -> None:
    """Remove a registered method (for tests and plug-ins)."""
    _REGISTRY.pop(name, None)


def available_methods() -> tuple[str, ...]:
    """Names of the registered methods, in registration order."""
    return tuple(_REGISTRY)


def get_method(name: str) -> type[Method]:
    """The method registered as ``name``; ValueError naming the available ones otherwise."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        available = ", ".join(repr(m) for m in _REGISTRY)
        raise ValueError(f"unknown method {name!r}; available: {available}") from None



# ----------------------------------------------------------------------------------------------------------
# terms trained jointly with any method
# ----------------------------------------------------------------------------------------------------------


class Term:
    """A loss and its networks, trained jointly with any method's (e.g. growth).

    Constructed by :meth:`Trainer.attach_terms` as ``Term(trainer, seed=, **settings)``, before training;
    it may change the trainer's ``coupling`` and ``sampler`` (growth makes the coupling unbalanced).

    Attributes
    ----------
    name
        Registry name (set by :func:`register_term`).
    loss_names
        Entries the term adds to the loss vector; the first is its loss, added to the total times ``weight``.
    weight
        Weight of the term's loss in the total.
    """

    name: ClassVar[str]
    loss_names: ClassVar[tuple[str, ...]] = ()
    weight: float = 1.0

    def networks(self) -> dict[str, torch.nn.Module]:
        """The term's networks by name (saved with the model under these names); default none."""
        return {}

    def losses(self, generator: torch.Generator) -> Sequence[torch.Tensor]:
        """Differentiable losses of one step, the term's loss first."""
        raise NotImplementedError

    def reweight_pairs(self, x0: torch.Tensor, x1: torch.Tensor, generator: torch.Generator):
        """Resample simulated pairs (see :meth:`Trainer.reweight_pairs`); default unchanged."""
        return x0, x1

    @classmethod
    def network_names(cls, settings: dict) -> tuple[str, ...]:
        """Names of the networks a model fitted with this term holds (for :meth:`CellBridgeModel.load`);
        default none."""
        return ()

    @staticmethod
    def flow_of(trainer: Trainer, what: str) -> torch.nn.Module:
        """The trainer's ``flow`` network, for a term that trains it (``what``: the term's name in the error
        raised when the method has none, e.g. DSBM)."""
        flow = getattr(trainer, "flow", None)
        if not isinstance(flow, torch.nn.Module):
            raise ValueError(f"{what} trains a flow network: it needs method='sf2m'")
        return flow


_TERMS: dict[str, type[Term]] = {}


def register_term(name: str):
    """Class decorator: register a :class:`Term` subclass as ``name`` (a keyword of the model's fit)."""

    def register(cls: type[Term]) -> type[Term]:
        if name in _TERMS and _TERMS[name] is not cls:
            raise ValueError(f"a term named {name!r} is registered already")
        cls.name = name
        _TERMS[name] = cls
        return cls

    return register


def available_terms() -> tuple[str, ...]:
    """Names of the registered terms."""
    return tuple(_TERMS)


def get_term(name: str) -> type[Term]:
    """The term registered as ``name``; ValueError naming the available ones otherwise."""
    try:
        return _TERMS[name]
    except KeyError:
        raise ValueError(f"unknown term {name!r}; available: {', '.join(map(repr, _TERMS))}") from None
