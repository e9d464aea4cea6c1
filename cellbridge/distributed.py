"""Data-parallel training over processes with :mod:`torch.distributed`: gradients averaged across ranks.

Every process (rank) holds the whole time course and the same networks; each step every rank draws its
own minibatches and OT couplings (no cross-rank OT), computes its losses, and the gradients of all ranks
are averaged in one all-reduce (one flat buffer, the loss vector packed with it) before each rank takes the
same optimiser step. This is the arithmetic of :class:`torch.nn.parallel.DistributedDataParallel`, done on
the trainer's own parameter list, so that a method's stages (DSBM trains one network per iteration), its
terms' networks and its checkpoints keep their names and need no wrapper.

With ``N`` processes a step averages ``N`` minibatches: the effective batch is ``N x batch_size`` at the
same learning rate (the gradient's mean is unchanged, its variance divided by ``N``). ``n_steps`` steps then
see ``N`` times the samples; to see as many as one process does, divide ``n_steps`` by ``N``. The learning
rate is not scaled: Adam's update is normalised by the gradient's running second moment, so its size does
not grow with the batch the way SGD's does (the linear scaling rule of large-batch SGD does not carry over),
and the averaged gradient has the mean of one process's with ``1 / N`` of its variance. Raise ``lr`` by hand
only with a shorter run, and check the loss history.

Two ways in:

* :func:`spawn_fit` (``cb.tl.fit(..., devices=N)``): starts ``N`` processes with
  :func:`torch.multiprocessing.spawn` (so it works from a notebook), NCCL on CUDA devices and gloo on the
  CPU, and returns rank 0's model. In a script, call it under ``if __name__ == "__main__":``: a spawned
  process imports the script's main module again (Python's rule for the spawn start method);
* ``devices="group"`` inside a process group that is already initialised, as ``torchrun`` makes for
  ``cellbridge fit`` (multi-node through its rendezvous): every rank returns the same model.

Same seed, same number of processes: the same model on the CPU. Networks start identical on every rank
(rank 0's are broadcast, as DDP does), and rank ``r``'s minibatches come from a generator seeded with one
draw of the fit's generator and ``r``.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch

from ._logging import logger, verbosity

if TYPE_CHECKING:
    from .methods.base import Trainer
    from .model import CellBridgeModel

__all__ = ["DataParallel", "resolve_devices", "spawn_fit"]

#: ``devices=`` value that trains over the processes of an initialised torch.distributed group
GROUP = "group"


@dataclass
class DataParallel:
    """Gradient averaging over the ranks of the default torch.distributed process group.

    Attributes
    ----------
    rank, world_size
        This process's rank and the number of processes.
    """

    rank: int
    world_size: int

    @classmethod
    def from_group(cls) -> "DataParallel":
        """The initialised default process group (ValueError when there is none)."""
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            raise ValueError(f"devices={GROUP!r} needs an initialised torch.distributed process group (e.g. a "
                             "script run by torchrun that calls torch.distributed.init_process_group)")
        return cls(dist.get_rank(), dist.get_world_size())

    @property
    def is_main(self) -> bool:
        """True on rank 0 (the rank that reports and writes)."""
        return self.rank == 0

    def prepare(self, trainer: "Trainer") -> None:
        """Make ``trainer`` one rank of a data-parallel fit: the same networks as rank 0, and a generator of its
        own minibatches (one draw of its generator, which is the same on every rank, combined with the rank)."""
        import torch.distributed as dist

        with torch.no_grad():
            for module in trainer.modules().values():
                for tensor in [*module.parameters(), *module.buffers()]:
                    dist.broadcast(tensor.data, src=0)
        seed = int(torch.randint(2**31 - 1, (1,), generator=trainer.generator, device=trainer.generator.device))
        trainer.generator.manual_seed(seed * 65_537 + self.rank)
        trainer.data_parallel = self

    def gather(self, obj) -> list:
        """``obj`` of every rank, in rank order (on every rank)."""
        import torch.distributed as dist

        out = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def average(self, networks: Sequence[torch.nn.Module], losses: torch.Tensor) -> torch.Tensor:
        """Replace the gradients of ``networks`` by their mean over the ranks and return the mean of
        ``losses`` (one all-reduce of one flat buffer). A parameter without a gradient counts as zero."""
        import torch.distributed as dist

        params = [p for net in networks for p in net.parameters() if p.requires_grad]
        grads = [torch.zeros_like(p) if p.grad is None else p.grad for p in params]
        flat = torch.cat([*(g.reshape(-1) for g in grads), losses.to(grads[0].dtype).reshape(-1)])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat /= self.world_size
        offset = 0
        for p, g in zip(params, grads):  # views of the reduced buffer: no copy (zero_grad drops them)
            n = g.numel()
            p.grad = flat[offset:offset + n].view_as(p)
            offset += n
        return flat[offset:].to(losses.dtype)


def resolve_devices(devices, device) -> list[torch.device] | str | None:
    """The per-rank devices ``devices=`` names: None (one process), :data:`GROUP`, or a list of devices.

    An integer ``N`` means ``N`` CUDA devices ``cuda:0 .. N-1`` when ``device`` resolves to CUDA, else ``N``
    CPU processes; a sequence of integers names CUDA devices. One device is one process: None.
    """
    from ._utils import resolve_device

    if devices is None or (isinstance(devices, str) and devices == GROUP):
        return devices
    if isinstance(devices, (bool, np.bool_)):
        raise TypeError(f"devices must be a number of processes, a list of CUDA ids or {GROUP!r}, not {devices!r}")
    if isinstance(devices, (int, np.integer)):
        if devices < 1:
            raise ValueError(f"devices must be at least 1, got {devices}")
        dev = resolve_device(device)
        if dev.type == "cuda":
            if devices > torch.cuda.device_count():
                raise ValueError(f"devices={devices} but {torch.cuda.device_count()} CUDA devices are visible")
            out = [torch.device("cuda", k) for k in range(int(devices))]
        else:
            out = [torch.device("cpu")] * int(devices)
    elif isinstance(devices, (list, tuple)) and devices and all(
            isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in devices):
        if not torch.cuda.is_available():
            raise ValueError(f"devices={list(devices)} names CUDA devices, but CUDA is not available; pass a number "
                             "of CPU processes instead")
        if len(set(devices)) != len(devices) or min(devices) < 0 or max(devices) >= torch.cuda.device_count():
            raise ValueError(f"devices={list(devices)} must be distinct ids among the "
                             f"{torch.cuda.device_count()} visible CUDA devices")
        out = [torch.device("cuda", int(k)) for k in devices]
    else:
        raise TypeError(f"devices must be a number of processes, a list of CUDA ids or {GROUP!r}, not {devices!r}")
    return None if len(out) == 1 else out


def spawn_fit(x: np.ndarray, t: np.ndarray, devices: list[torch.device], fit_kwargs: dict) -> "CellBridgeModel":
    """Fit ``CellBridgeModel.fit(x, t, **fit_kwargs)`` data-parallel in one process per entry of ``devices``
    and return rank 0's model (on ``devices[0]``), with its loss history (the mean over ranks).

    The cells travel to the processes in shared memory, not as copies; the processes meet through a file in
    a temporary folder (no network port).
    """
    import torch.multiprocessing as mp

    from .model import CellBridgeModel

    backend = "nccl" if devices[0].type == "cuda" else "gloo"
    x_shared = torch.from_numpy(np.ascontiguousarray(x)).share_memory_()
    t_shared = torch.from_numpy(np.ascontiguousarray(t, dtype=np.float64)).share_memory_()
    with tempfile.TemporaryDirectory(prefix="cellbridge-dp-") as tmp:
        logger.info(f"data-parallel fit: {len(devices)} processes ({backend}) on "
                    f"{', '.join(str(d) for d in devices)}")
        try:
            mp.spawn(_worker, args=(len(devices), str(Path(tmp) / "rendezvous"), backend, devices, x_shared,
                                    t_shared, fit_kwargs, str(Path(tmp) / "model"), verbosity()),
                     nprocs=len(devices), join=True)
        except mp.ProcessRaisedException as err:
            raise RuntimeError(f"a data-parallel training process failed:\n{err}") from None
        except mp.ProcessExitedException as err:
            raise RuntimeError(f"a data-parallel training process died: {err}") from None
        model = CellBridgeModel.load(Path(tmp) / "model", device=devices[0])
    return model


def _worker(rank: int, world_size: int, rendezvous: str, backend: str, devices: list[torch.device],
            x: torch.Tensor, t: torch.Tensor, fit_kwargs: dict, out: str, level: int) -> None:
    import torch.distributed as dist

    from ._settings import settings
    from .model import CellBridgeModel

    # the parent's verbosity on rank 0 (a fresh process starts at the default); one report: rank 0's
    settings.verbosity = level if rank == 0 else min(level, 1)
    dist.init_process_group(backend, init_method=f"file://{rendezvous}", rank=rank, world_size=world_size)
    try:
        if devices[rank].type == "cuda":
            torch.cuda.set_device(devices[rank])
        model = CellBridgeModel.fit(x.numpy(), t.numpy(), device=devices[rank], devices=GROUP, **fit_kwargs)
        if rank == 0:  # to the parent through a temporary folder: no "saved model" line for the user
            settings.verbosity = min(level, 1)
            model.save(out)
    finally:
        dist.destroy_process_group()


def cpu_share(world_size: int) -> int:
    """Cores per process when ``world_size`` processes share this machine's CPU (at least 1)."""
    from ._utils import available_cores

    return max(1, available_cores() // world_size)
