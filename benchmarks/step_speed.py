#!/usr/bin/env python
"""Training-step speed of [SF]2M: torchcfm (exact OT on the host) beside cellbridge, in one run.

For each (dimension, batch size) row, both implementations train the same networks (one MLP per net:
3 hidden layers of 64, SELU, time appended as an input; a flow net and a score net, one Adam over both)
on the same data with the same sigma, and we report

- training steps per second (median over repeats of the mean step time within a repeat),
- the ratio cellbridge / torchcfm of those rates,
- the share of step time spent in optimal transport:
  * torchcfm: ``FM.ot_sampler.sample_plan(x0, x1)`` (cost, ``ot.emd`` on the host, drawing pairs from
    the plan) is timed inside each step with ``time.perf_counter`` (``torch.cuda.synchronize`` around
    it on a GPU) and divided by the step time of the same steps;
  * cellbridge: the trainer's :class:`cellbridge.ot.MinibatchCoupling` (the minibatch cell draw, the
    batched plan, the pair or chain draw and the gathers: everything between the sampler and the bridges)
    is timed in further steps of the same trainer (``_time_coupling``) and divided by those steps' time.

torchcfm is imported from the benchmark environment only (``benchmarks/setup_bench_env.sh``); it is
never a dependency of cellbridge. Only ``torchcfm.conditional_flow_matching`` and
``torchcfm.optimal_transport`` are imported (``torchcfm.utils`` would pull in torchdyn and matplotlib).

Run from the repository root::

    .bench-env/bin/python benchmarks/step_speed.py                 # CPU, one thread, all rows
    .bench-env/bin/python benchmarks/step_speed.py --device cuda   # skips cleanly without CUDA
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import inspect
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOAD_AT_START = os.getloadavg()  # other processes on a small machine skew timings: recorded in the report
PARAMS: dict = {}  # d -> {side: trainable parameters}, for the report
CB_CONFIG: dict = {}  # what SF2MConfig was given and its OT settings, for the report
DEFAULT_ROWS = ("5:256", "5:1024", "5:4096", "50:1024")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="where both implementations train (cuda: skipped with exit status 0 when unavailable)")
    p.add_argument("--threads", type=int, default=1, help="torch / BLAS threads on the host (default 1)")
    p.add_argument("--rows", nargs="+", default=list(DEFAULT_ROWS), metavar="D:B",
                   help="rows as dimension:batch size (synthetic data) or just batch size for --data emt "
                        f"(default {' '.join(DEFAULT_ROWS)})")
    p.add_argument("--data", choices=("synthetic", "emt"), default="synthetic",
                   help="synthetic two-time-point Gaussians (x0 ~ N(0, I), x1 = 1.5 * N(1, I)) or the "
                        "TIGON EMT time course (5 time points, 3-D, index time)")
    p.add_argument("--emt-file", type=Path,
                   default=REPO.parent / "shared" / "data" / "timecourse" / "tigon" / "EMT.npy",
                   help="TIGON's EMT.npy (an object array of (n_t, 3) arrays) for --data emt")
    p.add_argument("--n-cells", type=int, default=10_000, help="cells per time point for synthetic data")
    p.add_argument("--which", choices=("both", "all", "torchcfm", "torchcfm_sinkhorn", "cellbridge"), default="all",
                   help="sides to time: all (torchcfm exact, torchcfm Sinkhorn, cellbridge), both (torchcfm exact "
                        "and cellbridge) or one")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps before timing (fewer for slow steps)")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats per row; the median is reported")
    p.add_argument("--repeat-seconds", type=float, default=1.0,
                   help="target duration of one timed repeat; steps per repeat are chosen from the warm-up")
    p.add_argument("--slow-step-seconds", type=float, default=1.5,
                   help="a step slower than this is timed with 1 warm-up step and 3 repeats of 1 step")
    p.add_argument("--cb-ot-method", default="entropic", help="cellbridge SF2MConfig.ot_method")
    p.add_argument("--cb-ot-reuse", type=int, default=1,
                   help="cellbridge SF2MConfig.ot_reuse (default 1: a fresh plan every step, like torchcfm)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None,
                   help="markdown output (default benchmarks/results/step_speed.md on cpu, "
                        "step_speed_cuda.md on cuda); '-' prints only")
    return p.parse_args(argv)


ARGS = parse_args()

# Thread counts must be fixed before NumPy / torch load their BLAS.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, str(ARGS.threads))

import numpy as np  # noqa: E402
import ot as pot  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(REPO))  # cellbridge from the working tree, installed or not


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Problem:
    d: int
    xs: list  # list of (n_k, d) float32 tensors on the device, one per time point
    times: list  # float time of each snapshot
    sigma: float
    label: str

    @property
    def n_intervals(self):
        return len(self.xs) - 1

    def flat(self):
        """All cells and their times as host arrays, the (x, t) pair a cellbridge trainer takes."""
        x = torch.cat(self.xs).cpu().numpy()
        t = np.concatenate([np.full(len(xk), float(tk)) for xk, tk in zip(self.xs, self.times)])
        return x, t


def rms_spread(xs):
    """sqrt of the mean per-dimension variance of all cells pooled (peers.md's sigma rule)."""
    x = torch.cat(xs).double()
    return float(x.var(dim=0).mean().sqrt())


def make_problem(row, device, seed):
    if ARGS.data == "synthetic":
        d, _ = row
        g = np.random.default_rng(seed + 1000 * d)
        x0 = g.standard_normal((ARGS.n_cells, d))
        x1 = 1.5 * (g.standard_normal((ARGS.n_cells, d)) + 1.0)
        xs = [torch.as_tensor(a, dtype=torch.float32, device=device) for a in (x0, x1)]
        times = [0.0, 1.0]
        label = f"synthetic N(0,I) -> 1.5*N(1,I), {ARGS.n_cells} cells per time point"
    else:
        arr = np.load(ARGS.emt_file, allow_pickle=True)[0]
        xs = [torch.as_tensor(np.asarray(a, dtype=np.float32), device=device) for a in arr]
        d = xs[0].shape[1]
        times = [float(k) for k in range(len(xs))]
        label = f"TIGON EMT ({'/'.join(str(len(a)) for a in xs)} cells, index time)"
    sigma = 0.25 * rms_spread(xs)
    return Problem(d=d, xs=xs, times=times, sigma=sigma, label=label)


def parse_rows(rows):
    out = []
    for r in rows:
        if ":" in r:
            d, b = r.split(":")
            out.append((int(d), int(b)))
        else:
            out.append((None, int(r)))
    if ARGS.data == "synthetic" and any(d is None for d, _ in out):
        raise SystemExit("--rows needs D:B for synthetic data")
    return out


def draw(xk, batch_size, gen=None):
    """A minibatch of ``batch_size`` cells drawn with replacement, on the device (as cellbridge draws)."""
    idx = torch.randint(xk.shape[0], (batch_size,), device=xk.device, generator=gen)
    return xk[idx]


# --------------------------------------------------------------------------------------------------
# timing helpers
# --------------------------------------------------------------------------------------------------

def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Timer:
    """Accumulating wall-clock timer; synchronises the device around the timed region.

    Several functions may share one timer: only the outermost timed call counts, so a wrapped function
    that calls another wrapped one is not counted twice.
    """

    def __init__(self, device):
        self.device = device
        self.total = 0.0
        self.calls = 0
        self._depth = 0

    def wrap(self, fn):
        def timed(*a, **k):
            if self._depth:
                return fn(*a, **k)
            self._depth += 1
            try:
                sync(self.device)
                t0 = time.perf_counter()
                out = fn(*a, **k)
                sync(self.device)
            finally:
                self._depth -= 1
            self.total += time.perf_counter() - t0
            self.calls += 1
            return out
        timed.__wrapped__ = fn
        return timed

    def reset(self):
        self.total, self.calls = 0.0, 0


def mlp(d):
    """torchcfm's ``models.MLP(dim=d, time_varying=True, w=64)``: 3 hidden layers of 64, SELU."""
    return torch.nn.Sequential(
        torch.nn.Linear(d + 1, 64), torch.nn.SELU(),
        torch.nn.Linear(64, 64), torch.nn.SELU(),
        torch.nn.Linear(64, 64), torch.nn.SELU(),
        torch.nn.Linear(64, d),
    )


def n_params(modules):
    return sum(p.numel() for m in modules for p in m.parameters())


@dataclasses.dataclass
class Measurement:
    step_s: float  # median seconds per step
    ot_share: float | None
    ot_s: float | None  # seconds of OT per step
    steps_timed: int
    repeats: int
    extra: dict = dataclasses.field(default_factory=dict)
    note: str = ""


def plan_timing(step, device, probe_steps):
    """Warm up and pick (steps per repeat, repeats) from the warm-up's step time."""
    sync(device)
    t0 = time.perf_counter()
    step()
    sync(device)
    first = time.perf_counter() - t0
    if first > ARGS.slow_step_seconds:
        return 1, min(ARGS.repeats, 3)  # one step already taken as warm-up
    for _ in range(max(ARGS.warmup - 1, 0)):
        step()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(probe_steps):
        step()
    sync(device)
    per = (time.perf_counter() - t0) / probe_steps
    if per > ARGS.slow_step_seconds:
        return 1, min(ARGS.repeats, 3)
    return max(1, min(500, round(ARGS.repeat_seconds / per))), ARGS.repeats


# --------------------------------------------------------------------------------------------------
# torchcfm side
# --------------------------------------------------------------------------------------------------

class TorchcfmSide:
    """torchcfm's own [SF]2M training step (examples/2D_tutorials/SF2M_2D_example), exact OT.

    One ``SchrodingerBridgeConditionalFlowMatcher(sigma, ot_method="exact")``; per time interval
    ``sample_location_and_conditional_flow(x0, x1, return_noise=True)`` (which calls
    ``ot_sampler.sample_plan``: ``torch.cdist`` -> ``.cpu().numpy()`` -> ``ot.emd`` -> ``np.random.choice``
    over the n x n plan), then flow loss ``mean((v - u)^2)`` and score loss
    ``mean((lambda_t * s + eps)^2)`` with ``lambda_t = FM.compute_lambda(t)``; one Adam on both nets.
    With several time points (EMT) the interval's offset is added to t as in torchcfm's single-cell runs.
    """

    name = "torchcfm"
    ot_method = "exact"

    def __init__(self, problem, batch_size, device):
        from torchcfm.conditional_flow_matching import SchrodingerBridgeConditionalFlowMatcher

        self.p, self.B, self.device = problem, batch_size, device
        torch.manual_seed(ARGS.seed)
        np.random.seed(ARGS.seed)  # torchcfm draws pairs with the global np.random.choice
        self.flow = mlp(problem.d).to(device)
        self.score = mlp(problem.d).to(device)
        self.opt = torch.optim.Adam(list(self.flow.parameters()) + list(self.score.parameters()), lr=ARGS.lr)
        self.FM = SchrodingerBridgeConditionalFlowMatcher(sigma=problem.sigma, ot_method=self.ot_method)
        # time the OT inside the step: wrap the instance's bound methods, torchcfm code unchanged
        self.ot_timer = Timer(device)
        self.emd_timer = Timer(device)
        self.draw_timer = Timer(device)
        self.FM.ot_sampler.sample_plan = self.ot_timer.wrap(self._fallbacks(self.FM.ot_sampler.sample_plan))
        self.FM.ot_sampler.ot_fn = self.emd_timer.wrap(self._counting(self.FM.ot_sampler.ot_fn))
        self.FM.ot_sampler.sample_map = self.draw_timer.wrap(self.FM.ot_sampler.sample_map)
        self.n_params = n_params([self.flow, self.score])

    def _fallbacks(self, sample_plan):
        """``sample_plan`` that counts torchcfm's fall-backs to the uniform plan (a plan that underflowed to 0:
        those pairs are independent, not coupled)."""
        import warnings

        self.uniform_plans = 0

        def counted(*a, **k):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                out = sample_plan(*a, **k)
            self.uniform_plans += sum("reverting to uniform plan" in str(w.message) for w in caught)
            return out

        return counted

    def _counting(self, ot_fn):
        """``ot_fn`` that counts its calls and the warnings POT raises (Sinkhorn: not converged)."""
        import warnings

        self.ot_calls, self.ot_warned = 0, 0

        def counted(*a, **k):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                out = ot_fn(*a, **k)
            self.ot_calls += 1
            self.ot_warned += bool(caught)
            return out

        return counted

    def step(self):
        FM, B = self.FM, self.B
        self.opt.zero_grad()
        ts, xts, uts, epss, lambdas = [], [], [], [], []
        for k in range(self.p.n_intervals):
            x0 = draw(self.p.xs[k], B)
            x1 = draw(self.p.xs[k + 1], B)
            t, xt, ut, eps = FM.sample_location_and_conditional_flow(x0, x1, return_noise=True)
            lambdas.append(FM.compute_lambda(t))
            ts.append(t + self.p.times[k])  # unit intervals (index time): the network sees absolute time
            xts.append(xt)
            uts.append(ut)
            epss.append(eps)
        t, xt, ut, eps = torch.cat(ts), torch.cat(xts), torch.cat(uts), torch.cat(epss)
        lambda_t = torch.cat(lambdas)
        inp = torch.cat([xt, t[:, None]], dim=-1)
        vt = self.flow(inp)
        st = self.score(inp)
        flow_loss = torch.mean((vt - ut) ** 2)
        score_loss = torch.mean((lambda_t[:, None] * st + eps) ** 2)
        loss = flow_loss + score_loss
        loss.backward()
        self.opt.step()
        return loss

    def prepare(self):
        self.per_repeat, self.repeats = plan_timing(self.step, self.device, 3 if self.B <= 1024 else 1)
        self.times, self.ot, self.emd, self.drawn = [], [], [], []

    def repeat(self):
        dev, n = self.device, self.per_repeat
        for timer in (self.ot_timer, self.emd_timer, self.draw_timer):
            timer.reset()
        sync(dev)
        t0 = time.perf_counter()
        for _ in range(n):
            loss = self.step()
        sync(dev)
        self.times.append((time.perf_counter() - t0) / n)
        self.ot.append(self.ot_timer.total / n)
        self.emd.append(self.emd_timer.total / n)
        self.drawn.append(self.draw_timer.total / n)
        assert math.isfinite(float(loss.detach()))

    def finish(self):
        notes = []
        if self.ot_warned:
            notes.append(f"POT warned (solver not converged) on {self.ot_warned} of {self.ot_calls} plans")
        if self.uniform_plans:
            notes.append(f"{self.uniform_plans} of {self.ot_calls} plans underflowed to 0 and torchcfm fell back to "
                         "the uniform plan (independent pairs: not the entropic coupling)")
        note = "; ".join(notes)
        return Measurement(step_s=statistics.median(self.times), ot_share=sum(self.ot) / sum(self.times),
                           ot_s=statistics.median(self.ot), steps_timed=self.per_repeat * self.repeats,
                           repeats=self.repeats, note=note,
                           extra={"emd_s": statistics.median(self.emd), "draw_s": statistics.median(self.drawn)})


class TorchcfmSinkhornSide(TorchcfmSide):
    """torchcfm with ``ot_method="sinkhorn"``: POT's ``ot.sinkhorn(a, b, M, reg=2 sigma^2)`` on the host with
    POT's defaults (1000 iterations at most, ``stopThr=1e-9``), the entropic coupling cellbridge also uses
    (same eps); everything else as :class:`TorchcfmSide`."""

    name = "torchcfm_sinkhorn"
    ot_method = "sinkhorn"


# --------------------------------------------------------------------------------------------------
# cellbridge side
# --------------------------------------------------------------------------------------------------

def _filter_kwargs(cls, wanted):
    """Keep the keyword arguments ``cls`` accepts; report the ones it does not."""
    if dataclasses.is_dataclass(cls):
        names = {f.name for f in dataclasses.fields(cls)}
    else:
        names = set(inspect.signature(cls).parameters)
    kept = {k: v for k, v in wanted.items() if k in names}
    dropped = sorted(set(wanted) - set(kept))
    return kept, dropped


def _time_coupling(timer, coupling):
    """Time every call a trainer makes to its minibatch coupling object (its ``pairs`` and ``chains``).

    The wrappers are set on the instance (no module is patched); returns a function that removes them.
    """
    names = ("pairs", "chains")
    for name in names:
        setattr(coupling, name, timer.wrap(getattr(coupling, name)))

    def restore():
        for name in names:
            delattr(coupling, name)  # back to the class's methods

    return restore


class CellbridgeSide:
    """cellbridge's [SF]2M trainer, ``SF2MTrainer(x, t, SF2MConfig(...)).step()``.

    ``step()`` returns a loss tensor without a host sync, so a repeat is timed as a run of steps
    followed by one device synchronisation. The OT share comes from further steps of the same trainer
    with its minibatch coupling object timed (``_time_coupling``).
    """

    name = "cellbridge"

    def __init__(self, problem, batch_size, device):
        from cellbridge.methods.sf2m import SF2MConfig, SF2MTrainer

        self.p, self.B, self.device = problem, batch_size, device
        torch.manual_seed(ARGS.seed)
        # n_freqs=0: time appended as is, as in torchcfm's MLP (the package default adds Fourier features)
        wanted = dict(sigma=problem.sigma, batch_size=batch_size, hidden_dims=(64, 64, 64),
                      activation="selu", n_freqs=0, ot_method=ARGS.cb_ot_method, lr=ARGS.lr,
                      lr_schedule="constant", ot_reuse=ARGS.cb_ot_reuse)  # torchcfm: constant lr, fresh plans
        kwargs, dropped = _filter_kwargs(SF2MConfig, wanted)
        self.cfg = SF2MConfig(**kwargs)
        self.dropped = dropped
        shown = {k: v for k, v in kwargs.items() if k not in ("sigma", "batch_size")}
        for k in ("ot_tol", "ot_max_iter", "ot_eps_rel", "ot_max_plan", "t_clip"):
            if hasattr(self.cfg, k) and k not in shown:
                shown[k] = getattr(self.cfg, k)
        CB_CONFIG["desc"] = "SF2MConfig(sigma, batch_size, " + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"
        x, t = problem.flat()
        self.trainer = SF2MTrainer(x, t, self.cfg, device=str(device), rng=ARGS.seed)
        self.n_params = self._count_params()

    def _count_params(self):
        tr = self.trainer
        mods = [m for m in vars(tr).values() if isinstance(m, torch.nn.Module)]
        return n_params(mods) if mods else None

    def step(self):
        return self.trainer.step()

    def prepare(self):
        self.per_repeat, self.repeats = plan_timing(self.step, self.device, 3 if self.B <= 1024 else 2)
        self.times = []

    def repeat(self):  # the rate: plain steps, one synchronisation per repeat
        dev, n = self.device, self.per_repeat
        sync(dev)
        t0 = time.perf_counter()
        for _ in range(n):
            loss = self.step()
        sync(dev)
        self.times.append((time.perf_counter() - t0) / n)
        assert bool(torch.isfinite(loss).all())

    def finish(self):
        dev = self.device
        step_s = statistics.median(self.times)
        notes = []
        # the OT share: further steps of the same trainer with its coupling object timed
        ot_timer = Timer(dev)
        restore = _time_coupling(ot_timer, self.trainer.coupling)
        try:
            n = max(1, min(self.per_repeat * self.repeats, round(2 * ARGS.repeat_seconds / step_s)))
            sync(dev)
            t0 = time.perf_counter()
            for _ in range(n):
                self.step()
            sync(dev)
            instr_s = (time.perf_counter() - t0) / n
        finally:
            restore()
        share = ot_timer.total / n / instr_s
        ot_s = share * step_s  # OT time per plain step, at the share measured on instrumented steps
        notes.append(f"OT share from extra steps (about {2 * ARGS.repeat_seconds:g} s) with the trainer's "
                     f"MinibatchCoupling timed ({ot_timer.calls // n} call(s) per step, device synchronised "
                     "around each)")
        if self.dropped:
            notes.append(f"SF2MConfig lacks {', '.join(self.dropped)} (package defaults used)")
        return Measurement(step_s=step_s, ot_share=share, ot_s=ot_s,
                           steps_timed=self.per_repeat * self.repeats, repeats=self.repeats, note="; ".join(notes))

# --------------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------------

def cpu_vector_isa() -> str:
    """What the CPU's kernels run on: torch's CPU capability and whether the CPU has AVX-512F (two machines
    that both report "AMD EPYC" gave different ratios, one with AVX-512 and one without: benchmarks/README)."""
    capability = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", lambda: "unknown")()
    try:
        flags = next((line.split(":", 1)[1].split() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("flags")), [])
    except OSError:
        flags = []
    avx512 = "yes" if "avx512f" in flags else ("no" if flags else "unknown")
    return f"torch {capability}, AVX-512F {avx512}"


def machine_info(device):
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or cpu
    info = {
        "CPU": f"{cpu}, {os.cpu_count()} logical cores; torch threads {torch.get_num_threads()}; "
               f"vector instructions: {cpu_vector_isa()}",
        "Load average (1/5/15 min) at start / end": " / ".join(f"{v:.2f}" for v in LOAD_AT_START)
        + " ; " + " / ".join(f"{v:.2f}" for v in os.getloadavg()),
        "Python": platform.python_version(),
        "torch": torch.__version__,
        "POT": pot.__version__,
        "NumPy": np.__version__,
    }
    try:
        from importlib.metadata import version
        info["torchcfm"] = version("torchcfm")
    except Exception:
        info["torchcfm"] = "not installed"
    if device.type == "cuda":
        info["GPU"] = f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    try:
        rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "cellbridge"],
                               capture_output=True, text=True).stdout.strip()
        info["cellbridge"] = rev + (" + uncommitted changes" if dirty else "")
    except Exception:
        info["cellbridge"] = "working tree, no commit yet"
    return info


def fmt_rate(m):
    if m is None:
        return "—"
    r = 1.0 / m.step_s
    return f"{r:,.0f}" if r >= 100 else f"{r:.3g}"


def fmt_share(m):
    return "—" if m is None or m.ot_share is None else f"{100 * m.ot_share:.0f}%"


def fmt_ms(s):
    return "—" if s is None else (f"{1e3 * s:.2f}" if s < 0.1 else f"{1e3 * s:.0f}")


def render(results, device, cmd, started, elapsed, problems, errors):
    lines = []
    lines.append(f"# [SF]2M training-step speed: torchcfm vs cellbridge ({device.type})\n")
    lines.append("Produced by `benchmarks/step_speed.py`; see `benchmarks/README.md`.\n")
    lines.append(f"- Command: `{cmd}`")
    lines.append(f"- Date: {started:%Y-%m-%d %H:%M} (took {elapsed:.0f} s)")
    for k, v in machine_info(device).items():
        lines.append(f"- {k}: {v}")
    lines.append(f"- Device: {device}")
    plabels = sorted({p.label for p in problems.values()})
    lines.append(f"- Data: {'; '.join(plabels)}; sigma = 0.25 x RMS per-dimension spread "
                 f"({', '.join(f'd={p.d}: {p.sigma:.3f}' for p in problems.values())})")
    lines.append("- Networks: flow and score MLPs, 3 hidden layers of 64, SELU, time appended; "
                 f"one Adam (lr {ARGS.lr}) over both; same batch size per side of each interval")
    lines.append("- torchcfm: `SchrodingerBridgeConditionalFlowMatcher(sigma, ot_method=\"exact\")` "
                 "(POT `ot.emd` on the host); torchcfm Sinkhorn: the same with `ot_method=\"sinkhorn\"` (POT "
                 "`ot.sinkhorn(a, b, M, reg=2 sigma^2)` on the host, POT's defaults); cellbridge: "
                 f"`{CB_CONFIG.get('desc', f'SF2MConfig(ot_method={ARGS.cb_ot_method!r})')}`\n")
    def ratio(peer, cb):
        return "—" if peer is None or cb is None else f"{peer.step_s / cb.step_s:.{2 if peer.step_s < 10 * cb.step_s else 1}f}x"

    lines.append("| d | batch | torchcfm steps/s | torchcfm Sinkhorn steps/s | cellbridge steps/s | "
                 "cellbridge / torchcfm | cellbridge / torchcfm Sinkhorn | torchcfm OT share | "
                 "torchcfm Sinkhorn OT share | cellbridge OT share |")
    lines.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (d, B), r in results.items():
        tc, ts, cb = r.get("torchcfm"), r.get("torchcfm_sinkhorn"), r.get("cellbridge")
        lines.append(f"| {d} | {B} | {fmt_rate(tc)} | {fmt_rate(ts)} | {fmt_rate(cb)} | {ratio(tc, cb)} | "
                     f"{ratio(ts, cb)} | {fmt_share(tc)} | {fmt_share(ts)} | {fmt_share(cb)} |")
    lines.append("")
    lines.append("Details (milliseconds per step; medians over repeats):\n")
    lines.append("| d | batch | torchcfm step | torchcfm OT (`ot.emd` / pair draw) | torchcfm steps timed | "
                 "cellbridge step | cellbridge OT | cellbridge steps timed |")
    lines.append("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (d, B), r in results.items():
        tc, cb = r.get("torchcfm"), r.get("cellbridge")
        tcs = ("—", "—", "—") if tc is None else (
            fmt_ms(tc.step_s), f"{fmt_ms(tc.ot_s)} ({fmt_ms(tc.extra.get('emd_s'))} / {fmt_ms(tc.extra.get('draw_s'))})",
            f"{tc.steps_timed} ({tc.repeats} x {tc.steps_timed // tc.repeats})")
        cbs = ("—", "—", "—") if cb is None else (
            fmt_ms(cb.step_s), fmt_ms(cb.ot_s), f"{cb.steps_timed} ({cb.repeats} x {cb.steps_timed // cb.repeats})")
        lines.append(f"| {d} | {B} | {' | '.join(tcs)} | {' | '.join(cbs)} |")
    lines.append("")
    grouped = {}  # note text -> rows it applies to
    for (d, B), r in results.items():
        for side, m in r.items():
            if m.note:
                grouped.setdefault(f"{side}: {m.note}", []).append(f"d={d}/B={B}")
    lines.append("Notes:\n")
    lines.append(f"- Each row: {ARGS.warmup} warm-up steps, then {ARGS.repeats} repeats of about "
                 f"{ARGS.repeat_seconds:g} s each, torchcfm's and cellbridge's repeats alternating; a step slower than {ARGS.slow_step_seconds:g} s gets one "
                 "warm-up step and 3 repeats of a single step (see \"steps timed\").")
    lines.append("- Both sides draw each minibatch with replacement on the device (torchcfm's from the harness, "
                 "`torch.randint`; cellbridge's from its own sampler).")
    lines.append("- Rates come from plain steps. torchcfm OT = `FM.ot_sampler.sample_plan` timed inside "
                 "those steps (cdist, copy to host, `ot.emd`, `np.random.choice` over the n x n plan, gather). "
                 "cellbridge OT = the trainer's `MinibatchCoupling` (cell draw, batched plan, pair draw, gathers), "
                 "timed in further steps of the same trainer; its OT milliseconds are that share times the "
                 "plain step time.")
    if PARAMS:
        lines.append("- Trainable parameters (flow + score): " + "; ".join(
            f"d={d}: " + ", ".join(f"{k} {v:,}" for k, v in sorted(sides.items())) for d, sides in sorted(PARAMS.items())))
    n_rows = len(results)
    for text, where in grouped.items():
        lines.append(f"- {text}" + ("" if len(where) == n_rows else f" ({', '.join(where)})"))
    lines.extend(errors)
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------

def main():
    started = datetime.datetime.now()
    t_start = time.perf_counter()
    if ARGS.device == "cuda" and not torch.cuda.is_available():
        log("step_speed: --device cuda requested but CUDA is not available; skipping (nothing written).")
        return 0
    device = torch.device(ARGS.device)
    torch.set_num_threads(ARGS.threads)
    rows = parse_rows(ARGS.rows)
    sides = {"torchcfm": TorchcfmSide, "torchcfm_sinkhorn": TorchcfmSinkhornSide, "cellbridge": CellbridgeSide}
    if ARGS.which == "both":
        del sides["torchcfm_sinkhorn"]
    elif ARGS.which != "all":
        sides = {ARGS.which: sides[ARGS.which]}

    results, problems, errors = {}, {}, []

    def fail(name, d, B, e):
        msg = f"{type(e).__name__}: {e}"
        log(f"  {name:10s} d={d:3d} B={B:5d}: FAILED {msg}")
        errors.append(f"- d={d}, batch {B}, {name} failed: {msg}")

    for d, B in rows:
        problem = problems.get(d) or make_problem((d, B), device, ARGS.seed)
        problems[d] = problem
        d = problem.d
        results[(d, B)] = {}
        t0 = time.perf_counter()
        built = {}
        for name, cls in sides.items():
            try:
                side = cls(problem, B, device)
                side.prepare()  # warm-up, steps per repeat
                built[name] = side
            except Exception as e:  # e.g. cellbridge's trainer not written yet: report, go on
                fail(name, d, B, e)
        # alternate the sides' repeats so that a change in machine load hits both alike
        for r in range(max((s.repeats for s in built.values()), default=0)):
            for name, side in list(built.items()):
                if r < side.repeats:
                    try:
                        side.repeat()
                    except Exception as e:
                        fail(name, d, B, e)
                        del built[name]
        for name, side in built.items():
            try:
                m = side.finish()
            except Exception as e:
                fail(name, d, B, e)
                continue
            results[(d, B)][name] = m
            PARAMS.setdefault(d, {})[name] = side.n_params
            log(f"  {name:10s} d={d:3d} B={B:5d}: {1 / m.step_s:9.2f} steps/s  {1e3 * m.step_s:9.2f} ms/step  "
                f"OT {100 * m.ot_share:5.1f}%  params {side.n_params}")
        log(f"  row d={d} B={B} took {time.perf_counter() - t0:.0f} s")
    elapsed = time.perf_counter() - t_start
    argv0 = Path(sys.argv[0]).resolve()
    script = str(argv0.relative_to(REPO)) if argv0.is_relative_to(REPO) else sys.argv[0]
    cmd = shlex.join(["python", script, *sys.argv[1:]])
    text = render(results, device, cmd, started, elapsed, problems, errors)
    print(text)
    out = ARGS.out
    if out is None:
        out = REPO / "benchmarks" / "results" / ("step_speed.md" if device.type == "cpu" else f"step_speed_{device.type}.md")
    if str(out) != "-":
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        log(f"step_speed: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
