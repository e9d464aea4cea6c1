"""``cellbridge.pp.prepare``: numeric time and a representation to fit in."""

from __future__ import annotations

import numpy as np
import pandas as pd
from anndata import AnnData

from .._keys import DEFAULT_REP, PCA_LOADINGS, PREPARE_KEY, TIME_NUMERIC
from .._logging import logger
from ..time_labels import parse_time_labels
from ..timecourse import check_anndata, check_matrix, get_rep

__all__ = ["prepare"]


def _pca(adata: AnnData, n_comps: int, rng: int | None) -> AnnData:
    """Run :func:`scanpy.pp.pca` on a light AnnData that shares ``X`` with ``adata`` (not modified)."""
    import scanpy as sc

    var = pd.DataFrame(index=adata.var_names.copy())
    if "highly_variable" in adata.var.columns:
        # keep scanpy's default of restricting PCA to highly variable genes when they are marked
        var["highly_variable"] = adata.var["highly_variable"].to_numpy()
    tmp = AnnData(X=adata.X, obs=pd.DataFrame(index=adata.obs_names.copy()), var=var)
    try:
        sc.pp.pca(tmp, n_comps=n_comps, random_state=rng)
    except (ValueError, ArithmeticError, RuntimeError, np.linalg.LinAlgError) as err:
        # e.g. ARPACK failing on a constant matrix; say where it came from
        raise ValueError(
            f"PCA of adata.X failed ({type(err).__name__}: {err}); check that X varies across cells, "
            "or compute a representation yourself and pass use_rep="
        ) from err
    return tmp


def prepare(
    adata: AnnData,
    time_key: str,
    use_rep: str = DEFAULT_REP,
    *,
    n_comps: int = 50,
    rng: int | None = 0,
    copy: bool = False,
) -> AnnData | None:
    """Prepare a time course for :func:`cellbridge.tl.fit`: numeric time and a representation.

    Parses ``adata.obs[time_key]`` into numbers (see :func:`cellbridge.time_labels.parse_time`:
    ``"day3"`` -> 3, ``"D2.5"`` -> 2.5, ordered categoricals by their order) and, when
    ``use_rep="X_pca"`` is absent, computes PCA with :func:`scanpy.pp.pca`. Everything is validated
    before anything is written, so a failure leaves ``adata`` as it was.

    Parameters
    ----------
    adata : anndata.AnnData
        Annotated data matrix, cells x genes (typically normalized and log-transformed).
    time_key : str
        Column of ``adata.obs`` with each cell's time point.
    use_rep : str
        Representation the model will be fitted in: ``"X_pca"`` (computed here when absent), another
        key of ``adata.obsm`` (must exist), or ``"X"``.
    n_comps : int
        Number of principal components when PCA is computed; capped at ``min(n_obs, n_vars) - 1``.
        An existing ``obsm["X_pca"]`` is used as it is.
    rng : int or None
        Seed of the PCA solver (``random_state`` of :func:`scanpy.pp.pca`).
    copy : bool
        Return a modified copy instead of writing to ``adata``.

    Returns
    -------
    anndata.AnnData or None
        The modified copy if ``copy=True``, else ``None``. Sets the following fields:

        ``adata.obs['cellbridge_time']`` : :class:`pandas.Series` (dtype ``float``)
            Numeric time of every cell.
        ``adata.obsm['X_pca']`` : :class:`numpy.ndarray`, ``adata.varm['PCs']``, ``adata.uns['pca']``
            Only when PCA is computed here, as by :func:`scanpy.pp.pca`.
        ``adata.uns['cellbridge_prepare']`` : :class:`dict`
            ``"params"`` (``time_key``, ``use_rep``, ``n_comps``), ``"time_points"`` (sorted float
            array) and ``"labels"`` (the original label of each time point, in time order).

    Raises
    ------
    TypeError
        ``adata`` is not an AnnData.
    ValueError
        ``time_key`` is missing or its values cannot be parsed, ``use_rep`` is absent (other than
        ``"X_pca"``), or the data holds NaN, infinite or float32-overflowing values.

    Examples
    --------
    >>> import cellbridge as cb
    >>> import scanpy as sc
    >>> adata = sc.read_h5ad("timecourse.h5ad")  # doctest: +SKIP
    >>> adata.obs["day"].unique()  # doctest: +SKIP
    ['day0', 'day2', 'day4']
    >>> cb.pp.prepare(adata, time_key="day", n_comps=30)  # doctest: +SKIP
    cellbridge: added obs['cellbridge_time'] (numeric time), obsm['X_pca'] (30 PCs), uns['cellbridge_prepare']
    >>> adata.uns["cellbridge_prepare"]["time_points"]  # doctest: +SKIP
    array([0., 2., 4.])
    """
    # ---- validate everything before writing anything ----------------------------------------------
    check_anndata(adata)
    if not isinstance(time_key, str):
        raise TypeError(f"time_key must be a string, not {type(time_key).__name__}")
    if not isinstance(use_rep, str):
        raise TypeError(f"use_rep must be a string ('X' or a key of adata.obsm), not {type(use_rep).__name__}")
    if isinstance(n_comps, (bool, np.bool_)) or not isinstance(n_comps, (int, np.integer)) or n_comps < 1:
        raise ValueError(f"n_comps must be an integer >= 1, got {n_comps!r}")
    if rng is not None and (isinstance(rng, (bool, np.bool_)) or not isinstance(rng, (int, np.integer))):
        raise TypeError(f"rng must be an int seed or None, not {type(rng).__name__}")
    if time_key not in adata.obs.columns:
        raise ValueError(
            f"time_key {time_key!r} is not a column of adata.obs (available: {list(adata.obs.columns)})"
        )
    times, labels = parse_time_labels(adata.obs[time_key], name=time_key)
    time_points = np.unique(times).astype(np.float64)
    if time_points.size < 2:
        logger.warning(
            f"adata.obs[{time_key!r}] has only {time_points.size} time point(s); fitting dynamics needs at least 2"
        )

    pca_result: AnnData | None = None
    if use_rep == DEFAULT_REP and DEFAULT_REP not in adata.obsm:
        if adata.X is None:
            raise ValueError("adata.X is empty (None); PCA cannot be computed")
        check_matrix(adata.X, "adata.X")  # NaN / inf / overflow, without densifying a sparse X
        n_pcs = int(min(n_comps, adata.n_obs - 1, adata.n_vars - 1))
        if n_pcs < 1:
            raise ValueError(
                f"PCA needs at least 2 cells and 2 genes, got {adata.n_obs} x {adata.n_vars}"
            )
        pca_result = _pca(adata, n_pcs, None if rng is None else int(rng))
        get_rep(pca_result, DEFAULT_REP)  # a constant X gives NaN components: fail before writing
        n_dims = pca_result.obsm[DEFAULT_REP].shape[1]
    elif use_rep == "X":
        if adata.X is None:
            raise ValueError("adata.X is empty (None); pass use_rep= a key of adata.obsm instead")
        n_dims = check_matrix(adata.X, "adata.X").shape[1]
    elif use_rep in adata.obsm:
        n_dims = check_matrix(adata.obsm[use_rep], f"adata.obsm[{use_rep!r}]").shape[1]
    else:
        raise ValueError(
            f"adata.obsm has no key {use_rep!r} (available: {list(adata.obsm.keys()) or 'none'}); compute it "
            f"first, or use use_rep='X_pca' to have prepare compute PCA, or use_rep='X'"
        )

    # ---- write ------------------------------------------------------------------------------------
    if copy:
        adata = adata.copy()
    adata.obs[TIME_NUMERIC] = times
    added = [f"obs[{TIME_NUMERIC!r}] (numeric time)"]
    if pca_result is not None:
        adata.obsm[DEFAULT_REP] = pca_result.obsm[DEFAULT_REP]
        adata.varm[PCA_LOADINGS] = pca_result.varm[PCA_LOADINGS]
        adata.uns["pca"] = pca_result.uns["pca"]
        added.append(f"obsm[{DEFAULT_REP!r}] ({n_dims} PCs)")
    adata.uns[PREPARE_KEY] = {
        "params": {"time_key": time_key, "use_rep": use_rep, "n_comps": int(n_comps)},
        "time_points": time_points,
        "labels": [labels[float(tp)] for tp in time_points],
    }
    added.append(f"uns[{PREPARE_KEY!r}]")
    message = "added " + ", ".join(added)
    if pca_result is None:
        where = "adata.X" if use_rep == "X" else f"obsm[{use_rep!r}]"
        message += f"; fitting in existing {where} ({n_dims} dims)"
    logger.info(message)
    return adata if copy else None
