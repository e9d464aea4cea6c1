#!/usr/bin/env python
"""Default thread count: the demo's fit and a default fit timed with the other cores idle and busy.

For each setting (``--num-threads`` before the change: torch's default, i.e. every core; after: cellbridge's
default, None) and each load (idle; a busy-looping process on each other core), time ``cellbridge.tl.fit``
on the demo's data (``cb.datasets.bifurcation()``, the demo's settings) and a larger-step fit (batch 4096,
50-D) for a fixed number of steps, alternating runs so that drift in machine speed hits both settings.

Run from the repository root::

    python benchmarks/threads.py                  # writes benchmarks/results/threads.md
    python benchmarks/threads.py --steps 200 --large-steps 10 --repeats 3
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FIT = """
import sys, time, numpy as np, torch
import cellbridge as cb
which, steps, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3]
threads = None if threads == "default" else int(threads)
if which == "demo":
    adata = cb.datasets.bifurcation(rng=0)
    kw = {}
else:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(5000, 50)) + k for k in range(3)]).astype(np.float32)
    import anndata as ad, pandas as pd
    adata = ad.AnnData(obs=pd.DataFrame({"day": np.repeat([0.0, 1.0, 2.0], 5000)}), obsm={"X_pca": x})
    kw = {"batch_size": 4096}
cb.tl.fit(adata, "day", n_steps=3, progress=False, device="cpu", num_threads=threads, **kw)  # warm-up
t0 = time.perf_counter()
cb.tl.fit(adata, "day", n_steps=steps, progress=False, device="cpu", num_threads=threads, **kw)
print(time.perf_counter() - t0)
"""


def _spin(stop):  # a busy loop on one core, as any other process would be
    while not stop.is_set():
        pass


def _time(which: str, steps: int, threads: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", FIT, which, str(steps), threads], capture_output=True, text=True,
                         env=env, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300, help="training steps of the demo's fit")
    p.add_argument("--large-steps", type=int, default=20, help="training steps of the large fit")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--before", default=str(os.cpu_count()), help="threads of the 'before' rows (torch's default)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "threads.md")
    args = p.parse_args()
    rows = []
    for which in ("demo", "large"):
        for load in ("idle", "busy"):
            stop = mp.Event()
            spinners = [mp.Process(target=_spin, args=(stop,)) for _ in range((os.cpu_count() or 2) - 1)] \
                if load == "busy" else []
            for s in spinners:
                s.start()
            try:
                times = {"before": [], "after": []}
                steps = args.steps if which == "demo" else args.large_steps
                for _ in range(args.repeats):  # interleaved
                    times["before"].append(_time(which, steps, args.before))
                    times["after"].append(_time(which, steps, "default"))
            finally:
                stop.set()
                for s in spinners:
                    s.join()
            rows.append((which, load, statistics.median(times["before"]), statistics.median(times["after"])))
            print(rows[-1], flush=True)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    lines = [
        "# Default thread count: fits with the other cores idle and busy",
        "",
        f"- Command: `python benchmarks/threads.py --steps {args.steps} --large-steps {args.large_steps} "
        f"--repeats {args.repeats}`",
        f"- Machine: {cpu}, {os.cpu_count()} cores; Python {platform.python_version()}; "
        f"{time.strftime('%Y-%m-%d')}. Busy: a busy-looping process on each other core.",
        f"- before: `num_threads={args.before}` (torch's default, every core); after: cellbridge's default "
        "(`num_threads=None`: 1 thread below `cellbridge._utils.THREADED_WORK` FLOPs per step, else the idle "
        "cores by the load average).",
        "- demo: `cb.datasets.bifurcation()` with `cb.tl.fit` defaults (the demo's fit); large: 3 x 5000 cells in "
        f"50-D, batch 4096. Seconds for {args.steps} (demo) / {args.large_steps} (large) steps after a 3-step "
        "warm-up, median of the repeats (interleaved).",
        "",
        "| fit | other cores | before (s) | after (s) | after / before | busy / idle, after |",
        "|---|---|---|---|---|---|",
    ]
    idle_after = {w: a for w, load, _, a in rows if load == "idle"}
    for which, load, before, after in rows:
        lines.append(f"| {which} | {load} | {before:.1f} | {after:.1f} | {after / before:.2f} | "
                     f"{after / idle_after[which]:.2f} |")
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
