#!/usr/bin/env python
"""Training throughput of data-parallel fits (``devices=N``) against one process, on the CPU (issue 19).

The data: ``--cells`` cells in 50-D at 5 time points (Gaussian clouds whose means move, as
``benchmarks/fit_scale.py``). Each configuration fits ``CellBridgeModel.fit`` with the defaults, one thread
per process, ``--steps`` steps, and the configurations run interleaved ``--repeats`` times. Reported per
configuration (median over repeats):

- steps per second of the training loop (rank 0's ``history["train_seconds"]``: process start-up excluded);
- cell pairs per second: processes x batch x intervals x steps over that time (the data a fit learns from);
- the wall time of the whole call (spawning the processes and importing torch in them included).

Rows: one process at batch 256; N processes at batch 256 each (N times the pairs per step); N processes at
256 / N each (the same pairs per step as one process). On a machine with C cores, N <= C processes; the
load average at the start is recorded, since another busy process takes a core from the ranks.

Run from the repository root::

    python benchmarks/data_parallel.py                 # writes benchmarks/results/data_parallel.md
    python benchmarks/data_parallel.py --processes 2 --steps 200 --no-write
    python benchmarks/data_parallel.py --device cuda --processes 2   # writes results/data_parallel_cuda.md
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "data_parallel.md"


def make_data(n_cells: int, dim: int = 50, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    day = rng.permutation(np.repeat(np.arange(5), n_cells // 5)).astype(float)
    means = np.cumsum(rng.normal(0, 1, (5, dim)), axis=0)
    return (means[day.astype(int)] + rng.normal(size=(len(day), dim))).astype(np.float32), day


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu",
                        help="cpu (N gloo processes) or cuda (N GPUs, NCCL; skipped without enough of them)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    import torch

    if args.device != "cpu" and torch.cuda.device_count() < args.processes:
        print(f"data_parallel: {args.processes} CUDA devices needed, {torch.cuda.device_count()} visible; skipping")
        return

    from cellbridge.model import CellBridgeModel

    torch.set_num_threads(1)
    load = os.getloadavg()[0]
    x, t = make_data(args.cells)
    n = args.processes
    configs = [("1 process", None, 256), (f"{n} processes, 256 each", n, 256),
               (f"{n} processes, {256 // n} each", n, 256 // n)]
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in configs}
    for repeat in range(args.repeats):
        for name, devices, batch in configs:
            start = time.perf_counter()
            model = CellBridgeModel.fit(x, t, n_steps=args.steps, batch_size=batch, device=args.device, rng=repeat,
                                        progress=False, devices=devices, num_threads=1)
            runs[name].append((float(model.history["train_seconds"]), time.perf_counter() - start))
            print(f"repeat {repeat} {name}: train {runs[name][-1][0]:.1f}s, wall {runs[name][-1][1]:.1f}s", flush=True)
    lines = ["| configuration | pairs per step | steps/s | pairs/s | ratio of pairs/s to 1 process | wall per fit |",
             "|---|---|---|---|---|---|"]
    base = None
    for name, devices, batch in configs:
        train = statistics.median(r[0] for r in runs[name])
        wall = statistics.median(r[1] for r in runs[name])
        pairs = (devices or 1) * batch * 4
        rate = pairs * args.steps / train
        base = rate if base is None else base
        lines.append(f"| {name} | {pairs:,} | {args.steps / train:.1f} | {rate:,.0f} | {rate / base:.2f}x | {wall:.1f} s |")
    print("\n".join(lines))
    if args.no_write:
        return
    from machine import command_line, cpu_model

    cpu, command = cpu_model(), command_line("data_parallel.py", argv)
    results = RESULTS if args.device == "cpu" else RESULTS.with_name(f"data_parallel_{args.device}.md")
    results.write_text("\n".join([
        f"# Data-parallel training on {args.device} (`devices=N`, {'gloo' if args.device == 'cpu' else 'NCCL'})", "",
        f"`{command.strip()}` ({datetime.date.today().isoformat()}, {cpu}, {os.cpu_count()} logical cores, "
        f"load average {load:.2f} at the start; one thread per process; {args.cells:,} cells, 50-D, 5 time points, "
        f"{args.steps} steps, median of {args.repeats} interleaved repeats).", "",
        *lines, "",
        "Steps/s is rank 0's training loop (process start-up excluded; it is in the wall time). Pairs are the "
        "coupled cell pairs a step learns from, over all processes and the 4 intervals.", ""]) + "\n")


if __name__ == "__main__":
    main()
