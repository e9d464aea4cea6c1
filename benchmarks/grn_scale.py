#!/usr/bin/env python
"""Time and peak memory of ``cb.tl.grn`` at genome scale: 2,000 genes x 10,000 cells with a 100-TF list.

The data: a linear system ``dx = A x dt + noise`` with ``A = -I`` plus signed edges from the TFs (the
first ``--tfs`` genes) only: every other gene has 2 or 3 TF regulators, the TFs decay. Its solution is
closed-form (``x_TF(t) = x_TF(0) e^{-t}``, ``x_i(t) = e^{-t} (x_i(0) + t sum_j A_ij x_j(0))``), so the
data cost nothing to make. Cells start in 200 clusters (more states than TFs, so that the TFs' levels
are not collinear) and are recorded at 5 snapshot times 0, 0.5, ..., 2 (each snapshot from fresh
trajectories), with noise 0.05 per gene; ``X`` is float32.

Routes, each in a fresh subprocess on one thread (``OMP/MKL/OPENBLAS_NUM_THREADS=1``,
``torch.set_num_threads(1)``) that reads the data, resets the peak resident set (Linux
``/proc/self/clear_refs``, then ``VmHWM``) and times the call alone:

- ``ot``: ``cb.tl.grn(adata, time_key="day", regulators=tfs)``, the model-free route at its defaults
  (``n_cells=5000``, ``n_sub=(3, 4, 5, 6)``, ``top_k=20``); ``ot_n_sub1`` with ``n_sub=1`` (the setting
  for snapshots whose cells were recorded at one time, as here); ``ot_all_cells`` the defaults with
  ``n_cells=None``; ``ot_no_tf_list`` the defaults without the TF list (every gene a regulator: the
  regression on every gene's column).
- ``ngm``: ``cb.tl.fit(adata, "day", use_rep="X", drift="ngm", n_steps=S, ot_method="exact")`` then
  ``cb.tl.grn(adata, model, regulators=tfs)``; fit and readout timed separately, with a small stated
  ``S`` (the default is 2,000 steps): the per-step time extrapolates to the default.

The quality columns are for orientation only (this is a speed benchmark): the fraction of the true TF ->
target edges that are in the kept table (20 of 100 TFs kept per target: 20% by chance).

Run from the repository root::

    python benchmarks/grn_scale.py                         # every route at 2,000 genes, writes the results
    python benchmarks/grn_scale.py --routes ot --no-write
    python benchmarks/grn_scale.py --routes ngm --genes 500 --tfs 50 --ngm-steps 2000 --no-write
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "grn_scale.md"

CHILD = r"""
import json, sys, time
import numpy as np
import torch
torch.set_num_threads(1)
sys.path.insert(0, sys.argv[4])
import anndata as ad
import cellbridge as cb
from peak_rss import reset, status_kib
from scipy import sparse
cb.settings.verbosity = 1
route, h5ad, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
adata = ad.read_h5ad(h5ad)
tfs = list(adata.uns["tfs"])
truth = {(r, t) for r, t in zip(adata.uns["truth_regulator"], adata.uns["truth_target"])}
out = {"route": route, "cellbridge": cb.__file__, "data_mib": adata.X.nbytes / 2**20}
before = reset()
start = time.perf_counter()
if route.startswith("ot"):
    kw = {} if route == "ot_no_tf_list" else {"regulators": tfs}
    if route == "ot_all_cells":
        kw["n_cells"] = None
    if route == "ot_n_sub1":
        kw["n_sub"] = 1
    edges = cb.tl.grn(adata, time_key="day", **kw)
    out["grn_s"] = time.perf_counter() - start
else:
    model = cb.tl.fit(adata, "day", use_rep="X", drift="ngm", n_steps=steps, ot_method="exact", progress=False,
                      num_threads=1, device="cpu")
    out["fit_s"] = time.perf_counter() - start
    out["fit_steps"] = steps
    out["fit_peak_mib"] = (status_kib("VmHWM") - before) / 1024
    before = reset()
    start = time.perf_counter()
    edges = cb.tl.grn(adata, model, regulators=tfs)
    out["grn_s"] = time.perf_counter() - start
out["rss_before_mib"] = before / 1024
out["grn_peak_mib"] = (status_kib("VmHWM") - before) / 1024
out["peak_total_mib"] = status_kib("VmHWM") / 1024
overall = edges[edges["group"] == "all"]
found = {(r, t) for r, t in zip(overall["regulator"].astype(str), overall["target"].astype(str))}
out["rows"] = int(len(edges))
out["true_edges_kept"] = len(truth & found) / len(truth)
v = adata.varp["cellbridge_grn"]
out["varp"] = f"{type(v).__name__} nnz {v.nnz}" if sparse.issparse(v) else f"dense {v.shape}"
out["uns_edges_mib"] = float(edges.memory_usage(deep=False).sum() / 2**20)
print("RESULT " + json.dumps(out))
"""


def make_data(n_genes: int, n_cells: int, n_tfs: int, seed: int = 0):
    """The closed-form linear system of the module notes, as an AnnData (float32 ``X``)."""
    import anndata as ad
    import pandas as pd

    rng = np.random.default_rng(seed)
    regs_of = {j: rng.choice(n_tfs, rng.integers(2, 4), replace=False) for j in range(n_tfs, n_genes)}
    weight = {(j, r): rng.choice([-1.0, 1.0]) * rng.uniform(0.8, 1.5) for j, rs in regs_of.items() for r in rs}
    t = snapshot = np.repeat(np.linspace(0, 2, 5), n_cells // 5)
    centres = rng.normal(0, 2.0, (200, n_genes)).astype(np.float32)
    x0 = centres[rng.integers(200, size=len(t))] + 0.1 * rng.normal(size=(len(t), n_genes)).astype(np.float32)
    drive = np.zeros((len(t), n_genes), dtype=np.float32)  # sum_j A_ij x_j(0) over the TFs
    for (j, r), w in weight.items():
        drive[:, j] += w * x0[:, r]
    x = (np.exp(-t)[:, None] * (x0 + t[:, None] * drive)).astype(np.float32)
    x += 0.05 * rng.normal(size=x.shape).astype(np.float32)
    genes = [f"TF{i}" for i in range(n_tfs)] + [f"G{i}" for i in range(n_tfs, n_genes)]
    adata = ad.AnnData(x, obs=pd.DataFrame({"day": snapshot}, index=[f"c{i}" for i in range(len(t))]),
                       var=pd.DataFrame(index=genes))
    adata.uns["tfs"] = np.array(genes[:n_tfs])
    adata.uns["truth_regulator"] = np.array([genes[r] for (_, r) in weight])
    adata.uns["truth_target"] = np.array([genes[j] for (j, _) in weight])
    return adata


def run_child(route: str, h5ad: Path, steps: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parent), os.environ.get("PYTHONPATH", "")])}  # peak_rss
    proc = subprocess.run([sys.executable, "-c", CHILD, route, str(h5ad), str(steps), str(ROOT)],
                          capture_output=True, text=True, env=env)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"{route} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return json.loads(line[len("RESULT "):])


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"


def table(rows: list[dict]) -> list[str]:
    lines = ["| genes x cells, TFs | route | fit | `tl.grn` | peak memory of the call (total) | table rows | varp | true edges kept |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        fit = f"{r['fit_s']:.0f} s ({r['fit_steps']} steps, {r['fit_s'] / r['fit_steps']:.2f} s/step; peak {r['fit_peak_mib']:.0f} MiB)" \
            if "fit_s" in r else "none"
        lines.append(f"| {r['genes']} x {r['cells']}, {r['tfs_listed']} | `{r['route']}` | {fit} | {r['grn_s']:.1f} s | "
                     f"{r['grn_peak_mib']:.0f} MiB ({r['peak_total_mib']:.0f} MiB; data {r['data_mib']:.0f} MiB) | "
                     f"{r['rows']} | {r['varp']} | {r['true_edges_kept']:.2f} |")
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--genes", type=int, default=2000)
    parser.add_argument("--cells", type=int, default=10000)
    parser.add_argument("--tfs", type=int, default=100)
    parser.add_argument("--routes", nargs="+", default=["ot", "ot_n_sub1", "ot_all_cells", "ot_no_tf_list", "ngm"])
    parser.add_argument("--ngm-steps", type=int, default=3)
    parser.add_argument("--append", action="store_true", help="add the rows to the results file's table")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        h5ad = Path(tmp) / "data.h5ad"
        make_data(args.genes, args.cells, args.tfs).write_h5ad(h5ad)
        for route in args.routes:
            r = run_child(route, h5ad, args.ngm_steps)
            r.update(genes=args.genes, cells=args.cells, tfs_listed="none" if route == "ot_no_tf_list" else args.tfs)
            print(json.dumps(r), flush=True)
            rows.append(r)
    for line in table(rows):
        print(line)
    if args.no_write:
        return
    command = "python benchmarks/grn_scale.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    stamp = f"{datetime.date.today().isoformat()}, {cpu_model()}, {os.cpu_count()} logical cores, one thread"
    if args.append and RESULTS.exists():
        text = RESULTS.read_text().rstrip("\n").split("\n")
        text += table(rows)[2:] + ["", f"(rows above added by `{command.strip()}`, {stamp})"]
        RESULTS.write_text("\n".join(text) + "\n")
    else:
        RESULTS.write_text("\n".join([f"# `cb.tl.grn` at genome scale", "", f"`{command.strip()}` ({stamp}).", "",
                                      *table(rows), ""]) + "\n")


if __name__ == "__main__":
    main()
