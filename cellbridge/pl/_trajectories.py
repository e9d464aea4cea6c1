"""Simulated trajectories over the observed cells."""

from __future__ import annotations

from collections.abc import Sequence

import anndata as ad
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from .._keys import SIM_TIME, SIM_TRAJECTORY, SIMULATION
from .._logging import logger
from .._utils import RNGLike, as_numpy_rng
from ..time_labels import parse_time


def trajectories(
    adata: ad.AnnData,
    sim: ad.AnnData,
    *,
    time_key: str,
    use_rep: str | None = None,
    dims: Sequence[int] = (0, 1),
    n_trajectories: int = 50,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | None = None,
    rng: RNGLike = 0,
) -> Axes:
    """Simulated trajectories drawn over the observed cells.

    The observed cells of ``adata`` are scattered in two dimensions of ``adata.obsm[use_rep]`` and
    coloured by their time point (with a colour bar); ``n_trajectories`` trajectories of ``sim``, drawn at
    random without replacement, are overlaid as lines through their states in time order.

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
        Representation to plot, in both ``adata.obsm`` and ``sim.obsm``; ``None`` reads the one the
        simulation used, ``sim.uns["cellbridge_simulation"]["use_rep"]``.
    dims
        The two columns of the representation to plot (0-based).
    n_trajectories
        Number of trajectories to draw (all of them when ``sim`` has fewer).
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
        The axes: the observed cells are its first collection, the trajectories its lines, each with its
        trajectory id as ``gid``.
    """
    if use_rep is None:
        use_rep = sim.uns.get(SIMULATION, {}).get("use_rep")
        if use_rep is None:
            raise ValueError(
                f"use_rep=None but sim.uns[{SIMULATION!r}]['use_rep'] is missing: pass use_rep explicitly"
            )
    def rep(obj):  # "X" is the matrix itself (a model fitted in X simulates into X)
        m = obj.X if use_rep == "X" else obj.obsm[use_rep]
        return np.asarray(m.toarray() if hasattr(m, "toarray") else m)

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
    dims = tuple(int(d) for d in dims)
    if len(dims) != 2:
        raise ValueError(f"dims must name two columns, got {dims}")
    n_cols = rep(adata).shape[1]
    if any(d < 0 or d >= n_cols for d in dims) or rep(sim).shape[1] != n_cols:
        raise ValueError(f"dims {dims} out of range for {use_rep!r} with {n_cols} columns (or sim differs)")
    if n_trajectories < 0:
        raise ValueError(f"n_trajectories must be non-negative, got {n_trajectories}")

    obs_xy = rep(adata)[:, dims]
    obs_t = parse_time(adata.obs[time_key], name=time_key)
    sim_xy = rep(sim)[:, dims]
    traj_ids = sim.obs[SIM_TRAJECTORY].to_numpy()
    sim_t = sim.obs[SIM_TIME].to_numpy(dtype=np.float64)

    unique_ids = pd.unique(traj_ids)
    n_draw = min(int(n_trajectories), unique_ids.size)
    chosen = as_numpy_rng(rng).choice(unique_ids.size, size=n_draw, replace=False)
    chosen_ids = unique_ids[np.sort(chosen)]

    if ax is None:
        fig, ax = plt.subplots(figsize=(6.0, 5.0))
    else:
        fig = ax.figure
    points = ax.scatter(
        obs_xy[:, 0],
        obs_xy[:, 1],
        c=obs_t,
        cmap="viridis",
        s=8,
        alpha=0.6,
        linewidths=0,
        rasterized=obs_xy.shape[0] > 5000,
        zorder=1,
    )
    cbar = fig.colorbar(points, ax=ax)
    cbar.set_label(time_key)
    for tid in chosen_ids:
        rows = np.flatnonzero(traj_ids == tid)
        rows = rows[np.argsort(sim_t[rows], kind="stable")]
        ax.plot(sim_xy[rows, 0], sim_xy[rows, 1], color="black", alpha=0.5, linewidth=0.8, gid=str(tid), zorder=2)
    ax.set_xlabel(f"{use_rep}[{dims[0]}]")
    ax.set_ylabel(f"{use_rep}[{dims[1]}]")
    ax.set_title(f"{n_draw} simulated trajectories over {adata.n_obs} observed cells")

    if save is not None:
        fig.savefig(save, dpi=150, bbox_inches="tight")
        logger.info(f"trajectories: saved figure to {save}")
    if show:
        plt.show()
    return ax
