#!/usr/bin/env python
"""Peak memory and time per step of ``cb.tl.fit`` (and ``simulate``) from 10^4 to 10^6 cells (issue 19).

The data: ``n`` cells in 50-D at 5 time points (float32 ``obsm["X_pca"]``, Gaussian clouds whose means
move), written to an h5ad. Each size runs in a fresh subprocess on one thread that reads the file, resets
the peak resident set (Linux ``/proc/self/clear_refs``, then ``VmHWM``), and calls
``cb.tl.fit(adata, "day", use_rep="X_pca", n_steps=S)`` with the defaults otherwise; the added peak is
``VmHWM`` minus the resident set before the call. Time per step is the fit's wall time over ``S`` (set-up
included) and, separately, the fit's own training time over ``S`` (``uns["cellbridge"]["loss_history"]``'s
``train_seconds`` when recorded). ``simulate`` pushes 20,000 cells from the first to the last time point.
A tiny fit and simulation run first in each subprocess (libraries loaded, torch's allocator warm), so that
the added peak is what the data cost.

Run from the repository root::

    python benchmarks/fit_scale.py                      # 1e4, 1e5, 1e6 cells; writes benchmarks/results/fit_scale.md
    python benchmarks/fit_scale.py --cells 10000 --no-write
    python benchmarks/fit_scale.py --cells 1000000 10000000 --device cuda   # writes results/fit_scale_cuda.md
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "fit_scale.md"

CHILD = r"""
import json, sys, time
import numpy as np
import torch
torch.set_num_threads(1)
sys.path.insert(0, sys.argv[3])
import anndata as ad
import cellbridge as cb
from peak_rss import reset, status_kib
cb.settings.verbosity = 1
h5ad, steps = sys.argv[1], int(sys.argv[2])
backed = len(sys.argv) > 4 and sys.argv[4] == "backed"
device = sys.argv[5] if len(sys.argv) > 5 else "cpu"
adata = ad.read_h5ad(h5ad, backed="r") if backed else ad.read_h5ad(h5ad)
# warm-up: a tiny fit and simulation load the libraries and torch's allocator, so that the peak below is
# what the data add
warm = ad.AnnData(obs={"day": np.repeat([0.0, 1.0], 100)})
warm.obsm["X_pca"] = np.random.default_rng(0).normal(size=(200, 50)).astype(np.float32)
cb.tl.fit(warm, "day", use_rep="X_pca", n_steps=3, progress=False, device="cpu", rng=0).simulate(
    warm.obsm["X_pca"][:10], [0.0, 1.0], rng=0)
out = {"cells": adata.n_obs, "code": cb.__file__, "rep_mib": adata.obsm["X_pca"].nbytes / 2**20, "backed": backed}
before = reset()
start = time.perf_counter()
model = cb.tl.fit(adata, "day", use_rep="X_pca", n_steps=steps, progress=False, device=device, rng=0)
if device != "cpu":
    out["gpu_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
out["fit_s"] = time.perf_counter() - start
out["train_s"] = float(model.history.get("train_seconds", float("nan")))
out["fit_peak_mib"] = (status_kib("VmHWM") - before) / 1024
x0 = np.asarray(adata.obsm["X_pca"][np.asarray(adata.obs["day"]) == 0][:20000])
x0 = x0[np.arange(20000) % len(x0)]
start = time.perf_counter()
model.simulate(x0, model.time_points, rng=0)
out["simulate_s"] = time.perf_counter() - start
print("RESULT " + json.dumps(out))
"""


def make_data(n_cells: int, dim: int = 50, seed: int = 0):
    import anndata as ad
    import pandas as pd

    rng = np.random.default_rng(seed)
    day = np.repeat(np.arange(5), n_cells // 5)
    rng.shuffle(day)  # an AnnData is rarely sorted by time
    means = np.cumsum(rng.normal(0, 1, (5, dim)), axis=0)
    x = (means[day] + rng.normal(size=(len(day), dim))).astype(np.float32)
    adata = ad.AnnData(obs=pd.DataFrame({"day": day.astype(float)}, index=[f"c{i}" for i in range(len(day))]))
    adata.obsm["X_pca"] = x
    return adata


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--backed", action="store_true", help="also fit from the file opened with backed='r'")
    parser.add_argument("--code", type=Path, default=ROOT,
                        help="the cellbridge source tree to import (another checkout, to compare commits)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (cuda: skipped, nothing written, without CUDA)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    if args.device != "cpu":
        import torch

        if not torch.cuda.is_available():
            print("fit_scale: --device cuda requested but CUDA is not available; skipping (nothing written).")
            return
    rows = []
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parent), os.environ.get("PYTHONPATH", "")])}  # peak_rss
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.cells:
            h5ad = Path(tmp) / f"cells{n}.h5ad"
            make_data(n).write_h5ad(h5ad)
            for mode in (["memory", "backed"] if args.backed else ["memory"]):
                proc = subprocess.run([sys.executable, "-c", CHILD, str(h5ad), str(args.steps), str(args.code), mode, args.device],
                                      capture_output=True, text=True, env=env)
                line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
                if proc.returncode != 0 or line is None:
                    raise RuntimeError(f"{n} cells failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
                r = json.loads(line[len("RESULT "):])
                print(json.dumps(r), flush=True)
                rows.append(r)
    lines = ["| cells | representation | read | peak RSS added by `tl.fit` | ratio to the representation | "
             "time per step incl. set-up | `simulate` 20k cells to the end |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['cells']:,} | {r['rep_mib']:.0f} MiB | {'backed' if r['backed'] else 'in memory'} | "
                     f"{r['fit_peak_mib']:.0f} MiB"
                     + (f" (GPU {r['gpu_peak_mib']:.0f} MiB)" if "gpu_peak_mib" in r else "")
                     + f" | {r['fit_peak_mib'] / r['rep_mib']:.2f}x | "
                     f"{1000 * r['fit_s'] / args.steps:.0f} ms | {r['simulate_s']:.1f} s |")
    print("\n".join(lines))
    if args.no_write:
        return
    from machine import command_line, cpu_model

    cpu, command = cpu_model(), command_line("fit_scale.py", argv)
    results = RESULTS if args.device == "cpu" else RESULTS.with_name(f"fit_scale_{args.device}.md")
    results.write_text("\n".join(["# `cb.tl.fit` memory and time from 10^4 to 10^6 cells", "",
                                  f"`{command.strip()}` ({datetime.date.today().isoformat()}, {cpu}, "
                                  f"{os.cpu_count()} logical cores, one thread, {args.steps} steps, 50-D, 5 time points, "
                                  f"device {args.device}).",
                                  "", *lines, ""]) + "\n")


if __name__ == "__main__":
    main()
