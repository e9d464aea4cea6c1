"""Validation of the AnnData inputs shared by :mod:`cellbridge.pp` and :mod:`cellbridge.tl`.

Everything here reads an :class:`~anndata.AnnData` and never writes to it: the arrays it returns are
fresh copies, so a caller may modify them freely. Every check fails with a :class:`ValueError` (or a
:class:`TypeError` for an argument of the wrong kind) whose message says what was found and what to do.
"""

from __future__ import annotations

import numbers
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData

from ._keys import DEFAULT_REP
from ._logging import logger

__all__ = ["TimeCourse", "get_rep", "parse_time", "time_course"]

#: at most this many offending labels or keys are quoted in an error message
_MAX_LISTED = 5
_FLOAT32_MAX = float(np.finfo(np.float32).max)

# A label that is a plain number, e.g. "3", "-1", "2.5", "1e-3", " 4 ".
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# A number inside a label, e.g. the 3 of "day3", the 2.5 of "D2.5", the 12 of "12h". A "-" counts as a
# sign only when it is not preceded by a letter, a digit or a dot ("day -1" and "t_-1" give -1, but
# "day-1" and "t-1" give 1: there the "-" separates the prefix from the number).
_NUMBER_IN_LABEL = re.compile(r"(?:(?<![A-Za-z0-9.])-)?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)")


# ----------------------------------------------------------------------------------------------------
# time
# ----------------------------------------------------------------------------------------------------


def _quote_list(items: list[str]) -> str:
    """``'a', 'b', 'c'`` followed by ``and N more`` when the list was cut."""
    shown = ", ".join(repr(str(item)) for item in items[:_MAX_LISTED])
    if len(items) > _MAX_LISTED:
        shown += f" and {len(items) - _MAX_LISTED} more"
    return shown


def _format_number(value: float) -> str:
    """A short label for a numeric time: ``3.0`` -> ``"3"``, ``2.5`` -> ``"2.5"``."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _numbers_in_label(label: str) -> list[float]:
    """All numbers found in a time label (see :func:`parse_time` for the rule)."""
    text = label.strip()
    if _PLAIN_NUMBER.fullmatch(text):
        return [float(text)]
    return [float(match) for match in _NUMBER_IN_LABEL.findall(text)]


def _parse_unique_labels(uniques: list[Any], name: str) -> tuple[dict[str, float], list[str]]:
    """Parse distinct labels to numbers.

    Returns the parsed ``{label: number}`` and the labels that could not be parsed, each with the
    reason (no number / more than one number). Booleans and non-finite numbers raise at once.
    """
    parsed: dict[str, float] = {}
    failed: list[str] = []
    for value in uniques:
        if isinstance(value, (bool, np.bool_)):
            raise ValueError(
                f"time column {name!r} holds boolean values; pass numeric times (e.g. days) instead"
            )
        if isinstance(value, numbers.Real):
            number = float(value)
            if not np.isfinite(number):
                raise ValueError(
                    f"time column {name!r} holds the non-finite time {number}; every cell needs a finite time"
                )
            parsed[_format_number(number)] = number
            continue
        label = str(value)
        found = _numbers_in_label(label)
        if len(found) == 1:
            parsed[label] = found[0]
        else:
            failed.append(f"{label!r} ({'no number' if not found else f'{len(found)} numbers'})")
    return parsed, failed


def _check_unique_numbers(parsed: dict[str, float], name: str) -> None:
    """Two distinct labels must not parse to the same time point."""
    by_number: dict[float, list[str]] = {}
    for label, number in parsed.items():
        by_number.setdefault(number, []).append(label)
    clashes = [(number, labels) for number, labels in by_number.items() if len(labels) > 1]
    if clashes:
        described = "; ".join(
            f"{_quote_list(labels)} {'both' if len(labels) == 2 else 'all'} parse to {_format_number(number)}"
            for number, labels in clashes[:_MAX_LISTED]
        )
        raise ValueError(
            f"time labels of {name!r} are ambiguous: {described}. They would be merged into one time point; "
            "rename them or pass numeric times instead."
        )


def _unorderable_error(failed: list[str], name: str) -> ValueError:
    shown = ", ".join(failed[:_MAX_LISTED])
    if len(failed) > _MAX_LISTED:
        shown += f" and {len(failed) - _MAX_LISTED} more"
    return ValueError(
        f"time labels of {name!r} cannot be ordered: {len(failed)} label(s) contain no number or more than "
        f"one number: {shown}. Pass numeric times instead (e.g. adata.obs['{name}_num'] = "
        f"adata.obs['{name}'].map({{...: 0.0, ...}}).astype(float)), or make the column an ordered "
        "pandas Categorical."
    )


def _parse_time_with_labels(values: Any, name: str = "time") -> tuple[np.ndarray, dict[float, str]]:
    """:func:`parse_time`, also returning ``{time point: original label}``."""
    if isinstance(values, (pd.Series, pd.Index)):
        dtype = values.dtype
    else:
        dtype = getattr(values, "dtype", None)

    # --- categorical: parse the categories that occur -------------------------------------------
    if isinstance(dtype, pd.CategoricalDtype):
        cat = pd.Categorical(values)
        codes = np.asarray(cat.codes)
        n_missing = int((codes < 0).sum())
        if n_missing:
            raise ValueError(f"time column {name!r} is missing for {n_missing} cell(s); every cell needs a time")
        used = np.unique(codes)  # sorted, i.e. in category order
        categories = [cat.categories[i] for i in used]
        parsed, failed = _parse_unique_labels(categories, name)
        labels_in_order = [
            _format_number(float(c)) if isinstance(c, numbers.Real) and not isinstance(c, (bool, np.bool_)) else str(c)
            for c in categories
        ]
        numbers_in_order = [parsed.get(label) for label in labels_in_order]
        increasing = not failed and all(b > a for a, b in zip(numbers_in_order, numbers_in_order[1:]))
        if cat.ordered and not increasing:
            logger.warning(
                f"time labels of {name!r} do not all parse to increasing numbers; using the order of the "
                "ordered categorical as time: "
                + ", ".join(f"{label!r}={i}" for i, label in enumerate(labels_in_order[:_MAX_LISTED]))
                + (", ..." if len(labels_in_order) > _MAX_LISTED else "")
            )
            numbers_in_order = [float(i) for i in range(len(labels_in_order))]
        else:
            if failed:
                raise _unorderable_error(failed, name)
            _check_unique_numbers(parsed, name)
        lookup = np.full(len(cat.categories), np.nan)
        lookup[used] = numbers_in_order
        times = lookup[codes].astype(np.float64)
        return times, {float(n): label for n, label in zip(numbers_in_order, labels_in_order)}

    # --- everything else --------------------------------------------------------------------------
    if dtype is None:
        arr = np.asarray(values)
        if arr.ndim != 1:
            raise ValueError(f"time values {name!r} must be one-dimensional, got shape {arr.shape}")
        dtype = arr.dtype
        values = arr
    if pd.api.types.is_bool_dtype(dtype):
        raise ValueError(f"time column {name!r} is boolean; pass numeric times (e.g. days) instead")
    if pd.api.types.is_complex_dtype(dtype):
        raise ValueError(f"time column {name!r} is complex; pass real numeric times instead")
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        raise ValueError(
            f"time column {name!r} holds dates or durations ({dtype}); convert them to numbers, e.g. days "
            "since the first sample"
        )

    if pd.api.types.is_numeric_dtype(dtype):
        if isinstance(values, np.ndarray):
            times = np.asarray(values, dtype=np.float64)
        else:  # pandas, possibly a nullable dtype holding pd.NA
            times = pd.array(values).to_numpy(dtype=np.float64, na_value=np.nan)
        if times.ndim != 1:
            raise ValueError(f"time values {name!r} must be one-dimensional, got shape {times.shape}")
        n_bad = int((~np.isfinite(times)).sum())
        if n_bad:
            raise ValueError(
                f"time column {name!r} has {n_bad} cell(s) with a missing or non-finite time (NaN or inf); "
                "every cell needs a finite time"
            )
        times = np.array(times, dtype=np.float64, copy=True)
        return times, {float(t): _format_number(t) for t in np.unique(times)}

    # strings, objects, mixed: parse each distinct label once
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
    n_missing = int((codes < 0).sum())
    if n_missing:
        raise ValueError(f"time column {name!r} is missing for {n_missing} cell(s); every cell needs a time")
    uniques = list(uniques)
    parsed, failed = _parse_unique_labels(uniques, name)
    if failed:
        raise _unorderable_error(failed, name)
    _check_unique_numbers(parsed, name)
    unique_labels = [
        _format_number(float(u)) if isinstance(u, numbers.Real) else str(u) for u in uniques
    ]
    lookup = np.array([parsed[label] for label in unique_labels], dtype=np.float64)
    times = lookup[codes] if len(codes) else np.zeros(0, dtype=np.float64)
    return times, {float(parsed[label]): label for label in unique_labels}


def parse_time(values: Any, *, name: str = "time") -> np.ndarray:
    """Turn a column of time points into one float per cell.

    Parameters
    ----------
    values : array-like
        One time value per cell: numbers, strings such as ``"day3"``, or a :class:`pandas.Categorical`
        (typically ``adata.obs[time_key]``).
    name : str
        Name of the column, used in error messages.

    Returns
    -------
    numpy.ndarray
        float64 array of shape ``(n_cells,)``.

    Raises
    ------
    ValueError
        Missing or non-finite times; boolean, complex or datetime values; labels that cannot be ordered
        (no number, or more than one); two distinct labels that parse to the same number.

    Notes
    -----
    Numeric values are used as they are. A string label must contain exactly one number, which is
    its time: ``"day3"`` -> 3, ``"D2.5"`` -> 2.5, ``"12h"`` -> 12, ``"E12.5"`` -> 12.5, ``"-1"`` -> -1.
    Units are ignored, so ``"12h"`` and ``"1d"`` are 12 and 1. A ``"-"`` is a minus sign only when it is
    not preceded by a letter, digit or dot: ``"day -1"`` and ``"t_-1"`` give -1, while ``"day-1"`` and
    ``"t-1"`` give 1 (the ``"-"`` is read as a separator). Labels with no number (``"ctrl"``) or more
    than one (``"d1_rep2"``) cannot be ordered and raise, except in an *ordered* categorical: when its
    categories do not all parse to strictly increasing numbers, the category order is used as time
    (0, 1, 2, ... over the categories that occur) and a warning is logged.

    Examples
    --------
    >>> parse_time(["day1", "day3", "day1"])
    array([1., 3., 1.])
    """
    times, _ = _parse_time_with_labels(values, name)
    return times


# ----------------------------------------------------------------------------------------------------
# representation
# ----------------------------------------------------------------------------------------------------


def _check_anndata(adata: Any) -> None:
    if not isinstance(adata, AnnData):
        raise TypeError(f"expected an AnnData object, got {type(adata).__name__}")


def _check_matrix(value: Any, what: str) -> np.ndarray | sp.spmatrix:
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


def _to_float32(matrix: np.ndarray | sp.spmatrix) -> np.ndarray:
    """A fresh float32 C-contiguous dense copy of a checked matrix."""
    if sp.issparse(matrix):
        return np.ascontiguousarray(matrix.astype(np.float32).toarray())
    return np.array(matrix, dtype=np.float32, order="C", copy=True)


def get_rep(adata: AnnData, use_rep: str) -> np.ndarray:
    """The cell representation a model is fitted in, as a dense float32 array.

    Parameters
    ----------
    adata : anndata.AnnData
        Annotated data matrix. It is not modified.
    use_rep : str
        ``"X"`` for ``adata.X``, otherwise a key of ``adata.obsm`` (e.g. ``"X_pca"``). Dense, sparse
        and :class:`~pandas.DataFrame` values are accepted.

    Returns
    -------
    numpy.ndarray
        A new float32, C-contiguous array of shape ``(n_obs, n_dims)``; it shares no memory with
        ``adata``.

    Raises
    ------
    ValueError
        The key is missing, the matrix is not two-dimensional or has no columns, is not numeric,
        holds NaN or infinite values, or holds values that overflow float32.
    """
    _check_anndata(adata)
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
    return _to_float32(_check_matrix(value, what))


# ----------------------------------------------------------------------------------------------------
# time course
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeCourse:
    """Cells, their times and the time points of a validated time course.

    Attributes
    ----------
    x : numpy.ndarray
        float32 array ``(n_cells, n_dims)``: the representation of every cell.
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
) -> TimeCourse:
    """Read and validate a time course from an AnnData.

    Parameters
    ----------
    adata : anndata.AnnData
        Annotated data matrix. It is not modified.
    time_key : str
        Column of ``adata.obs`` with each cell's time (numbers, labels such as ``"day3"``, or an
        ordered categorical; see :func:`parse_time`).
    use_rep : str
        ``"X"`` or a key of ``adata.obsm``; see :func:`get_rep`.
    min_cells : int
        Fewest cells allowed at any time point.
    min_time_points : int
        Fewest distinct time points allowed.

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
    _check_anndata(adata)
    for arg, value, least in (("min_cells", min_cells, 1), ("min_time_points", min_time_points, 1)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < least:
            raise ValueError(f"{arg} must be an integer >= {least}, got {value!r}")
    if time_key not in adata.obs.columns:
        raise ValueError(
            f"time_key {time_key!r} is not a column of adata.obs (available: {list(adata.obs.columns)})"
        )
    t, labels = _parse_time_with_labels(adata.obs[time_key], name=time_key)
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
            f"{labels[float(tp)]!r} (t={_format_number(tp)}) has {c} cell{'s' if c != 1 else ''}"
            for tp, c in small[:_MAX_LISTED]
        )
        more = f" and {len(small) - _MAX_LISTED} more" if len(small) > _MAX_LISTED else ""
        raise ValueError(
            f"too few cells per time point in adata.obs[{time_key!r}]: {described}{more}; at least "
            f"min_cells={min_cells} are needed at every time point"
        )
    x = get_rep(adata, use_rep)
    return TimeCourse(
        x=x,
        t=t,
        time_points=time_points.astype(np.float64),
        counts=counts.astype(np.int64),
        labels={float(tp): labels[float(tp)] for tp in time_points},
    )
