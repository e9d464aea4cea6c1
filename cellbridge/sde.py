"""Integration of the learned dynamics: Euler-Maruyama for the SDE, Euler / Heun / RK4 for the ODE.

Everything is batched over cells and stays on the device of the initial states. The step size is the
largest one no bigger than ``dt`` that lands exactly on every requested output time.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

Drift = Callable[[float, torch.Tensor], torch.Tensor]

_ODE_METHODS = ("euler", "heun", "rk4")


def _step(drift: Drift, t: float, x: torch.Tensor, h: float, method: str) -> torch.Tensor:
    if method == "euler":
        return x + h * drift(t, x)
    if method == "heun":
        k1 = drift(t, x)
        k2 = drift(t + h, x + h * k1)
        return x + 0.5 * h * (k1 + k2)
    k1 = drift(t, x)
    k2 = drift(t + h / 2, x + h / 2 * k1)
    k3 = drift(t + h / 2, x + h / 2 * k2)
    k4 = drift(t + h, x + h * k3)
    return x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def integrate(
    drift: Drift,
    x0: torch.Tensor,
    t_eval: Sequence[float],
    *,
    dt: float,
    sigma: float = 0.0,
    method: str = "euler",
    generator: torch.Generator | None = None,
    return_path: bool = True,
    rate: Drift | None = None,
):
    """Integrate ``dx = drift(t, x) dt + sigma dW`` from ``t_eval[0]`` through the times in ``t_eval``.

    Parameters
    ----------
    drift
        Callable ``(t: float, x: (n, d) tensor) -> (n, d) tensor``.
    x0
        Initial states at ``t_eval[0]``.
    t_eval
        Monotone (increasing, or decreasing to integrate backwards) output times, the first being the start.
    dt
        Largest step size (positive).
    sigma
        Diffusion coefficient; ``0`` integrates the ODE. The SDE uses Euler-Maruyama, with increments
        ``sigma sqrt(|h|) z`` also when integrating backwards.
    method
        ``"euler"``, ``"heun"`` or ``"rk4"``; the higher-order schemes are for the ODE only.
    generator
        Torch generator for the Brownian increments.
    return_path
        Return the states at every time of ``t_eval`` (``(len(t_eval), n, d)``) or only the last (``(n, d)``).
    rate
        Optional growth rate ``(t, x) -> (n, 1)`` or ``(n,)``: each particle then carries a log-weight
        integrated along its path, ``d log w = rate dt`` (left-point rule at the scheme's steps, with the
        signed step, so that integrating backwards removes the mass gained forwards), and the result is the
        pair ``(states, log_weights)`` with log-weights ``(len(t_eval), n)`` (or ``(n,)``), zero at the start.
    """
    if method not in _ODE_METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {_ODE_METHODS}")
    if sigma > 0 and method != "euler":
        raise ValueError("stochastic integration supports method='euler' (Euler-Maruyama) only")
    if sigma < 0 or dt <= 0:
        raise ValueError("sigma must be non-negative and dt positive")
    times = [float(t) for t in t_eval]
    if len(times) < 1:
        raise ValueError("t_eval must hold at least the start time")
    diffs = [b - a for a, b in zip(times, times[1:])]
    if diffs and not (all(d >= 0 for d in diffs) or all(d <= 0 for d in diffs)):
        raise ValueError("t_eval must be monotone")
    x = x0
    path = [x0]
    log_w = torch.zeros(x0.shape[0], dtype=x0.dtype, device=x0.device) if rate is not None else None
    log_ws = [log_w]
    for t_start, t_end in zip(times, times[1:]):
        n_steps = max(1, math.ceil(abs(t_end - t_start) / dt - 1e-9)) if t_end != t_start else 0
        h = (t_end - t_start) / n_steps if n_steps else 0.0
        for k in range(n_steps):
            t = t_start + k * h
            if rate is not None:
                log_w = log_w + h * rate(t, x).reshape(-1)
            x = _step(drift, t, x, h, method)
            if sigma > 0:
                x = x + sigma * math.sqrt(abs(h)) * torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        path.append(x)
        log_ws.append(log_w)
    if rate is None:
        return torch.stack(path) if return_path else x
    return (torch.stack(path), torch.stack(log_ws)) if return_path else (x, log_w)
