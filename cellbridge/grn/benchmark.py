r"""Benchmark of network inference on simulations with a known network, as BEELINE scores it.

AnnData in, tables out. The data are simulations whose true network is known: folders in **BEELINE
layout** (BoolODE output: ``ExpressionData.csv``, ``PseudoTime.csv``, ``refNetwork.csv``, cell ids
``E<simulation>_<step>``; read by :func:`cellbridge.datasets.read_beeline`, cells binned by their true
simulation step into ``n_time_bins`` time points), folders in **SERGIO layout**
(``simulated_noNoise_T_0.csv``, ``gt_GRN.csv``, ``bMat_cID*.tab``; :func:`cellbridge.datasets.read_sergio`,
one time point per differentiation stage), and networks simulated here from **BoolODE rule files**
(:func:`simulate_rules`). Every method of the registry :data:`METHODS` turns a log1p AnnData with a time
point per cell into a genes x genes score matrix (and signs where it has them), and :func:`run_benchmark`
scores each with :func:`cellbridge.grn.score_network` (AUROC, BEELINE's AUPRC and its ratio over the edge
density, early precision ratio, signed accuracy; self-loops excluded, unsigned truth).

``cellbridge benchmark grn --data DIR`` runs it from the command line; ``benchmarks/grn.py`` is the run
that produced ``benchmarks/results/grn.md``.

Methods (:data:`METHODS`):

- ``pearson`` / ``spearman``: absolute correlation of log expression (symmetric, deterministic);
- ``genie3``: GENIE3-style tree ensemble, a random forest per target on all other genes (scikit-learn,
  ``max_features="sqrt"``, impurity importances; the target standardised, as GENIE3 does);
- ``ot_ridge``: ridge regression (``RidgeCV`` on standardised genes) of OT-matched velocities on
  expression: exact OT (POT) between consecutive time points, each cell's velocity the barycentric
  displacement of its coupling divided by the interval (backwards for the last time point;
  :func:`cellbridge.ot.velocity.ot_velocities`);
- ``ot_ridge_refined``: the same regression after :func:`cellbridge.pp.refine_time` has split each time
  point into 3 by each cell's progress along its OT direction of motion (finer time points from the
  expression and the snapshot labels alone);
- ``cellbridge_ot``: :func:`cellbridge.tl.grn` without a model, at its defaults: OT-matched velocities on 3,
  4, 5 and 6 sub-snapshots per snapshot (``refine_time``'s split), a ridge regression on standardised genes
  at each, coefficients scaled by each target's largest and averaged
  (:mod:`cellbridge.grn.velocity_regression`). Deterministic;
- ``cellbridge``: :func:`cellbridge.tl.fit` with ``use_rep="X"`` and an NGM drift at the defaults a user
  gets (:data:`NGM_FIT`: [SF]2M with a neural graphical model flow, one autonomous MLP per target gene,
  group lasso on the first-layer columns, and the default velocity matching of an NGM fit,
  :mod:`cellbridge.methods.velocity`: the flow at the observed cells pulled towards their OT velocities
  between refined sub-snapshots, weight 10), then
  :func:`cellbridge.tl.grn`, read four ways: rows ``cellbridge`` (the mean absolute Jacobian over the
  observed cells on a common scale across targets, ``target_scale="sqrt"``: the default),
  ``cellbridge_max`` (each target's divided by its largest), ``cellbridge_unscaled`` and
  ``cellbridge_norms`` (the NGM group norms, ``"sqrt"``); signs: the Jacobian averaged over the observed
  cells. About half a minute per fit on a CPU core, so not among :data:`DEFAULT_METHODS`;
- ``cellbridge_ensemble``: four such fits, whose velocity targets use 3, 4, 5 and 6 sub-snapshots per
  snapshot (``velocity_n_sub``, :data:`ENSEMBLE_N_SUB`; seeds ``4 * seed + k``), read together by
  :func:`cellbridge.tl.grn` (each one's scaled scores averaged), as the model-free route
  averages its resolutions. Four times the cost of ``cellbridge``.
"""

from __future__ import annotations

import os
import platform
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._logging import logger
from .metrics import score_network

__all__ = [
    "BenchmarkMethod",
    "METHODS",
    "DEFAULT_METHODS",
    "NGM_FIT",
    "BOOLODE_RULES",
    "LAYOUT_FILES",
    "NETWORK_ORDER",
    "network_layout",
    "find_networks",
    "load_network",
    "simulate_rules",
    "run_benchmark",
    "format_result",
    "results_table",
    "benchmark_report",
]

#: ``obs`` column of the time point that the readers write and the methods read
TIME_KEY = "time"
#: columns of :func:`run_benchmark`'s table (one row per network, method row and seed)
COLUMNS = ("network", "method", "seed", "seconds", "auroc", "auprc", "auprc_ratio", "early_precision_ratio",
           "signed_accuracy", "edge_density", "n_true_edges")
#: files that make a folder a network in each layout (``*`` is a glob)
LAYOUT_FILES = {
    "beeline": ("ExpressionData.csv", "PseudoTime.csv", "refNetwork.csv"),
    "sergio": ("simulated_noNoise_T_0.csv", "gt_GRN.csv", "bMat_cID*.tab"),
}
#: BEELINE's rule files (``boolode_models/data/<stem>.txt``): the name of the network simulated from each
#: and its simulation end time (BEELINE's ``config-files/beeline-inputs-*.yaml``)
BOOLODE_RULES = {
    "dyn-linear": ("sim-LI", 5.0), "dyn-linear-long": ("sim-LL", 15.0), "dyn-cycle": ("sim-CY", 8.0),
    "dyn-bifurcating": ("sim-BF", 8.0), "dyn-bifurcating-converging": ("sim-BFC", 8.0),
    "dyn-trifurcating": ("sim-TF", 8.0), "HSC": ("sim-HSC", 8.0), "mCAD": ("sim-mCAD", 5.0),
    "VSC": ("sim-VSC", 5.0), "GSD": ("sim-GSD", 8.0),
}
#: order of the columns of a table for the networks it knows (others follow in the order they came)
NETWORK_ORDER = ("dyn-LI", "dyn-CY", "dyn-LL", "dyn-BF", "dyn-BFC", "dyn-TF", "SERGIO-DS4",
                 *(name for name, _ in BOOLODE_RULES.values()))
#: settings of the ``cellbridge`` method's fit: ``drift="ngm"`` and otherwise the defaults of
#: :func:`cellbridge.tl.fit` (how they were chosen: ``benchmarks/results/grn.md``)
NGM_FIT = dict(drift="ngm")
#: the resolutions of the velocity targets (``velocity_n_sub``) of the ``cellbridge_ensemble`` method's fits,
#: one fit each: those the model-free route averages over
ENSEMBLE_N_SUB = (3, 4, 5, 6)

Found = dict[str, tuple[np.ndarray, "np.ndarray | None"]]


@dataclass(frozen=True)
class BenchmarkMethod:
    """A method of the benchmark: how it scores the edges of one data set.

    Parameters
    ----------
    name
        Its name (a key of :data:`METHODS`).
    run
        ``run(adata, time_key, seed, **options) -> {row: (scores, signs)}``: genes x genes matrices in the
        order of ``adata.var_names`` (``scores[i, j]``: regulator ``i`` -> target ``j``; ``signs`` ``None``
        for an unsigned method), one entry per table row it fills (usually one, named like the method).
    deterministic
        Whether the seed changes nothing (it then runs once, with the first seed).
    titles
        The table's label of each row.

    Returns
    -------
    BenchmarkMethod
        A frozen record.
    """

    name: str
    run: Callable[..., Found]
    deterministic: bool
    titles: Mapping[str, str] = field(default_factory=dict)


def _zero_diag(s: np.ndarray) -> np.ndarray:
    s = np.array(s, dtype=np.float64)
    np.fill_diagonal(s, 0.0)
    return s


def _dense(m: Any) -> np.ndarray:
    return np.asarray(m.toarray() if hasattr(m, "toarray") else m, dtype=np.float64)


def _expression(adata) -> np.ndarray:
    return _dense(adata.X)


def _correlation(kind: str) -> Callable[..., Found]:
    def run(adata, time_key: str, seed: int) -> Found:
        df = pd.DataFrame(_expression(adata))
        return {kind: (_zero_diag(np.nan_to_num(np.abs(df.corr(method=kind).to_numpy()))), None)}

    return run


def _genie3(adata, time_key: str, seed: int, n_trees: int = 300) -> Found:
    from sklearn.ensemble import RandomForestRegressor

    x = _expression(adata)
    g = x.shape[1]
    s = np.zeros((g, g))
    for j in range(g):
        y = x[:, j]
        if y.std() == 0:
            continue
        others = np.delete(np.arange(g), j)
        rf = RandomForestRegressor(n_estimators=n_trees, max_features="sqrt", random_state=seed, n_jobs=1)
        rf.fit(x[:, others], (y - y.mean()) / y.std())
        s[others, j] = rf.feature_importances_
    return {"genie3": (s, None)}


def _ot_ridge_matrices(x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(|coefficients|, signs) of a ridge regression of OT-matched velocities on standardised expression."""
    from sklearn.linear_model import RidgeCV

    from ..ot.velocity import ot_velocities

    v = ot_velocities(x, t)
    sd = x.std(0)
    z = (x - x.mean(0)) / np.where(sd > 0, sd, 1)
    coef = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(z, v).coef_  # (targets, regulators)
    return _zero_diag(np.abs(coef).T), _zero_diag(np.sign(coef).T)


def _ot_ridge(adata, time_key: str, seed: int) -> Found:
    return {"ot_ridge": _ot_ridge_matrices(_expression(adata), adata.obs[time_key].to_numpy(dtype=np.float64))}


def _ot_ridge_refined(adata, time_key: str, seed: int, n_sub: int = 3) -> Found:
    from .. import pp
    from .._keys import TIME_REFINED

    refined = pp.refine_time(adata, time_key, n_sub=n_sub, use_rep="X", copy=True)
    t = refined.obs[TIME_REFINED].to_numpy(dtype=np.float64)
    return {"ot_ridge_refined": _ot_ridge_matrices(_expression(adata), t)}


def _sign_matrix(edges: pd.DataFrame, genes) -> np.ndarray:
    signs = edges[edges["group"] == "all"].pivot(index="regulator", columns="target", values="sign")
    return signs.reindex(index=genes, columns=genes).fillna(0).to_numpy()


def _cellbridge_ot(adata, time_key: str, seed: int, **grn: Any) -> Found:
    from .. import tl

    adata = adata.copy()
    edges = tl.grn(adata, time_key=time_key, key_added="cellbridge_ot", top_k=None, **grn)  # no model; every pair scored
    return {"cellbridge_ot": (_dense(adata.varp["cellbridge_ot"]), _sign_matrix(edges, list(adata.var_names)))}


def _cellbridge_ngm(adata, time_key: str, seed: int, **fit: Any) -> Found:
    from .. import tl

    adata = adata.copy()
    model = tl.fit(adata, time_key, use_rep="X", rng=seed, progress=False, **{**NGM_FIT, **fit})
    return _ngm_rows(adata, model, (("cellbridge", {}), ("cellbridge_max", {"target_scale": "max"}),
                                    ("cellbridge_unscaled", {"target_scale": None}),
                                    ("cellbridge_norms", {"score": "group_norm"})))


def _cellbridge_ensemble(adata, time_key: str, seed: int, resolutions: Sequence[int] = ENSEMBLE_N_SUB,
                         **fit: Any) -> Found:
    from .. import tl

    adata = adata.copy()
    models = [tl.fit(adata, time_key, use_rep="X", rng=len(resolutions) * seed + k, progress=False,
                     **{**NGM_FIT, "velocity_n_sub": n, **fit}) for k, n in enumerate(resolutions)]
    return _ngm_rows(adata, models, (("cellbridge_ensemble", {}),))


def _ngm_rows(adata, model, readouts) -> Found:
    from .. import tl

    out = {}
    for row, how in readouts:
        edges = tl.grn(adata, model, key_added=row, top_k=None, **how)  # every pair scored
        out[row] = (_dense(adata.varp[row]), _sign_matrix(edges, list(adata.var_names)))
    return out


#: the methods by name, in the order of the table
METHODS: dict[str, BenchmarkMethod] = {
    m.name: m
    for m in (
        BenchmarkMethod("pearson", _correlation("pearson"), True, {"pearson": "Pearson |r|"}),
        BenchmarkMethod("spearman", _correlation("spearman"), True, {"spearman": "Spearman |r|"}),
        BenchmarkMethod("genie3", _genie3, False, {"genie3": "GENIE3-style random forest"}),
        BenchmarkMethod("ot_ridge", _ot_ridge, True, {"ot_ridge": "ridge on OT-matched velocities"}),
        BenchmarkMethod("ot_ridge_refined", _ot_ridge_refined, True, {
            "ot_ridge_refined": "cellbridge `pp.refine_time` (3 per snapshot), then ridge on OT-matched velocities"}),
        BenchmarkMethod("cellbridge_ot", _cellbridge_ot, True, {
            "cellbridge_ot": "**cellbridge** `tl.grn` without a model (default: OT velocities on 3-6 sub-snapshots, "
                             "per-target scale)"}),
        BenchmarkMethod("cellbridge", _cellbridge_ngm, False, {
            "cellbridge": "**cellbridge** [SF]2M + NGM drift + velocity matching, mean abs. Jacobian, "
                          "`target_scale=\"sqrt\"` (default)",
            "cellbridge_max": "cellbridge, same fits, each target's scores divided by its largest "
                              "(`target_scale=\"max\"`)",
            "cellbridge_unscaled": "cellbridge, same fits, mean abs. Jacobian unscaled",
            "cellbridge_norms": "cellbridge, same fits, NGM group norms, `target_scale=\"sqrt\"`"}),
        BenchmarkMethod("cellbridge_ensemble", _cellbridge_ensemble, False, {
            "cellbridge_ensemble": "**cellbridge** ensemble: 4 NGM fits, velocity targets on 3 / 4 / 5 / 6 "
                                   "sub-snapshots, scores averaged"}),
    )
}
#: what runs unless told otherwise: every method but the NGM fits, which are slow on a CPU
DEFAULT_METHODS = tuple(name for name in METHODS if name not in ("cellbridge", "cellbridge_ensemble"))


def _row_titles() -> dict[str, str]:
    return {row: title for m in METHODS.values() for row, title in m.titles.items()}


# --------------------------------------------------------------------------------------------------
# the data
# --------------------------------------------------------------------------------------------------


def _has(directory: Path, pattern: str) -> bool:
    return any(directory.glob(pattern)) if "*" in pattern else (directory / pattern).is_file()


def network_layout(directory: str | os.PathLike) -> str | None:
    """The layout of a network folder.

    Parameters
    ----------
    directory
        A folder.

    Returns
    -------
    str or None
        ``"beeline"`` when it holds BEELINE's files (``ExpressionData.csv``, ``PseudoTime.csv``,
        ``refNetwork.csv``), ``"sergio"`` for SERGIO's (``simulated_noNoise_T_0.csv``, ``gt_GRN.csv``,
        ``bMat_cID*.tab``), ``None`` otherwise (:data:`LAYOUT_FILES`).
    """
    directory = Path(directory)
    for layout, files in LAYOUT_FILES.items():
        if all(_has(directory, f) for f in files):
            return layout
    return None


def _expected() -> str:
    return " or ".join(f"{layout.upper() if layout == 'sergio' else 'BEELINE'} layout ({', '.join(files)})"
                       for layout, files in LAYOUT_FILES.items())


def _network_name(directory: Path, layout: str, siblings: Sequence[Path]) -> str:
    if layout == "sergio":
        return f"SERGIO-{directory.name}"
    # BEELINE's inputs are <net>/<net>-<cells>-<replicate>/: the network's name, when it is the only one
    parent = directory.parent.name
    same = [s for s in siblings if re.fullmatch(re.escape(parent) + r"-\d+-\d+", s.name)]
    if re.fullmatch(re.escape(parent) + r"-\d+-\d+", directory.name) and len(same) == 1:
        return parent
    return directory.name


def find_networks(directory: str | os.PathLike) -> dict[str, tuple[Path, str]]:
    """The network folders of ``directory``: itself, or the folders below it.

    Parameters
    ----------
    directory
        A network folder (BEELINE or SERGIO layout, see :func:`network_layout`), or a folder with such
        folders at any depth below it (hidden folders and the inside of a network folder are not searched).

    Returns
    -------
    dict
        ``{name: (folder, layout)}`` in table order (:data:`NETWORK_ORDER` first, then as found, sorted by
        path). A SERGIO folder ``DS4`` is named ``SERGIO-DS4``; a BEELINE folder ``<net>-<cells>-<k>`` in a
        folder ``<net>`` that holds no other such folder is named ``<net>`` (``boolode_sims/dyn-LI/dyn-LI-1000-1``
        is ``dyn-LI``); any other folder by its own name.

    Raises
    ------
    FileNotFoundError
        When ``directory`` does not exist, or neither it nor any folder below it is a network folder (the
        message names the files each layout needs).
    ValueError
        When two folders get the same name.
    """
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    found: list[tuple[Path, str]] = []
    layout = network_layout(root)
    if layout is not None:
        found.append((root, layout))
    else:
        for current, dirs, _ in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            here = Path(current)
            if here == root:
                continue
            layout = network_layout(here)
            if layout is not None:
                found.append((here, layout))
                dirs[:] = []  # a network folder's subfolders are its own business
    if not found:
        raise FileNotFoundError(f"{root} holds no network: expected a folder in {_expected()}, or folders of them")
    out: dict[str, tuple[Path, str]] = {}
    for path, layout in found:
        siblings = [p for p in path.parent.iterdir() if p.is_dir()] if path != root else [path]
        name = _network_name(path, layout, siblings)
        if name in out:
            raise ValueError(f"two network folders are both named {name!r}: {out[name][0]} and {path}")
        out[name] = (path, layout)
    order = {n: k for k, n in enumerate(NETWORK_ORDER)}
    names = sorted(out, key=lambda n: (order.get(n, len(order)), list(out).index(n)))
    return {n: out[n] for n in names}


def load_network(directory: str | os.PathLike, *, n_time_bins: int = 5):
    """One network folder as log1p snapshots and its true network, its layout detected.

    Parameters
    ----------
    directory
        A folder in BEELINE or SERGIO layout (:func:`network_layout`).
    n_time_bins
        BEELINE layout: number of time points into which the cells are binned by their true simulation step
        (:func:`cellbridge.datasets.read_beeline`); SERGIO's time points are its differentiation stages.

    Returns
    -------
    tuple
        ``(adata, truth)``: cells x genes, log1p expression in ``X``, the time point in ``obs["time"]``; the
        true network as a table ``regulator``, ``target``, ``sign``.

    Raises
    ------
    FileNotFoundError
        When the folder is in neither layout (the message names the files each needs).
    """
    from ..datasets.beeline import read_beeline, read_sergio

    directory = Path(directory)
    layout = network_layout(directory)
    if layout == "beeline":
        return read_beeline(directory, n_time_bins=n_time_bins)
    if layout == "sergio":
        return read_sergio(directory)
    raise FileNotFoundError(f"{directory} is not a network folder: expected {_expected()}")


def simulate_rules(
    rules: str | os.PathLike,
    *,
    end_time: float | None = None,
    n_time_bins: int = 5,
    n_cells: int = 20,
    n_times: int = 50,
    seed: int = 1,
):
    """A network simulated from a BoolODE rule file, as the held-out check of ``benchmarks/grn.py --simulated``.

    :func:`cellbridge.datasets.simulate_boolode` (the file's ``*_ics.txt`` and ``*_strengths.txt`` read when
    present) records ``n_cells`` cells at each of ``n_times`` equally spaced times in
    :math:`(0, T]`, which are labelled with ``n_time_bins`` equal-width snapshots as BEELINE's cells are
    binned; expression log1p.

    Parameters
    ----------
    rules
        A BoolODE rule table (``Gene<TAB>Rule``).
    end_time
        The simulation end time :math:`T`; ``None``: BEELINE's for its own rule files (:data:`BOOLODE_RULES`,
        by file name).
    n_time_bins
        Number of snapshots.
    n_cells
        Cells recorded at each time.
    n_times
        Number of recording times.
    seed
        Seed of the simulation.

    Returns
    -------
    tuple
        ``(adata, truth)`` as :func:`load_network` returns them.

    Raises
    ------
    ValueError
        When ``end_time`` is ``None`` and the file is not one of BEELINE's.
    """
    from ..datasets.boolode import simulate_boolode

    path = Path(rules)
    if end_time is None:
        if path.stem not in BOOLODE_RULES:
            raise ValueError(f"{path.name} is not one of BEELINE's rule files ({', '.join(BOOLODE_RULES)}): "
                             "pass its simulation end time")
        end_time = BOOLODE_RULES[path.stem][1]
    end = float(end_time)
    times = np.linspace(end / n_times, end, n_times)
    adata, edges = simulate_boolode(path, n_cells, times, rng=seed)
    adata.X = np.log1p(np.asarray(adata.X, dtype=np.float64))
    step = adata.obs[TIME_KEY].to_numpy()
    k = int(n_time_bins)
    adata.obs[TIME_KEY] = np.minimum(np.floor(step / end * k - 1e-9), k - 1).astype(np.float64)
    return adata, edges


def _rules_name(rules: str | os.PathLike) -> str:
    stem = Path(rules).stem
    return BOOLODE_RULES[stem][0] if stem in BOOLODE_RULES else f"sim-{stem}"


# --------------------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------------------


def format_result(row: Mapping[str, Any]) -> str:
    """One line about one scored network.

    Parameters
    ----------
    row
        A row of :func:`run_benchmark`'s table.

    Returns
    -------
    str
        ``network method seed: AUROC, AUPRC ratio, EPR, signs (seconds)``.
    """
    return (f"{row['network']:11s} {row['method']:16s} seed {row['seed']}: AUROC {row['auroc']:.3f} AUPRC ratio "
            f"{row['auprc_ratio']:.2f} EPR {row['early_precision_ratio']:.2f} signs "
            f"{row['signed_accuracy']:.2f} ({row['seconds']:.0f}s)")


def run_benchmark(
    networks: Mapping[str, Any],
    methods: Iterable[str] = DEFAULT_METHODS,
    seeds: Sequence[int] = (0, 1, 2),
    *,
    time_key: str = TIME_KEY,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    progress: bool = False,
    on_result: Callable[[dict], None] | None = None,
) -> pd.DataFrame:
    """Score every method on every network.

    Parameters
    ----------
    networks
        ``{name: (adata, truth)}``, or ``{name: loader}`` with ``loader()`` returning the pair (called when
        the network's turn comes): log1p expression in ``X``, the time point in ``obs[time_key]``, the truth
        as :func:`cellbridge.grn.score_network` takes it (:func:`load_network`, :func:`simulate_rules`).
    methods
        Names of :data:`METHODS`, run in this order on each network.
    seeds
        Seeds of the random methods; a deterministic one runs once, with the first.
    time_key
        ``obs`` column of the time point.
    options
        ``{method: {option: value}}`` passed to a method: ``genie3``'s ``n_trees``, ``ot_ridge_refined``'s
        ``n_sub``, ``cellbridge_ot``'s arguments of :func:`cellbridge.tl.grn`, ``cellbridge``'s of
        :func:`cellbridge.tl.fit` (over :data:`NGM_FIT`, e.g. ``n_steps``).
    progress
        Show a progress bar over networks x methods x seeds.
    on_result
        Called with every row as soon as it is scored.

    Returns
    -------
    pandas.DataFrame
        One row per network, table row of a method (the ``cellbridge`` method fills two) and seed, with the
        columns ``network``, ``method`` (the row), ``seed``, ``seconds`` (of the method's run), ``auroc``,
        ``auprc``, ``auprc_ratio``, ``early_precision_ratio``, ``signed_accuracy`` (NaN for an unsigned
        method or truth), ``edge_density``, ``n_true_edges``.

    Raises
    ------
    ValueError
        For a method that :data:`METHODS` does not have, or no seed.
    """
    from tqdm.auto import tqdm

    methods = list(methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; known: {', '.join(METHODS)}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("no seeds")
    options = dict(options or {})
    runs = {m: (seeds[:1] if METHODS[m].deterministic else seeds) for m in methods}
    rows = []
    with tqdm(total=len(networks) * sum(len(s) for s in runs.values()), desc="grn benchmark", unit="run",
              disable=not progress) as bar:
        for name, data in networks.items():
            adata, truth = data() if callable(data) else data
            genes = list(adata.var_names)
            signed = _truth_is_signed(truth, genes)
            for method in methods:
                for seed in runs[method]:
                    bar.set_postfix_str(f"{name} {method} seed {seed}")
                    start = time.perf_counter()
                    found = METHODS[method].run(adata, time_key, seed, **options.get(method, {}))
                    sec = time.perf_counter() - start
                    for row, (s, signs) in found.items():
                        res = score_network(s, truth, signs if signed else None, genes=genes)
                        rows.append({"network": name, "method": row, "seed": seed, "seconds": sec,
                                     **{k: res[k] for k in COLUMNS[4:]}})
                        if on_result is not None:
                            on_result(dict(rows[-1]))
                    bar.update()
            logger.info(f"grn benchmark: {name} done")
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _truth_is_signed(truth: Any, genes: Sequence[str]) -> bool:
    """Whether the truth has a signed edge between two different genes (else signed accuracy is undefined)."""
    if isinstance(truth, pd.DataFrame) and "sign" in truth.columns:
        return bool(((truth["sign"] != 0) & (truth["regulator"] != truth["target"])).any())
    if isinstance(truth, pd.DataFrame) and "regulator" in truth.columns:
        return False
    a = np.array(truth, dtype=np.float64)
    np.fill_diagonal(a, 0.0)
    return bool(np.any(a != 0))


# --------------------------------------------------------------------------------------------------
# the tables
# --------------------------------------------------------------------------------------------------


def _ordered(values: Iterable[str], order: Sequence[str]) -> list[str]:
    values = list(dict.fromkeys(values))
    rank = {v: k for k, v in enumerate(order)}
    return sorted(values, key=lambda v: (rank.get(v, len(rank)), values.index(v)))


def results_table(
    df: pd.DataFrame,
    networks: Sequence[str] | None = None,
    mean_over: Sequence[str] | None = None,
) -> list[str]:
    r"""The markdown table of ``benchmarks/results/grn.md``: AUROC (± SD over seeds) / AUPRC ratio / EPR.

    Parameters
    ----------
    df
        :func:`run_benchmark`'s rows (several seeds are averaged).
    networks
        The columns, in order; ``None``: the networks of ``df`` (:data:`NETWORK_ORDER` first).
    mean_over
        Networks whose mean AUROC makes a last column ("mean AUROC (BoolODE)"); ``None`` or empty: no
        such column.

    Returns
    -------
    list of str
        The table's lines, then, for ``cellbridge``, ``cellbridge_ot`` and ``ot_ridge_refined`` where they
        ran, a paragraph with their fraction of true edges with the right sign (``|`` escaped for markdown).
    """
    nets = list(networks) if networks is not None else _ordered(df["network"], NETWORK_ORDER)
    titles = _row_titles()
    methods = _ordered(df["method"], list(titles))
    agg = df.groupby(["method", "network"]).agg(
        auroc=("auroc", "mean"), auroc_sd=("auroc", "std"), ratio=("auprc_ratio", "mean"),
        epr=("early_precision_ratio", "mean"), sign=("signed_accuracy", "mean"), n=("seed", "size"),
        seconds=("seconds", "mean"))
    mean_over = list(mean_over or [])
    lines = [
        "| method | " + " | ".join(nets) + (" | mean AUROC (BoolODE) |" if mean_over else " |"),
        "|---|" + "---|" * len(nets) + ("---:|" if mean_over else ""),
    ]
    for m in methods:
        cells = []
        for n in nets:
            if (m, n) not in agg.index:
                cells.append("-")
                continue
            r = agg.loc[(m, n)]
            sd = f" ± {r.auroc_sd:.3f}" if r.n > 1 and np.isfinite(r.auroc_sd) else ""
            cells.append(f"{r.auroc:.3f}{sd} / {r.ratio:.2f} / {r.epr:.2f}")
        mean = ""
        if mean_over:
            mean = f" {np.mean([agg.loc[(m, n)].auroc if (m, n) in agg.index else np.nan for n in mean_over]):.3f} |"
        lines.append(f"| {titles.get(m, m)} | " + " | ".join(cells) + " |" + mean)

    def signs(m: str) -> str:
        return ", ".join(f"{n} {agg.loc[(m, n)].sign:.2f}" for n in nets if (m, n) in agg.index)

    if "cellbridge" in methods:
        lines += ["", "cellbridge: fraction of true edges with the right sign (sign of the mean Jacobian): "
                  + signs("cellbridge") + "; seconds per fit: "
                  + ", ".join(f"{n} {agg.loc[('cellbridge', n)].seconds:.0f}" for n in nets
                              if ("cellbridge", n) in agg.index) + "."]
    if "cellbridge_ot" in methods:
        lines += ["", "`tl.grn` without a model: fraction of true edges with the right sign (sign of the mean "
                  "coefficient): " + signs("cellbridge_ot") + "."]
    if "ot_ridge_refined" in methods:
        lines += ["", "`refine_time` + OT ridge: fraction of true edges with the right sign (sign of the ridge "
                  "coefficient): " + signs("ot_ridge_refined") + "."]
    return [line.replace("|r|", "\\|r\\|") for line in lines]


def _machine() -> str:
    """The machine a run is on: processor, cores, torch and its device and threads."""
    import torch

    cuda = "CUDA" if torch.cuda.is_available() else "CPU"
    threads = torch.get_num_threads()
    return (f"{platform.processor() or platform.machine()} ({os.cpu_count()} cores), torch {torch.__version__} "
            f"{cuda}, {threads} thread{'s' if threads != 1 else ''}")


def benchmark_report(
    df: pd.DataFrame,
    *,
    command: str,
    started: str,
    minutes: float,
    sources: Mapping[str, str] | None = None,
    mean_over: Sequence[str] | None = None,
    n_time_bins: int = 5,
) -> str:
    """A markdown report of a run: the command, its date and machine, the protocol and :func:`results_table`.

    Parameters
    ----------
    df
        :func:`run_benchmark`'s rows.
    command
        The command that made them.
    started
        When it started.
    minutes
        Its wall-clock time.
    sources
        ``{network: where it came from}``, listed under the table.
    mean_over
        As for :func:`results_table`.
    n_time_bins
        The number of time points of the BEELINE-layout networks and rule files (for the protocol's line).

    Returns
    -------
    str
        Markdown, ending with a newline.
    """
    seeds = ", ".join(str(s) for s in sorted(df["seed"].unique()))
    lines = [
        "# Gene-network recovery from snapshots",
        "",
        f"Command: `{command}`. Started {started}; {minutes:.1f} min wall clock on {_machine()}.",
        "",
        "Protocol of BEELINE (Pratapa et al. 2020), as in `benchmarks/results/grn.md`: log1p expression; BEELINE "
        f"layout: cells binned by their true simulation step into K = {n_time_bins} equal-width time points; "
        "SERGIO layout: one time point per differentiation stage; rule files: cells recorded at 50 times, labelled "
        "with K equal-width snapshots. Self-loops excluded, unsigned truth, BEELINE's AUPRC (trapezoid) over the "
        f"edge density, early precision ratio (EPR). Mean over seeds ({seeds}; deterministic methods run once).",
        "",
        "## AUROC / AUPRC ratio / EPR",
        "",
        *results_table(df, mean_over=mean_over),
    ]
    if sources:
        lines += ["", "Data: " + "; ".join(f"{n}: `{s}`" for n, s in sources.items()) + "."]
    return "\n".join(lines) + "\n"
