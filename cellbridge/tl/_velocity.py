"""``cb.tl.velocity``: a fitted model's drift at every cell, in scVelo's layout."""

from __future__ import annotations

import numpy as np
from anndata import AnnData

from .. import _keys as keys
from .._logging import logger
from ..model import CellBridgeModel
from ._checks import check_data_and_model, model_course
from ._simulate import _gene_space, _is_int, _pca_loadings
from ._uns import h5ad_safe

KINDS = ("sde", "ode")


def _check_arguments(adata, model, time_key, use_rep, kind, key_added, batch_size) -> None:
    """Type and range of every argument of :func:`velocity` that needs no data, each error naming it."""
    check_data_and_model(adata, model, time_key=time_key, use_rep=use_rep)
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"kind must be 'sde' (the SDE drift) or 'ode' (the probability-flow velocity), not {kind!r}")
    if not isinstance(key_added, str) or not key_added:
        raise ValueError(f"key_added must be a non-empty string, got {key_added!r}")
    if not _is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")


def velocity(
    adata: AnnData,
    model: CellBridgeModel,
    *,
    time_key: str | None = None,
    use_rep: str | None = None,
    kind: str = "sde",
    key_added: str = keys.DEFAULT_VELOCITY_KEY,
    batch_size: int = 4096,
) -> None:
    """Write a fitted model's drift at every cell, at the cell's own observed time, as a velocity.

    The layout is scVelo's, so that its plotting (e.g. ``scv.pl.velocity_embedding_stream``) and other
    tools that read velocities find them: the velocity in the fitted representation in
    ``obsm[f"{key_added}_{basis}"]`` and in gene space in ``layers[key_added]``.

    Parameters
    ----------
    adata
        The time course: each cell's time in ``obs[time_key]`` and its state in ``obsm[use_rep]`` (or ``X``).
    model
        A fitted :class:`cellbridge.CellBridgeModel` (from :func:`cellbridge.tl.fit` or
        :func:`cellbridge.load`).
    time_key
        Column of ``adata.obs`` with each cell's time (numbers or labels such as ``"day3"``); the drift of a
        cell is evaluated at this time. Default: the model's ``time_key``.
    use_rep
        The representation the model was fitted in (``"X"`` or a key of ``adata.obsm``, with the model's
        number of dimensions). Default: the model's ``use_rep``.
    kind
        ``"sde"``: the forward SDE drift ``u(t, x)`` of ``dx = u dt + sigma dW``; it includes the score term
        (for [SF]2M ``v + sigma^2/2 grad log p_t``), which pulls every cell towards the dense part of its
        population, so it describes where a single noisy cell drifts. ``"ode"``: the probability-flow
        velocity ``v(t, x)``, whose deterministic flow carries the population's marginals from one time
        point to the next, as the SDE does; it is the velocity a stream plot of the population's motion
        should show. A DSBM model needs both directions trained for ``"ode"``.
    key_added
        Base name of the keys written (default ``"velocity"``, scVelo's).
    batch_size
        Cells per evaluation of the drift network (cells of one time point are evaluated together, in
        batches of this size).

    Returns
    -------
    None
        Writes, in user units of the representation per time unit:

        - ``adata.obsm[f"{key_added}_{basis}"]`` (float32, cells x dimensions): the velocity in the
          representation, ``basis`` being ``use_rep`` without its ``"X_"`` prefix (``velocity_pca`` for
          ``X_pca``); not written for ``use_rep="X"``.
        - ``adata.layers[key_added]`` (float32, cells x genes): the velocity in gene space. For
          ``use_rep="X"`` the drift itself; for ``use_rep="X_pca"`` with scanpy's loadings
          ``adata.varm["PCs"]`` (genes x components, as many components as the model) the drift times the
          transposed loadings, ``velocity_pca @ PCs.T``; otherwise no layer (logged).
        - ``adata.layers[f"{key_added}_state"]`` (float32, cells x genes), with the gene-space velocity: the
          states the velocity moves, in the same space (``X`` for ``use_rep="X"``; the PCA reconstruction
          ``mean + X_pca @ PCs.T`` for ``"X_pca"``). scVelo's velocity graph compares each cell's velocity
          with the displacements to its neighbours in its ``xkey`` layer; on this layer those cosines equal
          the ones in the fitted representation, where on raw ``X`` the discarded components would dilute
          them: ``scv.tl.velocity_graph(adata, xkey="velocity_state")``.
        - ``adata.uns[f"{key_added}_params"]``: ``kind``, ``use_rep``, ``time_key`` and ``model_method``, and
          scVelo's ``embeddings`` (``[basis]``), which tells its plots that ``obsm[f"{key_added}_{basis}"]``
          is current: ``scv.pl.velocity_embedding_stream(adata, basis="pca")`` draws the model's velocity as
          it is, where for other embeddings (UMAP) scVelo projects it through its velocity graph.

    Raises
    ------
    TypeError, ValueError
        An argument of the wrong type or out of range: not a model, an unknown ``kind``, a ``time_key``
        that is not a column of ``adata.obs`` (or holds unparseable times), a ``use_rep`` that is missing or
        has other than the model's number of dimensions, a ``batch_size`` that is not a positive integer.
        The message names the argument, and ``adata`` is left unchanged: everything is checked and
        computed before anything is written.

    Examples
    --------
    With scVelo (``pip install 'cellbridge[interop]'``), after :func:`scanpy.pp.neighbors` and
    :func:`scanpy.tl.umap`::

        cb.tl.velocity(adata, model, kind="ode")
        scv.tl.velocity_graph(adata, xkey="velocity_state")
        scv.pl.velocity_embedding_stream(adata, basis="umap")

    Notes
    -----
    ``obsm[f"{key_added}_{basis}"][i]`` is ``model.drift(t_i, x_i, stochastic=(kind == "sde"))`` cast to
    float32, with ``t_i`` the cell's time. Cells whose time lies more than 10% of the fitted span outside the
    model's time points are evaluated all the same, with a warning: the model extrapolates there.
    """
    _check_arguments(adata, model, time_key, use_rep, kind, key_added, batch_size)
    x, times, time_key, use_rep = model_course(adata, model, time_key, use_rep)
    stochastic = kind == "sde"
    try:
        model.check_simulable("forward", stochastic)
    except ValueError as err:
        raise ValueError(f"kind={kind!r}: {err}") from None

    tp = model.time_points
    outside = model.extrapolates(times)
    if outside.any():
        logger.warning(f"{int(outside.sum())} cell(s) have times outside the model's time points "
                       f"[{tp[0]:g}, {tp[-1]:g}] by more than 10% of the span; the model extrapolates there")

    vel = np.empty(x.shape, dtype=np.float32)
    for t in np.unique(times):
        idx = np.flatnonzero(times == t)
        for start in range(0, idx.size, batch_size):
            rows = idx[start:start + batch_size]
            vel[rows] = model.drift(float(t), x[rows], stochastic=stochastic)
    if not np.isfinite(vel).all():
        raise FloatingPointError("the model's drift is NaN or infinite at some cells; nothing was written")

    if use_rep == "X":
        layer, state, obsm_key = vel, x, None
    else:
        loadings = _pca_loadings(adata, model.dim) if use_rep == keys.DEFAULT_REP else None
        layer = None if loadings is None else vel @ loadings.T
        state = None if loadings is None else _gene_space(adata, x.astype(np.float32))
        basis = use_rep[2:] if use_rep.startswith("X_") else use_rep
        obsm_key = f"{key_added}_{basis}"
    state_key = key_added + keys.VELOCITY_STATE_SUFFIX

    params_key = key_added + keys.VELOCITY_PARAMS_SUFFIX
    params = {"kind": kind, "use_rep": use_rep, "time_key": time_key, "model_method": model.method}
    if obsm_key is not None:  # scVelo's record of the embeddings its velocity is projected on: plot as is
        params["embeddings"] = [basis]
    params = h5ad_safe(params)
    # everything is computed: write it all at once
    added = []
    if obsm_key is not None:
        adata.obsm[obsm_key] = vel
        added.append(f"obsm['{obsm_key}']")
    if layer is not None:
        adata.layers[key_added] = np.ascontiguousarray(layer, dtype=np.float32)
        adata.layers[state_key] = np.ascontiguousarray(state, dtype=np.float32)
        added.append(f"layers['{key_added}'] (genes), layers['{state_key}']")
    adata.uns[params_key] = params
    added.append(f"uns['{params_key}']")
    what = "SDE drift" if stochastic else "probability-flow (ODE) velocity"
    if layer is None:
        logger.info(f"no gene-space layer: use_rep={use_rep!r} is not 'X', nor 'X_pca' with "
                    f"varm['{keys.PCA_LOADINGS}'] of {model.dim} components")
    logger.info(f"{what} of {adata.n_obs} cells at {np.unique(times).size} time point(s); added "
                + ", ".join(added))
