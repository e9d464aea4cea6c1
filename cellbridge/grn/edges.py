r"""Edge tables and gene x gene matrices of a gene regulatory network (AnnData-free).

A network is either a **tidy edge table**, one row per edge with columns ``regulator``, ``target`` and
optionally ``sign`` (+1 activation, -1 repression, 0 unknown) or a score column, or a **square matrix**
:math:`M` whose entry :math:`M_{ij}` describes the edge *regulator* :math:`i \to` *target* :math:`j` (rows
are regulators, columns are targets): a signed adjacency matrix, or a score matrix. Matrices are plain
arrays (genes by position) or DataFrames with the same genes as index and columns. BEELINE's file formats
(``refNetwork.csv``: ``Gene1``, ``Gene2``, ``Type``; ``rankedEdges.csv``: ``Gene1``, ``Gene2``,
``EdgeWeight``) are read by column name.

Orientation. A drift Jacobian :math:`J_{ij} = \partial f_i / \partial x_j` describes the edge
:math:`j \to i`, so its score matrix is :math:`S = |J|^T` (and its sign matrix :math:`J^T`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["EDGE_COLUMNS", "as_edge_table", "edges_to_matrix", "matrix_to_edges"]

#: columns of a tidy edge table: regulator name, target name, sign (+1 activation, -1 repression,
#: 0 unknown)
EDGE_COLUMNS = ("regulator", "target", "sign")

# BEELINE's file formats, accepted by name: refNetwork.csv (Gene1 -> Gene2, Type "+"/"-") and
# rankedEdges.csv (Gene1 -> Gene2, EdgeWeight)
_BEELINE_RENAME = {"Gene1": "regulator", "Gene2": "target", "Type": "sign", "EdgeWeight": "score"}

MatrixLike = np.ndarray | pd.DataFrame | Sequence[Sequence[float]]
EdgesLike = pd.DataFrame | Mapping[str, Any]


def _parse_signs(values: Any) -> np.ndarray:
    """``"+"``/``"-"`` or numbers -> int8 in {-1, 0, +1} (0: unknown)."""
    out = np.zeros(len(values), dtype=np.int8)
    for k, v in enumerate(values):
        if isinstance(v, str):
            s = v.strip().lower()
            if s in ("+", "+1", "1", "activation", "activator"):
                out[k] = 1
            elif s in ("-", "-1", "repression", "repressor", "inhibition"):
                out[k] = -1
            elif s in ("", "0", "?", "nan", "none"):
                out[k] = 0
            else:
                raise ValueError(f"cannot read the edge sign {v!r}: use '+'/'-' or +1/-1 (0 for unknown)")
        elif v is None or (isinstance(v, float) and np.isnan(v)):
            out[k] = 0
        else:
            try:
                out[k] = int(np.sign(float(v)))
            except (TypeError, ValueError) as err:
                raise ValueError(f"cannot read the edge sign {v!r}") from err
    return out


def _is_edge_table(obj: Any) -> bool:
    if isinstance(obj, pd.DataFrame):
        cols = set(map(str, obj.columns))
        return ({"regulator", "target"} <= cols) or ({"Gene1", "Gene2"} <= cols)
    return isinstance(obj, Mapping) and "regulator" in obj and "target" in obj


def as_edge_table(edges: EdgesLike, *, value: str | None = None) -> pd.DataFrame:
    """Normalise an edge list to a DataFrame with columns ``regulator``, ``target``, ``sign``.

    Accepts a DataFrame or a mapping of equal-length arrays (such as ``adata.uns["grn_truth"]``) with
    columns ``regulator`` and ``target``, or BEELINE's ``Gene1`` (regulator), ``Gene2`` (target),
    ``Type`` / ``EdgeWeight``, always **by name**, never by position. Signs may be ``"+"``/``"-"`` or
    numbers (their sign is kept); a missing ``sign`` column gives 0 (unknown) for every edge.

    Parameters
    ----------
    edges
        The edge list.
    value
        Also keep this numeric column (e.g. ``"score"``) as float64, in addition to the sign.

    Returns
    -------
    pandas.DataFrame
        Columns ``regulator`` and ``target`` (str), ``sign`` (int8 in {-1, 0, 1}) and ``value`` when
        asked. Rows keep their order; duplicates are kept (the callers decide).
    """
    if isinstance(edges, Mapping) and not isinstance(edges, pd.DataFrame):
        try:
            edges = pd.DataFrame({k: np.asarray(v) for k, v in edges.items()})
        except ValueError as err:
            raise ValueError(f"the edge mapping must hold equal-length arrays: {err}") from err
    if not isinstance(edges, pd.DataFrame):
        raise TypeError(f"edges must be a DataFrame or a mapping of arrays, not {type(edges).__name__}")
    df = edges.rename(columns={k: v for k, v in _BEELINE_RENAME.items() if k in edges.columns})
    missing = {"regulator", "target"} - set(df.columns)
    if missing:
        raise ValueError(
            f"an edge table needs columns 'regulator' and 'target' (or BEELINE's 'Gene1' = regulator and "
            f"'Gene2' = target); missing {sorted(missing)}, got {list(edges.columns)}"
        )
    out = pd.DataFrame(
        {
            "regulator": df["regulator"].astype(str).to_numpy(),
            "target": df["target"].astype(str).to_numpy(),
            "sign": _parse_signs(df["sign"].to_numpy()) if "sign" in df.columns else np.zeros(len(df), np.int8),
        }
    )
    if value is not None:
        if value not in df.columns:
            raise ValueError(f"the edge table has no column {value!r}; columns: {list(edges.columns)}")
        vals = pd.to_numeric(df[value], errors="coerce").to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(vals)):
            raise ValueError(f"column {value!r} of the edge table must be finite numbers")
        out[value] = vals
    return out


def _gene_index(genes: Sequence[Any]) -> pd.Index:
    idx = pd.Index([str(g) for g in genes])
    if not idx.is_unique:
        dup = idx[idx.duplicated()].unique().tolist()
        raise ValueError(f"gene names must be unique; duplicated: {dup[:5]}")
    if len(idx) < 2:
        raise ValueError(f"need at least two genes, got {len(idx)}")
    return idx


def _positions(names: pd.Series, genes: pd.Index, what: str) -> np.ndarray:
    pos = genes.get_indexer(names)
    if np.any(pos < 0):
        unknown = pd.unique(names[pos < 0])[:5].tolist()
        raise ValueError(f"{what} names genes that are not in the gene list: {unknown}")
    return pos


def edges_to_matrix(edges: EdgesLike, genes: Sequence[Any], *, signed: bool = True) -> np.ndarray:
    r"""Adjacency matrix of an edge table in a given gene order.

    :math:`A_{ij}` describes the edge ``genes[i]`` (regulator) :math:`\to` ``genes[j]`` (target).

    Parameters
    ----------
    edges
        Edge table (see :func:`as_edge_table`); duplicate rows are merged, conflicting signs for the
        same pair raise.
    genes
        Gene order of the rows and columns; every gene named in ``edges`` must be in it.
    signed
        ``True``: :math:`A_{ij} \in \{-1, 0, +1\}` from the ``sign`` column; every edge must have a
        known sign. ``False``: :math:`A_{ij} = 1` for every listed edge.

    Returns
    -------
    numpy.ndarray
        ``int8`` matrix of shape ``(len(genes), len(genes))``; self-loops are kept as listed.
    """
    genes_idx = _gene_index(genes)
    table = as_edge_table(edges)
    i = _positions(table["regulator"], genes_idx, "the edge table")
    j = _positions(table["target"], genes_idx, "the edge table")
    n = len(genes_idx)
    mat = np.zeros((n, n), dtype=np.int8)
    if not signed:
        mat[i, j] = 1
        return mat
    sign = table["sign"].to_numpy()
    if np.any(sign == 0):
        raise ValueError("some edges have no sign; pass signed=False for an unsigned adjacency matrix")
    _check_conflicts(i, j, sign, genes_idx)
    mat[i, j] = sign
    return mat


def _check_conflicts(i: np.ndarray, j: np.ndarray, sign: np.ndarray, genes: pd.Index) -> None:
    """Raise when the same (regulator, target) pair is listed with opposite known signs."""
    known = sign != 0
    if not np.any(known):
        return
    key = i[known].astype(np.int64) * len(genes) + j[known]
    s = sign[known]
    order = np.argsort(key, kind="stable")
    key, s = key[order], s[order]
    same = key[1:] == key[:-1]
    clash = same & (s[1:] != s[:-1])
    if np.any(clash):
        k = key[1:][clash][0]
        raise ValueError(
            f"the edge {genes[k // len(genes)]} -> {genes[k % len(genes)]} is listed as both activation and repression"
        )


def matrix_to_edges(
    matrix: MatrixLike,
    genes: Sequence[Any] | None = None,
    *,
    value: str = "sign",
    self_loops: bool = False,
    include_zero: bool = False,
) -> pd.DataFrame:
    r"""Edge table of a matrix whose entry :math:`(i, j)` describes ``genes[i]`` :math:`\to` ``genes[j]``.

    Parameters
    ----------
    matrix
        Square array, or a DataFrame with the same genes as index (regulators) and columns (targets).
    genes
        Gene names in matrix order (taken from a DataFrame's index when omitted; positions otherwise).
    value
        ``"sign"``: a signed adjacency matrix, written to the ``sign`` column (int8).
        Any other name: a score matrix, written to a float column of that name (``"score"``, say),
        sorted by decreasing value, with ``sign`` the sign of the entry.
    self_loops
        Keep the diagonal.
    include_zero
        Keep zero entries (every candidate pair then appears once).

    Returns
    -------
    pandas.DataFrame
        Columns ``regulator``, ``target``, ``sign`` and, for a score matrix, ``value``.
    """
    mat, names = _as_square(matrix, genes, "matrix")
    keep = np.ones(mat.shape, dtype=bool) if include_zero else (mat != 0)
    if not self_loops:
        np.fill_diagonal(keep, False)
    out = _entries(names, keep, sign=np.sign(mat).astype(np.int8))
    if value != "sign":
        out[value] = mat[keep]
        out = _by_score(out, value)
    return out


def _entries(genes: pd.Index, keep: np.ndarray, *, categorical: bool = False, **matrices: np.ndarray) -> pd.DataFrame:
    """One row per ``True`` entry of ``keep``, in row-major order: ``regulator``, ``target``, then the entry
    of each matrix in a column of its name. ``categorical``: names as categoricals whose categories are
    ``genes`` (two small integer codes a row instead of two strings)."""
    i, j = np.nonzero(keep)
    if categorical:
        columns = {"regulator": pd.Categorical.from_codes(i, categories=genes),
                   "target": pd.Categorical.from_codes(j, categories=genes)}
    else:
        columns = {"regulator": genes[i].to_numpy(), "target": genes[j].to_numpy()}
    return pd.DataFrame({**columns, **{name: m[i, j] for name, m in matrices.items()}})


def _by_score(table: pd.DataFrame, column: str, then: str | None = None) -> pd.DataFrame:
    """The rows by decreasing absolute ``column``, ties by decreasing absolute ``then`` (if given), remaining
    ties in their order; a fresh index."""
    if then is None:
        return table.sort_values(column, ascending=False, kind="stable", key=np.abs).reset_index(drop=True)
    order = np.lexsort((-np.abs(table[then].to_numpy(dtype=np.float64)),
                        -np.abs(table[column].to_numpy(dtype=np.float64))))  # stable: last key first
    return table.iloc[order].reset_index(drop=True)


# --------------------------------------------------------------------------------------------------
# labelled square matrices, and tables made dense in a given gene order
# --------------------------------------------------------------------------------------------------


def _is_labeled_square(obj: Any) -> bool:
    return (
        isinstance(obj, pd.DataFrame)
        and not _is_edge_table(obj)
        and obj.shape[0] == obj.shape[1]
        and set(map(str, obj.index)) == set(map(str, obj.columns))
    )


def _as_square(obj: Any, genes: Sequence[Any] | pd.Index | None, what: str) -> tuple[np.ndarray, pd.Index]:
    """A square float64 matrix in the order of ``genes`` (or its own labels / positions); scipy.sparse
    matrices are made dense."""
    if hasattr(obj, "tocsr") and hasattr(obj, "toarray"):  # scipy.sparse (a sparse varp of cellbridge.tl.grn)
        obj = obj.toarray()
    if isinstance(obj, pd.DataFrame):
        if not _is_labeled_square(obj):
            raise ValueError(
                f"{what}: a DataFrame must be square with the same genes as index (regulators) and columns "
                "(targets), or an edge table with columns 'regulator' and 'target'"
            )
        frame = obj.copy()
        frame.index = frame.index.map(str)
        frame.columns = frame.columns.map(str)
        names = _gene_index(frame.index) if genes is None else _gene_index(genes)
        if set(names) != set(frame.index):
            raise ValueError(f"{what}: its genes differ from the gene list")
        frame = frame.loc[names, names]
        arr = frame.to_numpy(dtype=np.float64)
    else:
        if hasattr(obj, "detach") and hasattr(obj, "cpu"):  # torch tensor
            obj = obj.detach().cpu().numpy()
        try:
            arr = np.asarray(obj, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{what} must be a numeric matrix: {err}") from err
        if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
            raise ValueError(f"{what} must be a square (genes x genes) matrix, got shape {arr.shape}")
        names = _gene_index(range(arr.shape[0]) if genes is None else genes)
        if len(names) != arr.shape[0]:
            raise ValueError(f"{what} has {arr.shape[0]} rows but {len(names)} genes were given")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} must be finite (no NaN or inf)")
    return arr, names


def _pairs_to_matrix(regulators: Any, targets: Any, values: Any, genes: pd.Index) -> np.ndarray:
    """Dense float64 matrix with ``values[k]`` at (``regulators[k]``, ``targets[k]``) in the order of ``genes``.

    Absent pairs are 0 and pairs naming a gene outside ``genes`` are ignored; a repeated pair keeps its
    last value.
    """
    i = genes.get_indexer(pd.Index(regulators).astype(str))
    j = genes.get_indexer(pd.Index(targets).astype(str))
    known = (i >= 0) & (j >= 0)
    mat = np.zeros((len(genes), len(genes)), dtype=np.float64)
    mat[i[known], j[known]] = np.asarray(values, dtype=np.float64)[known]
    return mat


def _scores_from_table(table: EdgesLike, genes: pd.Index, column: str) -> np.ndarray:
    """Dense matrix of column ``column`` of a tidy prediction table.

    The first row of a repeated pair wins, absent pairs score 0 and pairs naming a gene outside
    ``genes`` are ignored (BEELINE scores only the pairs of its candidate set).
    """
    df = as_edge_table(table, value=column) if column != "sign" else as_edge_table(table)
    df = df.drop_duplicates(subset=["regulator", "target"], keep="first")
    return _pairs_to_matrix(df["regulator"], df["target"], df[column], genes)
