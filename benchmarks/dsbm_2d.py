#!/usr/bin/env python
"""The 2-D benchmark of the DSBM paper (Shi et al., NeurIPS 2023, Table 2) with cellbridge's methods.

Four transport problems, each from a source to a target distribution at t = 0 and t = 1:

* ``moons``, ``scurve``, ``8gaussians``: from a standard normal N(0, I_2) to two moons, an S curve and eight
  Gaussians on a circle, generated as in the [SF]2M / OT-CFM runner the DSBM paper's 2-D experiments follow
  (``torchcfm`` runner: ``SKLearnDataModule`` for moons and scurve, ``TorchDynDataModule('gaussians')`` with
  torchdyn's ``generate_gaussians`` for 8gaussians);
* ``moons-8gaussians``: moons to eight Gaussians as in that runner's ``TwoDimDataModule`` (the data of the
  Diffusion Schrodinger Bridge code, ``two_dim.data_distrib``).

Methods, all through :meth:`cellbridge.CellBridgeModel.fit` on 10,000 training cells per side:

* ``dsbm-imf``: DSBM from the independent coupling, sigma = 1;
* ``dsbm-imf+``: DSBM from the minibatch exact-OT coupling (OT-CFM's), sigma = 1;
* ``sf2m``: [SF]2M with the entropic (Schrodinger bridge) coupling, sigma = 1, sampled by its SDE;
* ``otcfm``: [SF]2M's sigma -> 0 limit, exact minibatch OT, sigma = 0.1 (OT-CFM's sigma_min), sampled by its
  probability-flow ODE (flow network only): OT conditional flow matching.

Evaluation, per run: 10,000 fresh source samples are pushed to t = 1 with Euler(-Maruyama), 20 steps, and
compared with 10,000 fresh target samples by the 2-Wasserstein distance (exact OT, POT network simplex, squared
Euclidean cost) on the first ``--w2-cells`` (4,000) of each: one exact solve on 10,000 x 10,000 (a 0.8 GB cost
matrix) had not finished after 7 minutes on the shared machine, against 3 s at 4,000, so 80 of them do not
fit the CPU budget. The same distance between two independent samples of the target (the sampling floor) is
reported at 2,000 and 4,000 cells: it falls with the sample size, and the published values, at 10,000, sit
on a lower floor (``--full-floor`` computes it, slowly). Path energy, as in the
DSBM paper: ``E[int_0^1 |drift(t, X_t)|^2 dt]`` along the generated trajectories, in data units, the Euler sum
``sum_k h |drift(t_k, X_k)|^2`` over the same 20 steps (drift: the SDE drift for DSBM and [SF]2M, the ODE
velocity for OT-CFM). For reference, W2^2 between source and target (exact, same subsample) is the path
energy of the optimal deterministic transport.

Run from the repository root (CPU, one thread, niced)::

    nice -n 10 python benchmarks/dsbm_2d.py                    # -> benchmarks/results/dsbm_2d.md
    nice -n 10 python benchmarks/dsbm_2d.py --seeds 0 --datasets moons --out -     # quick look
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import ot as pot  # noqa: E402
import torch  # noqa: E402
from scipy.spatial.distance import cdist  # noqa: E402
from sklearn import datasets as skd  # noqa: E402

from cellbridge.model import CellBridgeModel  # noqa: E402

DATASETS = ("moons", "scurve", "8gaussians", "moons-8gaussians")
METHODS = ("dsbm-imf", "dsbm-imf+", "sf2m", "otcfm")
LABELS = {"dsbm-imf": "DSBM-IMF", "dsbm-imf+": "DSBM-IMF+", "sf2m": "[SF]2M", "otcfm": "OT-CFM"}
#: DSBM paper, Table 2 (2-Wasserstein, mean over 5 seeds), moons / scurve / 8gaussians / moons-8gaussians
PUBLISHED_W2 = {
    "dsbm-imf+": (0.123, 0.130, 0.276, 0.802),
    "otcfm": (0.111, 0.102, 0.253, 0.716),
    "dsbm-imf": (0.144, 0.145, 0.338, 0.838),
}


# -- data ---------------------------------------------------------------------------------------------------
def sample(name: str, n: int, seed: int) -> np.ndarray:
    """``n`` points of a named 2-D distribution, reproducibly from ``seed``."""
    rng = np.random.default_rng(seed)
    if name == "normal":
        return rng.normal(size=(n, 2))
    if name == "moons":  # SKLearnDataModule("moons")
        x, _ = skd.make_moons(n_samples=n, noise=0.05, random_state=seed)
        return x * 2 - [1.0, 0.0]
    if name == "scurve":  # SKLearnDataModule("scurve")
        x, _ = skd.make_s_curve(n_samples=n, noise=0.05, random_state=seed)
        return x[:, [0, 2]] * 1.5
    if name == "8gaussians":  # torchdyn generate_gaussians(n_gaussians=8, radius=5, std_gaussians=1): equal modes
        k = rng.permutation(np.repeat(np.arange(1, 9), -(-n // 8))[:n])  # shuffled: subsets keep all modes
        angle = 2 * np.pi * k / 8
        return np.stack([5 * np.cos(angle), 5 * np.sin(angle)], 1) + rng.normal(size=(n, 2))
    if name == "dsb-moons":  # two_dim.data_distrib("moon"): standardised by its scalar mean and std, times 7
        x, _ = skd.make_moons(n_samples=n, noise=0.1, random_state=seed)
        return (x - x.mean()) / x.std() * 7.0
    if name == "dsb-8gaussians":  # two_dim.data_distrib("8gaussians"): radius 4 x 3, std 0.5 x 3, random modes
        s = 1 / np.sqrt(2)
        centers = 4.0 * np.array([(1, 0), (-1, 0), (0, 1), (0, -1), (s, s), (s, -s), (-s, s), (-s, -s)])
        return 3.0 * (centers[rng.integers(8, size=n)] + 0.5 * rng.normal(size=(n, 2)))
    raise ValueError(name)


def problem(name: str) -> tuple[str, str]:
    """(source, target) distributions of a benchmark problem."""
    return ("dsb-moons", "dsb-8gaussians") if name == "moons-8gaussians" else ("normal", name)


# -- methods ------------------------------------------------------------------------------------------------
def method_settings(method: str, budget: dict) -> dict:
    """Arguments of CellBridgeModel.fit for a method (sigma in data units) and how it is sampled."""
    # the peers' network: an MLP of (x, t), 3 hidden layers of 64, SELU, time appended as is (n_freqs=0)
    net = dict(hidden_dims=(64, 64, 64), activation="selu", n_freqs=0, lr=1e-3, weight_decay=1e-5)
    if method.startswith("dsbm"):
        return dict(method="dsbm", sigma=1.0, n_iterations=budget["dsbm_iterations"], n_steps=budget["dsbm_steps"],
                    n_steps_first=budget["dsbm_steps_first"], batch_size=budget["dsbm_batch"], n_sim=10_000,
                    refresh_every=budget["dsbm_refresh"], sim_steps=budget["dsbm_sim_steps"],
                    init_coupling="independent" if method == "dsbm-imf" else "ot", ot_method="exact", **net,
                    _stochastic=True)
    if method == "sf2m":
        return dict(method="sf2m", sigma=1.0, n_steps=budget["sf2m_steps"], batch_size=budget["sf2m_batch"],
                    ot_method="entropic", **net, _stochastic=True)
    return dict(method="sf2m", sigma=0.1, n_steps=budget["sf2m_steps"], batch_size=budget["sf2m_batch"],
                ot_method="exact", ot_reuse=budget["otcfm_ot_reuse"], **net, _stochastic=False)


BUDGETS = {
    # about 20-30 s of training per run on one core of the shared 2-core machine: 80 runs in ~30-40 min
    "cpu": dict(dsbm_batch=512, dsbm_iterations=4, dsbm_steps_first=3000, dsbm_steps=1800, dsbm_refresh=None,
                dsbm_sim_steps=100, sf2m_batch=256, sf2m_steps=4500, otcfm_ot_reuse=4),
    "smoke": dict(dsbm_batch=128, dsbm_iterations=2, dsbm_steps_first=200, dsbm_steps=100, dsbm_refresh=None,
                  dsbm_sim_steps=20, sf2m_batch=128, sf2m_steps=200, otcfm_ot_reuse=1),
}


def w2(x: np.ndarray, y: np.ndarray) -> float:
    """Exact 2-Wasserstein distance between two equal-weight point clouds (POT network simplex, float64)."""
    a = np.full(len(x), 1 / len(x))
    b = np.full(len(y), 1 / len(y))
    cost = cdist(x, y, "sqeuclidean")
    return float(np.sqrt(max(pot.emd2(a, b, cost, numItermax=10**8), 0.0)))


def run_one(dataset: str, method: str, seed: int, budget: dict, n_train: int, n_eval: int, w2_cells: int) -> dict:
    src, tgt = problem(dataset)
    base = 1000 * seed
    x0, x1 = sample(src, n_train, base + 1), sample(tgt, n_train, base + 2)
    settings = method_settings(method, budget)
    stochastic = settings.pop("_stochastic")
    start = time.perf_counter()
    model = CellBridgeModel.fit(np.concatenate([x0, x1]), np.repeat([0.0, 1.0], n_train), device="cpu", rng=seed,
                                progress=False, **settings)
    fit_seconds = time.perf_counter() - start
    y0, y1 = sample(src, n_eval, base + 3), sample(tgt, n_eval, base + 4)
    times = np.linspace(0.0, 1.0, 21)
    path = model.simulate(y0, times, stochastic=stochastic, steps_per_interval=20, rng=seed)  # one step per time
    h = 1.0 / 20
    energy = sum(h * np.mean(np.sum(model.drift(t, path[k], stochastic=stochastic) ** 2, axis=1))
                 for k, t in enumerate(times[:-1]))
    generated = path[-1]
    return {"dataset": dataset, "method": method, "seed": seed, "w2": w2(generated[:w2_cells], y1[:w2_cells]),
            "path_energy": float(energy), "fit_seconds": fit_seconds, "sigma": settings["sigma"],
            "finite": bool(np.isfinite(generated).all())}


def floors(dataset: str, w2_cells: int, n_eval: int) -> dict:
    """W2 between two independent target samples (the sampling floor) and between source and target."""
    src, tgt = problem(dataset)
    a, b = sample(tgt, n_eval, 90_001), sample(tgt, n_eval, 90_002)
    s = sample(src, n_eval, 90_003)
    half = w2_cells // 2
    return {"floor_sub": w2(a[:w2_cells], b[:w2_cells]), "floor_half": w2(a[:half], b[:half]),
            "transport_sub": w2(s[:w2_cells], b[:w2_cells])}


def floor_full(dataset: str, n_eval: int) -> float:
    _, tgt = problem(dataset)
    return w2(sample(tgt, n_eval, 90_001), sample(tgt, n_eval, 90_002))


# -- report -------------------------------------------------------------------------------------------------
def _git_rev() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True,
                               text=True, check=True).stdout.strip()
        return rev.stdout.strip() + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def report(results: list[dict], floor: dict, args, budget: dict, seconds: float, load_start, command: str) -> str:
    def stats(values):
        v = np.asarray(values, dtype=float)
        return v.mean(), (v.std(ddof=1) if len(v) > 1 else float("nan"))

    lines = [
        "# DSBM 2-D benchmark (DSBM paper, Table 2): cellbridge's DSBM-IMF, DSBM-IMF+, [SF]2M and OT-CFM",
        "",
        "Produced by `benchmarks/dsbm_2d.py`; see `benchmarks/README.md`.",
        "",
        f"- Command: `{command}`",
        f"- Date: {datetime.datetime.now():%Y-%m-%d %H:%M} (took {seconds / 60:.1f} min)",
        f"- CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} logical cores shared with other work; "
        f"torch threads {torch.get_num_threads()}",
        f"- Load average (1/5/15 min) at start / end: {' / '.join(f'{v:.2f}' for v in load_start)} ; "
        f"{' / '.join(f'{v:.2f}' for v in os.getloadavg())}",
        f"- Python {platform.python_version()}, torch {torch.__version__}, POT {pot.__version__}, NumPy {np.__version__}; "
        f"cellbridge {_git_rev()}",
        f"- Seeds: {', '.join(map(str, args.seeds))}; {args.n_train} training cells per side; {args.n_eval} generated "
        f"and {args.n_eval} true samples per run; W2 on the first {args.w2_cells} of each",
        f"- Budget `{args.budget}`: {json.dumps(budget)}",
        "",
    ]
    header = "| method | " + " | ".join(args.datasets) + " |"
    sep = "|---|" + "---:|" * len(args.datasets)
    by = {(r["dataset"], r["method"]): [] for r in results}
    for r in results:
        by[(r["dataset"], r["method"])].append(r)

    def cell(ds, m, key, fmt="{:.3f}"):
        rs = by.get((ds, m))
        if not rs:
            return "-"
        mean, sd = stats([r[key] for r in rs])
        return (fmt + " ± " + fmt).format(mean, sd) if not math.isnan(sd) else fmt.format(mean)

    lines += ["## 2-Wasserstein distance (mean ± sd over seeds)", "", header, sep]
    for m in args.methods:
        lines.append(f"| cellbridge {LABELS[m]} | " + " | ".join(cell(ds, m, "w2") for ds in args.datasets) + " |")
    for m in args.methods:
        if m in PUBLISHED_W2:
            pub = dict(zip(DATASETS, PUBLISHED_W2[m]))
            lines.append(f"| published {LABELS[m]} (10,000 samples) | " + " | ".join(f"{pub[ds]:.3f}" for ds in args.datasets) + " |")
    lines.append(f"| sampling floor: two true samples, {args.w2_cells // 2} each | "
                 + " | ".join(f"{floor[ds]['floor_half']:.3f}" for ds in args.datasets) + " |")
    lines.append(f"| sampling floor: two true samples, {args.w2_cells} each | "
                 + " | ".join(f"{floor[ds]['floor_sub']:.3f}" for ds in args.datasets) + " |")
    if all("floor_full" in floor[ds] for ds in args.datasets):
        lines.append(f"| sampling floor: two true samples, {args.n_eval} each | "
                     + " | ".join(f"{floor[ds]['floor_full']:.3f}" for ds in args.datasets) + " |")
    lines.append(f"| source vs target (nothing learned), {args.w2_cells} each | "
                 + " | ".join(f"{floor[ds]['transport_sub']:.3f}" for ds in args.datasets) + " |")
    lines += ["", "## Path energy E[∫ |drift|² dt] (mean ± sd over seeds)", "", header, sep]
    for m in args.methods:
        lines.append(f"| cellbridge {LABELS[m]} | " + " | ".join(cell(ds, m, "path_energy", "{:.2f}") for ds in args.datasets) + " |")
    lines.append("| W2² source → target (optimal deterministic transport) | "
                 + " | ".join(f"{floor[ds]['transport_sub'] ** 2:.2f}" for ds in args.datasets) + " |")
    lines += ["", "## Fit time per run, seconds (mean over seeds)", "", header, sep]
    for m in args.methods:
        lines.append(f"| {LABELS[m]} | " + " | ".join(cell(ds, m, "fit_seconds", "{:.0f}").split(" ±")[0] for ds in args.datasets) + " |")
    lines += ["", "## Every run", "", "| dataset | method | seed | W2 | path energy | fit s |", "|---|---|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['dataset']} | {LABELS[r['method']]} | {r['seed']} | {r['w2']:.4f} | {r['path_energy']:.3f} | "
                     f"{r['fit_seconds']:.1f} |")
    return "\n".join(lines) + "\n"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--budget", choices=sorted(BUDGETS), default="cpu")
    p.add_argument("--n-train", type=int, default=10_000)
    p.add_argument("--n-eval", type=int, default=10_000)
    p.add_argument("--w2-cells", type=int, default=4000, help="cells of each side in the exact W2 (default 4000)")
    p.add_argument("--full-floor", action="store_true",
                   help="also compute the sampling floor at --n-eval cells (slow: minutes per dataset at 10,000)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "dsbm_2d.md"),
                   help="markdown report ('-': print only)")
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    load_start = os.getloadavg()
    budget = BUDGETS[args.budget]
    start = time.perf_counter()
    floor = {}
    for ds in args.datasets:
        floor[ds] = floors(ds, args.w2_cells, args.n_eval)
        if args.full_floor:
            floor[ds]["floor_full"] = floor_full(ds, args.n_eval)
        print(f"{ds}: {floor[ds]}", flush=True)
    results = []
    for ds in args.datasets:
        for m in args.methods:
            for seed in args.seeds:
                r = run_one(ds, m, seed, budget, args.n_train, args.n_eval, args.w2_cells)
                results.append(r)
                print(f"{ds:18s} {LABELS[m]:10s} seed {seed}: W2 {r['w2']:.4f}  energy {r['path_energy']:.3f}  "
                      f"fit {r['fit_seconds']:.1f}s  (elapsed {(time.perf_counter() - start) / 60:.1f} min)", flush=True)
    command = "python " + " ".join(shlex.quote(a) for a in ["benchmarks/dsbm_2d.py", *(argv if argv is not None else sys.argv[1:])])
    text = report(results, floor, args, budget, time.perf_counter() - start, load_start, command)
    if args.out == "-":
        print(text)
    else:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
