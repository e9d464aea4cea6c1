"""Simulated trajectories over the observed cells, in the model's representation or on any embedding."""

from __future__ import annotations

from collections.abc import Sequence

import anndata as ad
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from .._keys import SIM_TIME, SIM_TRAJECTORY, SIMULATION
from .._utils import RNGLike, as_numpy_rng
from ..neighbors import DEFAULT_NEIGHBORS, assign_to_cells
from ..time_labels import parse_time
from ._utils import NA_COLOR, basis_key, category_colors, check_dims, component_labels, finish


def _colour_values(adata: ad.AnnData, color: str) -> pd.Series:
    """The values to colour the observed cells by: an ``obs`` column, else a gene of ``var_names``."""
    if color in adata.obs.columns:
        return adata.obs[color]
    if color in adata.var_names:
        return pd.Series(np.asarray(adata.obs_vector(color), dtype=np.float64), index=adata.obs_names, name=color)
    raise KeyError(f"color={color!r} is neither a column of adata.obs nor a gene of adata.var_names; "
                   f"obs columns: {list(adata.obs.columns)}")


def _is_categorical(values: pd.Series) -> bool:
    return isinstance(values.dtype, pd.CategoricalDtype) or not (
        pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype))


def trajectories(
    adata: ad.AnnData,
    sim: ad.AnnData,
    *,
    time_key: str,
    use_rep: str | None = None,
    basis: str | None = None,
    color: str | None = None,
    dims: Sequence[int] = (0, 1),
    n_trajectories: int = 50,
    n_neighbors: int = DEFAULT_NEIGHBORS,
    title: str | None = None,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | None = None,
    rng: RNGLike = 0,
) -> Axes:
    """Simulated trajectories drawn over the observed cells, in the model's representation or on an embedding.

    The observed cells of ``adata`` are scattered in two dimensions, coloured by their time point (with a
    colour bar) or by ``color``; ``n_trajectories`` trajectories of ``sim``, drawn at random without
    replacement, are overlaid as black lines through their states in time order.

    Without ``basis`` the plot is in two columns of the representation ``use_rep`` itself: the cells and
    the simulated states at their exact coordinates. This is also the way to draw on a linear embedding
    such as the first principal components (``use_rep="X_pca"``, ``dims=(0, 1)``). With ``basis`` (e.g.
    ``"umap"``) the cells are drawn at ``adata.obsm["X_umap"]``, and each simulated state at the barycentre
    of the embedding positions of the observed cells it is assigned to by
    :func:`cellbridge.neighbors.assign_to_cells` in ``use_rep``, the same kNN rule that maps simulated states
    onto cells for fates and transition matrices (see Notes).

    Parameters
    ----------
    adata
        The observed time course.
    sim
        The AnnData returned by :func:`cellbridge.tl.simulate`: one row per (trajectory, time), with
        ``obs["trajectory"]``, ``obs["time"]`` and the states in ``obsm[use_rep]``.
    time_key
        ``adata.obs`` column with the time of each observed cell (numbers, or labels such as ``"day3"``
        read as :func:`cellbridge.pp.prepare` reads them).
    use_rep
        Representation of the simulated states, in both ``adata.obsm`` and ``sim.obsm``; ``None`` reads the
        one the simulation used, ``sim.uns["cellbridge_simulation"]["use_rep"]``.
    basis
        Embedding to draw on, named as scanpy's ``basis``: an ``adata.obsm`` key (``"X_umap"``) or the name
        without ``X_`` (``"umap"``). ``None``: draw in ``use_rep`` itself. When the basis is ``use_rep``
        (``basis="pca"`` with ``use_rep="X_pca"``) the states keep their exact coordinates.
    color
        What colours the observed cells. ``None``: their time (a colour bar labelled ``time_key``). An
        ``adata.obs`` column: a categorical, string or boolean one colours by category with a legend, in
        the colours of ``adata.uns[f"{color}_colors"]`` when present (scanpy's convention), else a default
        palette; a numeric one with a colour bar labelled ``color``. A gene of ``adata.var_names``: its
        expression in ``adata.X``, with a colour bar. Missing values are drawn light grey.
    dims
        The two columns to plot (0-based): of the representation, or of the embedding with ``basis``.
    n_trajectories
        Number of trajectories to draw (all of them when ``sim`` has fewer).
    n_neighbors
        Observed cells each simulated state is spread over when it is mapped onto ``basis``
        (:func:`cellbridge.neighbors.assign_to_cells`); unused without ``basis``.
    title
        Title of the axes; default the number of trajectories and cells.
    ax
        Axes to draw into; a new figure is made when ``None``.
    show
        Call :func:`matplotlib.pyplot.show` when ``True``; nothing is shown otherwise (safe with the
        non-interactive ``Agg`` backend).
    save
        Path to write the figure to (format from the extension), or ``None``.
    rng
        Seed or generator that picks the trajectories.

    Returns
    -------
    matplotlib.axes.Axes
        The axes: the observed cells are its first collection (``gid`` ``"observed"``), the trajectories
        its lines, each with its trajectory id as ``gid``. Axis labels are scanpy's for an embedding
        (``UMAP1``, ``UMAP2``) and ``X_pca[0]``, ``X_pca[1]`` for a representation.

    Raises
    ------
    KeyError
        A missing representation, basis, time column or ``color`` (neither an ``obs`` column nor a gene),
        or a ``sim`` without the columns of :func:`cellbridge.tl.simulate`.
    ValueError
        ``use_rep=None`` without the simulation's record, ``dims`` out of range, ``sim`` in a
        representation of another width, an embedding with another number of rows than ``adata``, or a
        negative ``n_trajectories``.

    Notes
    -----
    The projection onto an embedding is barycentric: with :math:`W` the row-stochastic matrix of
    :func:`~cellbridge.neighbors.assign_to_cells` (reference: the observed cells in ``use_rep``; Gaussian
    weights over each state's ``n_neighbors`` nearest cells) and :math:`E` the cells' embedding
    coordinates, the states are drawn at :math:`W E`. A state that lies on an observed cell gives that
    cell the largest weight and is drawn near it, pulled towards the positions of its neighbours in
    ``use_rep`` (with the default bandwidth, one cell spacing, the cell itself may hold well under half the
    weight in a representation of several dimensions); ``n_neighbors=1`` snaps every state onto its
    nearest observed cell. A state between cells is drawn at a weighted mean of their positions. For a
    non-linear embedding such as UMAP this is an approximation: a state far from every cell is pulled onto
    the cells nearest to it, and neighbours in ``use_rep`` that the embedding puts far apart are averaged
    into a point between them.

    Examples
    --------
    >>> import cellbridge as cb
    >>> sim = cb.tl.simulate(adata, model)  # doctest: +SKIP
    >>> cb.pl.trajectories(adata, sim, time_key="day", basis="umap", color="cell_type")  # doctest: +SKIP
    """
    if use_rep is None:
        use_rep = sim.uns.get(SIMULATION, {}).get("use_rep")
        if use_rep is None:
            raise ValueError(
                f"use_rep=None but sim.uns[{SIMULATION!r}]['use_rep'] is missing: pass use_rep explicitly"
            )

    def rep(obj):  # "X" is the matrix itself (a model fitted in X simulates into X)
        m = obj.X if use_rep == "X" else obj.obsm[use_rep]
        if isinstance(m, pd.DataFrame):
            m = m.to_numpy()
        return np.asarray(m.toarray() if hasattr(m, "toarray") else m, dtype=np.float64)

    for name, obj in (("adata", adata), ("sim", sim)):
        if use_rep == "X" and obj.X is None:
            raise KeyError(f"{name}.X is empty")
        if use_rep != "X" and use_rep not in obj.obsm:
            raise KeyError(f"{name}.obsm has no {use_rep!r}; available: {list(obj.obsm.keys())}")
    if time_key not in adata.obs:
        raise KeyError(f"adata.obs has no column {time_key!r}")
    for col in (SIM_TRAJECTORY, SIM_TIME):
        if col not in sim.obs:
            raise KeyError(f"sim.obs has no column {col!r}: is it the output of cellbridge.tl.simulate?")
    if n_trajectories < 0:
        raise ValueError(f"n_trajectories must be non-negative, got {n_trajectories}")
    obs_rep, sim_rep = rep(adata), rep(sim)
    if sim_rep.shape[1] != obs_rep.shape[1]:
        raise ValueError(f"sim.obsm[{use_rep!r}] has {sim_rep.shape[1]} columns, adata's {obs_rep.shape[1]}")
    key = use_rep if basis is None else basis_key(adata, basis)
    values = colour = None
    if color is not None:
        colour = _colour_values(adata, color)  # checked before anything is drawn

    if basis is None or key == use_rep:
        dims = check_dims(dims, obs_rep.shape[1], key)
        obs_xy = obs_rep[:, list(dims)]
        project = None
    else:
        emb = adata.obsm[key]
        emb = np.asarray(emb.to_numpy() if isinstance(emb, pd.DataFrame) else emb, dtype=np.float64)
        if emb.ndim != 2 or emb.shape[0] != adata.n_obs:
            raise ValueError(f"adata.obsm[{key!r}] must have one row per cell, got shape {emb.shape}")
        dims = check_dims(dims, emb.shape[1], key)
        obs_xy = emb[:, list(dims)]
        project = obs_xy
    obs_t = parse_time(adata.obs[time_key], name=time_key)
    traj_ids = sim.obs[SIM_TRAJECTORY].to_numpy()
    sim_t = sim.obs[SIM_TIME].to_numpy(dtype=np.float64)

    unique_ids = pd.unique(traj_ids)
    n_draw = min(int(n_trajectories), unique_ids.size)
    chosen = as_numpy_rng(rng).choice(unique_ids.size, size=n_draw, replace=False)
    chosen_ids = unique_ids[np.sort(chosen)]
    drawn = np.isin(traj_ids, chosen_ids)
    sim_xy = np.full((sim.n_obs, 2), np.nan)
    if project is None:
        sim_xy[drawn] = sim_rep[drawn][:, list(dims)]
    elif drawn.any():  # only the drawn trajectories are projected
        weights = assign_to_cells(obs_rep, sim_rep[drawn], n_neighbors=n_neighbors)
        sim_xy[drawn] = weights @ project

    if ax is None:
        fig, ax = plt.subplots(figsize=(6.0, 5.0))
    else:
        fig = ax.figure
    style = dict(s=8, alpha=0.6, linewidths=0, rasterized=obs_xy.shape[0] > 5000, zorder=1, gid="observed")
    if colour is None:
        points = ax.scatter(obs_xy[:, 0], obs_xy[:, 1], c=obs_t, cmap="viridis", **style)
        fig.colorbar(points, ax=ax).set_label(time_key)
    elif _is_categorical(colour):
        cats = colour.astype("category")
        categories = list(cats.cat.categories)
        palette = category_colors(adata, color, categories)
        codes = cats.cat.codes.to_numpy()
        rgba = np.array([plt.matplotlib.colors.to_rgba(NA_COLOR)] * adata.n_obs)
        for i, c in enumerate(palette):
            rgba[codes == i] = plt.matplotlib.colors.to_rgba(c)
        ax.scatter(obs_xy[:, 0], obs_xy[:, 1], c=rgba, **style)
        handles = [Line2D([], [], marker="o", linestyle="", color=c, markersize=6, label=str(cat))
                   for cat, c in zip(categories, palette)]
        ax.legend(handles=handles, title=color, frameon=False, fontsize=8, title_fontsize=9,
                  loc="center left", bbox_to_anchor=(1.0, 0.5))
    else:
        values = colour.to_numpy(dtype=np.float64)
        cmap = plt.get_cmap("viridis").with_extremes(bad=NA_COLOR)
        points = ax.scatter(obs_xy[:, 0], obs_xy[:, 1], c=values, cmap=cmap, plotnonfinite=True, **style)
        fig.colorbar(points, ax=ax).set_label(color)
    for tid in chosen_ids:
        rows = np.flatnonzero(traj_ids == tid)
        rows = rows[np.argsort(sim_t[rows], kind="stable")]
        ax.plot(sim_xy[rows, 0], sim_xy[rows, 1], color="black", alpha=0.5, linewidth=0.8, gid=str(tid), zorder=2)
    xlabel, ylabel = component_labels(key, dims, basis=basis is not None)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is None:
        title = f"{n_draw} simulated trajectories over {adata.n_obs} observed cells"
    ax.set_title(title)
    finish(fig, save=save, show=show, what="trajectories")
    return ax
