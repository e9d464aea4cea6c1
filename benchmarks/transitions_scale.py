#!/usr/bin/env python
"""Time and peak memory of ``cb.tl.transition_matrix`` (and ``cb.tl.fates`` when present) at 10k and 100k cells.

The data are :func:`cellbridge.datasets.bifurcation` time courses (5 time points, ``--dims`` dimensions)
with ``N / 5`` cells per time point. One small model is fitted per size in the parent process (defaults
but ``--fit-steps`` steps; the fit is not timed) and saved; each measurement then runs in a fresh
subprocess that loads the data and the model, resets the process's peak resident set (Linux:
``/proc/self/clear_refs``, then ``VmHWM``; elsewhere ``resource.getrusage(RUSAGE_SELF).ru_maxrss``, a lower
bound) and times the call alone. The peak-memory column is the peak resident set during the call minus
the resident set before it (data, model and torch already loaded), so it is the call's own peak.

- ``transition_matrix``: defaults (``dt`` one interval, ``n_sims=10``, ``n_neighbors=15``,
  ``batch_size=10000`` paths, 100 Euler steps per interval): every cell is simulated.
- ``fates``: from the middle time point (``N / 5`` cells) to the last, ``--fate-sims`` paths each.

Run from the repository root (one torch thread)::

    python benchmarks/transitions_scale.py                      # 10k and 100k cells, writes the results
    python benchmarks/transitions_scale.py --sizes 10000 --no-write
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

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "transitions_scale.md"

CHILD = r"""
import json, resource, sys, time
import torch
torch.set_num_threads(1)
import anndata as ad
import cellbridge as cb
cb.settings.verbosity = 1
tool, h5ad, model_dir, fate_sims = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
adata = ad.read_h5ad(h5ad)
model = cb.load(model_dir)
def status_kib(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))
try:  # reset the peak resident set (VmHWM) so that it measures this call alone
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before, peak = status_kib("VmRSS"), lambda: status_kib("VmHWM")
except OSError:  # no /proc: ru_maxrss (the peak since the start), a lower bound of the call's own peak
    before, peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
if tool == "transition_matrix":
    P = cb.tl.transition_matrix(adata, model, progress=False)
    extra = {"nnz_per_row": P.nnz / P.shape[0], "cells_simulated": adata.n_obs, "paths": adata.n_obs * 10}
else:
    mid = float(model.time_points[len(model.time_points) // 2])
    cb.tl.fates(adata, model, from_time=mid, groupby="branch", n_sims=fate_sims, progress=False)
    n_src = int((adata.obs["day"] == mid).sum())
    extra = {"cells_simulated": n_src, "paths": n_src * fate_sims}
seconds = time.perf_counter() - start
after = peak()
print(json.dumps({"seconds": seconds, "peak_rss_mib": (after - before) / 1024, "rss_before_mib": before / 1024, **extra}))
"""


def machine() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        model = platform.processor() or "unknown CPU"
    return f"{model}, {os.cpu_count()} cores visible, 1 torch thread"


def prepare(n: int, dims: int, fit_steps: int, workdir: Path) -> tuple[Path, Path]:
    import torch

    torch.set_num_threads(1)
    import cellbridge as cb

    cb.settings.verbosity = 1
    adata = cb.datasets.bifurcation(n_cells=n // 5, n_dims=dims, rng=0)
    del adata.X  # the tools read obsm["X_pca"]; keep the file and the child's baseline small
    h5ad = workdir / f"bif_{n}.h5ad"
    adata.write_h5ad(h5ad)
    model = cb.tl.fit(adata, "day", n_steps=fit_steps, rng=0, num_threads=1, progress=False, device="cpu")
    model_dir = workdir / f"model_{n}"
    model.save(model_dir, overwrite=True)
    return h5ad, model_dir


def measure(tool: str, h5ad: Path, model_dir: Path, fate_sims: int, timeout: float) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    try:
        run = subprocess.run([sys.executable, "-c", CHILD, tool, str(h5ad), str(model_dir), str(fate_sims)],
                             capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {timeout:.0f} s"}
    if run.returncode != 0:
        return {"error": run.stderr.strip().splitlines()[-1] if run.stderr.strip() else f"exit {run.returncode}"}
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--dims", type=int, default=30)
    parser.add_argument("--fit-steps", type=int, default=200)
    parser.add_argument("--fate-sims", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per measurement")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    import cellbridge as cb

    tools = ["transition_matrix"] + (["fates"] if hasattr(cb.tl, "fates") else [])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            h5ad, model_dir = prepare(n, args.dims, args.fit_steps, Path(tmp))
            for tool in tools:
                res = measure(tool, h5ad, model_dir, args.fate_sims, args.timeout)
                res.update(tool=tool, n_cells=n)
                print(json.dumps(res), flush=True)
                rows.append(res)

    if args.no_write:
        return
    command = "python benchmarks/transitions_scale.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    lines = [
        "# Transition matrix and fates at scale",
        "",
        f"Command: `{command.strip()}`",
        "",
        f"Machine: {machine()}. Date: {datetime.date.today().isoformat()}.",
        "",
        f"Data: `cb.datasets.bifurcation`, 5 time points, {args.dims} dimensions, N / 5 cells per time point; "
        f"model: `cb.tl.fit` defaults, {args.fit_steps} steps (not timed). Each row is one call in a fresh "
        "subprocess; peak memory is the peak resident set during the call (`VmHWM` after resetting it "
        "through `/proc/self/clear_refs`) minus the resident set before it (data, model and torch already "
        "loaded). The 2 cores were shared with other jobs, so times may be up to ~2x high.",
        "",
        "- `transition_matrix`: defaults (dt = one interval, 10 paths per cell, 15 neighbours, batches of "
        "10,000 paths, 100 Euler steps per interval); every cell is simulated.",
        f"- `fates`: from the middle time point (N / 5 cells) to the last (two intervals), {args.fate_sims} paths "
        "per cell (its default is 100: time grows linearly in the paths).",
        "",
        "| tool | cells | cells simulated | paths | time (s) | peak memory (MiB) | non-zeros per row |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['tool']} | {r['n_cells']:,} | | | {r['error']} | | |")
            continue
        nnz = f"{r['nnz_per_row']:.1f}" if "nnz_per_row" in r else ""
        lines.append(f"| {r['tool']} | {r['n_cells']:,} | {r['cells_simulated']:,} | {r['paths']:,} | "
                     f"{r['seconds']:.1f} | {r['peak_rss_mib']:.0f} | {nnz} |")
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
