"""Gene-network recovery from snapshots: cellbridge's NGM drift beside the baselines (protocol of
``../shared/benchmarks/peers.md``, "Gene-network recovery").

Data: the five BEELINE synthetic BoolODE simulations in ``../shared/data/grn/boolode_sims`` (dyn-LI, dyn-CY,
dyn-LL, dyn-BF, dyn-TF; 1000 cells each, every cell from its own simulation), binned by the true
simulation step into K = 5 time points (:func:`cellbridge.datasets.read_beeline`), and SERGIO DS4 (100
genes, three differentiation stages as time points; :func:`cellbridge.datasets.read_sergio`). Expression
log1p. Scores as BEELINE computes them (:func:`cellbridge.grn.score_network`): AUROC, AUPRC (trapezoid)
over the edge density, early precision ratio, self-loops excluded, unsigned truth; for cellbridge also the
fraction of true edges whose sign is right.

Methods:

- ``pearson`` / ``spearman``: absolute correlation of log expression (symmetric, deterministic).
- ``genie3``: GENIE3-style tree ensemble, a random forest per target on all other genes (scikit-learn,
  ``max_features="sqrt"``, impurity importances; the target standardised, as GENIE3 does).
- ``ot_ridge``: ridge regression (``RidgeCV`` on standardised genes) of OT-matched velocities on
  expression: exact OT (POT) between consecutive time points, each cell's velocity the barycentric
  displacement of its coupling divided by the interval (backwards for the last time point).
- ``cellbridge``: ``cb.tl.fit(adata, "time", use_rep="X", drift="ngm", ...)``, [SF]2M with a neural
  graphical model flow (autonomous, one MLP per target gene, group lasso on the first-layer columns), then
  ``cb.tl.grn`` (scores: group norms; signs: the Jacobian averaged over the observed cells).

Usage::

    nice -n 10 python benchmarks/grn.py                          # everything -> results/grn.md
    nice -n 10 python benchmarks/grn.py --networks dyn-LI --methods cellbridge --seeds 1 --out -
    nice -n 10 python benchmarks/grn.py --report                 # table from results/grn.csv only
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cellbridge as cb  # noqa: E402
from cellbridge.datasets.beeline import read_beeline, read_sergio  # noqa: E402
from cellbridge.grn import score_network  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DATA = Path(os.environ.get("CELLBRIDGE_DATA_DIR", ROOT.parent / "shared" / "data")) / "grn"
NETWORKS = ("dyn-LI", "dyn-CY", "dyn-LL", "dyn-BF", "dyn-TF", "SERGIO-DS4")
BOOLODE = NETWORKS[:5]
METHODS = ("pearson", "spearman", "genie3", "ot_ridge", "cellbridge")
TITLES = {"pearson": "Pearson |r|", "spearman": "Spearman |r|", "genie3": "GENIE3-style random forest",
          "ot_ridge": "ridge on OT-matched velocities", "cellbridge": "cellbridge [SF]2M + NGM drift"}
# ../shared/benchmarks/peers.md: AUROC / AUPRC ratio
PEERS = {
    "Pearson |r|": [(0.745, 2.58), (0.722, 1.36), (0.858, 6.94), (0.544, 1.09), (0.429, 1.24), (0.707, 3.35)],
    "GENIE3-style random forest": [(0.899, 2.77), (0.743, 1.54), (0.954, 6.84), (0.652, 1.64), (0.658, 1.79),
                                   (0.800, 5.07)],
    "ridge on OT-matched velocities": [(0.759, 3.62), (0.479, 0.89), (0.762, 1.79), (0.637, 1.16), (0.640, 1.75),
                                       (0.739, 12.58)],
    "flow matching + neural graphical model": [(0.691, 1.34), (0.301, 0.69), (0.926, 5.49), (0.638, 1.55),
                                               (0.662, 1.43), (0.668, 2.17)],
}
#: cellbridge's settings (see the results file for how they were chosen)
CELLBRIDGE_FIT = dict(drift="ngm", n_steps=1000, batch_size=256, ngm_lambda=1e-3, ngm_time=False)
CELLBRIDGE_GRN = dict(score="auto")


def load(name: str):
    """(log1p AnnData with obs['time'], truth edge table)."""
    if name == "SERGIO-DS4":
        return read_sergio(DATA / "sergio" / "DS4")
    return read_beeline(DATA / "boolode_sims" / name / f"{name}-1000-1", n_time_bins=5)


def _zero_diag(s: np.ndarray) -> np.ndarray:
    s = np.array(s, dtype=np.float64)
    np.fill_diagonal(s, 0.0)
    return s


def correlation(x: np.ndarray, kind: str) -> np.ndarray:
    df = pd.DataFrame(x)
    return _zero_diag(np.nan_to_num(np.abs(df.corr(method=kind).to_numpy())))


def genie3(x: np.ndarray, seed: int, n_trees: int = 300) -> np.ndarray:
    from sklearn.ensemble import RandomForestRegressor

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
    return s


def ot_velocities(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    import ot

    tp = np.unique(t)
    v = np.zeros_like(x)
    for k in range(len(tp) - 1):
        a, b = np.flatnonzero(t == tp[k]), np.flatnonzero(t == tp[k + 1])
        plan = ot.emd(np.full(len(a), 1 / len(a)), np.full(len(b), 1 / len(b)), ot.dist(x[a], x[b]))
        dt = tp[k + 1] - tp[k]
        v[a] = (plan @ x[b] / plan.sum(1, keepdims=True) - x[a]) / dt
        if k == len(tp) - 2:
            v[b] = (x[b] - plan.T @ x[a] / plan.sum(0)[:, None]) / dt
    return v


def ot_ridge(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    from sklearn.linear_model import RidgeCV

    v = ot_velocities(x, t)
    sd = x.std(0)
    z = (x - x.mean(0)) / np.where(sd > 0, sd, 1)
    coef = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(z, v).coef_  # (targets, regulators)
    return _zero_diag(np.abs(coef).T)


def cellbridge_grn(adata, seed: int) -> tuple[np.ndarray, np.ndarray, dict]:
    model = cb.tl.fit(adata, "time", use_rep="X", rng=seed, progress=False, **CELLBRIDGE_FIT)
    cb.tl.grn(adata, model, **CELLBRIDGE_GRN)
    s = np.asarray(adata.varp["cellbridge_grn"], dtype=np.float64)
    edges = adata.uns["cellbridge_grn"]["edges"]
    signs = edges[edges["group"] == "all"].pivot(index="regulator", columns="target", values="sign")
    signs = signs.reindex(index=adata.var_names, columns=adata.var_names).fillna(0).to_numpy()
    return s, signs, {}


def run(networks, methods, seeds) -> pd.DataFrame:
    rows = []
    for name in networks:
        adata, truth = load(name)
        x = np.asarray(adata.X, dtype=np.float64)
        t = adata.obs["time"].to_numpy(dtype=np.float64)
        genes = list(adata.var_names)
        for method in methods:
            deterministic = method in ("pearson", "spearman", "ot_ridge")
            for seed in (seeds[:1] if deterministic else seeds):
                start = time.perf_counter()
                signs = None
                if method in ("pearson", "spearman"):
                    s = correlation(x, method)
                elif method == "genie3":
                    s = genie3(x, seed)
                elif method == "ot_ridge":
                    s = ot_ridge(x, t)
                else:
                    s, signs, _ = cellbridge_grn(adata.copy(), seed)
                sec = time.perf_counter() - start
                res = score_network(s, truth, signs, genes=genes)
                rows.append({"network": name, "method": method, "seed": seed, "seconds": sec,
                             **{k: res[k] for k in ("auroc", "auprc", "auprc_ratio", "early_precision_ratio",
                                                    "signed_accuracy", "edge_density", "n_true_edges")}})
                print(f"{name:11s} {method:10s} seed {seed}: AUROC {res['auroc']:.3f} AUPRC ratio "
                      f"{res['auprc_ratio']:.2f} EPR {res['early_precision_ratio']:.2f} signs "
                      f"{res['signed_accuracy']:.2f} ({sec:.0f}s)", flush=True)
    return pd.DataFrame(rows)


def report(df: pd.DataFrame, command: str, started: str, wall: float) -> str:
    nets = [n for n in NETWORKS if n in set(df["network"])]
    methods = [m for m in METHODS if m in set(df["method"])]
    agg = df.groupby(["method", "network"]).agg(
        auroc=("auroc", "mean"), auroc_sd=("auroc", "std"), ratio=("auprc_ratio", "mean"),
        epr=("early_precision_ratio", "mean"), sign=("signed_accuracy", "mean"), n=("seed", "size"),
        seconds=("seconds", "mean"))
    lines = [
        "# Gene-network recovery from snapshots (BEELINE BoolODE, K = 5 time bins; SERGIO DS4)",
        "",
        f"Command: `{command}`. Started {started}; {wall / 60:.1f} min wall clock on {platform.processor() or platform.machine()}"
        f" ({os.cpu_count()} cores, shared), torch {torch.__version__} CPU, one thread, `nice -n 10`.",
        "",
        "Protocol of `../shared/benchmarks/peers.md`: log1p expression, cells binned by the true simulation step into 5 "
        "time points (SERGIO: the three differentiation stages), self-loops excluded, unsigned truth, BEELINE's "
        "AUPRC (trapezoid) over the edge density, early precision ratio (EPR). Mean over seeds "
        f"({', '.join(str(s) for s in sorted(df['seed'].unique()))}; correlations and the OT ridge are deterministic).",
        "",
        "## AUROC / AUPRC ratio / EPR",
        "",
        "| method | " + " | ".join(nets) + (" | mean AUROC (BoolODE) |" if set(BOOLODE) <= set(nets) else " |"),
        "|---|" + "---|" * len(nets) + ("---:|" if set(BOOLODE) <= set(nets) else ""),
    ]
    for m in methods:
        cells = []
        for n in nets:
            r = agg.loc[(m, n)]
            sd = f" ± {r.auroc_sd:.3f}" if r.n > 1 and np.isfinite(r.auroc_sd) else ""
            cells.append(f"{r.auroc:.3f}{sd} / {r.ratio:.2f} / {r.epr:.2f}")
        mean = ""
        if set(BOOLODE) <= set(nets):
            mean = f" {np.mean([agg.loc[(m, n)].auroc for n in BOOLODE]):.3f} |"
        lines.append(f"| {TITLES[m]} | " + " | ".join(cells) + " |" + mean)
    if "cellbridge" in methods:
        lines += ["", "cellbridge: fraction of true edges with the right sign (sign of the mean Jacobian): "
                  + ", ".join(f"{n} {agg.loc[('cellbridge', n)].sign:.2f}" for n in nets)
                  + f"; seconds per fit: " + ", ".join(f"{n} {agg.loc[('cellbridge', n)].seconds:.0f}" for n in nets)
                  + "."]
    lines += ["", "## Peers (`../shared/benchmarks/peers.md`, AUROC / AUPRC ratio)", "",
              "| method | " + " | ".join(NETWORKS) + " | mean AUROC (BoolODE) |", "|---|" + "---|" * len(NETWORKS) + "---:|"]
    for name, vals in PEERS.items():
        lines.append(f"| {name} | " + " | ".join(f"{a:.3f} / {r:.2f}" for a, r in vals) + f" | {np.mean([a for a, _ in vals[:5]]):.3f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=NETWORKS)
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", default=str(RESULTS / "grn.md"), help="markdown table ('-': print only)")
    p.add_argument("--csv", default=str(RESULTS / "grn.csv"), help="raw rows")
    p.add_argument("--report", action="store_true", help="rebuild the table from --csv without running")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    logging.getLogger("cellbridge").setLevel(logging.WARNING)
    command = "python benchmarks/grn.py " + " ".join(argv if argv is not None else sys.argv[1:])
    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    t0 = time.perf_counter()
    if args.report:
        df = pd.read_csv(args.csv)
    else:
        df = run(args.networks, args.methods, args.seeds)
        if args.csv != "-":
            df.to_csv(args.csv, index=False)
    text = report(df, command.strip(), started, time.perf_counter() - t0)
    if args.out == "-":
        print(text)
    else:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
