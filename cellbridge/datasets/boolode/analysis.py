r"""Boolean analysis of a BoolODE network: fixed points, attractors, and the Boolean reading of simulated cells.

:func:`boolean_fixed_points` enumerates the fixed points of the Boolean network
(the same for synchronous and asynchronous updates); :func:`boolean_attractors` follows the synchronous
map, or explores the asynchronous state graph, from a state. A simulated cell is read as Boolean by
:func:`boolean_state`: gene ON when :math:`x_g > x_{max}/2`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .io import RulesLike, as_model
from .simulate import BoolODEParams, as_params

__all__ = ["boolean_state", "boolean_fixed_points", "boolean_attractors"]

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
