"""Public single-cell time courses as AnnData, read from local copies or downloaded and verified.

No data file ships with cellbridge. Each loader resolves its file through
:func:`cellbridge.datasets._fetch.fetch`: ``path=`` (an explicit file) wins; otherwise the file is looked
up at its registry path (e.g. ``timecourse/tigon/EMT.npy``) under ``data_dir=`` or
``$CELLBRIDGE_DATA_DIR``, then in the cache (``$CELLBRIDGE_CACHE`` or ``~/.cache/cellbridge``), and
finally downloaded into the cache when ``download=True``. Files are checked against their SHA-256
(``verify=True``); a mismatch raises :class:`ValueError`, a missing file a :class:`FileNotFoundError`
that says where to put it.

Conventions (the same for every loader)
---------------------------------------
``X``
    The data as published: the low-dimensional coordinates for embedded sets (TIGON, embryoid body;
    float32), the expression matrix for expression sets (moscot, HSMM, CITE-seq, Multiome).
``obsm["X_pca"]``
    Present exactly when the published data hold principal components (embryoid body, CITE-seq,
    Multiome). The TIGON coordinates are *not* PCs (an autoencoder latent for EMT), so they are not
    stored under ``"X_pca"``: fit them with ``use_rep="X"``. For moscot and HSMM,
    :func:`cellbridge.pp.prepare` computes PCA.
``uns["dataset"]["use_rep"]``
    The representation to fit in: ``cb.tl.fit(adata, time_key="day", use_rep=adata.uns["dataset"]
    ["use_rep"])``.
``obs["day"]``
    Time as a float, in days where the source gives real days (EMT: 0, 1/3, 1, 3, 7; moscot: 10, 10.5,
    11; HSMM: hours / 24; embryoid body: first day of each collection window; CITE-seq / Multiome: 2, 3,
    4, 7). Where the source gives only an order (TIGON iPSC bifurcation and simulation) it is the index.
``obs["time_index"]``
    The time point's rank, int 0..K-1 (the leave-one-time-point-out protocols of the literature use it
    as time).
``obs["time_label"]``
    Ordered categorical with the source's labels (``"8h"``, ``"Day 06-09"``, ...), or the index / day
    as a string where the source has none.
``uns["dataset"]``
    ``name``, ``file``, ``url``, ``license``, ``citation``, ``description``, ``use_rep`` (strings, so
    the object writes to ``.h5ad``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import anndata as ad
import numpy as np
import pandas as pd

from .._logging import logger
from ._fetch import fetch
from ._registry import RemoteFile, get

__all__ = [
    "ipsc_bifurcation",
    "emt",
    "tigon_simulation",
    "moscot_reprogramming",
    "hsmm",
    "embryoid_body",
    "citeseq",
    "multiome",
]

PathLike = str | os.PathLike[str]

_CITE_TIGON = (
    "Sha, Y., Qiu, Y., Zhou, P., Nie, Q. Reconstructing growth and dynamic trajectories from single-cell "
    "transcriptomics data. Nature Machine Intelligence 6, 25-39 (2024)"
)
_CITE_BARGAJE = (
    "Bargaje, R. et al. Cell population structure prior to bifurcation predicts efficiency of directed "
    "differentiation in human induced pluripotent cells. PNAS 114, 2271-2276 (2017)"
)
_CITE_COOK = (
    "Cook, D. P., Vanderhyden, B. C. Context specificity of the EMT transcriptional response. "
    "Nature Communications 11, 2142 (2020)"
)
_CITE_SCHIEBINGER = (
    "Schiebinger, G. et al. Optimal-transport analysis of single-cell gene expression identifies "
    "developmental trajectories in reprogramming. Cell 176, 928-943 (2019); Klein, D. et al. Mapping cells "
    "through time and space with moscot. Nature (2025)"
)
_CITE_TRAPNELL = (
    "Trapnell, C. et al. The dynamics and regulators of cell fate decisions are revealed by "
    "pseudotemporal ordering of single cells. Nature Biotechnology 32, 381-386 (2014)"
)
_CITE_EB = (
    "Moon, K. R. et al. Visualizing structure and transitions in high-dimensional biological data. "
    "Nature Biotechnology 37, 1482-1492 (2019); Tong, A. et al. TrajectoryNet: a dynamic optimal "
    "transport network for modeling cellular dynamics. ICML (2020)"
)
_CITE_OPENPROBLEMS = (
    "Open Problems in Single-Cell Analysis: Multimodal Single-Cell Integration competition (NeurIPS 2022), "
    "https://www.kaggle.com/competitions/open-problems-multimodal; subset as in Tong, A. et al. "
    "Simulation-free Schrodinger bridges via score and flow matching. AISTATS (2024)"
)

#: labels and window start (days) of the five embryoid body time points
_EB_LABELS = ("Day 00-03", "Day 06-09", "Day 12-15", "Day 18-21", "Day 24-27")
_EB_DAYS = (0.0, 6.0, 12.0, 18.0, 24.0)


# --------------------------------------------------------------------------------------------------
# helpers


def _fmt(value: float) -> str:
    return f"{value:g}"


def _uns_record(entry: RemoteFile, citation: str, use_rep: str) -> dict[str, str]:
    return {
        "name": entry.name,
        "file": entry.relpath,
        "url": entry.url,
        "license": entry.license,
        "citation": citation,
        "description": entry.description,
        "use_rep": use_rep,
    }


def _time_columns(day: np.ndarray, labels: Sequence[str] | None = None) -> pd.DataFrame:
    """``day`` (float), ``time_index`` (rank of the day) and ``time_label`` (ordered categorical).

    ``labels`` gives one label per distinct day, in increasing order of day; by default ``f"{day:g}"``.
    """
    day = np.asarray(day, dtype=np.float64)
    if not np.all(np.isfinite(day)):
        raise ValueError("the time column holds missing or non-finite values")
    uniq, index = np.unique(day, return_inverse=True)
    if labels is None:
        labels = [_fmt(d) for d in uniq]
    if len(labels) != uniq.size:
        raise ValueError(f"{len(labels)} time labels for {uniq.size} time points")
    cats = list(labels)
    return pd.DataFrame(
        {
            "day": day,
            "time_index": index.astype(np.int64),
            "time_label": pd.Categorical.from_codes(index, categories=cats, ordered=True),
        }
    )


def _load_tigon(file: os.PathLike[str], n_times: int, dim: int, what: str) -> list[np.ndarray]:
    """The per-time-point arrays of a TIGON ``.npy`` (a (1, K) object array of (n_k, dim) arrays)."""
    # TIGON stores an object array, which needs pickle; the file has been checked against its SHA-256
    # unless the caller turned verification off.
    raw = np.load(file, allow_pickle=True)
    try:
        blocks = [np.asarray(b, dtype=np.float64) for b in raw[0]]
    except (IndexError, TypeError, ValueError) as err:
        raise ValueError(
            f"{what}: {file} does not have TIGON's layout (np.load(f, allow_pickle=True)[0] should be a "
            f"sequence of {n_times} arrays of shape (n_cells, {dim}))"
        ) from err
    shapes = [b.shape for b in blocks]
    if len(blocks) != n_times or any(len(s) != 2 or s[1] != dim for s in shapes):
        raise ValueError(
            f"{what}: expected {n_times} arrays of shape (n_cells, {dim}) in {file}, got shapes {shapes}"
        )
    return blocks


def _tigon_anndata(
    blocks: list[np.ndarray], days: Sequence[float], labels: Sequence[str], entry: RemoteFile, citation: str
) -> ad.AnnData:
    x = np.concatenate(blocks, axis=0).astype(np.float32)
    group = np.repeat(np.arange(len(blocks)), [b.shape[0] for b in blocks])
    obs = _time_columns(np.asarray(days, dtype=np.float64)[group], labels)
    obs.index = pd.Index([f"cell_{i}" for i in range(x.shape[0])])
    adata = ad.AnnData(X=x, obs=obs)
    adata.var_names = [f"dim_{j}" for j in range(x.shape[1])]
    adata.uns["dataset"] = _uns_record(entry, citation, use_rep="X")
    return adata


def _log_loaded(fn: str, adata: ad.AnnData, path: os.PathLike[str]) -> None:
    counts = adata.obs["time_label"].value_counts(sort=False)
    per_time = ", ".join(f"{k}: {v}" for k, v in counts.items())
    logger.info(
        f"{fn}: {adata.n_obs} cells x {adata.n_vars} variables from {path} ({per_time}); "
        f"obs['day'], obs['time_index'], obs['time_label'], uns['dataset']; "
        f"fit with use_rep={adata.uns['dataset']['use_rep']!r}"
    )


# --------------------------------------------------------------------------------------------------
# TIGON


def ipsc_bifurcation(
    path: PathLike | None = None,
    *,
    data_dir: PathLike | None = None,
    download: bool = True,
    verify: bool = True,
) -> ad.AnnData:
    """iPSC to cardiomyocyte differentiation: a bifurcating time course in 4 dimensions (TIGON).

    Single-cell qPCR of human induced pluripotent stem cells directed towards cardiomyocytes
    (Bargaje et al. 2017), as reduced to 4 dimensions and distributed by TIGON (``Input/Bifurcation.npy``).
    The population splits into two branches part-way through the course.

    Parameters
    ----------
    path
        The ``Bifurcation.npy`` file; when given, nothing else is searched.
    data_dir
        Directory holding ``timecourse/tigon/Bifurcation.npy`` (default: ``$CELLBRIDGE_DATA_DIR``,
        then the cache).
    download
        Download the file into the cache when it is not found.
    verify
        Check the file's SHA-256.

    Returns
    -------
    anndata.AnnData
        1896 cells x 4 dimensions:

        - ``X``: the coordinates (float32), ``var_names`` ``dim_0`` .. ``dim_3``; fit with
          ``use_rep="X"``;
        - ``obs["day"]``: the time point's index 0 .. 7 as a float (the file carries no sampling days),
          ``obs["time_index"]`` the same as int, ``obs["time_label"]`` ``"0"`` .. ``"7"``;
        - cells per time point: 231, 166, 93, 211, 122, 258, 456, 359;
        - ``uns["dataset"]``: origin, license, citation.

    Raises
    ------
    FileNotFoundError
        The file is not available locally and could not be downloaded (the message says where to put it).
    ValueError
        Checksum mismatch, or a file without TIGON's layout.

    Notes
    -----
    Origin: https://github.com/yutongo/TIGON, ``Input/Bifurcation.npy`` (MIT license).
    ``np.load(f, allow_pickle=True)[0]`` is a sequence of 8 arrays of shape (n_t, 4). Loading a pickled
    array runs code from the file, which is why it is verified against its SHA-256 first.

    References
    ----------
    Bargaje, R. et al. PNAS 114, 2271-2276 (2017). Sha, Y. et al. (TIGON). Nature Machine Intelligence
    6, 25-39 (2024).
    """
    entry = get("tigon_bifurcation")
    file = fetch(entry, path, data_dir=data_dir, download=download, verify=verify)
    blocks = _load_tigon(file, n_times=8, dim=4, what="ipsc_bifurcation")
    adata = _tigon_anndata(
        blocks,
        days=np.arange(8, dtype=np.float64),
        labels=[str(k) for k in range(8)],
        entry=entry,
        citation=f"{_CITE_BARGAJE}; {_CITE_TIGON}",
    )
    _log_loaded("ipsc_bifurcation", adata, file)
    return adata


def emt(
    path: PathLike | None = None,
    *,
    data_dir: PathLike | None = None,
    download: bool = True,
    verify: bool = True,
) -> ad.AnnData:
    """A549 epithelial-mesenchymal transition under TGF-beta in a 3-D latent space (TIGON).

    Single-cell RNA-seq of A549 lung cancer cells treated with TGF-beta1 (Cook & Vanderhyden 2020),
    embedded by TIGON's autoencoder in 3 dimensions and distributed as ``Input/EMT.npy``.

    Parameters
    ----------
    path
        The ``EMT.npy`` file; when given, nothing else is searched.
    data_dir
        Directory holding ``timecourse/tigon/EMT.npy`` (default: ``$CELLBRIDGE_DATA_DIR``, then the cache).
    download
        Download the file into the cache when it is not found.
    verify
        Check the file's SHA-256.

    Returns
    -------
    anndata.AnnData
        3133 cells x 3 dimensions:

        - ``X``: the autoencoder coordinates (float32), ``var_names`` ``dim_0`` .. ``dim_2``; fit with
          ``use_rep="X"``;
        - ``obs["day"]``: 0, 1/3, 1, 3, 7 (days), ``obs["time_index"]`` 0 .. 4, ``obs["time_label"]``
          ``"0d"``, ``"8h"``, ``"1d"``, ``"3d"``, ``"7d"``;
        - cells per time point: 577, 885, 788, 754, 129;
        - ``uns["dataset"]``: origin, license, citation.

    Raises
    ------
    FileNotFoundError
        The file is not available locally and could not be downloaded (the message says where to put it).
    ValueError
        Checksum mismatch, or a file without TIGON's layout.

    Notes
    -----
    Origin: https://github.com/yutongo/TIGON, ``Input/EMT.npy`` (MIT license). TIGON's
    ``EMT_data/AE_EMT_time.csv`` (registered as ``tigon_emt_time``) gives the time label of each of the
    3133 cells by barcode; its counts per label are the ones above, which fixes the order of the time
    points in ``EMT.npy``. It is not needed here.

    References
    ----------
    Cook, D. P., Vanderhyden, B. C. Nature Communications 11, 2142 (2020). Sha, Y. et al. (TIGON).
    Nature Machine Intelligence 6, 25-39 (2024).
    """
    entry = get("tigon_emt")
    file = fetch(entry, path, data_dir=data_dir, download=download, verify=verify)
    blocks = _load_tigon(file, n_times=5, dim=3, what="emt")
    adata = _tigon_anndata(
        blocks,
        days=[0.0, 1.0 / 3.0, 1.0, 3.0, 7.0],
        labels=["0d", "8h", "1d", "3d", "7d"],
        entry=entry,
        citation=f"{_CITE_COOK}; {_CITE_TIGON}",
    )
    _log_loaded("emt", adata, file)
    return adata


def tigon_simulation(
    path: PathLike | None = None,
    *,
    data_dir: PathLike | None = None,
    download: bool = True,
    verify: bool = True,
) -> ad.AnnData:
    """TIGON's synthetic 3-D time course with growth (5 time points).

    Parameters
    ----------
    path
        The ``Simulation.npy`` file; when given, nothing else is searched.
    data_dir
        Directory holding ``timecourse/tigon/Simulation.npy`` (default: ``$CELLBRIDGE_DATA_DIR``, then the
        cache).
    download
        Download the file into the cache when it is not found.
    verify
        Check the file's SHA-256.

    Returns
    -------
    anndata.AnnData
        2947 cells x 3 dimensions:

        - ``X``: the coordinates (float32), ``var_names`` ``dim_0`` .. ``dim_2``; fit with ``use_rep="X"``;
        - ``obs["day"]``: the time point's index 0 .. 4 as a float, ``obs["time_index"]`` the same as int,
          ``obs["time_label"]`` ``"0"`` .. ``"4"``;
        - cells per time point: 400, 433, 518, 682, 914 (the population grows);
        - ``uns["dataset"]``: origin, license, citation.

    Raises
    ------
    FileNotFoundError
        The file is not available locally and could not be downloaded (the message says where to put it).
    ValueError
        Checksum mismatch, or a file without TIGON's layout.

    Notes
    -----
    Origin: https://github.com/yutongo/TIGON, ``Input/Simulation.npy`` (MIT license).

    References
    ----------
    Sha, Y. et al. (TIGON). Nature Machine Intelligence 6, 25-39 (2024).
    """
    entry = get("tigon_simulation")
    file = fetch(entry, path, data_dir=data_dir, download=download, verify=verify)
    blocks = _load_tigon(file, n_times=5, dim=3, what="tigon_simulation")
    adata = _tigon_anndata(
        blocks,
        days=np.arange(5, dtype=np.float64),
        labels=[str(k) for k in range(5)],
        entry=entry,
        citation=_CITE_TIGON,
    )
    _log_loaded("tigon_simulation", adata, file)
    return adata


# --------------------------------------------------------------------------------------------------
# expression sets (.h5ad)


def _numeric_column(adata: ad.AnnData, key: str, what: str) -> np.ndarray:
    if key not in adata.obs.columns:
        raise ValueError(f"{what}: the file has no obs[{key!r}] (columns: {list(adata.obs.columns)})")
    col = adata.obs[key]
    if isinstance(col.dtype, pd.CategoricalDtype):
        col = col.astype(object)
    values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{what}: obs[{key!r}] holds values that are not numbers")
    return values


def _set_time_columns(adata: ad.AnnData, day: np.ndarray, labels: Sequence[str] | None = None) -> None:
    cols = _time_columns(day, labels)
    cols.index = adata.obs_names
    for c in cols.columns:
        adata.obs[c] = cols[c]


def moscot_reprogramming(
    path: PathLike | None = None,
    *,
    data_dir: PathLike | None = None,
    download: bool = True,
    verify: bool = True,
) -> ad.AnnData:
    """Subset of the Schiebinger et al. 2019 reprogramming time course (moscot's test data).

    250 mouse embryonic fibroblasts reprogramming towards iPSCs at days 10, 10.5 and 11, 1479 genes. It is
    small: meant for format and integration tests, not for biological conclusions.

    Parameters
    ----------
    path
        The ``moscot_temporal_tests.h5ad`` file; when given, nothing else is searched.
    data_dir
        Directory holding ``timecourse/moscot/moscot_temporal_tests.h5ad`` (default:
        ``$CELLBRIDGE_DATA_DIR``, then the cache).
    download
        Download the file into the cache when it is not found.
    verify
        Check the file's SHA-256.

    Returns
    -------
    anndata.AnnData
        250 cells x 1479 genes, as in the file (``X`` sparse, normalised and log-transformed; ``obs``
        ``cell_type``, ``batch``; moscot's reference results in ``uns``), plus:

        - ``obs["day"]``: 10.0, 10.5, 11.0 (float; categorical in the file), ``obs["time_index"]`` 0 .. 2,
          ``obs["time_label"]`` ``"10"``, ``"10.5"``, ``"11"``;
        - cells per time point: 85, 81, 84;
        - ``uns["dataset"]``: origin, license, citation; ``use_rep`` is ``"X_pca"``, computed by
          :func:`cellbridge.pp.prepare`.

    Raises
    ------
    FileNotFoundError
        The file is not available locally and could not be downloaded (the message says where to put it).
    ValueError
        Checksum mismatch, or a file without ``obs["day"]``.

    Notes
    -----
    Origin: https://github.com/theislab/moscot, ``tests/data/moscot_temporal_tests.h5ad`` (BSD-3-Clause).
    The file has changed over moscot's history; the registered checksum is that of the project's copy.

    References
    ----------
    Schiebinger, G. et al. Cell 176, 928-943 (2019). Klein, D. et al. (moscot). Nature (2025).
    """
    entry = get("moscot_temporal")
    file = fetch(entry, path, data_dir=data_dir, download=download, verify=verify)
    adata = ad.read_h5ad(file)
    day = _numeric_column(adata, "day", "moscot_reprogramming")
    _set_time_columns(adata, day)
    adata.uns["dataset"] = _uns_record(entry, _CITE_SCHIEBINGER, use_rep="X_pca")
    _log_loaded("moscot_reprogramming", adata, file)
    return adata


def hsmm(
    path: PathLike | None = None,
    *,
    data_dir: PathLike | None = None,
    download: bool = True,
    verify: bool = True,
) -> ad.AnnData:
    """Human skeletal muscle myoblast differentiation (Trapnell et al. 2014), FPKM at 0, 24, 48, 72 h.

    The HSMM data of Bioconductor's ``HSMMSingleCell`` package (Smart-seq of primary myoblasts switched
    from growth to differentiation medium), converted to ``.h5ad``.

    Parameters
    ----------
    path
        The ``hsmm.h5ad`` file; when given, nothing else is searched.
    data_dir
        Directory holding ``timecourse/hsmm/hsmm.h5ad`` (default: ``$CELLBRIDGE_DATA_DIR``, then the
        cache).
    download
        Unused in practice: the origin is an R package, not a direct download (a missing file raises
        :class:`FileNotFoundError` with conversion instructions).
    verify
        Check the file's SHA-256 (that of the project's converted file).

    Returns
    -------
    anndata.AnnData
        271 cells x 21532 genes, as in the file (``X``: FPKM, sparse float32, not log-transformed; ``obs``
        the sample sheet: ``Hours``, ``Media``, ``Pseudotime``, ``State``, ...; ``var`` the gene
        annotation), plus:

        - ``obs["day"]``: ``Hours / 24`` (0, 1, 2, 3), ``obs["Hours"]`` kept, ``obs["time_index"]``
          0 .. 3, ``obs["time_label"]`` ``"0h"``, ``"24h"``, ``"48h"``, ``"72h"``;
        - cells per time point: 69, 74, 79, 49;
        - ``uns["dataset"]``: origin, license, citation; ``use_rep`` is ``"X_pca"``, computed by
          :func:`cellbridge.pp.prepare` (log-transform FPKM first, e.g. ``scanpy.pp.log1p``).

    Raises
    ------
    FileNotFoundError
        The file is not available locally (the message says where to put it and how to make it).
    ValueError
        Checksum mismatch, or a file without ``obs["Hours"]``.

    Notes
    -----
    Origin: Bioconductor ``HSMMSingleCell`` 1.18.0 (Bioconductor 3.16, Debian ``r-bioc-hsmmsinglecell``),
    https://bioconductor.org/packages/3.16/data/experiment/src/contrib/HSMMSingleCell_1.18.0.tar.gz
    (Artistic-2.0). The ``.h5ad`` was converted from the package's ``.rda`` files, keeping the genes
    detected in at least 3 cells; the registered SHA-256 is that of the converted file.

    References
    ----------
    Trapnell, C. et al. Nature Biotechnology 32, 381-386 (2014).
    """
    entry = get("hsmm")
    file = fetch(entry, path, data_dir=data_dir, download=download, verify=verify)
    adata = ad.read_h5ad(file)
    hours = _numeric_column(adata, "Hours", "hsmm")
    uniq = np.unique(hours)
    _set_time_columns(adata, hours / 24.0, labels=[f"{_fmt(h)}h" for h in uniq])
    adata.uns["dataset"] = _uns_record(entry, _CITE_TRAPNELL, use_rep="X_pca")
    _log_loaded("hsmm", adata, file)
    return adata


# --------------------------------------------------------------------------------------------------
# data sets of the flow-matching literature (not available offline)


def embryoid_body(
    path: PathLike | None = None,
    *,
    data_dir: PathLike | None = None,
    download: bool = True,
    verify: bool = True,
) -> ad.AnnData:
    """Embryoid body differentiation over 27 days, as preprocessed by TrajectoryNet (``eb_velocity_v5.npz``).

    Human embryonic stem cells grown as embryoid bodies and sampled in five 3-day windows (Moon et al.
    2019), in the PCA and PHATE embeddings that TrajectoryNet, TorchCFM, [SF]2M and MIOFlow benchmark on.

    Parameters
    ----------
    path
        The ``eb_velocity_v5.npz`` file; when given, nothing else is searched.
    data_dir
        Directory holding ``timecourse/trajectorynet/eb_velocity_v5.npz`` (default:
        ``$CELLBRIDGE_DATA_DIR``, then the cache).
    download
        Download the file into the cache when it is not found.
    verify
        Check the file's SHA-256 (as published by a downstream project; see the registry).

    Returns
    -------
    anndata.AnnData
        One row per cell of the file:

        - ``X`` and ``obsm["X_pca"]``: the principal components of the ``pcs`` array (float32, 100 in
          TrajectoryNet's file), ``var_names`` ``PC1`` ..; ``use_rep`` is ``"X_pca"``;
        - ``obsm["X_phate"]``: the 2-D PHATE embedding (``phate``), when present;
        - ``obsm["velocity_pca"]`` / ``obsm["velocity_phate"]``: RNA-velocity displacements
          (``pcs_delta`` / ``delta_embedding``), when present;
        - ``obs["day"]``: first day of the collection window (0, 6, 12, 18, 24), ``obs["time_index"]``
          0 .. 4 (``sample_labels``), ``obs["time_label"]`` ``"Day 00-03"`` .. ``"Day 24-27"``;
        - ``uns["dataset"]``: origin, license, citation.

    Raises
    ------
    FileNotFoundError
        The file is not available locally and could not be downloaded (the message says where to put it).
    ValueError
        Checksum mismatch, or a file without the ``pcs`` and ``sample_labels`` arrays.

    Notes
    -----
    Origin: https://github.com/KrishnaswamyLab/TrajectoryNet, ``data/eb_velocity_v5.npz`` (MIT license of
    the repository). Format, as read by TrajectoryNet's ``EBData`` and TorchCFM: an ``.npz`` with
    ``pcs`` (cells x 100), ``phate`` (cells x 2), ``sample_labels`` (time point 0 .. 4, one per cell),
    ``pcs_delta`` and ``delta_embedding``. The literature standardises the PCs (``StandardScaler``) and
    keeps the first 5 or 100 before fitting; this loader returns them unscaled.

    References
    ----------
    Moon, K. R. et al. Nature Biotechnology 37, 1482-1492 (2019). Tong, A. et al. (TrajectoryNet). ICML
    (2020).
    """
    entry = get("embryoid_body")
    file = fetch(entry, path, data_dir=data_dir, download=download, verify=verify)
    try:
        with np.load(file, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except ValueError:
        # sample labels stored as Python strings need pickle; the file has been verified unless verify=False
        with np.load(file, allow_pickle=True) as npz:
            arrays = {k: npz[k] for k in npz.files}
    missing = [k for k in ("pcs", "sample_labels") if k not in arrays]
    if missing:
        raise ValueError(f"embryoid_body: {file} has no {missing} array(s) (arrays: {sorted(arrays)})")
    pcs = np.asarray(arrays["pcs"], dtype=np.float32)
    raw = np.asarray(arrays["sample_labels"]).ravel()
    if pcs.ndim != 2 or raw.size != pcs.shape[0]:
        raise ValueError(f"embryoid_body: pcs of shape {pcs.shape} and {raw.size} sample labels do not match")
    if raw.dtype.kind in "iuf":
        index = raw.astype(np.int64)
        if not np.array_equal(index, raw) or index.min() < 0 or index.max() >= len(_EB_LABELS):
            raise ValueError(f"embryoid_body: sample_labels should be 0 .. 4, got {np.unique(raw).tolist()}")
    else:
        lookup = {label: k for k, label in enumerate(_EB_LABELS)}
        try:
            index = np.array([lookup[str(v)] for v in raw], dtype=np.int64)
        except KeyError as err:
            raise ValueError(f"embryoid_body: unknown sample label {err.args[0]!r}; expected {_EB_LABELS}") from None
    present = np.unique(index)
    day = np.asarray(_EB_DAYS)[index]
    obs = _time_columns(day, [_EB_LABELS[k] for k in present])
    obs.index = pd.Index([f"cell_{i}" for i in range(pcs.shape[0])])
    adata = ad.AnnData(X=pcs, obs=obs)
    adata.var_names = [f"PC{j + 1}" for j in range(pcs.shape[1])]
    adata.obsm["X_pca"] = pcs.copy()
    for key, obsm_key in (("phate", "X_phate"), ("pcs_delta", "velocity_pca"), ("delta_embedding", "velocity_phate")):
        if key in arrays and np.ndim(arrays[key]) == 2 and arrays[key].shape[0] == pcs.shape[0]:
            adata.obsm[obsm_key] = np.asarray(arrays[key], dtype=np.float32)
    adata.uns["dataset"] = _uns_record(entry, _CITE_EB, use_rep="X_pca")
    _log_loaded("embryoid_body", adata, file)
    return adata


def _openproblems(
    name: str, fn: str, path: PathLike | None, data_dir: PathLike | None, download: bool, verify: bool
) -> ad.AnnData:
    entry = get(name)
    file = fetch(entry, path, data_dir=data_dir, download=download, verify=verify)
    adata = ad.read_h5ad(file)
    if "X_pca" not in adata.obsm:
        raise ValueError(
            f"{fn}: {file} has no obsm['X_pca'] (keys: {list(adata.obsm.keys())}); the literature's file "
            "carries its PCs there. Compute them with cellbridge.pp.prepare, or pass the original file."
        )
    day = _numeric_column(adata, "day", fn)
    _set_time_columns(adata, day)
    adata.uns["dataset"] = _uns_record(entry, _CITE_OPENPROBLEMS, use_rep="X_pca")
    _log_loaded(fn, adata, file)
    return adata


def citeseq(
    path: PathLike | None = None,
    *,
    data_dir: PathLike | None = None,
    download: bool = True,
    verify: bool = True,
) -> ad.AnnData:
    """CITE-seq time course of hematopoietic stem and progenitor cells (Open Problems 2022 subset).

    The gene-expression inputs of one donor's CITE-seq cells from the NeurIPS 2022 Open Problems
    multimodal competition at days 2, 3, 4 and 7, as prepared by Tong et al. ([SF]2M) and used by
    TorchCFM, MIOFlow and Metric Flow Matching (``op_cite_inputs_0.h5ad``, about 1.2 GB).

    Parameters
    ----------
    path
        The ``op_cite_inputs_0.h5ad`` file; when given, nothing else is searched.
    data_dir
        Directory holding ``timecourse/openproblems/op_cite_inputs_0.h5ad`` (default:
        ``$CELLBRIDGE_DATA_DIR``, then the cache).
    download
        Download the file into the cache when it is not found (from Mendeley Data, which may refuse
        scripted downloads; then download it in a browser and pass ``path=``).
    verify
        Check the file's SHA-256 (as published by downstream projects; see the registry).

    Returns
    -------
    anndata.AnnData
        The file's AnnData (``X`` expression, ``obsm["X_pca"]`` the PCs the literature fits in, the
        first 5, 50 or 100 of them), plus:

        - ``obs["day"]``: 2, 3, 4, 7 as float, ``obs["time_index"]`` 0 .. 3, ``obs["time_label"]``
          ``"2"``, ``"3"``, ``"4"``, ``"7"``;
        - ``uns["dataset"]``: origin, license, citation; ``use_rep`` is ``"X_pca"``.

    Raises
    ------
    FileNotFoundError
        The file is not available locally and could not be downloaded (the message says where to put it).
    ValueError
        Checksum mismatch, or a file without ``obs["day"]`` or ``obsm["X_pca"]``.

    Notes
    -----
    Origin: Mendeley Data record https://data.mendeley.com/datasets/hhny5ff7yj/1 (file
    ``op_cite_inputs_0.h5ad``); the raw competition data are at
    https://www.kaggle.com/competitions/open-problems-multimodal/data. Format, as read by TorchCFM and
    its successors: ``obs["day"]`` the time point, ``obsm["X_pca"]`` the PCs.

    References
    ----------
    Open Problems in Single-Cell Analysis, Multimodal Single-Cell Integration competition (NeurIPS 2022).
    Tong, A. et al. Simulation-free Schrodinger bridges via score and flow matching. AISTATS (2024).
    """
    return _openproblems("citeseq", "citeseq", path, data_dir, download, verify)


def multiome(
    path: PathLike | None = None,
    *,
    data_dir: PathLike | None = None,
    download: bool = True,
    verify: bool = True,
) -> ad.AnnData:
    """Multiome (gene expression) time course of hematopoietic progenitors (Open Problems 2022 subset).

    The RNA targets of one donor's Multiome cells from the NeurIPS 2022 Open Problems multimodal
    competition at days 2, 3, 4 and 7, as prepared by Tong et al. ([SF]2M) and used by TorchCFM, MIOFlow
    and Metric Flow Matching (``op_train_multi_targets_0.h5ad``, about 1.1 GB).

    Parameters
    ----------
    path
        The ``op_train_multi_targets_0.h5ad`` file; when given, nothing else is searched.
    data_dir
        Directory holding ``timecourse/openproblems/op_train_multi_targets_0.h5ad`` (default:
        ``$CELLBRIDGE_DATA_DIR``, then the cache).
    download
        Download the file into the cache when it is not found (from Mendeley Data, which may refuse
        scripted downloads; then download it in a browser and pass ``path=``).
    verify
        Check the file's SHA-256 (as published by downstream projects; see the registry).

    Returns
    -------
    anndata.AnnData
        The file's AnnData (``X`` expression, ``obsm["X_pca"]`` the PCs the literature fits in), plus:

        - ``obs["day"]``: 2, 3, 4, 7 as float, ``obs["time_index"]`` 0 .. 3, ``obs["time_label"]``
          ``"2"``, ``"3"``, ``"4"``, ``"7"``;
        - ``uns["dataset"]``: origin, license, citation; ``use_rep`` is ``"X_pca"``.

    Raises
    ------
    FileNotFoundError
        The file is not available locally and could not be downloaded (the message says where to put it).
    ValueError
        Checksum mismatch, or a file without ``obs["day"]`` or ``obsm["X_pca"]``.

    Notes
    -----
    Origin: Mendeley Data record https://data.mendeley.com/datasets/hhny5ff7yj/1 (file
    ``op_train_multi_targets_0.h5ad``); the raw competition data are at
    https://www.kaggle.com/competitions/open-problems-multimodal/data.

    References
    ----------
    Open Problems in Single-Cell Analysis, Multimodal Single-Cell Integration competition (NeurIPS 2022).
    Tong, A. et al. Simulation-free Schrodinger bridges via score and flow matching. AISTATS (2024).
    """
    return _openproblems("multiome", "multiome", path, data_dir, download, verify)
