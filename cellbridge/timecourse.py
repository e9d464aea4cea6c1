"""Reading a time course from an AnnData: the one way :mod:`cellbridge.pp`, :mod:`cellbridge.tl` and
:mod:`cellbridge.pl` get cells, times and representations.

Everything here reads an :class:`~anndata.AnnData` and never writes to it: the arrays it returns are
fresh copies, so a caller may modify them freely. Every check fails with a :class:`ValueError` (or a
:class:`TypeError` for an argument of the wrong kind) whose message says what was found and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData

from ._keys import DEFAULT_REP
from .time_labels import MAX_LISTED, format_number, parse_time_labels

__all__ = ["TimeCourse", "check_anndata", "check_matrix", "get_rep", "time_course"]

_FLOAT32_MAX = float(np.finfo(np.float32).max)

# ----------------------------------------------------------------------------------------------------
# representation
# ----------------------------------------------------------------------------------------------------


def check_anndata(adata: Any) -> None:
    """Raise TypeError unless ``adata`` is an AnnData."""
    if not isinstance(adata, AnnData):
        raise TypeError(f"expected an AnnData object, got {type(adata).__name__}")


def check_matrix(value: Any, what: str) -> np.ndarray | sp.spmatrix:
    """Check a matrix without densifying it; return it as a numeric ndarray or scipy sparse matrix.

    The returned object may share memory with ``value``: callers must not modify it.
    """
    if sp.issparse(value):
        matrix = value if value.format in ("csr", "csc", "coo") else sp.csr_matrix(value)
        if matrix.dtype.kind not in "biuf":
            raise ValueError(f"{what} is not numeric (sparse, dtype {matrix.dtype})")
        data = np.asarray(matrix.data)
    else:
        if isinstance(value, pd.DataFrame):
            try:
                matrix = value.to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError) as err:
                raise ValueError(f"{what} is not numeric ({err})") from None
        else:
            matrix = np.asarray(value)
        if matrix.dtype.kind == "c":
            raise ValueError(f"{what} is complex ({matrix.dtype}); it must be real")
        if matrix.dtype.kind not in "biuf":
            try:
                matrix = np.asarray(matrix, dtype=np.float64)
            except (TypeError, ValueError) as err:
                raise ValueError(f"{what} is not numeric (dtype {matrix.dtype}: {err})") from None
        data = matrix
    if matrix.ndim != 2:
        raise ValueError(f"{what} must be two-dimensional (cells x dimensions), got shape {matrix.shape}")
    if matrix.shape[1] == 0:
        raise ValueError(f"{what} has zero columns; it needs at least one dimension")
    if data.dtype.kind == "f" and data.size:
        finite = np.isfinite(data)
        if not finite.all():
            raise ValueError(
                f"{what} has NaN or infinite values in {_count_rows(matrix, ~finite)} cell(s); "
                "remove or impute them first"
            )
        if data.dtype.itemsize > 4:
            too_large = np.abs(data) > _FLOAT32_MAX
            if too_large.any():
                raise ValueError(
                    f"{what} has values too large for float32 (|x| > {_FLOAT32_MAX:.3g}) in "
                    f"{_count_rows(matrix, too_large)} cell(s); rescale it first"
                )
    return matrix


def _count_rows(matrix: np.ndarray | sp.spmatrix, bad: np.ndarray) -> int:
    """Number of rows with at least one ``bad`` entry.

    ``bad`` is a boolean mask over the stored values: the dense array itself, or ``matrix.data`` of a
    CSR, CSC or COO matrix (whose COO form keeps the order of ``data``).
    """
    if sp.issparse(matrix):
        return int(np.unique(matrix.tocoo().row[bad]).size)
    return int(bad.any(axis=1).sum())


def _dense_copy(matrix: np.ndarray | sp.spmatrix, keep_float64: bool, copy: bool = True) -> np.ndarray:
    """A C-contiguous dense array of a checked matrix: float32, or float64 if it is and that is asked; a
    fresh copy, or with ``copy=False`` the matrix itself when it is already dense in that form."""
    dtype = np.float64 if keep_float64 and matrix.dtype == np.float64 else np.float32
    if sp.issparse(matrix):
        return np.ascontiguousarray(matrix.astype(dtype).toarray())
    return np.array(matrix, dtype=dtype, order="C", copy=True if copy else None)


def get_rep(adata: AnnData, use_rep: str, *, keep_float64: bool = False, copy: bool = True) -> np.ndarray:
    """The cell representation a model is fitted in, as a dense float32 array.

    Parameters
    ----------
    adata : anndata.AnnData
        Annotated data matrix. It is not modified.
    use_rep : str
        ``"X"`` for ``adata.X``, otherwise a key of ``adata.obsm`` (e.g. ``"X_pca"``). Dense, sparse
        and :class:`~pandas.DataFrame` values are accepted.
    keep_float64 : bool
        Return float64 values as float64 (for a model's centring: a large common offset would swallow the
        variation in a float32 cast); float32 otherwise.
    copy : bool
        False: return ``adata``'s own array when it already is dense, C-contiguous and of the returned
        dtype (for a reader that never modifies it, such as a fit of a million cells); a converted copy
        otherwise.

    Returns
    -------
    numpy.ndarray
        A float32 (or, with ``keep_float64``, float64) C-contiguous array of shape ``(n_obs, n_dims)``; with
        ``copy=True`` (default) a new one that shares no memory with ``adata``.

    Raises
    ------
    ValueError
        The key is missing, the matrix is not two-dimensional or has no columns, is not numeric,
        holds NaN or infinite values, or holds values that overflow float32.
    """
    check_anndata(adata)
    if not isinstance(use_rep, str):
        raise TypeError(f"use_rep must be a string ('X' or a key of adata.obsm), not {type(use_rep).__name__}")
    if use_rep == "X":
        if adata.X is None:
            raise ValueError("adata.X is empty (None); pass use_rep= a key of adata.obsm instead")
        value, what = adata.X, "adata.X"
    else:
        if use_rep not in adata.obsm:
            available = list(adata.obsm.keys())
            hint = (
                "compute PCA with cellbridge.pp.prepare(adata, time_key=...)"
                if use_rep == DEFAULT_REP
                else "compute it first, or run cellbridge.pp.prepare(adata, time_key=...) and use_rep='X_pca'"
            )
            raise ValueError(
                f"adata.obsm has no key {use_rep!r} (available: {available if available else 'none'}); "
                f"{hint}, or pass use_rep='X' to use adata.X"
            )
        value, what = adata.obsm[use_rep], f"adata.obsm[{use_rep!r}]"
    return _dense_copy(check_matrix(value, what), keep_float64, copy)


# ----------------------------------------------------------------------------------------------------
# time course
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeCourse:
    """Cells, their times and the time points of a validated time course.

    Attributes
    ----------
    x : numpy.ndarray
        float32 array ``(n_cells, n_dims)`` (float64 with ``keep_float64``): the representation of every cell.
    t : numpy.ndarray
        float64 array ``(n_cells,)``: the time of every cell.
    time_points : numpy.ndarray
        float64 array ``(K,)``: the distinct times, sorted.
    counts : numpy.ndarray
        int array ``(K,)``: the number of cells at each time point.
    labels : dict
        ``{time point: original label}``, the label as a string (e.g. ``{3.0: "day3"}``).
    """

    x: np.ndarray
    t: np.ndarray
    time_points: np.ndarray
    counts: np.ndarray
    labels: dict

    @property
    def n_time_points(self) -> int:
        """Number of distinct time points ``K``."""
        return int(self.time_points.size)


def time_course(
    adata: AnnData,
    time_key: str,
    use_rep: str,
    *,
    min_cells: int = 2,
    min_time_points: int = 2,
    keep_float64: bool = False,
    copy: bool = True,
) -> TimeCourse:
    """Read and validate a time course from an AnnData.

    Parameters
    ----------
    adata : anndata.AnnData
        Annotated data matrix. It is not modified.
    time_key : str
        Column of ``adata.obs`` with each cell's time (numbers, labels such as ``"day3"``, or an
        ordered categorical; see :func:`cellbridge.time_labels.parse_time`).
    use_rep : str
        ``"X"`` or a key of ``adata.obsm``; see :func:`get_rep`.
    min_cells : int
        Fewest cells allowed at any time point.
    min_time_points : int
        Fewest distinct time points allowed.
    keep_float64 : bool
        Keep a float64 representation in float64 (see :func:`get_rep`).
    copy : bool
        False: ``x`` may be ``adata``'s own array (see :func:`get_rep`); the caller must not modify it.

    Returns
    -------
    TimeCourse
        The cells' representation, times, sorted time points, cells per time point and labels.

    Raises
    ------
    TypeError
        ``adata`` is not an AnnData.
    ValueError
        ``time_key`` is not a column of ``adata.obs``, the times cannot be parsed, there are too few
        time points or too few cells at one, or the representation is invalid.
    """
    check_anndata(adata)
    for arg, value, least in (("min_cells", min_cells, 1), ("min_time_points", min_time_points, 1)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < least:
            raise ValueError(f"{arg} must be an integer >= {least}, got {value!r}")
    if time_key not in adata.obs.columns:
        raise ValueError(
            f"time_key {time_key!r} is not a column of adata.obs (available: {list(adata.obs.columns)})"
        )
    t, labels = parse_time_labels(adata.obs[time_key], name=time_key)
    time_points, counts = np.unique(t, return_counts=True)
    if time_points.size < min_time_points:
        found = ", ".join(f"{labels[float(tp)]!r}" for tp in time_points) or "none"
        raise ValueError(
            f"adata.obs[{time_key!r}] has {time_points.size} distinct time point(s) ({found}); "
            f"at least min_time_points={min_time_points} are needed"
        )
    small = [(tp, c) for tp, c in zip(time_points, counts) if c < min_cells]
    if small:
        described = ", ".join(
            f"{labels[float(tp)]!r} (t={format_number(tp)}) has {c} cell{'s' if c != 1 else ''}"
            for tp, c in small[:MAX_LISTED]
        )
        more = f" and {len(small) - MAX_LISTED} more" if len(small) > MAX_LISTED else ""
        raise ValueError(
            f"too few cells per time point in adata.obs[{time_key!r}]: {described}{more}; at least "
            f"min_cells={min_cells} are needed at every time point"
        )
    x = get_rep(adata, use_rep, keep_float64=keep_float64, copy=copy)
    return TimeCourse(
        x=x,
        t=t,
        time_points=time_points.astype(np.float64),
        counts=counts.astype(np.int64),
        labels={float(tp): labels[float(tp)] for tp in time_points},
    )
