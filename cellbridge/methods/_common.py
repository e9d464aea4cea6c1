"""Pieces shared by the training loops of :mod:`cellbridge.methods` ([SF]2M and DSBM).

* :func:`host_arrays`: inputs given as arrays or as tensors on any device, as host arrays;
* :func:`make_networks`: time-conditioned MLPs initialised from one seed without touching torch's global
  random state;
* :func:`make_optimizer`: Adam (fused where available) with the optional cosine learning-rate decay;
* :func:`bridge_times`: the fractions of their intervals at which bridges are sampled;
* :class:`LossLog`: per-step losses kept on the device, read back once every ``log_every`` steps to update
  the progress bar and to stop on a non-finite loss.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import torch

from ..nn import TimeMLP


def host_arrays(x, t) -> tuple[np.ndarray, np.ndarray]:
    """States as float32 and times as float64 host arrays, from arrays or tensors on any device."""
    to_host = lambda v: v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v  # noqa: E731
    return np.asarray(to_host(x), dtype=np.float32), np.asarray(to_host(t), dtype=np.float64)


def make_networks(n: int, dim: int, hidden_dims: Sequence[int], activation: str, n_freqs: int, seed: int,
                  device: torch.device) -> list[TimeMLP]:
    """``n`` networks :class:`cellbridge.nn.TimeMLP` initialised, in order, from ``seed`` (global RNG untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return [TimeMLP(dim, hidden_dims, activation, n_freqs).to(device) for _ in range(n)]


def make_optimizer(params: Iterable[torch.nn.Parameter], *, lr: float, weight_decay: float, lr_schedule: str,
                   n_steps: int, device: torch.device):
    """Adam over ``params`` and, for ``lr_schedule="cosine"``, a cosine decay to 1% of ``lr`` over ``n_steps``.

    Returns ``(optimizer, scheduler)``; the scheduler is None for ``"constant"``.
    """
    # one fused kernel for all parameter tensors instead of a loop over them (a third of a CPU step)
    fused = device.type in ("cuda", "cpu")
    optimizer = torch.optim.Adam(list(params), lr=lr, weight_decay=weight_decay, fused=fused)
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=n_steps, eta_min=0.01 * lr)
                 if lr_schedule == "cosine" else None)
    return optimizer, scheduler


def bridge_times(shape: tuple[int, ...], t_clip: float, generator: torch.Generator | None,
                 device: torch.device) -> torch.Tensor:
    """Fractions ``s`` of their intervals, uniform on ``[t_clip, 1 - t_clip]``: where bridges are sampled.

    The regression targets of every method have a ``1 / s`` or ``1 / (1 - s)`` term at the interval ends
    whose variance would diverge logarithmically without the clip.
    """
    return t_clip + (1 - 2 * t_clip) * torch.rand(shape, generator=generator, device=device)


class LossLog:
    """Per-step loss vectors in a device buffer; the host reads them only every ``log_every`` steps.

    Parameters
    ----------
    n_steps
        Capacity: the total number of steps that will be recorded.
    width
        Length of each step's loss vector (the first entry is the one shown on the progress bar).
    device
        Where the buffer lives (the device of the losses).
    log_every
        Steps between reads: each read averages the last ``log_every`` steps, stops on a non-finite value and
        updates the progress bar.
    bar
        A tqdm progress bar (may be disabled).
    name
        Method name for the error message.
    """

    def __init__(self, n_steps: int, width: int, device: torch.device, *, log_every: int, bar, name: str):
        self.buffer = torch.zeros((n_steps, width), device=device)
        self.n_done = 0
        self.log_every = max(1, int(log_every))
        self.bar = bar
        self.name = name

    def add(self, values: torch.Tensor) -> None:
        """Record one step's (detached) losses; every ``log_every`` steps and at the last one, check them."""
        self.buffer[self.n_done] = values
        self.n_done += 1
        if self.n_done % self.log_every == 0 or self.n_done == len(self.buffer):
            self.check()

    def check(self) -> None:
        """Read the mean of the last ``log_every`` steps; raise on a non-finite loss, else update the bar."""
        n = self.n_done
        if n == 0:
            return
        recent = self.buffer[max(0, n - self.log_every):n].mean(0)
        if not bool(torch.isfinite(recent).all()):
            self.bar.close()
            raise FloatingPointError(f"{self.name} loss became non-finite by step {n}; lower lr, or check the data scale")
        self.bar.set_postfix(loss=f"{recent[0].item():.4g}")
        self.bar.update(n - self.bar.n)

    def values(self) -> np.ndarray:
        """The recorded losses ``(n_done, width)`` on the host."""
        return self.buffer[:self.n_done].cpu().numpy()
