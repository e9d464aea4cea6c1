"""Brownian bridges over absolute time and the regression targets of [SF]2M and DSBM.

For one interval ``[t0, t1]`` with ``Delta = t1 - t0`` and ``s = (t - t0) / Delta``, the Brownian bridge
with diffusion ``sigma`` pinned at ``x0`` and ``x1`` is

    x_t = (1 - s) x0 + s x1 + sigma sqrt(Delta s (1 - s)) z,    z ~ N(0, I).

All functions broadcast: times, ``Delta`` and ``sigma`` may be scalars or column vectors ``(n, 1)``, so
one batch can mix cells from several intervals of the time course.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class BridgeSample:
    """Points drawn from Brownian bridges, with what the regression targets need.

    Attributes
    ----------
    xt
        The sampled points ``(n, d)``.
    mean
        Bridge means ``(1 - s) x0 + s x1``.
    std
        Bridge standard deviations ``sigma sqrt(Delta s (1 - s))``, ``(n, 1)``.
    noise
        The standard normal draws ``z`` with ``xt = mean + std * z``.
    s
        Fraction of the interval elapsed, ``(n, 1)``.
    delta
        Interval lengths ``(n, 1)``.
    """

    xt: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    noise: torch.Tensor
    s: torch.Tensor
    delta: torch.Tensor


def brownian_bridge(
    x0: torch.Tensor,
    x1: torch.Tensor,
    t0: torch.Tensor | float,
    t1: torch.Tensor | float,
    t: torch.Tensor | float,
    sigma: torch.Tensor | float,
    *,
    noise: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> BridgeSample:
    """Sample ``x_t`` from the Brownian bridge between ``x0`` at ``t0`` and ``x1`` at ``t1``.

    Parameters
    ----------
    x0, x1
        Endpoints ``(n, d)``.
    t0, t1, t
        Interval ends and the sampling time (absolute), scalars or ``(n, 1)``; ``t0 <= t <= t1``.
    sigma
        Diffusion coefficient of the reference Brownian motion.
    noise
        Standard normal draws to use (drawn with ``generator`` if None).
    generator
        Torch generator for the noise.

    Returns
    -------
    BridgeSample
    """
    like = x0
    as_col = lambda v: torch.as_tensor(v, dtype=like.dtype, device=like.device).reshape(-1, 1)  # noqa: E731
    t0, t1, t = as_col(t0), as_col(t1), as_col(t)
    delta = t1 - t0
    s = (t - t0) / delta
    mean = (1 - s) * x0 + s * x1
    std = as_col(sigma) * torch.sqrt((delta * s * (1 - s)).clamp_min(0.0))
    if noise is None:
        noise = torch.randn(x0.shape, generator=generator, dtype=like.dtype, device=like.device)
    xt = mean + std * noise
    return BridgeSample(xt=xt, mean=mean, std=std, noise=noise, s=s.expand(len(x0), 1), delta=delta.expand(len(x0), 1))


def sf2m_flow_target(bridge: BridgeSample, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """The [SF]2M conditional flow ``u = (x1 - x0)/Delta + (1 - 2s) / (2 Delta s (1 - s)) (x_t - mu_t)``.

    It is the velocity of the probability flow of the bridge marginals. Needs ``0 < s < 1`` (training draws
    ``s`` away from the interval ends, where this term diverges like ``1 / sqrt(s)``).
    """
    s, delta = bridge.s, bridge.delta
    return (x1 - x0) / delta + (1 - 2 * s) / (2 * delta * s * (1 - s)) * (bridge.xt - bridge.mean)


def bridge_score(bridge: BridgeSample) -> torch.Tensor:
    """The score of the bridge marginal, ``grad log p_t(x_t | x0, x1) = -(x_t - mu_t) / std^2 = -z / std``."""
    return -bridge.noise / bridge.std


def dsbm_forward_target(x1: torch.Tensor, xt: torch.Tensor, t: torch.Tensor, t1: torch.Tensor) -> torch.Tensor:
    """DSBM's forward drift target ``(x1 - x_t) / (t1 - t)`` (the bridge's drift towards its end)."""
    return (x1 - xt) / (t1 - t)


def dsbm_backward_target(x0: torch.Tensor, xt: torch.Tensor, t: torch.Tensor, t0: torch.Tensor) -> torch.Tensor:
    """DSBM's backward drift target ``(x0 - x_t) / (t - t0)`` (the reversed bridge's drift to its start)."""
    return (x0 - xt) / (t - t0)
