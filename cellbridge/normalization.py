"""The map between the user's units and the training coordinates, and the default diffusion coefficient.

Training runs in normalised coordinates, ``x' = (x - center) / scale`` with one scalar ``scale`` (the RMS
per-dimension spread of the cells) and ``t' = (t - t_first) / (t_last - t_first)``
(:class:`Normalization`); the statistics are computed in float64 by blocks of a few MB, so that a million
cells need no float64 copy of the representation. :func:`default_sigma` is the fit's default diffusion
coefficient, from the same spread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Normalization", "column_moments", "default_sigma", "rms_spread"]

#: default sigma in units of the data's RMS spread per square root of the median interval (see default_sigma)
DEFAULT_SIGMA_FRACTION = 0.25
#: the float64 passes over the representation (mean, spread, normalisation) go by blocks of at most
#: CHUNK_BYTES of float64 values and at most CHUNK_CELLS cells: a block's temporaries (two or three of them)
#: stay a few MB however many cells and dimensions there are
CHUNK_BYTES = 4 * 2**20
CHUNK_CELLS = 65536


def _blocks(n: int, dim: int = 1):
    size = max(1, min(CHUNK_CELLS, CHUNK_BYTES // (8 * max(1, dim))))
    return (slice(k, min(k + size, n)) for k in range(0, n, size))


def column_moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of each column, in float64, by blocks of cells (:data:`CHUNK_BYTES`; two passes:
    the mean first, then the squared deviations from it, as :func:`numpy.var`), without a float64 copy."""
    n, d = len(x), (x.shape[1] if np.ndim(x) > 1 else 1)
    mean = sum(np.asarray(x[b], dtype=np.float64).sum(axis=0) for b in _blocks(n, d)) / n
    var = sum(np.square(np.asarray(x[b], dtype=np.float64) - mean).sum(axis=0) for b in _blocks(n, d)) / n
    return mean, var


def rms_spread(x: np.ndarray) -> float:
    """Root mean square over dimensions of the per-dimension standard deviation of the cells."""
    return float(np.sqrt(np.mean(column_moments(x)[1])))


def default_sigma(x: np.ndarray, t: np.ndarray) -> float:
    """The default diffusion coefficient: ``0.25 * spread / sqrt(median interval)``.

    Rationale: at the middle of an interval of typical length ``Delta`` the Brownian bridge deviates from
    the straight line by ``sigma sqrt(Delta) / 2`` per dimension, here one eighth of the population's
    spread: enough noise to regularise the coupling and represent cell-to-cell variability, small enough
    that the bridges stay within the cloud. The entropic regularisation ``2 sigma^2 Delta`` is then about
    ``1 / (16 d)`` of the mean squared distance between cells in ``d`` dimensions. With time given as the
    index of the time point this is the setting of the [SF]2M peers (0.25 x the RMS spread), and it is
    invariant to the units of time: measuring in hours instead of days multiplies sigma by ``1/sqrt(24)``
    and leaves the bridges unchanged.
    """
    return _sigma_for_spread(rms_spread(x), t)


def _sigma_for_spread(spread: float, t: np.ndarray) -> float:
    """:func:`default_sigma` from the RMS spread already computed."""
    tp = np.unique(np.asarray(t, dtype=np.float64))
    return DEFAULT_SIGMA_FRACTION * spread / float(np.sqrt(np.median(np.diff(tp))))


@dataclass
class Normalization:
    """Affine map between the user's units and the training coordinates."""

    center: np.ndarray
    scale: float
    t_origin: float
    t_span: float

    def x_to(self, x):
        return (x - self.center) / self.scale

    def x_from(self, x):
        return x * self.scale + self.center

    def t_to(self, t):
        return (np.asarray(t, dtype=np.float64) - self.t_origin) / self.t_span

    def sigma_to(self, sigma: float) -> float:
        return sigma * np.sqrt(self.t_span) / self.scale

    def to_dict(self) -> dict:
        return {"center": self.center.tolist(), "scale": self.scale, "t_origin": self.t_origin, "t_span": self.t_span}

    @classmethod
    def from_dict(cls, d: dict) -> "Normalization":
        return cls(np.asarray(d["center"], dtype=np.float64), float(d["scale"]), float(d["t_origin"]), float(d["t_span"]))

    @classmethod
    def fit(cls, x: np.ndarray, t: np.ndarray) -> "Normalization":
        """Centre and scale of cells ``x`` (float64: the centre keeps a large common offset exactly)."""
        tp = np.unique(t)
        mean, var = column_moments(x)
        scale = float(np.sqrt(np.mean(var)))  # rms_spread
        if not scale > 0:
            raise ValueError("all cells are identical: the representation has zero spread")
        return cls(mean, scale, float(tp[0]), float(tp[-1] - tp[0]))

    def x_to_float32(self, x: np.ndarray) -> np.ndarray:
        """``x_to`` of every cell as a new float32 array, computed in float64 by blocks (no float64 copy)."""
        out = np.empty(x.shape, dtype=np.float32)
        for b in _blocks(len(x), x.shape[1] if x.ndim > 1 else 1):
            out[b] = self.x_to(np.asarray(x[b], dtype=np.float64))
        return out
