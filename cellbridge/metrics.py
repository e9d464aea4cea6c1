"""Distances between two point clouds (cells x features), for comparing simulated and observed cells.

AnnData-free: every function takes two arrays (NumPy, anything array-like, or torch tensors, which are
moved to the CPU) with cells in rows and the same features in columns, and returns a Python float.
Computations run in float64.

- :func:`wasserstein`: exact optimal transport (POT's network simplex), W1 or W2.
- :func:`mmd_rbf`: maximum mean discrepancy with a Gaussian kernel (median-heuristic bandwidth).
- :func:`energy_distance`: the energy distance of Szekely and Rizzo.

To keep the cost bounded, each function subsamples a side with more than ``max_cells`` rows, without
replacement and reproducibly from ``rng``.

``mmd_rbf`` and ``energy_distance`` sum dense ``n x m`` kernels; with ``device=`` (``"cuda"``, say) they do
so in torch on that device, in float64, and agree with the NumPy path to rounding. The Wasserstein
distances stay on the host: the exact network simplex has no GPU form, and their cost is the solve, not
the cost matrix.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import ot
from scipy.spatial.distance import cdist

from ._utils import RNGLike, as_numpy_rng

__all__ = ["wasserstein", "mmd_rbf", "energy_distance"]


def _as_float64_2d(a: Any, name: str) -> np.ndarray:
    """Validate one side: 2-D, non-empty, finite; torch tensors are detached and moved to the CPU."""
    if hasattr(a, "detach") and hasattr(a, "cpu"):  # torch.Tensor, without importing torch here
        a = a.detach().cpu().numpy()
    try:
        arr = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a numeric array: {err}") from err
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (cells x features), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} has no rows")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _prepare(x: Any, y: Any, max_cells: int | None, rng: RNGLike) -> tuple[np.ndarray, np.ndarray]:
    """Validate both sides, check their widths agree and subsample the ones above ``max_cells``."""
    xa = _as_float64_2d(x, "x")
    ya = _as_float64_2d(y, "y")
    if xa.shape[1] != ya.shape[1]:
        raise ValueError(f"x and y must have the same number of columns, got {xa.shape[1]} and {ya.shape[1]}")
    if max_cells is not None:
        if int(max_cells) < 1:
            raise ValueError(f"max_cells must be positive or None, got {max_cells}")
        gen = as_numpy_rng(rng)
        # x is drawn first, then y, from the same generator: the result depends on the seed only
        if xa.shape[0] > max_cells:
            xa = xa[np.sort(gen.choice(xa.shape[0], size=int(max_cells), replace=False))]
        if ya.shape[0] > max_cells:
            ya = ya[np.sort(gen.choice(ya.shape[0], size=int(max_cells), replace=False))]
    return xa, ya


def _weights(w: Any, n: int, name: str) -> np.ndarray | None:
    """Validated non-negative weights of ``n`` cells (None stays None)."""
    if w is None:
        return None
    w = np.asarray(w, dtype=np.float64).reshape(-1)
    if w.shape != (n,):
        raise ValueError(f"{name} must hold one weight per cell ({n}), got {w.size}")
    if not (np.isfinite(w).all() and (w >= 0).all() and w.sum() > 0):
        raise ValueError(f"{name} must be finite, non-negative and not all zero")
    return w


def wasserstein(x: Any, y: Any, p: int = 1, *, max_cells: int | None = 2000, rng: RNGLike = 0,
                weights_x: Any = None, weights_y: Any = None) -> float:
    r"""Exact Wasserstein distance between two empirical distributions, uniform or weighted.

    .. math::

        W_p(\hat\mu, \hat\nu) = \Big( \min_{\pi \in \Pi(a, b)} \sum_{ij} \pi_{ij}
        \lVert x_i - y_j \rVert_2^p \Big)^{1/p}, \qquad a_i = 1/n, \; b_j = 1/m,

    solved exactly by POT's network simplex (:func:`ot.emd2`) in float64: ``p=1`` uses the Euclidean
    cost, ``p=2`` the squared Euclidean cost and returns the square root of the optimal cost. W1 with
    the Euclidean cost is the distance reported in the trajectory-inference literature (e.g. the
    leave-one-timepoint-out benchmarks of TrajectoryNet, [SF]2M).

    Exact OT costs :math:`O(n^3)` time and :math:`O(nm)` memory, so a side with more than ``max_cells``
    rows is replaced by ``max_cells`` of its rows drawn uniformly **without replacement** with a
    generator made from ``rng`` (``x`` first, then ``y``); the same seed gives the same subsample and so
    the same value. Pass ``max_cells=None`` to always use every row.

    Parameters
    ----------
    x, y
        Samples, cells in rows, same number of columns (NumPy arrays, array-likes or torch tensors).
    p
        Order of the distance: 1 or 2.
    max_cells
        Subsample a side larger than this (``None``: never subsample).
    rng
        Seed or generator of the subsampling.
    weights_x, weights_y
        Weights of the cells of each side (e.g. ``obs["weight"]`` of a growth model's simulation), used as
        the masses ``a``, ``b`` after normalisation to sum 1; None (default): uniform, as before. A
        subsampled side keeps the weights of the rows drawn.

    Returns
    -------
    float
        The distance, in the units of the inputs.

    Raises
    ------
    ValueError
        If an input is not 2-D, is empty, contains NaN or infinity, the column counts differ, or ``p`` is
        not 1 or 2.
    """
    if p not in (1, 2):
        raise ValueError(f"p must be 1 or 2, got {p}")
    if weights_x is None and weights_y is None:
        xa, ya = _prepare(x, y, max_cells, rng)
        a = np.full(xa.shape[0], 1.0 / xa.shape[0])
        b = np.full(ya.shape[0], 1.0 / ya.shape[0])
    else:
        # subsample rows and their weights together: the index of each row rides along as a last column
        x0, y0 = _as_float64_2d(x, "x"), _as_float64_2d(y, "y")
        wx, wy = _weights(weights_x, len(x0), "weights_x"), _weights(weights_y, len(y0), "weights_y")
        xi, yi = _prepare(np.column_stack([x0, np.arange(len(x0))]), np.column_stack([y0, np.arange(len(y0))]),
                          max_cells, rng)
        ix, iy = xi[:, -1].astype(np.int64), yi[:, -1].astype(np.int64)
        xa, ya = x0[ix], y0[iy]
        a = np.full(len(ix), 1.0) if wx is None else wx[ix]
        b = np.full(len(iy), 1.0) if wy is None else wy[iy]
        if a.sum() <= 0 or b.sum() <= 0:
            raise ValueError("the subsampled cells carry no weight; raise max_cells")
        a, b = a / a.sum(), b / b.sum()
    # scipy's cdist takes differences first: zero distances are exactly zero (ot.dist expands the square)
    cost = cdist(xa, ya, metric="euclidean" if p == 1 else "sqeuclidean")
    value = float(ot.emd2(a, b, cost, numItermax=max(100_000, 50 * cost.size)))
    value = max(value, 0.0)
    return value if p == 1 else float(np.sqrt(value))


def _as_device_tensors(a: np.ndarray, b: np.ndarray, device) -> tuple:
    """Both sides as float64 tensors on ``device``."""
    import torch  # the NumPy path needs no torch

    ta = torch.as_tensor(a, dtype=torch.float64, device=torch.device(device))
    return ta, torch.as_tensor(b, dtype=torch.float64, device=ta.device)


def _median_upper(d) -> float:
    """Median (NumPy's convention: mean of the two middle values) of the strict upper triangle of ``d``."""
    import torch

    iu = torch.triu_indices(d.shape[0], d.shape[0], offset=1, device=d.device)
    vals = d[iu[0], iu[1]]
    if vals.numel() == 0:
        return 1.0
    srt = torch.sort(vals).values
    k = vals.numel()
    h = float((srt[(k - 1) // 2] + srt[k // 2]) / 2)
    return h if h > 0 else 1.0


def _median_bandwidth(x: np.ndarray, y: np.ndarray) -> float:
    """Median of the pairwise Euclidean distances between distinct points of the pooled sample."""
    z = np.concatenate([x, y], axis=0)
    d = cdist(z, z)
    iu = np.triu_indices(z.shape[0], k=1)
    if iu[0].size == 0:
        return 1.0
    h = float(np.median(d[iu]))
    return h if h > 0 else 1.0


def mmd_rbf(
    x: Any,
    y: Any,
    bandwidth: float | None = None,
    *,
    max_cells: int | None = 2000,
    rng: RNGLike = 0,
    device=None,
) -> float:
    r"""Squared maximum mean discrepancy with a Gaussian (RBF) kernel.

    With :math:`k(u, v) = \exp(-\lVert u - v \rVert^2 / (2 h^2))`, the biased (V-statistic) estimate

    .. math::

        \mathrm{MMD}^2 = \frac{1}{n^2} \sum_{i,i'} k(x_i, x_{i'}) + \frac{1}{m^2} \sum_{j,j'} k(y_j, y_{j'})
        - \frac{2}{nm} \sum_{i,j} k(x_i, y_j),

    which is never negative and is zero for identical samples. The bandwidth :math:`h` defaults to the
    **median heuristic**: the median Euclidean distance between distinct points of the pooled sample
    (after subsampling); pass ``bandwidth`` to fix it when comparing several pairs of samples.

    Parameters
    ----------
    x, y
        Samples, cells in rows, same number of columns.
    bandwidth
        Kernel length scale :math:`h` (``None``: the median heuristic).
    max_cells
        Subsample a side larger than this, without replacement (``None``: never subsample).
    rng
        Seed or generator of the subsampling.
    device
        Compute the kernels in torch on this device (``None``: NumPy on the host).

    Returns
    -------
    float
        The squared MMD estimate.
    """
    xa, ya = _prepare(x, y, max_cells, rng)
    if bandwidth is not None:
        h = float(bandwidth)
        if not np.isfinite(h) or h <= 0:
            raise ValueError(f"bandwidth must be a positive number, got {bandwidth}")
    if device is not None:
        import torch

        tx, ty = _as_device_tensors(xa, ya, device)
        if bandwidth is None:
            z = torch.cat([tx, ty])
            h = _median_upper(torch.cdist(z, z))
        gamma = 1.0 / (2.0 * h * h)
        k = [torch.exp(-gamma * torch.cdist(u, v).square()).mean() for u, v in ((tx, tx), (ty, ty), (tx, ty))]
        return float(max(float(k[0] + k[1] - 2.0 * k[2]), 0.0))
    if bandwidth is None:
        h = _median_bandwidth(xa, ya)
    gamma = 1.0 / (2.0 * h * h)
    kxx = np.exp(-gamma * cdist(xa, xa, "sqeuclidean")).mean()
    kyy = np.exp(-gamma * cdist(ya, ya, "sqeuclidean")).mean()
    kxy = np.exp(-gamma * cdist(xa, ya, "sqeuclidean")).mean()
    return float(max(kxx + kyy - 2.0 * kxy, 0.0))


def energy_distance(x: Any, y: Any, *, max_cells: int | None = 2000, rng: RNGLike = 0, device=None) -> float:
    r"""Energy distance between two samples (Szekely and Rizzo).

    .. math::

        D(\hat\mu, \hat\nu) = \Big( 2\, \mathbb{E} \lVert X - Y \rVert - \mathbb{E} \lVert X - X' \rVert
        - \mathbb{E} \lVert Y - Y' \rVert \Big)^{1/2},

    with the expectations taken over the empirical distributions (all pairs, including a point with
    itself), which is the convention of :func:`scipy.stats.energy_distance` in one dimension.

    Parameters
    ----------
    x, y
        Samples, cells in rows, same number of columns.
    max_cells
        Subsample a side larger than this, without replacement (``None``: never subsample).
    rng
        Seed or generator of the subsampling.
    device
        Compute the distances in torch on this device (``None``: NumPy on the host).

    Returns
    -------
    float
        The energy distance, in the units of the inputs.
    """
    xa, ya = _prepare(x, y, max_cells, rng)
    if device is not None:
        import torch

        tx, ty = _as_device_tensors(xa, ya, device)
        value = float(2.0 * torch.cdist(tx, ty).mean() - torch.cdist(tx, tx).mean() - torch.cdist(ty, ty).mean())
        return float(np.sqrt(max(value, 0.0)))
    dxy = cdist(xa, ya).mean()
    dxx = cdist(xa, xa).mean()
    dyy = cdist(ya, ya).mean()
    return float(np.sqrt(max(2.0 * dxy - dxx - dyy, 0.0)))
