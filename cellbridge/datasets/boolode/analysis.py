r"""Boolean analysis of a BoolODE network: fixed points, attractors, and the Boolean reading of simulated cells.

:func:`boolean_fixed_points` enumerates the fixed points of the Boolean network
(the same for synchronous and asynchronous updates); :func:`boolean_attractors` follows the synchronous
map, or explores the asynchronous state graph, from a state. A simulated cell is read as Boolean by
:func:`boolean_state`: gene ON when :math:`x_g > x_{max}/2`; :func:`branch_labels` names the branch a cell
is in from its marker genes, and :func:`active_edges` the true edges that act in each group of cells (a
branch, a time bin): those whose regulator is ON there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .io import RulesLike, as_model
from .simulate import BoolODEParams, as_params

__all__ = ["boolean_state", "branch_labels", "active_edges", "boolean_fixed_points", "boolean_attractors"]

#: :func:`active_edges`: an edge acts in a group where its regulator is ON in at least this fraction of the cells
ACTIVE_MIN_FRACTION = 0.1

_MAX_ENUMERATED_GENES = 20  # boolean_fixed_points enumerates 2^n states


def boolean_state(expression: Any, params: BoolODEParams | Mapping[str, float] | None = None) -> np.ndarray:
    r"""Boolean reading of simulated mRNA levels: gene ON when :math:`x_g > x_{max}/2 = m / (2 l_x)`.

    Parameters
    ----------
    expression
        mRNA levels ``(n_cells, n_genes)`` or ``(n_genes,)`` (an AnnData's ``X``), not log-transformed.
    params
        The kinetic parameters of the simulation (BoolODE's defaults: threshold 1).

    Returns
    -------
    numpy.ndarray
        Boolean array of the same shape.
    """
    par = as_params(params)
    x = np.asarray(expression.X if hasattr(expression, "X") else expression, dtype=np.float64)
    return x > par.x_max / 2


def _expression_of(expression: Any, genes, what: str) -> tuple[np.ndarray, list[str]]:
    """mRNA levels (cells x genes) and the gene names of their columns (from an AnnData, or ``genes``)."""
    if hasattr(expression, "X") and hasattr(expression, "var_names"):
        names = [str(g) for g in expression.var_names]
        if genes is not None and [str(g) for g in genes] != names:
            raise ValueError("genes= names the columns of an array; an AnnData's are its var_names")
        x = expression.X
    else:
        if genes is None:
            raise ValueError(f"{what}: pass the gene of each column (genes=) with an array")
        names, x = [str(g) for g in genes], expression
    x = np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(names):
        raise ValueError(f"{what}: expression must be cells x {len(names)} genes, got shape {x.shape}")
    return x, names


def branch_labels(
    expression: Any,
    markers: dict[str, str],
    *,
    genes: list[str] | None = None,
    params: BoolODEParams | Mapping[str, float] | None = None,
    undecided: str = "undecided",
) -> np.ndarray:
    """The branch each simulated cell is in, from the Boolean state of one marker gene per branch.

    A cell is in a branch when that branch's marker is ON (:func:`boolean_state`) and every other
    branch's marker is OFF; otherwise (before the branch point, or while a toggle is still unresolved) it
    is ``undecided``.

    Parameters
    ----------
    expression
        mRNA levels, not log-transformed: an AnnData (its ``X`` and ``var_names``) or an array
        ``(n_cells, n_genes)`` with ``genes``.
    markers
        ``{branch: marker gene}``, e.g. :data:`~cellbridge.datasets.boolode.networks.TOGGLE_BRANCH_MARKERS`.
    genes
        Gene of each column of an array.
    params
        Kinetic parameters of the simulation (BoolODE's defaults: ON above an mRNA level of 1).
    undecided
        Label of the cells in no branch.

    Returns
    -------
    numpy.ndarray
        One label per cell (object array of str).

    Examples
    --------
    >>> import numpy as np
    >>> branch_labels(np.array([[2.0, 0.0], [0.0, 2.0], [1.5, 1.5]]), {"A": "a", "B": "b"}, genes=["a", "b"])
    array(['A', 'B', 'undecided'], dtype=object)
    """
    x, names = _expression_of(expression, genes, "branch_labels")
    missing = [m for m in markers.values() if m not in names]
    if missing:
        raise ValueError(f"marker genes not among the genes: {missing}")
    if undecided in markers:
        raise ValueError(f"{undecided!r} is a branch name; pass another undecided=")
    on = boolean_state(x, params)
    marker_on = np.stack([on[:, names.index(m)] for m in markers.values()], axis=1)
    out = np.full(len(x), undecided, dtype=object)
    alone = marker_on.sum(axis=1) == 1
    branch = np.array(list(markers), dtype=object)
    out[alone] = branch[np.argmax(marker_on[alone], axis=1)]
    return out


def active_edges(
    rules: RulesLike,
    expression: Any,
    groups: Any,
    *,
    genes: list[str] | None = None,
    min_fraction: float = ACTIVE_MIN_FRACTION,
    params: BoolODEParams | Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """The true edges that act in each group of simulated cells: those whose regulator is ON there.

    In BoolODE's model a regulator enters its targets' rules through a Hill function of its protein, which
    is flat at zero: a regulator that is OFF throughout a group of cells (a branch it does not belong to, a
    time before it switches on) has no effect on any target there. So an edge ``regulator -> target`` of
    the rules is *active* in a group when the regulator is ON (:func:`boolean_state`) in at least
    ``min_fraction`` of the group's cells. Self-loops are left out (no edges for the network readouts).

    Parameters
    ----------
    rules
        The Boolean model (a :class:`BooleanModel`, or anything :func:`simulate_boolode` accepts).
    expression
        mRNA levels, not log-transformed: an AnnData (``X``, ``var_names``) or an array with ``genes``.
    groups
        One label per cell (a branch, a time bin), or the name of a column of the AnnData's ``obs``.
        Cells labelled None or NaN belong to no group.
    genes
        Gene of each column of an array.
    min_fraction
        Fraction of a group's cells in which the regulator must be ON (default
        :data:`ACTIVE_MIN_FRACTION`, a tenth: a regulator ON in a few stray cells does not count).
    params
        Kinetic parameters of the simulation.

    Returns
    -------
    pandas.DataFrame
        One row per active edge and group: ``group``, ``regulator``, ``target``, ``sign`` (+1 / -1, of the
        rules) and ``fraction_on`` (of the regulator in the group's cells); groups in order of appearance,
        edges in the order of :meth:`BooleanModel.edges`.
    """
    model = as_model(rules)
    if not 0 < min_fraction <= 1:
        raise ValueError(f"min_fraction must be in (0, 1], got {min_fraction}")
    if isinstance(groups, str):
        if not hasattr(expression, "obs"):
            raise ValueError("groups names an obs column: pass an AnnData, or one label per cell")
        groups = expression.obs[groups].to_numpy()
    x, names = _expression_of(expression, genes, "active_edges")
    labels = np.asarray(groups, dtype=object)
    if labels.shape != (len(x),):
        raise ValueError(f"groups must have one label per cell ({len(x)}), got shape {labels.shape}")
    missing = [g for g in model.genes if g not in names]
    if missing:
        raise ValueError(f"the expression lacks genes of the model: {missing}")
    on = boolean_state(x[:, [names.index(g) for g in model.genes]], params)
    edges = model.edges()
    edges = edges[edges["regulator"] != edges["target"]].reset_index(drop=True)
    col = np.array([model.genes.index(r) for r in edges["regulator"]], dtype=np.intp)
    valid = np.array([lab is not None and lab == lab for lab in labels], dtype=bool)  # NaN != NaN
    frames = []
    for g in dict.fromkeys(labels[valid].tolist()):
        fraction = on[labels == g].mean(axis=0)[col]
        keep = fraction >= min_fraction
        frame = edges[keep].copy()
        frame.insert(0, "group", g)
        frame["fraction_on"] = fraction[keep]
        frames.append(frame)
    columns = ["group", "regulator", "target", "sign", "fraction_on"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def _codes(states: np.ndarray) -> np.ndarray:
    weights = np.left_shift(np.int64(1), np.arange(states.shape[-1], dtype=np.int64))
    return states.astype(np.int64) @ weights


def _decode(codes: np.ndarray, n: int) -> np.ndarray:
    return ((np.asarray(codes, dtype=np.int64)[:, None] >> np.arange(n)[None, :]) & 1).astype(bool)


def boolean_fixed_points(rules: RulesLike) -> np.ndarray:
    """All fixed points :math:`F(x) = x` of the Boolean network, by enumerating its :math:`2^n` states.

    A state is a fixed point of the synchronous update exactly when it is one of the asynchronous update,
    so the answer serves both.

    Parameters
    ----------
    rules
        A :class:`BooleanModel` or anything :func:`simulate_boolode` accepts.

    Returns
    -------
    numpy.ndarray
        Boolean array ``(n_fixed_points, n_genes)`` in the model's gene order, rows sorted by their binary
        code (first gene the lowest bit).

    Raises
    ------
    ValueError
        With more than 20 genes (use :func:`boolean_attractors` from a given state instead).
    """
    model = as_model(rules)
    n = model.n_genes
    if n > _MAX_ENUMERATED_GENES:
        raise ValueError(f"{n} genes: enumerating 2^{n} states is too much; use boolean_attractors(model, state)")
    found = []
    chunk = 1 << 16
    for start in range(0, 1 << n, chunk):
        codes = np.arange(start, min(start + chunk, 1 << n), dtype=np.int64)
        states = _decode(codes, n)
        fixed = np.all(model.update(states) == states, axis=1)
        found.append(states[fixed])
    return np.concatenate(found, axis=0)


def boolean_attractors(
    rules: RulesLike,
    initial: Sequence[bool] | np.ndarray | None = None,
    *,
    update: str = "synchronous",
    max_states: int = 1 << 16,
) -> list[np.ndarray]:
    """Attractors of the Boolean network reached from a state.

    - ``update="synchronous"``: iterate :math:`x \\leftarrow F(x)` (all genes at once) until a state
      repeats; the single attractor is the cycle (one state: a fixed point).
    - ``update="asynchronous"``: one gene whose rule disagrees with its state flips per transition; all
      states reachable from ``initial`` are explored and the attractors are the terminal strongly
      connected components of that graph (a single state: a fixed point). Deterministic.

    Parameters
    ----------
    rules
        A :class:`BooleanModel` or anything :func:`simulate_boolode` accepts.
    initial
        Boolean state in gene order; ``None`` uses :meth:`BooleanModel.initial_state` (from the ics).
    update
        ``"synchronous"`` or ``"asynchronous"``.
    max_states
        Largest number of states to visit before giving up (ValueError).

    Returns
    -------
    list of numpy.ndarray
        Each attractor as a Boolean array ``(n_states, n_genes)``; synchronous cycles in visiting order,
        asynchronous attractors sorted by code.
    """
    model = as_model(rules)
    n = model.n_genes
    if n > 62:
        raise ValueError("at most 62 genes")
    x = model.initial_state() if initial is None else np.asarray(initial, dtype=bool).ravel()
    if x.size != n:
        raise ValueError(f"initial must have {n} entries (one per gene), got {x.size}")
    if update == "synchronous":
        seen: dict[int, int] = {}
        trail = []
        while True:
            code = int(_codes(x[None, :])[0])
            if code in seen:
                return [np.array(trail[seen[code] :])]
            if len(trail) >= max_states:
                raise ValueError(f"no attractor within {max_states} synchronous steps")
            seen[code] = len(trail)
            trail.append(x)
            x = model.update(x[None, :])[0]
    if update != "asynchronous":
        raise ValueError(f"update must be 'synchronous' or 'asynchronous', got {update!r}")

    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    index = {int(_codes(x[None, :])[0]): 0}
    order = [int(_codes(x[None, :])[0])]
    src: list[int] = []
    dst: list[int] = []
    frontier = [order[0]]
    while frontier:
        states = _decode(np.array(frontier), n)
        nxt = model.update(states)
        new_frontier = []
        for row, code in enumerate(frontier):
            for gene in np.nonzero(nxt[row] != states[row])[0]:
                succ = code ^ (1 << int(gene))
                if succ not in index:
                    if len(order) >= max_states:
                        raise ValueError(f"more than {max_states} reachable states")
                    index[succ] = len(order)
                    order.append(succ)
                    new_frontier.append(succ)
                src.append(index[code])
                dst.append(index[succ])
        frontier = new_frontier
    m = len(order)
    graph = coo_matrix((np.ones(len(src)), (src, dst)), shape=(m, m)).tocsr()
    n_comp, label = connected_components(graph, directed=True, connection="strong")
    leaves = np.ones(n_comp, dtype=bool)
    s_arr, d_arr = np.asarray(src, dtype=np.intp), np.asarray(dst, dtype=np.intp)
    if s_arr.size:
        cross = label[s_arr] != label[d_arr]
        leaves[label[s_arr[cross]]] = False
    codes_arr = np.array(order, dtype=np.int64)
    out = []
    for c in np.nonzero(leaves)[0]:
        out.append(_decode(np.sort(codes_arr[label == c]), n))
    out.sort(key=lambda a: int(_codes(a[:1])[0]))
    return out
