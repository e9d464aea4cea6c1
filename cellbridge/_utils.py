"""Random-number and device handling shared by the whole package."""

from __future__ import annotations

import contextlib
import os
from typing import Union

import numpy as np
import torch

from ._logging import logger

RNGLike = Union[int, np.random.Generator, None]


def as_numpy_rng(rng: RNGLike) -> np.random.Generator:
    """Return a NumPy generator: a seed makes a fresh one, a generator is used as is."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be an int seed, a numpy.random.Generator or None, not {type(rng).__name__}")


def torch_generator(rng: RNGLike, device: torch.device | str = "cpu") -> torch.Generator:
    """A torch generator on ``device`` seeded from ``rng``.

    The seed is drawn from ``rng`` so that one user-facing seed controls NumPy and torch streams alike.
    """
    seed = int(as_numpy_rng(rng).integers(0, 2**63 - 1))
    gen = torch.Generator(device=torch.device(device))
    gen.manual_seed(seed)
    return gen


#: training FLOPs per step (forward and backward passes of the networks over a step's samples) below which
#: more CPU threads do not pay: at this size each operation is too small to share, and threads that wait for
#: each other collapse when another process holds a core (benchmarks/results/threads.md)
THREADED_WORK = 2e8


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def idle_cores() -> float:
    """Cores not taken by other processes, from the 1-minute load average (this process counted as idle)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return float(available_cores())
    return max(1.0, available_cores() - load + 1.0)


def auto_num_threads(work: float) -> int:
    """Torch CPU threads for a training run of ``work`` FLOPs per step.

    1 below :data:`THREADED_WORK` (every default fit): more threads gain little there on an idle machine and
    are many times slower when another process holds a core. Above it, as many threads as there are idle
    cores (from the load average), at most torch's default.
    """
    if work < THREADED_WORK:
        return 1
    return int(max(1, min(torch.get_num_threads(), np.floor(idle_cores() + 0.25))))


@contextlib.contextmanager
def cpu_threads(n: int | None):
    """Run the body with ``n`` torch CPU threads (None: leave torch's setting), restoring the setting after."""
    if n is None:
        yield
        return
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"num_threads must be a positive integer or None, got {n!r}")
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def resolve_device(device: str | torch.device = "auto", *, announce: bool = False) -> torch.device:
    """Turn ``"auto"`` into CUDA when present (else CPU) and validate explicit devices."""
    if isinstance(device, torch.device):
        resolved = device
    elif device == "auto":
        resolved = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available")
    if announce:
        if resolved.type == "cuda":
            logger.info(f"training on {resolved} ({torch.cuda.get_device_name(resolved)})")
        else:
            logger.info(f"training on cpu ({torch.get_num_threads()} threads)")
    return resolved
