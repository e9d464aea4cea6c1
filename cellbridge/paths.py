"""Brownian bridges over absolute time and the regression targets of [SF]2M and DSBM.

For one interval ``[t0, t1]`` with ``Delta = t1 - t0`` and ``s = (t - t0) / Delta``, the Brownian bridge
with diffusion ``sigma`` pinned at ``x0`` and ``x1`` is::

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


# -- multi-marginal spline paths -----------------------------------------------------------------------


def natural_spline_matrix(knots) -> torch.Tensor:
    """The linear map from node values to the second derivatives of the natural cubic spline.

    For knots ``t_0 < ... < t_{K-1}`` and values ``y_k``, the natural cubic spline has second derivatives
    ``M = W y`` with ``M_0 = M_{K-1} = 0`` and, for interior ``k``,
    ``h_{k-1} M_{k-1} + 2 (h_{k-1} + h_k) M_k + h_k M_{k+1} = 6 ((y_{k+1} - y_k)/h_k - (y_k - y_{k-1})/h_{k-1})``
    with ``h_k = t_{k+1} - t_k``. ``W`` depends on the knots only, so it is computed once per time course.

    Returns
    -------
    torch.Tensor
        ``W``, float64, ``(K, K)`` (zero for ``K = 2``: the spline through two nodes is a line).
    """
    t = torch.as_tensor(knots, dtype=torch.float64).flatten()
    K = len(t)
    if K < 2 or bool((t[1:] <= t[:-1]).any()):
        raise ValueError("knots must be at least two strictly increasing times")
    h = t[1:] - t[:-1]
    A = torch.eye(K, dtype=torch.float64)
    R = torch.zeros((K, K), dtype=torch.float64)
    for k in range(1, K - 1):
        A[k, k - 1], A[k, k], A[k, k + 1] = h[k - 1], 2 * (h[k - 1] + h[k]), h[k]
        R[k, k - 1], R[k, k], R[k, k + 1] = 6 / h[k - 1], -6 / h[k - 1] - 6 / h[k], 6 / h[k]
    return torch.linalg.solve(A, R)


def spline_path(nodes: torch.Tensor, knots: torch.Tensor, W: torch.Tensor, s: torch.Tensor, tension: float = 1.0):
    """Mean path and velocity of spline trajectories through coupled cells, on every interval.

    Each trajectory passes through ``nodes[k]`` at ``knots[k]``. On interval ``k`` at fraction ``s`` the
    path is the straight line between its nodes plus ``tension`` times the natural cubic spline's
    deviation from it::

        mu(s) = (1 - s) y_k + s y_{k+1} + tension h^2 / 6 [((1 - s)^3 - (1 - s)) M_k + (s^3 - s) M_{k+1}],

    with ``M = W y`` (:func:`natural_spline_matrix`) and ``h = knots[k+1] - knots[k]``. ``tension = 0``
    gives piecewise-linear paths (the pairwise bridges' means), ``1`` the natural cubic spline; for every
    value the path meets every node, and the velocity is continuous across nodes only at ``tension = 1``.

    Parameters
    ----------
    nodes
        ``(K, n, d)``: ``n`` trajectories through ``K`` time points.
    knots
        ``(K,)`` times of the nodes.
    W
        ``(K, K)`` from :func:`natural_spline_matrix` (any float dtype; cast to the nodes').
    s
        ``(K - 1, n, 1)`` fractions in ``[0, 1]`` at which to evaluate each interval.
    tension
        Weight of the curvature term.

    Returns
    -------
    (mean, velocity)
        Each ``(K - 1, n, d)``: the path and its time derivative at ``knots[k] + s h_k``.
    """
    M = tension * torch.einsum("kj,jnd->knd", W.to(nodes.dtype), nodes)
    h = (knots[1:] - knots[:-1]).to(nodes.dtype).reshape(-1, 1, 1)
    y0, y1, M0, M1 = nodes[:-1], nodes[1:], M[:-1], M[1:]
    r = 1 - s
    mean = r * y0 + s * y1 + h**2 / 6 * ((r**3 - r) * M0 + (s**3 - s) * M1)
    velocity = (y1 - y0) / h + h / 6 * (-(3 * r**2 - 1) * M0 + (3 * s**2 - 1) * M1)
    return mean, velocity


def gaussian_path_flow_target(xt: torch.Tensor, mean: torch.Tensor, velocity: torch.Tensor, s: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """Flow target of a Brownian bridge's noise around a moving mean: ``mu' + (1 - 2s)/(2 Delta s (1 - s)) (x_t - mu)``.

    The conditional path ``x_t = mu_t + sigma sqrt(Delta s (1 - s)) z`` has the probability-flow velocity
    ``mu'_t + (std'_t / std_t)(x_t - mu_t)``; with a straight ``mu`` this is :func:`sf2m_flow_target`.
    """
    return velocity + (1 - 2 * s) / (2 * delta * s * (1 - s)) * (xt - mean)


def monotone_slopes(nodes: torch.Tensor, knots: torch.Tensor) -> torch.Tensor:
    """Fritsch-Carlson slopes of the shape-preserving (PCHIP) cubic through ``nodes``, per coordinate.

    The slopes of :class:`scipy.interpolate.PchipInterpolator`: at an interior node the weighted harmonic
    mean of the neighbouring secants when they have the same sign, else 0 (the node is a local extremum of
    that coordinate, and the path must not overshoot it); at the ends the one-sided three-point estimate,
    limited in the same spirit. With two nodes the slope is the secant (a straight line).

    Parameters
    ----------
    nodes
        ``(K, n, d)``.
    knots
        ``(K,)`` strictly increasing times.

    Returns
    -------
    torch.Tensor
        ``(K, n, d)`` time derivatives of the path at the nodes.
    """
    h = (knots[1:] - knots[:-1]).to(nodes.dtype).reshape(-1, 1, 1)
    delta = (nodes[1:] - nodes[:-1]) / h  # (K - 1, n, d) secants
    if len(delta) == 1:
        return torch.cat([delta, delta])
    h0, h1 = h[:-1], h[1:]
    d0, d1 = delta[:-1], delta[1:]
    w1, w2 = 2 * h1 + h0, h1 + 2 * h0
    same_sign = (d0 * d1) > 0
    # weighted harmonic mean (w1 + w2) / (w1 / d0 + w2 / d1), evaluated only where it is defined
    safe0 = torch.where(same_sign, d0, torch.ones_like(d0))
    safe1 = torch.where(same_sign, d1, torch.ones_like(d1))
    interior = torch.where(same_sign, (w1 + w2) / (w1 / safe0 + w2 / safe1), torch.zeros_like(d0))

    def edge(ha, hb, da, db):
        m = ((2 * ha + hb) * da - ha * db) / (ha + hb)
        m = torch.where(torch.sign(m) != torch.sign(da), torch.zeros_like(m), m)
        overshoot = (torch.sign(da) != torch.sign(db)) & (m.abs() > 3 * da.abs())
        return torch.where(overshoot, 3 * da, m)

    first = edge(h[0], h[1], delta[0], delta[1])
    last = edge(h[-1], h[-2], delta[-1], delta[-2])
    return torch.cat([first.unsqueeze(0), interior, last.unsqueeze(0)])


def hermite_path(nodes: torch.Tensor, slopes: torch.Tensor, knots: torch.Tensor, s: torch.Tensor):
    """Mean path and velocity of the cubic Hermite interpolant with the given node ``slopes``.

    On interval ``k`` at fraction ``s`` (``h = knots[k+1] - knots[k]``)::

        mu(s) = (2s^3 - 3s^2 + 1) y_k + (s^3 - 2s^2 + s) h m_k + (3s^2 - 2s^3) y_{k+1} + (s^3 - s^2) h m_{k+1}

    With :func:`monotone_slopes` this is the PCHIP path: it meets every node, its velocity is continuous, and
    it never leaves the range of its two nodes in a coordinate where the chain turns back.

    Parameters
    ----------
    nodes, slopes
        ``(K, n, d)``: trajectories and their time derivatives at the knots.
    knots
        ``(K,)``.
    s
        ``(K - 1, n, 1)`` fractions in ``[0, 1]``.

    Returns
    -------
    (mean, velocity)
        Each ``(K - 1, n, d)``.
    """
    h = (knots[1:] - knots[:-1]).to(nodes.dtype).reshape(-1, 1, 1)
    y0, y1, m0, m1 = nodes[:-1], nodes[1:], slopes[:-1], slopes[1:]
    s2, s3 = s * s, s * s * s
    mean = (2 * s3 - 3 * s2 + 1) * y0 + (s3 - 2 * s2 + s) * h * m0 + (3 * s2 - 2 * s3) * y1 + (s3 - s2) * h * m1
    velocity = (6 * s2 - 6 * s) * (y0 - y1) / h + (3 * s2 - 4 * s + 1) * m0 + (3 * s2 - 2 * s) * m1
    return mean, velocity
