"""Time labels: one float per cell from a column of numbers or labels such as ``"day3"``.

Shared by :mod:`cellbridge.pp`, :mod:`cellbridge.tl` and :mod:`cellbridge.pl`; nothing here touches an
AnnData. Every check fails with a :class:`ValueError` whose message says what was found and what to do.
"""

from __future__ import annotations

import numbers
import re
from typing import Any

import numpy as np
import pandas as pd

from ._logging import logger

__all__ = ["parse_time", "parse_time_labels"]

#: at most this many offending labels or keys are quoted in an error message
MAX_LISTED = 5

# A label that is a plain number, e.g. "3", "-1", "2.5", "1e-3", " 4 ".
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# A number inside a label, e.g. the 3 of "day3", the 2.5 of "D2.5", the 12 of "12h". A "-" counts as a
# sign only when it is not preceded by a letter, a digit or a dot ("day -1" and "t_-1" give -1, but
# "day-1" and "t-1" give 1: there the "-" separates the prefix from the number).
_NUMBER_IN_LABEL = re.compile(r"(?:(?<![A-Za-z0-9.])-)?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)")


def _quote_list(items: list[str]) -> str:
    """``'a', 'b', 'c'`` followed by ``and N more`` when the list was cut."""
    shown = ", ".join(repr(str(item)) for item in items[:MAX_LISTED])
    if len(items) > MAX_LISTED:
        shown += f" and {len(items) - MAX_LISTED} more"
    return shown


def format_number(value: float) -> str:
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
            parsed[format_number(number)] = number
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
            f"{_quote_list(labels)} {'both' if len(labels) == 2 else 'all'} parse to {format_number(number)}"
            for number, labels in clashes[:MAX_LISTED]
        )
        raise ValueError(
            f"time labels of {name!r} are ambiguous: {described}. They would be merged into one time point; "
            "rename them or pass numeric times instead."
        )


def _unorderable_error(failed: list[str], name: str) -> ValueError:
    shown = ", ".join(failed[:MAX_LISTED])
    if len(failed) > MAX_LISTED:
        shown += f" and {len(failed) - MAX_LISTED} more"
    return ValueError(
        f"time labels of {name!r} cannot be ordered: {len(failed)} label(s) contain no number or more than "
        f"one number: {shown}. Pass numeric times instead (e.g. adata.obs['{name}_num'] = "
        f"adata.obs['{name}'].map({{...: 0.0, ...}}).astype(float)), or make the column an ordered "
        "pandas Categorical."
    )


def parse_time_labels(values: Any, name: str = "time") -> tuple[np.ndarray, dict[float, str]]:
    """:func:`parse_time`, also returning ``{time point: original label}`` (the label as a string)."""
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
            format_number(float(c)) if isinstance(c, numbers.Real) and not isinstance(c, (bool, np.bool_)) else str(c)
            for c in categories
        ]
        numbers_in_order = [parsed.get(label) for label in labels_in_order]
        increasing = not failed and all(b > a for a, b in zip(numbers_in_order, numbers_in_order[1:]))
        if cat.ordered and not increasing:
            logger.warning(
                f"time labels of {name!r} do not all parse to increasing numbers; using the order of the "
                "ordered categorical as time: "
                + ", ".join(f"{label!r}={i}" for i, label in enumerate(labels_in_order[:MAX_LISTED]))
                + (", ..." if len(labels_in_order) > MAX_LISTED else "")
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
        return times, {float(t): format_number(t) for t in np.unique(times)}

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
        format_number(float(u)) if isinstance(u, numbers.Real) else str(u) for u in uniques
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
    times, _ = parse_time_labels(values, name)
    return times
