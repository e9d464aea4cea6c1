"""Command-line interface: ``cellbridge demo``, ``cellbridge fit``, ``cellbridge benchmark grn`` and
``cellbridge --version``.

``cellbridge fit`` is the way to train on a cluster: run it under ``torchrun`` and it trains data-parallel
over torchrun's processes (multi-node through torchrun's rendezvous), e.g.
``torchrun --standalone --nproc-per-node 4 -m cellbridge fit data.h5ad --time-key day --out model/``.

This is the one module that prints: its output is the report the user asked for. Progress and details
go through the package logger (stderr), as everywhere else.
"""

from __future__ import annotations

import argparse
import datetime
import shlex
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["main"]

#: default number of training steps of ``cellbridge demo`` (sized to finish in 2 minutes on 2 CPU cores)
DEMO_N_STEPS = 1500
DEMO_TIME_KEY = "day"
DEMO_FIGURE = "cellbridge_demo.png"


def _version() -> str:
    try:
        import cellbridge

        version = getattr(cellbridge, "__version__", None)
        if version:
            return str(version)
    except ImportError:  # pragma: no cover - the package is importable when this module is
        pass
    try:
        from importlib.metadata import PackageNotFoundError, version as dist_version

        return dist_version("cellbridge")
    except PackageNotFoundError:
        return "unknown"


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cellbridge",
        description="Stochastic single-cell dynamics from time-course snapshots ([SF]2M, Schrodinger bridges).",
    )
    parser.add_argument("--version", action="version", version=f"cellbridge {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="fit a model to a synthetic bifurcating time course and plot simulated trajectories",
        description=(
            "Generate cellbridge.datasets.bifurcation(), fit [SF]2M with cellbridge.tl.fit, simulate from the "
            "first time point, print W1 distances between simulated and observed cells at every time point, "
            "and save a figure of the trajectories."
        ),
    )
    demo.add_argument("--out", type=Path, default=Path("cellbridge-demo"), help="output folder (default: %(default)s)")
    demo.add_argument(
        "--n-steps", type=int, default=DEMO_N_STEPS, help="training steps (default: %(default)s)"
    )
    demo.add_argument("--seed", type=int, default=0, help="seed of the data, training and simulation (default: 0)")
    demo.add_argument("--device", default="auto", help="'auto' (CUDA when present), 'cpu' or 'cuda' (default: auto)")
    demo.add_argument("--num-threads", type=int, default=None,
                      help="torch CPU threads while training (default: chosen by cellbridge.tl.fit; 1 for the demo)")
    demo.set_defaults(func=_demo)

    fit = sub.add_parser(
        "fit",
        help="fit a model to an .h5ad time course and save it (data-parallel under torchrun or with --devices)",
        description=(
            "Read DATA (an .h5ad file, backed: X stays on disk), fit cellbridge.tl.fit(adata, time_key, use_rep, "
            "...) and write the model directory that cellbridge.load reads. Under torchrun (WORLD_SIZE > 1) the "
            "fit is data-parallel over torchrun's processes, NCCL on CUDA and gloo on the CPU, and rank 0 writes "
            "the model; --devices N spawns N processes itself."
        ),
    )
    fit.add_argument("data", type=Path, metavar="DATA", help="an .h5ad file")
    fit.add_argument("--time-key", required=True, help="the time column of obs")
    fit.add_argument("--use-rep", default=None, help="obsm key of the representation, or X (default: X_pca)")
    fit.add_argument("--out", type=Path, required=True, metavar="MODEL", help="model directory to write")
    fit.add_argument("--overwrite", action="store_true", help="replace MODEL if it exists")
    fit.add_argument("--method", default="sf2m", help="a registered method (default: %(default)s)")
    fit.add_argument("--n-steps", type=int, default=None, help="training steps (default: the method's)")
    fit.add_argument("--batch-size", type=int, default=None, help="cells per interval per step and process")
    fit.add_argument("--lr", type=float, default=None, help="learning rate (default: the method's)")
    fit.add_argument("--sigma", type=float, default=None, help="diffusion coefficient (default: chosen from the data)")
    fit.add_argument("--seed", type=int, default=0, help="seed of the fit (default: 0)")
    fit.add_argument("--device", default="auto", help="'auto' (CUDA when present), 'cpu' or 'cuda' (default: auto)")
    fit.add_argument("--devices", type=int, default=None, metavar="N",
                     help="spawn N data-parallel processes (not under torchrun, which sets the processes itself)")
    fit.add_argument("--num-threads", type=int, default=None, help="torch CPU threads per process (default: chosen)")
    fit.add_argument("--checkpoint-dir", type=Path, default=None, metavar="DIR",
                     help="checkpoint the training state here; the same command again resumes from it (on a "
                          "cluster: after a preemption)")
    fit.add_argument("--checkpoint-every", type=int, default=None, metavar="STEPS",
                     help="steps between checkpoints (default: cellbridge.tl.fit's)")
    fit.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                     help="any other argument of cellbridge.tl.fit, VALUE read as JSON when it parses (e.g. "
                          "--option growth=true --option hidden_dims=[128,128]); repeatable")
    fit.add_argument("--no-progress", action="store_true", help="no progress bar")
    fit.set_defaults(func=_fit)

    bench = sub.add_parser("benchmark", help="benchmarks with a known answer",
                           description="Benchmarks with a known answer.")
    bench_sub = bench.add_subparsers(dest="benchmark", metavar="BENCHMARK")
    bench.set_defaults(func=lambda args: _help(bench))
    grn = bench_sub.add_parser(
        "grn",
        help="gene-network recovery on BEELINE / SERGIO folders or BoolODE rule files (AUROC, AUPRC ratio, EPR, signs)",
        description=(
            "Score gene-network inference methods (cellbridge.grn.benchmark.METHODS) on simulations with a known "
            "network, as BEELINE does: AUROC, AUPRC ratio, early precision ratio and signed accuracy per network "
            "and method. Writes PREFIX.md (the table of benchmarks/results/grn.md) and PREFIX.csv (one row per "
            "network, method and seed)."
        ),
    )
    grn.add_argument("--data", nargs="+", type=Path, default=[], metavar="DIR",
                     help="a network folder in BEELINE layout (ExpressionData.csv, PseudoTime.csv, refNetwork.csv) "
                          "or SERGIO layout (simulated_noNoise_T_0.csv, gt_GRN.csv, bMat_cID*.tab), or a folder of "
                          "such folders (searched at any depth)")
    grn.add_argument("--rules", nargs="+", type=Path, default=[], metavar="FILE",
                     help="BoolODE rule files to simulate (20 cells at each of 50 times, as benchmarks/grn.py "
                          "--simulated)")
    grn.add_argument("--end-time", type=float, default=None,
                     help="simulation end time of --rules (default: BEELINE's for its own rule files)")
    grn.add_argument("--methods", nargs="+", default=None, metavar="METHOD",
                     help="methods to run, or 'all' (default: every method but the slow NGM fits 'cellbridge' and "
                          "'cellbridge_ensemble', four fits per network and seed)")
    grn.add_argument("--seeds", type=int, default=3, metavar="N",
                     help="seeds 0 .. N-1 of the random methods (default: %(default)s)")
    grn.add_argument("--n-times", type=int, default=5, metavar="K",
                     help="time points the cells are binned into (BEELINE layout, rule files; default: %(default)s)")
    grn.add_argument("--ngm-steps", type=int, default=None,
                     help="training steps of each fit of the 'cellbridge' and 'cellbridge_ensemble' methods (default: "
                          "tl.fit's, 2000 for [SF]2M)")
    grn.add_argument("--num-threads", type=int, default=1,
                     help="torch CPU threads during the run (default: %(default)s)")
    grn.add_argument("--out", type=Path, default=Path("grn_benchmark"), metavar="PREFIX",
                     help="writes PREFIX.md and PREFIX.csv (default: %(default)s)")
    grn.add_argument("--no-progress", action="store_true", help="no progress bar")
    grn.set_defaults(func=_benchmark_grn)
    return parser


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 1


def _format_row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(cell.rjust(width) for cell, width in zip(cells, widths))


def _demo(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")  # never open a window: the figure goes to a file
    import matplotlib.pyplot as plt

    from . import pl, tl
    from ._keys import DEFAULT_FIT_KEY, DEFAULT_REP, SIM_TIME, SIM_TRAJECTORY
    from .datasets import bifurcation
    from .metrics import wasserstein

    if args.n_steps < 1:
        print(f"cellbridge demo: --n-steps must be positive, got {args.n_steps}", file=sys.stderr)
        return 2
    if args.num_threads is not None and args.num_threads < 1:
        print(f"cellbridge demo: --num-threads must be positive, got {args.num_threads}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    time_key, use_rep = DEMO_TIME_KEY, DEFAULT_REP

    adata = bifurcation(time_key=time_key, rng=args.seed)
    obs_t = adata.obs[time_key].to_numpy(dtype=np.float64)
    times = np.unique(obs_t)
    X = np.asarray(adata.obsm[use_rep])
    counts = ", ".join(f"{t:g}: {int(np.sum(obs_t == t))}" for t in times)
    print(f"cellbridge demo: synthetic bifurcation, {adata.n_obs} cells x {X.shape[1]} dims")
    print(f"  cells per {time_key}: {counts}")

    fit_start = time.perf_counter()
    model = tl.fit(
        adata,
        time_key=time_key,
        use_rep=use_rep,
        n_steps=args.n_steps,
        device=args.device,
        num_threads=args.num_threads,
        rng=args.seed,
        key_added=DEFAULT_FIT_KEY,
    )
    fit_wall = time.perf_counter() - fit_start
    record = adata.uns.get(DEFAULT_FIT_KEY, {})
    train_seconds = float(record.get("train_seconds", fit_wall))
    losses = np.asarray(record.get("loss_history", {}).get("loss", []), dtype=np.float64)
    print(f"  training: {args.n_steps} steps in {train_seconds:.1f} s")
    if losses.size:
        tail = losses[-min(50, losses.size) :]
        print(f"  final loss: {losses[-1]:.4f} (mean of the last {tail.size} steps: {tail.mean():.4f})")

    # simulate from the first time point; evaluate on a fine grid that contains every observed time
    n_grid = 8 * (times.size - 1) + 1
    t_eval = np.union1d(np.linspace(times[0], times[-1], n_grid), times)
    sim = tl.simulate(adata, model, from_time=float(times[0]), t_eval=t_eval, rng=args.seed)
    sim_t = sim.obs[SIM_TIME].to_numpy(dtype=np.float64)
    sim_X = np.asarray(sim.obsm[use_rep])
    n_traj = int(sim.obs[SIM_TRAJECTORY].nunique())
    print(f"  simulated {n_traj} trajectories from {time_key} {times[0]:g} at {np.unique(sim_t).size} times")

    header = [time_key, "cells", "W1(sim, obs)", f"W1(prev {time_key}, obs)"]
    rows = []
    for k, t in enumerate(times):
        observed = X[obs_t == t]
        at_t = np.isclose(sim_t, t, rtol=0.0, atol=1e-6 * max(1.0, abs(t)))
        w_sim = f"{wasserstein(sim_X[at_t], observed, rng=args.seed):.3f}" if at_t.any() else "n/a"
        w_ref = f"{wasserstein(X[obs_t == times[k - 1]], observed, rng=args.seed):.3f}" if k > 0 else "-"
        rows.append([f"{t:g}", str(observed.shape[0]), w_sim, w_ref])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print()
    print("  W1 (exact OT, Euclidean cost) between simulated and observed cells; the previous observed")
    print("  snapshot is a reference a useful model should beat:")
    print("  " + _format_row(header, widths))
    for row in rows:
        print("  " + _format_row(row, widths))
    print()

    # The data live in a randomly rotated 10-D space: draw them in the plane of their two leading principal
    # axes (computed from the observed cells, applied to both), where the fork is visible.
    center = X.mean(axis=0)
    _, _, vt = np.linalg.svd(X - center, full_matrices=False)
    axes_2d = vt[:2].T
    if np.corrcoef((X - center) @ axes_2d[:, 0], obs_t)[0, 1] < 0:
        axes_2d[:, 0] *= -1.0  # time runs left to right
    view_key = f"{use_rep}_2d"
    adata.obsm[view_key] = ((X - center) @ axes_2d).astype(np.float32)
    sim.obsm[view_key] = ((sim_X - center) @ axes_2d).astype(np.float32)
    figure_path = out_dir / DEMO_FIGURE
    ax = pl.trajectories(adata, sim, time_key=time_key, use_rep=view_key, save=str(figure_path), rng=args.seed)
    plt.close(ax.figure)
    print(f"  wrote {figure_path}")
    print(f"  total time {time.perf_counter() - start:.1f} s")
    return 0


def _options(pairs: list[str]) -> dict:
    """``KEY=VALUE`` strings as keyword arguments, each VALUE parsed as JSON when it parses (else a string)."""
    import json

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"--option takes KEY=VALUE with KEY an argument name, got {pair!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def _torchrun_group(device: str):
    """Under torchrun (WORLD_SIZE > 1): initialise the process group from its environment and return this
    rank's device; None when not under torchrun."""
    import os

    import torch

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    import torch.distributed as dist

    from ._utils import resolve_device

    dev = resolve_device(device)
    if dev.type == "cuda":
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(dev)
    dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", init_method="env://")
    return dev


def _fit(args: argparse.Namespace) -> int:
    import anndata as ad

    from . import tl
    from ._keys import DEFAULT_REP

    def fail(message: str) -> int:
        print(f"cellbridge fit: {message}", file=sys.stderr)
        return 2

    if not args.data.is_file():
        return fail(f"{args.data}: no such file")
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not args.overwrite:
        return fail(f"{out} exists and is not empty; pass --overwrite to replace it")
    for flag, value in (("--n-steps", args.n_steps), ("--batch-size", args.batch_size),
                        ("--devices", args.devices), ("--num-threads", args.num_threads),
                        ("--checkpoint-every", args.checkpoint_every)):
        if value is not None and value < 1:
            return fail(f"{flag} must be positive, got {value}")
    try:
        options = _options(args.option)
    except ValueError as err:
        return fail(str(err))
    group_device = _torchrun_group(args.device)
    if group_device is not None and args.devices is not None:
        return fail("--devices spawns processes itself: do not combine it with torchrun")
    try:
        import torch.distributed as dist

        rank = dist.get_rank() if group_device is not None else 0
        adata = ad.read_h5ad(args.data, backed="r")
        start = time.perf_counter()
        model = tl.fit(adata, args.time_key, args.use_rep or DEFAULT_REP, method=args.method, sigma=args.sigma,
                       n_steps=args.n_steps, batch_size=args.batch_size, lr=args.lr,
                       device=args.device if group_device is None else group_device, num_threads=args.num_threads,
                       rng=args.seed, progress=not args.no_progress and rank == 0,
                       devices="group" if group_device is not None else args.devices,
                       checkpoint_dir=args.checkpoint_dir, checkpoint_every=args.checkpoint_every, **options)
        if rank == 0:
            model.save(out, overwrite=args.overwrite)
            world = dist.get_world_size() if group_device is not None else (args.devices or 1)
            print(f"fitted {model!r} on {adata.n_obs} cells in {time.perf_counter() - start:.1f}s "
                  f"({world} process{'es' if world > 1 else ''}); wrote {out}")
    except (FileNotFoundError, FileExistsError, KeyError, TypeError, ValueError) as err:
        return fail(str(err))
    finally:
        if group_device is not None:
            dist.destroy_process_group()
    return 0


def _benchmark_grn(args: argparse.Namespace) -> int:
    import torch
    from tqdm.auto import tqdm

    from .grn import benchmark as gb

    def fail(message: str) -> int:
        print(f"cellbridge benchmark grn: {message}", file=sys.stderr)
        return 2

    if not args.data and not args.rules:
        return fail("nothing to run: pass --data DIR and/or --rules FILE")
    methods = args.methods or list(gb.DEFAULT_METHODS)
    if "all" in methods:
        methods = list(gb.METHODS)
    unknown = [m for m in methods if m not in gb.METHODS]
    if unknown:
        return fail(f"unknown method(s) {', '.join(unknown)}; known: {', '.join(gb.METHODS)} (or 'all')")
    for flag, value in (("--seeds", args.seeds), ("--n-times", args.n_times), ("--num-threads", args.num_threads)):
        if value < 1:
            return fail(f"{flag} must be positive, got {value}")
    if args.ngm_steps is not None and args.ngm_steps < 1:
        return fail(f"--ngm-steps must be positive, got {args.ngm_steps}")

    networks, sources, boolode = {}, {}, []
    try:
        for directory in args.data:
            for name, (path, layout) in gb.find_networks(directory).items():
                if name in networks:
                    return fail(f"two networks are named {name!r}: {sources[name]} and {path}")
                networks[name] = lambda path=path: gb.load_network(path, n_time_bins=args.n_times)
                sources[name] = str(path)
                if layout == "beeline":
                    boolode.append(name)
        for rules in args.rules:
            if not Path(rules).is_file():
                return fail(f"{rules}: no such rule file")
            name = gb._rules_name(rules)
            if name in networks:
                return fail(f"two networks are named {name!r}: {sources[name]} and {rules}")
            if args.end_time is None and Path(rules).stem not in gb.BOOLODE_RULES:
                return fail(f"{Path(rules).name} is not one of BEELINE's rule files: pass --end-time")
            networks[name] = lambda rules=rules: gb.simulate_rules(rules, end_time=args.end_time,
                                                                   n_time_bins=args.n_times)
            sources[name] = str(rules)
            boolode.append(name)
    except (FileNotFoundError, ValueError) as err:
        return fail(str(err))

    options = ({m: {"n_steps": args.ngm_steps} for m in ("cellbridge", "cellbridge_ensemble")}
               if args.ngm_steps is not None else {})
    command = shlex.join(["cellbridge", *args.argv])
    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    threads = torch.get_num_threads()
    torch.set_num_threads(args.num_threads)
    t0 = time.perf_counter()
    try:
        df = gb.run_benchmark(networks, methods, list(range(args.seeds)), options=options,
                              progress=not args.no_progress, on_result=lambda row: tqdm.write(gb.format_result(row)))
        minutes = (time.perf_counter() - t0) / 60
        order = gb._ordered(networks, gb.NETWORK_ORDER)
        text = gb.benchmark_report(df, command=command, started=started, minutes=minutes,
                                   sources={n: sources[n] for n in order},
                                   mean_over=[n for n in order if n in boolode] if len(boolode) > 1 else None,
                                   n_time_bins=args.n_times)
    except (FileNotFoundError, ValueError) as err:
        return fail(str(err))
    finally:
        torch.set_num_threads(threads)
    df["command"], df["started"], df["minutes"] = command, started, minutes
    prefix = Path(args.out)
    if prefix.suffix in (".md", ".csv"):
        prefix = prefix.with_suffix("")
    prefix.parent.mkdir(parents=True, exist_ok=True)
    md, csv = prefix.with_name(prefix.name + ".md"), prefix.with_name(prefix.name + ".csv")
    md.write_text(text)
    df.to_csv(csv, index=False)
    print()
    print(text)
    print(f"wrote {md} and {csv}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the ``cellbridge`` command line.

    Parameters
    ----------
    argv
        Arguments without the program name; ``None`` reads :data:`sys.argv`.

    Returns
    -------
    int
        Exit status: 0 on success.
    """
    parser = _build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 1
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
