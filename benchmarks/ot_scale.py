#!/usr/bin/env python
"""OT at large batches: time per [SF]2M step and the coupling's bias with one plan or several (issue 19).

Two measurements, both on the CPU with one thread:

1. **Time per training step** of ``SF2MTrainer`` (defaults otherwise; synthetic two-time-point Gaussians,
   10,000 cells each) at ``--batches`` with ``ot_max_plan`` None (one ``batch x batch`` plan per interval)
   and each of ``--plans`` (``ceil(batch / max_plan)`` independent plans). Median over ``--repeats``
   interleaved repeats of ``--steps`` steps after 2 warm-up steps.
2. **Coupling bias**: the minibatch entropic plan between ``n`` cells of N(-0.1, I) and ``n`` of N(0.1, I)
   in d = 5 at the Schrodinger-bridge regularisation of sigma = 1 (eps = 2), whose population coupling
   has cross-covariance (sqrt(5) - 1) / 2 = 0.618 per coordinate. For each plan size ``n``, the plan's
   cross-covariance ``sum_ij P_ij (x0_i - m0)(x1_j - m1)`` averaged over coordinates and over
   ``--bias-cells / n`` independent draws, with its standard error. ``s`` plans of ``n`` cells have the law
   of one plan of ``n`` cells, so this row is what ``ot_max_plan = n`` couples with at any larger batch.

Run from the repository root::

    python benchmarks/ot_scale.py                      # writes benchmarks/results/ot_scale.md
    python benchmarks/ot_scale.py --batches 4096 --plans 1024 --repeats 1 --no-write
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "ot_scale.md"
C_EXACT = (math.sqrt(5) - 1) / 2


def step_times(batches, plans, steps, repeats, dim):
    from cellbridge.methods.sf2m import SF2MConfig, SF2MTrainer

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (10_000, dim)), 1.5 * rng.normal(1, 1, (10_000, dim))]).astype(np.float32)
    t = np.repeat([0.0, 1.0], 10_000)
    sigma = 0.25 * float(np.sqrt(((x - x.mean(0)) ** 2).mean()))
    trainers = {}
    for batch in batches:
        for max_plan in [None, *[p for p in plans if p < batch]]:
            cfg = SF2MConfig(sigma=sigma, batch_size=batch, n_steps=10**6, ot_max_plan=max_plan)
            trainers[batch, max_plan] = SF2MTrainer(x, t, cfg, rng=0)
            for _ in range(2):
                trainers[batch, max_plan].step()
    times = {key: [] for key in trainers}
    for _ in range(repeats):
        for key, trainer in trainers.items():
            start = time.perf_counter()
            for _ in range(steps):
                trainer.step()
            times[key].append((time.perf_counter() - start) / steps)
    return {key: statistics.median(v) for key, v in times.items()}


def coupling_bias(sizes, total_cells, seed=0):
    from cellbridge.ot import MinibatchCoupling

    coupling = MinibatchCoupling("entropic", sigma=1.0, tol=1e-4, max_iter=5000)
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for n in sizes:
        values = []
        for _ in range(max(4, total_cells // n)):
            x0 = torch.randn((1, n, 5), generator=gen) - 0.1
            x1 = torch.randn((1, n, 5), generator=gen) + 0.1
            plan = coupling.plan(x0, x1, torch.ones(1))[0].double()
            c0, c1 = (x0[0] - x0[0].mean(0)).double(), (x1[0] - x1[0].mean(0)).double()
            values.append(float((c0.T @ plan @ c1).diagonal().mean()))
        out[n] = (float(np.mean(values)), float(np.std(values, ddof=1) / np.sqrt(len(values))), len(values))
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1024, 2048, 4096, 8192])
    parser.add_argument("--plans", type=int, nargs="+", default=[1024, 2048])
    parser.add_argument("--dim", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bias-sizes", type=int, nargs="+", default=[256, 512, 1024, 2048, 4096])
    parser.add_argument("--bias-cells", type=int, default=262_144, help="cells per plan size over all draws")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    times = step_times(args.batches, args.plans, args.steps, args.repeats, args.dim)
    rows = ["| batch | one plan | " + " | ".join(f"plans of at most {p}" for p in args.plans) + " |",
            "|---:|---:|" + "---:|" * len(args.plans)]
    for batch in args.batches:
        one = times[batch, None]
        cells = [f"{1000 * one:.0f} ms"]
        for p in args.plans:
            cells.append(f"{1000 * times[batch, p]:.0f} ms ({one / times[batch, p]:.1f}x)" if p < batch else "-")
        rows.append(f"| {batch} | " + " | ".join(cells) + " |")
    print("\n".join(rows), flush=True)
    bias = coupling_bias(args.bias_sizes, args.bias_cells)
    brows = ["| cells per plan | plans averaged | cross-covariance | standard error | bias (closed form 0.618) |",
             "|---:|---:|---:|---:|---:|"]
    for n, (mean, se, k) in bias.items():
        brows.append(f"| {n} | {k} | {mean:.4f} | {se:.4f} | {mean - C_EXACT:+.4f} |")
    print("\n".join(brows))
    if args.no_write:
        return
    from machine import command_line, cpu_model

    cpu, command = cpu_model(), command_line("ot_scale.py", argv)
    RESULTS.write_text("\n".join([
        "# OT at large batches: one plan per interval or several", "",
        f"`{command.strip()}` ({datetime.date.today().isoformat()}, {cpu}, {os.cpu_count()} logical cores, one "
        f"thread, load average {load:.2f} at the start; {(time.perf_counter() - started) / 60:.1f} min).", "",
        f"## Time per [SF]2M training step (d = {args.dim}; median of {args.repeats} interleaved repeats of "
        f"{args.steps} steps)", "", *rows, "",
        "## Bias of the minibatch entropic coupling (Gaussian Schrodinger bridge, d = 5, sigma = 1)", "",
        *brows, ""]) + "\n")


if __name__ == "__main__":
    main()
