r"""Readers of stored GRN benchmark simulations: BEELINE-format folders (BoolODE output) and SERGIO.

Both return ``(adata, edges)``: an AnnData of cells x genes with a numeric time point in ``obs["time"]``
and the ground truth in ``adata.uns["grn_truth"]`` (a dict of arrays ``regulator``, ``target``,
``sign``), and the same truth as a DataFrame, ready for :func:`cellbridge.grn.score_network`.

**BEELINE format** (Pratapa et al. 2020; BoolODE's ``utils.generateInputFiles``):

- ``ExpressionData.csv``: genes x cells, first column the gene names, header the cell ids;
- ``PseudoTime.csv``: one row per cell, columns ``PseudoTime`` or ``PseudoTime1``, ``PseudoTime2``, ...
  (one per branch, NaN off the branch);
- ``refNetwork.csv``: columns ``Gene1`` (regulator), ``Gene2`` (target), ``Type`` (``+`` / ``-``),
  read **by name** (the stored files order them ``Gene2,Gene1,Type``);
- cell ids ``E<simulation>_<step>``: BoolODE samples each cell from its own simulation at an integration
  step (step :math:`\times` 0.01 is BoolODE's time), so the true time of every cell is known;
- optionally ``ClusterIds.csv`` (here or in the parent folder): one row per simulation ``E<simulation>``.

**SERGIO** (Dibaeinia and Sinha, Cell Systems 2020), differentiation data sets such as DS4: expression
``simulated_noNoise_T_<replicate>.csv`` (genes x cells, header the cell type of each cell), cells in
blocks of equal size per cell type; ``bMat_cID*.tab`` the differentiation graph (``bMat[i, j] > 0``:
type ``i`` differentiates into type ``j``); ``gt_GRN.csv`` rows ``regulator,target`` (0-based gene
indices); ``Interaction_cID_*.txt`` SERGIO's interaction table, whose signed strengths give the signs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from .._logging import logger
from .grn_truth import GRN_TRUTH_KEY, edges_to_uns

__all__ = ["read_beeline", "read_sergio", "bin_by_step"]

#: ``adata.uns`` key of :func:`read_beeline`'s and :func:`read_sergio`'s record
BEELINE_KEY = "beeline"
SERGIO_KEY = "sergio"

_CELL_ID = re.compile(r"^E(\d+)_(\d+)$")


def bin_by_step(step: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Equal-width bins of integration steps: ``n_bins`` bins over :math:`[\min, \max]` of ``step``.

    Bin :math:`b` holds :math:`e_b \le \text{step} < e_{b+1}` with :math:`e_b = s_{min} + b\,(s_{max} -
    s_{min}) / K`; the last bin also holds :math:`s_{max}`.

    Returns
    -------
    tuple
        ``(bins, edges)``: the bin index of every cell (int64, 0 .. n_bins - 1) and the ``n_bins + 1``
        bin edges.
    """
    s = np.asarray(step, dtype=np.float64)
    n_bins = int(n_bins)
    if n_bins < 1:
        raise ValueError(f"n_time_bins must be positive, got {n_bins}")
    if s.size == 0:
        raise ValueError("no cells to bin")
    lo, hi = float(s.min()), float(s.max())
    edges = np.linspace(lo, hi, n_bins + 1)
    if hi == lo:
        return np.zeros(s.size, dtype=np.int64), edges
    bins = np.floor((s - lo) / (hi - lo) * n_bins).astype(np.int64)
    return np.clip(bins, 0, n_bins - 1), edges


def _read_ref_network(path: Path) -> pd.DataFrame:
    ref = pd.read_csv(path)
    ref.columns = [str(c).strip() for c in ref.columns]
    need = {"Gene1", "Gene2"}
    if not need <= set(ref.columns):
        raise ValueError(f"{path}: needs columns Gene1 (regulator) and Gene2 (target), got {list(ref.columns)}")
    sign = np.zeros(len(ref), dtype=np.int8)
    if "Type" in ref.columns:
        t = ref["Type"].astype(str).str.strip()
        bad = ~t.isin(["+", "-"])
        if bad.any():
            raise ValueError(f"{path}: Type must be '+' or '-', got {sorted(set(t[bad]))[:5]}")
        sign = np.where(t == "+", 1, -1).astype(np.int8)
    edges = pd.DataFrame(
        {
            "regulator": ref["Gene1"].astype(str).str.strip().to_numpy(),
            "target": ref["Gene2"].astype(str).str.strip().to_numpy(),
            "sign": sign,
        }
    )
    return edges.drop_duplicates().reset_index(drop=True)


def _cluster_ids(directory: Path, simulation: np.ndarray) -> np.ndarray | None:
    for candidate in (directory / "ClusterIds.csv", directory.parent / "ClusterIds.csv"):
        if candidate.is_file():
            cl = pd.read_csv(candidate, index_col=0)
            if cl.shape[1] < 1:
                return None
            mapping = cl.iloc[:, 0]
            keys = pd.Index([f"E{s}" for s in simulation])
            values = mapping.reindex(keys)
            if values.isna().any():
                logger.warning(f"read_beeline: {candidate} does not cover every simulation; obs['cluster'] skipped")
                return None
            return values.to_numpy()
    return None


def _snapshot_anndata(
    values: np.ndarray, obs: pd.DataFrame, genes: pd.Index, edges: pd.DataFrame, *, log1p: bool
) -> ad.AnnData:
    r"""Cells x genes AnnData of the raw expression ``values`` with the true network in ``uns``.

    ``X`` is :math:`\log(1 + x)` with the raw values in ``layers["expression"]`` when ``log1p``, the raw
    values otherwise (float32); ``uns[GRN_TRUTH_KEY]`` holds ``edges``.
    """
    x = np.log1p(values) if log1p else values
    adata = ad.AnnData(X=x.astype(np.float32), obs=obs, var=pd.DataFrame(index=genes))
    if log1p:
        adata.layers["expression"] = values.astype(np.float32)
    adata.uns[GRN_TRUTH_KEY] = edges_to_uns(edges)
    return adata


def read_beeline(
    directory: str | os.PathLike,
    *,
    n_time_bins: int = 5,
    log1p: bool = True,
    time_key: str = "time",
) -> tuple[ad.AnnData, pd.DataFrame]:
    r"""Read a BEELINE-format simulation folder (``ExpressionData.csv``, ``PseudoTime.csv``,
    ``refNetwork.csv``) as snapshots binned by the true simulation step.

    Every cell id ``E<simulation>_<step>`` gives the step at which the cell was sampled; cells are put
    into ``n_time_bins`` equal-width bins of the step (:func:`bin_by_step`), the snapshot time points of
    the GRN protocol of ``../shared/benchmarks/peers.md``.

    Parameters
    ----------
    directory
        The folder, e.g. ``../shared/data/grn/boolode_sims/dyn-LI/dyn-LI-1000-1``.
    n_time_bins
        Number of time points :math:`K`.
    log1p
        Store :math:`\log(1 + x)` in ``X`` (the raw values stay in ``layers["expression"]``); otherwise
        ``X`` holds the raw values.
    time_key
        ``obs`` column that receives the bin index.

    Returns
    -------
    adata : anndata.AnnData
        Cells x genes (float32) in file order, with

        - ``obs[time_key]``: bin index 0 .. K-1 (float), ``obs["step"]`` and ``obs["simulation"]``
          (int), ``obs["pseudotime"]`` (or ``pseudotime_1`` ... for branching data, NaN off the branch),
          ``obs["cluster"]`` when a ``ClusterIds.csv`` is found,
        - ``uns["grn_truth"]``: the reference network (``Gene1`` = regulator, ``Gene2`` = target,
          ``Type`` -> sign +1 / -1), self-loops as listed,
        - ``uns["beeline"]``: the folder, the bin edges and the settings.
    edges : pandas.DataFrame
        The reference network: ``regulator``, ``target``, ``sign``.

    Raises
    ------
    FileNotFoundError
        When a required file is missing.
    ValueError
        When cell ids are not ``E<simulation>_<step>`` or the files disagree on the cells or genes.
    """
    directory = Path(directory)
    paths = {name: directory / f"{name}.csv" for name in ("ExpressionData", "PseudoTime", "refNetwork")}
    for name, p in paths.items():
        if not p.is_file():
            raise FileNotFoundError(f"{name}.csv not found in {directory}")

    expr = pd.read_csv(paths["ExpressionData"], index_col=0)
    expr.index = expr.index.astype(str)
    if not expr.index.is_unique or not expr.columns.is_unique:
        raise ValueError(f"{paths['ExpressionData']}: gene names and cell ids must be unique")
    values = expr.to_numpy(dtype=np.float64).T  # cells x genes
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{paths['ExpressionData']}: expression must be finite")
    cells = expr.columns.astype(str)
    parsed = [_CELL_ID.match(c) for c in cells]
    if not all(parsed):
        bad = [c for c, m in zip(cells, parsed) if m is None][:3]
        raise ValueError(f"cell ids must look like E<simulation>_<step> (BoolODE's), got e.g. {bad}")
    simulation = np.array([int(m.group(1)) for m in parsed], dtype=np.int64)
    step = np.array([int(m.group(2)) for m in parsed], dtype=np.int64)
    bins, bin_edges = bin_by_step(step, n_time_bins)

    pt = pd.read_csv(paths["PseudoTime"], index_col=0)
    pt.index = pt.index.astype(str)
    missing = cells.difference(pt.index)
    if len(missing):
        raise ValueError(
            f"{paths['PseudoTime']} lacks {len(missing)} cells of ExpressionData.csv, e.g. {list(missing[:3])}"
        )
    pt = pt.loc[cells]

    edges = _read_ref_network(paths["refNetwork"])
    genes = pd.Index(expr.index)
    unknown = sorted(set(edges["regulator"]).union(edges["target"]).difference(genes))
    if unknown:
        raise ValueError(f"refNetwork.csv names genes absent from ExpressionData.csv: {unknown[:5]}")

    obs = pd.DataFrame(
        {time_key: bins.astype(np.float64), "step": step, "simulation": simulation},
        index=pd.Index(cells, name=None),
    )
    pt_cols = [c for c in pt.columns if str(c).lower().startswith("pseudotime")]
    if len(pt_cols) == 1:
        obs["pseudotime"] = pt[pt_cols[0]].to_numpy(dtype=np.float64)
    else:
        for k, c in enumerate(pt_cols, start=1):
            obs[f"pseudotime_{k}"] = pt[c].to_numpy(dtype=np.float64)
    clusters = _cluster_ids(directory, simulation)
    if clusters is not None:
        obs["cluster"] = pd.Categorical(clusters.astype(str))

    adata = _snapshot_anndata(values, obs, genes, edges, log1p=log1p)
    adata.uns[BEELINE_KEY] = {
        "directory": str(directory),
        "n_time_bins": int(n_time_bins),
        "bin_edges": bin_edges,
        "log1p": bool(log1p),
        "time_key": time_key,
    }
    counts = np.bincount(bins, minlength=int(n_time_bins))
    logger.info(
        f"read_beeline: {adata.n_obs} cells x {adata.n_vars} genes, {len(edges)} reference edges; steps "
        f"{step.min()}..{step.max()} in {n_time_bins} bins of {counts.tolist()} cells; added obs[{time_key!r}], "
        f"obs['step'], uns[{GRN_TRUTH_KEY!r}]"
    )
    return adata, edges


def _differentiation_depth(bmat: np.ndarray) -> np.ndarray:
    """Depth of every cell type in the differentiation graph ``bmat[i, j] > 0``: i -> j.

    Roots (no incoming edge from another type) have depth 0; every other type the length of the shortest
    path from a root (breadth-first). A cycle without root raises.
    """
    n = bmat.shape[0]
    adj = (bmat > 0) & ~np.eye(n, dtype=bool)
    depth = np.full(n, -1, dtype=np.int64)
    roots = np.nonzero(~adj.any(axis=0))[0]
    if roots.size == 0:
        raise ValueError("the differentiation graph has no root cell type")
    depth[roots] = 0
    frontier = list(roots)
    while frontier:
        nxt = []
        for i in frontier:
            for j in np.nonzero(adj[i])[0]:
                if depth[j] < 0:
                    depth[j] = depth[i] + 1
                    nxt.append(j)
        frontier = nxt
    if np.any(depth < 0):
        raise ValueError("some cell types cannot be reached from a root of the differentiation graph")
    return depth


def _sergio_signs(directory: Path, regulator: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Signs from SERGIO's interaction table (``target, n, regs..., K..., coop...``; K < 0: repression)."""
    files = sorted(directory.glob("Interaction_cID_*.txt"))
    sign = np.zeros(regulator.size, dtype=np.int8)
    if not files:
        return sign
    table: dict[tuple[int, int], int] = {}
    with open(files[0]) as fh:
        for line in fh:
            v = [float(t) for t in line.strip().split(",") if t.strip()]
            if not v:
                continue
            tgt, n_regs = int(v[0]), int(v[1])
            regs = [int(r) for r in v[2 : 2 + n_regs]]
            ks = v[2 + n_regs : 2 + 2 * n_regs]
            for r, k in zip(regs, ks):
                table[(r, tgt)] = 1 if k > 0 else -1
    for e, (r, t) in enumerate(zip(regulator, target)):
        sign[e] = table.get((int(r), int(t)), 0)
    return sign


def read_sergio(
    directory: str | os.PathLike,
    *,
    replicate: int = 0,
    layer: str = "T",
    log1p: bool = True,
    time_key: str = "time",
) -> tuple[ad.AnnData, pd.DataFrame]:
    r"""Read a SERGIO differentiation data set (e.g. DS4) as snapshots, one time point per stage.

    SERGIO simulates each cell type at steady state and lays the cells out in blocks, one per type, in
    the order of the types; the differentiation graph ``bMat`` says which type becomes which. A cell's
    **stage** is the depth of its type in that graph (roots 0, their daughters 1, ...; breadth-first),
    used as its time point: for DS4 (``0 -> 1 -> 2``) stages 0, 1, 2 with 300 cells each. This is an
    ordering of states, not a measured clock.

    Parameters
    ----------
    directory
        The folder, e.g. ``../shared/data/grn/sergio/DS4``.
    replicate
        Which ``simulated_noNoise_<layer>_<replicate>.csv`` to read.
    layer
        ``"T"`` (total = unspliced + spliced), ``"U"`` or ``"S"``.
    log1p
        Store :math:`\log(1 + x)` in ``X`` (raw values in ``layers["expression"]``).
    time_key
        ``obs`` column that receives the stage.

    Returns
    -------
    adata : anndata.AnnData
        Cells x genes (float32); genes are named ``g0`` .. ``g{n-1}`` after SERGIO's 0-based indices;
        ``obs["cell_type"]`` (categorical), ``obs["stage"]`` (int) and ``obs[time_key]`` (float stage);
        ``uns["grn_truth"]`` and ``uns["sergio"]`` (the differentiation matrix and each type's stage).
    edges : pandas.DataFrame
        ``gt_GRN.csv`` as ``regulator``, ``target`` (gene names), ``sign`` from the interaction table
        (+1 for a positive SERGIO strength, -1 for a negative one, 0 when the table is absent).
    """
    directory = Path(directory)
    expr_path = directory / f"simulated_noNoise_{layer}_{int(replicate)}.csv"
    grn_path = directory / "gt_GRN.csv"
    bmat_files = sorted(directory.glob("bMat_cID*.tab"))
    for p in (expr_path, grn_path):
        if not p.is_file():
            raise FileNotFoundError(f"{p.name} not found in {directory}")
    if not bmat_files:
        raise FileNotFoundError(f"no bMat_cID*.tab (differentiation graph) in {directory}")

    with open(expr_path) as fh:
        header = fh.readline().rstrip("\n").split(",")[1:]
    expr = pd.read_csv(expr_path, index_col=0)
    values = expr.to_numpy(dtype=np.float64).T  # cells x genes
    if len(header) != values.shape[0]:
        raise ValueError(f"{expr_path}: header has {len(header)} labels for {values.shape[0]} cells")
    gene_idx = np.asarray(expr.index, dtype=np.int64)
    genes = pd.Index([f"g{i}" for i in gene_idx])

    bmat = np.loadtxt(bmat_files[0], ndmin=2)
    if bmat.shape[0] != bmat.shape[1]:
        raise ValueError(f"{bmat_files[0]}: the differentiation matrix must be square, got {bmat.shape}")
    n_types = bmat.shape[0]
    try:
        cell_type = np.array([int(float(h)) for h in header], dtype=np.int64)
    except ValueError:
        if values.shape[0] % n_types:
            raise ValueError(f"{values.shape[0]} cells cannot be split into {n_types} equal blocks") from None
        cell_type = np.repeat(np.arange(n_types), values.shape[0] // n_types)
    if cell_type.min() < 0 or cell_type.max() >= n_types:
        raise ValueError(f"cell types in the header must be 0..{n_types - 1}")
    depth = _differentiation_depth(bmat)
    stage = depth[cell_type]

    gt = pd.read_csv(grn_path, header=None)
    if gt.shape[1] < 2:
        raise ValueError(f"{grn_path}: expected rows 'regulator,target'")
    reg = gt.iloc[:, 0].to_numpy(dtype=np.int64)
    tgt = gt.iloc[:, 1].to_numpy(dtype=np.int64)
    pos = pd.Index(gene_idx)
    if np.any(pos.get_indexer(reg) < 0) or np.any(pos.get_indexer(tgt) < 0):
        raise ValueError(f"{grn_path} names gene indices absent from the expression file")
    edges = (
        pd.DataFrame(
            {
                "regulator": [f"g{i}" for i in reg],
                "target": [f"g{i}" for i in tgt],
                "sign": _sergio_signs(directory, reg, tgt),
            }
        )
        .drop_duplicates()
        .reset_index(drop=True)
    )

    obs = pd.DataFrame(
        {
            "cell_type": pd.Categorical(cell_type.astype(str), categories=[str(i) for i in range(n_types)]),
            "stage": stage,
            time_key: stage.astype(np.float64),
        },
        index=[f"cell_{i}" for i in range(values.shape[0])],
    )
    adata = _snapshot_anndata(values, obs, genes, edges, log1p=log1p)
    adata.uns[SERGIO_KEY] = {
        "directory": str(directory),
        "bifurcation_matrix": bmat,
        "stage_of_type": depth,
        "layer": layer,
        "replicate": int(replicate),
        "log1p": bool(log1p),
    }
    logger.info(
        f"read_sergio: {adata.n_obs} cells x {adata.n_vars} genes in {n_types} cell types (stages "
        f"{depth.tolist()}), {len(edges)} reference edges; added obs[{time_key!r}], obs['cell_type'], "
        f"obs['stage'], uns[{GRN_TRUTH_KEY!r}]"
    )
    return adata, edges
