"""Leave-one-timepoint-out on real time courses, protocol LOT-v1 of ``../shared/benchmarks/peers.md``.

For each data set and each interior time point k: fit cellbridge on every other time point (time = the
index of the time point, so the pair (k-1, k+1) spans 2 units), push all cells of k-1 from t = k-1 to
t = k (SDE and probability-flow ODE from the same fit, 100 steps per time unit), and score W1 (exact OT,
Euclidean cost, both sides subsampled to at most 2000 cells) against the real cells of k; beside it the
baselines of :mod:`cellbridge.evaluation.baselines`. Fits: 2000 steps, 256 cells per side of every
interval, the peers' network (3 hidden layers of 64, SELU, time appended) and sigma = 0.25 x the RMS
per-dimension spread of the training cells (cellbridge's default).

Usage (one process per data set runs them in parallel; ``--report`` merges what is there)::

    python benchmarks/leave_one_out.py --datasets emt hsmm
    python benchmarks/leave_one_out.py --datasets ipsc
    python benchmarks/leave_one_out.py --report      # -> benchmarks/results/leave_one_out.md

Raw rows go to ``benchmarks/results/leave_one_out_<dataset>.csv``.
"""

from __future__ import annotations

import argparse
import datetime
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
from cellbridge.evaluation import leave_one_out, model_predictor  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DATASETS = ("ipsc", "emt", "hsmm")
TITLES = {"ipsc": "iPSC bifurcation (8 t, 4-D)", "emt": "EMT (5 t, 3-D)", "hsmm": "HSMM (4 t, 10 PCs)"}
# ../shared/benchmarks/peers.md, W1 mean +- sd over held-out points and seeds
PEERS = {
    "previous snapshot": {"ipsc": (0.825, 0.316), "emt": (0.955, 0.088), "hsmm": (32.9, 6.1)},
    "random-pair interpolation": {"ipsc": (0.633, 0.120), "emt": (0.438, 0.053), "hsmm": (27.0, 2.3)},
    "OT interpolation": {"ipsc": (0.600, 0.132), "emt": (0.367, 0.058), "hsmm": (24.9, 2.9)},
    "torchcfm I-CFM": {"ipsc": (0.629, 0.143), "emt": (0.388, 0.080), "hsmm": (27.0, 2.6)},
    "torchcfm OT-CFM": {"ipsc": (0.622, 0.164), "emt": (0.321, 0.067), "hsmm": (24.8, 3.3)},
    "torchcfm [SF]2M, SDE": {"ipsc": (0.622, 0.145), "emt": (0.318, 0.071), "hsmm": (25.2, 3.2)},
}
FIT = dict(n_steps=2000, batch_size=256, lr=1e-3, hidden_dims=(64, 64, 64), activation="selu", n_freqs=0)
VARIANTS = {"sf2m-spline": dict(path="spline", spline_tension=1.0)}
# `--methods pchip`: the same fits on the shape-preserving cubic through the same chains (its own CSV)
PCHIP_VARIANTS = {"sf2m-pchip": dict(path="pchip")}
# DSBM (IMF from minibatch-OT couplings, cellbridge's defaults) at the same network; 4 outer iterations of
# 1000 steps of one direction's network each, so as many network updates as [SF]2M's 2000 steps of two
# networks. Forward SDE only (its probability-flow ODE, from both drifts, is not scored here).
DSBM_FIT = dict(n_iterations=4, n_steps=1000, batch_size=256, lr=1e-3, hidden_dims=(64, 64, 64), activation="selu",
                n_freqs=0)


def load(name: str, data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Cells and time indices of a data set, prepared as LOT-v1 says."""
    if name == "ipsc":
        a = cb.datasets.ipsc_bifurcation(data_dir=data_dir, download=False)
        return np.asarray(a.X, dtype=np.float32), a.obs["time_index"].to_numpy(float)
    if name == "emt":
        a = cb.datasets.emt(data_dir=data_dir, download=False)
        return np.asarray(a.X, dtype=np.float32), a.obs["time_index"].to_numpy(float)
    if name == "hsmm":
        import scanpy as sc

        a = cb.datasets.hsmm(data_dir=data_dir, download=False)
        a.X = a.X.toarray() if hasattr(a.X, "toarray") else np.asarray(a.X)
        sc.pp.log1p(a)
        # LOT-v1: the 2000 genes of highest variance of log1p FPKM, then 10 PCs fitted on all cells
        top = np.sort(np.argsort(a.X.var(axis=0))[::-1][:2000])
        a = a[:, top].copy()
        sc.pp.pca(a, n_comps=10, random_state=0)
        return a.obsm["X_pca"].astype(np.float32), a.obs["time_index"].to_numpy(float)
    raise ValueError(f"unknown data set {name!r}; choose from {DATASETS}")


def run(name: str, data_dir: Path, n_seeds: int, n_steps: int, method: str = "sf2m") -> pd.DataFrame:
    x, t = load(name, data_dir)
    predictors = {}
    if method == "dsbm":
        def dsbm_factory(x_train, t_train, rng):
            return cb.CellBridgeModel.fit(x_train, t_train, method="dsbm", device="cpu", rng=rng, progress=False,
                                          **DSBM_FIT)
        predictors["dsbm"] = model_predictor(dsbm_factory, "dsbm", stochastic=True, steps_per_interval=100)
    else:
        for label, extra in (PCHIP_VARIANTS if method == "pchip" else VARIANTS).items():
            def factory(x_train, t_train, rng, extra=extra):
                return cb.CellBridgeModel.fit(x_train, t_train, device="cpu", rng=rng, progress=False,
                                              **{**FIT, "n_steps": n_steps}, **extra)
            predictors[label] = model_predictor(factory, label, stochastic=(True, False), steps_per_interval=100)
    start = time.perf_counter()
    # the baselines are computed once, with the [SF]2M run
    baselines = () if method != "sf2m" else ("previous", "next", "random_pairs", "ot_interpolation")
    res = leave_one_out(x, t, predictors, metrics=("w1", "w2", "mmd", "energy"), baselines=baselines,
                        n_seeds=n_seeds, rng=0)
    res.insert(0, "dataset", name)
    res["run"] = method
    res["seconds"] = time.perf_counter() - start
    res["n_steps"] = n_steps
    return res


def markdown(frame: pd.DataFrame, digits: int = 4) -> str:
    """A DataFrame as a markdown table (index included), without pandas' optional tabulate."""
    frame = frame.reset_index()
    fmt = lambda v: f"{v:.{digits}g}" if isinstance(v, float) else str(v)  # noqa: E731
    rows = ["| " + " | ".join(map(str, frame.columns)) + " |", "|---" * frame.shape[1] + "|"]
    rows += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(rows)


def report(out: Path) -> None:
    frames = [pd.read_csv(p) for p in sorted(RESULTS.glob("leave_one_out_*.csv"))]
    if not frames:
        raise SystemExit("no results yet: run with --datasets first")
    res = pd.concat(frames)
    w1 = res[res.metric == "w1"]
    names = {"sf2m-spline-sde": "cellbridge [SF]2M spline, SDE", "sf2m-spline-ode": "cellbridge [SF]2M spline, ODE",
             "sf2m-pchip-sde": "cellbridge [SF]2M PCHIP (default), SDE",
             "sf2m-pchip-ode": "cellbridge [SF]2M PCHIP (default), ODE",
             "dsbm-sde": "cellbridge DSBM-IMF+, SDE", "previous": "previous snapshot", "next": "next snapshot", "random_pairs": "random-pair interpolation",
             "ot_interpolation": "OT interpolation"}
    present = [d for d in DATASETS if d in set(w1.dataset)]
    lines = ["# Leave-one-timepoint-out W1 (protocol LOT-v1)", ""]
    lines += ["| W1, mean ± sd over held-out points and seeds | " + " | ".join(TITLES[d] for d in present)
              + " | mean ratio to OT interpolation |", "|---" * (len(present) + 2) + "|"]
    ot_mean = {d: w1[(w1.dataset == d) & (w1.method == "ot_interpolation")].value.mean() for d in present}
    for method, label in names.items():
        cells, ratios = [], []
        for d in present:
            v = w1[(w1.dataset == d) & (w1.method == method)].value
            cells.append(f"{v.mean():.3g} ± {v.std():.2g}" if len(v) else "")
            ratios.append(v.mean() / ot_mean[d] if len(v) else np.nan)
        if not any(len(w1[(w1.dataset == d) & (w1.method == method)]) for d in present):
            continue
        bold = method.startswith(("sf2m", "dsbm"))
        lines.append(f"| {'**' + label + '**' if bold else label} | " + " | ".join(cells)
                     + f" | {np.nanmean(ratios):.3f} ({', '.join(f'{r:.3f}' for r in ratios)}) |")
    lines += ["", "Peers, from `../shared/benchmarks/peers.md` (same protocol, same machine type):", "",
              "| W1 | " + " | ".join(TITLES[d] for d in present) + " | mean ratio to their OT interpolation |",
              "|---" * (len(present) + 2) + "|"]
    for label, vals in PEERS.items():
        ratios = [vals[d][0] / PEERS["OT interpolation"][d][0] for d in present]
        lines.append(f"| {label} | " + " | ".join(f"{vals[d][0]:.3g} ± {vals[d][1]:.2g}" for d in present)
                     + f" | {np.mean(ratios):.3f} |")
    models = [m for m in ("sf2m-spline-sde", "sf2m-pchip-sde", "dsbm-sde") if m in set(w1.method)]
    per_point = w1[w1.method.isin([*models, "ot_interpolation"])].pivot_table(
        index=["dataset", "held_out"], columns="method", values="value", aggfunc="mean")
    for m in models:
        per_point[f"ratio {m}"] = per_point[m] / per_point["ot_interpolation"]
    seeds_per_point = w1[w1.method.isin(models)].groupby(["dataset", "held_out", "method"]).seed.nunique()
    per_point["seeds"] = seeds_per_point.unstack("method").apply(
        lambda r: "/".join(str(int(v)) if v == v else "-" for v in r), axis=1)
    lines += ["", "Per held-out point (mean over seeds), cellbridge SDEs against OT interpolation (seeds: "
              + " / ".join(models) + "):", "", markdown(per_point, 3), ""]
    other = res[res.metric != "w1"].groupby(["dataset", "metric", "method"]).value.mean().unstack("method")
    lines += ["Other metrics (mean over held-out points and seeds):", "", markdown(other), ""]
    seeds = sorted(res.seed.unique())
    lines += ["## Settings", "",
              f"- Command: `python benchmarks/leave_one_out.py --datasets ...` then `--report`; {len(seeds)} seeds "
              f"per held-out point (fewer where the per-point table says so); [SF]2M fits "
              f"{({**FIT, 'n_steps': sorted(res.n_steps.unique().tolist())})} with {VARIANTS} and {PCHIP_VARIANTS} "
              f"(`--methods pchip`); DSBM fits {DSBM_FIT} (`--methods dsbm`).",
              f"- Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
              f"{torch.__version__}, one torch thread per process; {datetime.date.today().isoformat()}.",
              f"- Wall time per data set and run (s): "
              f"{res.fillna({'run': 'sf2m'}).groupby(['dataset', 'run']).seconds.first().round(0).to_dict()}.", ""]
    out.write_text("\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="*", default=[], choices=DATASETS)
    p.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--n-steps", type=int, default=FIT["n_steps"])
    p.add_argument("--methods", nargs="+", default=["sf2m"], choices=["sf2m", "pchip", "dsbm"],
                   help="models to fit: sf2m (spline paths, with the baselines), pchip ([SF]2M on PCHIP paths), "
                        "dsbm; each writes its own CSV")
    p.add_argument("--report", action="store_true")
    p.add_argument("--out", type=Path, default=RESULTS / "leave_one_out.md")
    args = p.parse_args()
    torch.set_num_threads(1)
    for name in args.datasets:
        for method in args.methods:
            res = run(name, args.data_dir, args.seeds, args.n_steps, method)
            suffix = "" if method == "sf2m" else f"_{method}"
            res.to_csv(RESULTS / f"leave_one_out_{name}{suffix}.csv", index=False)
    if args.report:
        report(args.out)


if __name__ == "__main__":
    main()
