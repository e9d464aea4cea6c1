"""Fate probabilities, push / pull mass and trend summaries from simulated states (AnnData-free).

The AnnData-facing tools :func:`cellbridge.tl.fates`, :func:`cellbridge.tl.push`, :func:`cellbridge.tl.pull`
and :func:`cellbridge.tl.gene_trends` simulate a fitted model and assign the simulated end states to
observed cells with :func:`cellbridge.neighbors.assign_to_cells` (a row-stochastic ``states x cells``
matrix of weights). What they do with those weights is here, on plain arrays:

- :func:`membership`: a ``cells x groups`` 0/1 matrix from the observed cells' labels, with an ``"other"``
  column collecting the cells whose label is none of the groups asked for;
- :func:`group_probabilities`: each state's probability of each group (its weights summed per group);
- :func:`monte_carlo_mean`: the mean and Monte-Carlo standard error over the simulations of each source;
- :func:`mass`: the distribution over observed cells that a set of states carries (push / pull);
- :func:`hard_fates` and :class:`TrendMoments`: each trajectory's most probable group, and running means
  and standard errors of values along trajectories per group.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = ["OTHER", "membership", "group_probabilities", "monte_carlo_mean", "mass", "hard_fates", "TrendMoments"]

#: name of the column that collects the mass landing on cells whose label is none of the requested groups
OTHER = "other"


def _is_missing(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def membership(labels, groups=None, *, other: str = OTHER) -> tuple[sp.csr_matrix, list[str]]:
    """A ``cells x columns`` 0/1 matrix saying which column each observed cell's mass goes to.

    Parameters
    ----------
    labels
        One label per observed cell (any hashable values; missing values, ``None`` or NaN, belong to no
        group).
    groups
        The groups of interest (labels, compared as strings). Default: every label that occurs in
        ``labels`` (in category order for a :class:`pandas.Categorical`, else sorted).
    other
        Name of the extra column for the cells whose label is none of ``groups`` (or missing). The column is
        added only when there is such a cell, so that every row of the matrix has exactly one 1.

    Returns
    -------
    matrix : scipy.sparse.csr_matrix
        ``(n_cells, n_columns)`` with one 1 per row.
    columns : list of str
        ``groups`` as strings, in their order, then ``other`` when it was needed.

    Raises
    ------
    ValueError
        ``labels`` empty; ``groups`` empty or with repeated labels; ``other`` equal to one of the groups while
        some cells need the other column; no cell carrying any of ``groups``.
    """
    if isinstance(labels, (pd.Series, pd.Index)):
        labels = labels.array
    cat = labels if isinstance(labels, pd.Categorical) else None
    values = np.asarray(labels, dtype=object).ravel()
    if values.size == 0:
        raise ValueError("labels is empty: there are no observed cells to assign mass to")
    present = [v for v in values if not _is_missing(v)]
    as_str = np.array(["" if _is_missing(v) else str(v) for v in values], dtype=object)
    missing = np.array([_is_missing(v) for v in values], dtype=bool)
    if groups is None:
        if cat is not None:
            used = set(map(str, present))
            columns = [str(c) for c in cat.categories if str(c) in used]
        else:
            columns = sorted(set(map(str, present)))
    else:
        columns = [str(g) for g in groups]
        if not columns:
            raise ValueError("groups is empty: name at least one group")
        if len(set(columns)) != len(columns):
            raise ValueError(f"groups holds repeated labels: {columns}")
    if not columns:
        raise ValueError("labels holds no group: every label is missing")
    index = {c: j for j, c in enumerate(columns)}
    col = np.array([index.get(s, -1) if not m else -1 for s, m in zip(as_str, missing)], dtype=np.int64)
    if (col >= 0).sum() == 0:
        raise ValueError(f"none of the groups {columns} is the label of any of the {values.size} cells "
                         f"(their labels: {sorted(set(map(str, present)))[:20]})")
    if (col < 0).any():
        if other in index:
            raise ValueError(f"{other!r} is one of the groups, and also the name of the column for the cells of "
                             "no group; rename that group")
        col[col < 0] = len(columns)
        columns = columns + [other]
    matrix = sp.csr_matrix((np.ones(col.size), (np.arange(col.size), col)), shape=(col.size, len(columns)))
    return matrix, columns


def group_probabilities(weights, member: sp.spmatrix) -> np.ndarray:
    """Each state's probability of each column: its weights on the observed cells summed per column.

    Parameters
    ----------
    weights
        ``(n_states, n_cells)`` row-stochastic weights (sparse or dense), e.g. from
        :func:`cellbridge.neighbors.assign_to_cells`.
    member
        ``(n_cells, n_columns)`` from :func:`membership`.

    Returns
    -------
    numpy.ndarray
        ``(n_states, n_columns)`` float64; rows sum to 1 when ``weights``' rows do.
    """
    if weights.shape[1] != member.shape[0]:
        raise ValueError(f"weights cover {weights.shape[1]} cells, the membership matrix {member.shape[0]}")
    out = weights @ member
    return np.asarray(out.toarray() if sp.issparse(out) else out, dtype=np.float64)


def monte_carlo_mean(values: np.ndarray, n_sims: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and Monte-Carlo standard error over each source's simulations.

    Parameters
    ----------
    values
        ``(n_sources * n_sims, k)``: the ``n_sims`` rows of each source consecutive (source 0's first).
    n_sims
        Simulations per source.

    Returns
    -------
    mean, se : numpy.ndarray
        ``(n_sources, k)``: the mean over a source's simulations and its standard error, the sample standard
        deviation (``ddof=1``) over them divided by ``sqrt(n_sims)``; NaN when ``n_sims`` is 1.

    Notes
    -----
    For values in [0, 1] with mean ``p`` the standard error is at most ``sqrt(p (1 - p) / (n_sims - 1))``,
    the binomial bound (with Bessel's correction); the worst case ``p = 0.5`` gives 0.05 at
    ``n_sims = 101``.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or n_sims < 1 or values.shape[0] % n_sims:
        raise ValueError(f"values must have n_sources * n_sims rows (n_sims={n_sims}), got shape {values.shape}")
    per = values.reshape(-1, n_sims, values.shape[1])
    mean = per.mean(axis=1)
    if n_sims == 1:
        return mean, np.full_like(mean, np.nan)
    se = per.std(axis=1, ddof=1) / np.sqrt(n_sims)
    return mean, se


def mass(weights) -> np.ndarray:
    """The distribution over observed cells carried by a set of equally weighted states.

    Parameters
    ----------
    weights
        ``(n_states, n_cells)`` row-stochastic weights.

    Returns
    -------
    numpy.ndarray
        ``(n_cells,)`` float64, the column sums divided by ``n_states``: sums to 1.
    """
    n = weights.shape[0]
    if n == 0:
        raise ValueError("weights has no states")
    return np.asarray(weights.sum(axis=0), dtype=np.float64).ravel() / n


def hard_fates(probabilities: np.ndarray) -> np.ndarray:
    """Each state's most probable column (ties: the first), as integer codes ``(n_states,)``."""
    return np.asarray(np.argmax(np.asarray(probabilities), axis=1), dtype=np.int64)


class TrendMoments:
    """Running count, mean and standard error of values along trajectories, per group.

    Parameters
    ----------
    n_groups
        Number of groups (trajectory fates); codes run from 0 to ``n_groups - 1``.
    n_times, n_values
        Times along a trajectory and values (genes) per time.

    Notes
    -----
    Sums are kept in float64 around a shift (the first batch's mean per time and value), so that values with
    a large common offset keep their variance.
    """

    def __init__(self, n_groups: int, n_times: int, n_values: int):
        self.count = np.zeros(n_groups, dtype=np.int64)
        self._sum = np.zeros((n_groups, n_times, n_values))
        self._sq = np.zeros((n_groups, n_times, n_values))
        self._shift: np.ndarray | None = None

    def add(self, values: np.ndarray, groups: np.ndarray) -> None:
        """Add trajectories: ``values`` ``(n_times, n_trajectories, n_values)``, ``groups`` their codes."""
        values = np.asarray(values, dtype=np.float64)
        groups = np.asarray(groups, dtype=np.int64)
        if values.ndim != 3 or values.shape[0] != self._sum.shape[1] or values.shape[2] != self._sum.shape[2]:
            raise ValueError(f"values must be (n_times, n_trajectories, n_values) = ({self._sum.shape[1]}, ., "
                             f"{self._sum.shape[2]}), got {values.shape}")
        if groups.shape != (values.shape[1],):
            raise ValueError("groups must hold one code per trajectory")
        if self._shift is None:
            self._shift = values.mean(axis=1)
        centred = values - self._shift[:, None, :]
        for g in np.unique(groups):
            rows = groups == g
            self.count[g] += int(rows.sum())
            self._sum[g] += centred[:, rows].sum(axis=1)
            self._sq[g] += (centred[:, rows] ** 2).sum(axis=1)

    def result(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``mean, se, count``: ``(n_groups, n_times, n_values)`` means and standard errors (sample standard
        deviation with ``ddof=1`` over ``sqrt(count)``; NaN for fewer than two trajectories, the mean NaN for
        none) and the ``(n_groups,)`` trajectory counts."""
        n = self.count.astype(np.float64)[:, None, None]
        shift = 0.0 if self._shift is None else self._shift[None]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_c = self._sum / n
            var = (self._sq - n * mean_c**2) / (n - 1)
            se = np.sqrt(np.maximum(var, 0.0) / n)
        se = np.where(n > 1, se, np.nan)
        mean = np.where(n > 0, mean_c + shift, np.nan)
        return mean, se, self.count.copy()
