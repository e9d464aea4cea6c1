"""``cellbridge.pp.refine_time``: finer time points from each cell's progress within its snapshot."""

from __future__ import annotations

import numpy as np
from anndata import AnnData

from .._keys import PROGRESS, TIME_REFINED
from .._logging import logger
from ..time_labels import parse_time_labels
from ..timecourse import check_anndata, get_rep
from ..ot.progress import check_n_sub, refine_time_points, snapshot_progress

__all__ = ["refine_time"]


def refine_time(
    adata: AnnData,
    time_key: str,
    n_sub: int = 3,
    *,
    use_rep: str = "X_pca",
    key_added: str = TIME_REFINED,
    progress_key: str = PROGRESS,
    copy: bool = False,
) -> AnnData | None:
    """Split each snapshot into ``n_sub`` finer time points by where its cells sit between the neighbours.

    Each cell is scored by how far it lies ahead of its snapshot's mean along its own direction of motion,
    from its exact-OT images in the previous and the next snapshot
    (:func:`cellbridge.ot.progress.snapshot_progress`); each snapshot is then cut into ``n_sub``
    equally filled sub-snapshots by that order (:func:`cellbridge.ot.progress.refine_time_points`), placed
    evenly around the original time. Fit on the refined column (``cb.tl.fit(adata, time_key=key_added)``)
    or difference it when a method's resolution in time matters more than the snapshot labels.

    Why: coarse snapshots mix early and late cells, and a velocity read from consecutive snapshots averages
    over a long stretch of each trajectory; refining lifts the gene networks that OT-matched velocities
    recover on the BEELINE BoolODE networks well above the coarse snapshots' (``benchmarks/results/grn.md``).
    The default ``n_sub=3`` is a compromise between resolution in time and cells per sub-snapshot for the
    couplings, which matters in small data sets (the grid of ``n_sub``: ``benchmarks/results/defaults.md``).

    Parameters
    ----------
    adata
        Annotated data matrix with a time column.
    time_key
        ``obs`` column of the snapshot times (numbers, or labels such as ``"day2"``; see
        :func:`cellbridge.pp.prepare`).
    n_sub
        Sub-snapshots per snapshot; 1 copies the numeric time.
    use_rep
        Representation the couplings are computed in: ``"X"`` or a key of ``adata.obsm``.
    key_added
        ``obs`` column receiving the refined times (float, in the units of ``time_key``).
    progress_key
        ``obs`` column receiving each cell's progress score (comparable within a snapshot only).
    copy
        Return a modified copy instead of writing into ``adata``.

    Returns
    -------
    AnnData or None
        The copy if ``copy=True``; otherwise None, and ``adata.obs`` gains ``key_added`` and ``progress_key``.

    Examples
    --------
    >>> import cellbridge as cb
    >>> adata, truth = cb.datasets.read_beeline("dyn-LI-1000-1", n_time_bins=5)  # doctest: +SKIP
    >>> cb.pp.refine_time(adata, "time", n_sub=3, use_rep="X")  # doctest: +SKIP
    >>> model = cb.tl.fit(adata, "cellbridge_time_refined", use_rep="X")  # doctest: +SKIP
    """
    check_anndata(adata)
    if not isinstance(time_key, str) or time_key not in adata.obs.columns:
        raise ValueError(f"time_key {time_key!r} is not a column of adata.obs (available: {list(adata.obs.columns)})")
    for name, key in (("key_added", key_added), ("progress_key", progress_key)):
        if not isinstance(key, str) or not key:
            raise ValueError(f"{name} must be a non-empty string, got {key!r}")
    if key_added == progress_key:
        raise ValueError("key_added and progress_key must differ")
    times, _ = parse_time_labels(adata.obs[time_key], name=time_key)
    check_n_sub(times, n_sub)  # before the couplings, which are the expensive part
    x = get_rep(adata, use_rep)
    # compute everything before writing anything
    progress = snapshot_progress(x, times)
    refined = refine_time_points(times, progress, n_sub)
    if copy:
        adata = adata.copy()
    adata.obs[key_added] = refined
    adata.obs[progress_key] = progress
    n_points = len(np.unique(times))
    sizes = np.unique(refined, return_counts=True)[1]
    logger.info(f"refined {n_points} time points into {n_points * n_sub} ({n_sub} per snapshot, "
                f"{sizes.min()}-{sizes.max()} cells each); added obs[{key_added!r}], obs[{progress_key!r}]")
    return adata if copy else None
