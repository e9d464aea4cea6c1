"""Entropic optimal transport by Sinkhorn iterations in torch, batched, stable at small regularisation.

We solve, for each problem in a batch,

    min_P <P, C> + eps * KL(P | a x b)   subject to   P 1 = a,  P^T 1 = b

(POT's convention: ``ot.sinkhorn(a, b, C, reg=eps)`` returns the same plan), or its unbalanced relaxation
with ``reg_m_a KL(P 1 | a) + reg_m_b KL(P^T 1 | b)`` in place of the marginal constraints (``reg_m`` one
number for both sides, or a pair ``(reg_m_a, reg_m_b)`` where None or ``inf`` keeps that side's constraint:
``(tau, None)`` relaxes the source only, as growth models need). The plan is written
with dual potentials as ``P_ij = a_i b_j exp((f_i + g_j - C_ij) / eps)``.

Why this algorithm: the pure log-domain iteration (one ``logsumexp`` over the ``n x m`` matrix per
half-step) never underflows but costs an ``exp`` per entry per iteration; the scaling form (one kernel,
then matrix-vector products) is much faster but underflows in float32 once ``C / eps`` is large. We
alternate the two, as in Schmitzer (2019, "Stabilized sparse scaling algorithms"):

* an exact log-domain update of ``f`` yields the stabilised kernel
  ``diag(u0) K`` with ``K_ij = b_j exp((g_j - C_ij)/eps - max_j(...))`` and rows summing to ``a`` (so no row
  of it can vanish); ``K`` is stored with entries in ``[exp(-40), 1]`` or exactly 0, and the row scaling
  ``u0`` starts the scaling iterations;
* cheap scaling iterations ``v = b / K^T u``, ``u = a / K v`` follow, in blocks of ``block_size``;
* the kernel is rebuilt (scalings absorbed into the potentials, ``f += eps log u``, ``g += eps log v``,
  and a new log-domain update) whenever eps changes or a scaling drifts beyond ``exp(20)``.

The denominators are clamped at the smallest normal float, so a column that underflows produces a large
but finite scaling that the next block's log-domain update absorbs: no NaN and no silent fall-back to the
independent plan. ``eps`` is annealed geometrically from the mean cost (at most ``32 eps``) down to its target
over the first blocks (eps scaling), which makes small regularisations converge in few iterations.

The loop never leaves the device: with ``tol=None`` it runs a fixed number of blocks, rebuilds the kernel
every block and synchronises with the host zero times; with a tolerance it reads two scalars per block
(marginal error and scaling drift) to decide whether to stop and whether to rebuild.

The comments below say what each speed-minded choice is and why; what it was measured to gain lives in
``benchmarks/README.md``, "Measured figures behind cellbridge/ot/sinkhorn.py" (timings go stale in code).
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass

import numpy as np
import torch


#: rebuild the stabilised kernel once a scaling exceeds exp(this): far from float32 overflow (e^88) and
#: from the loss of precision of products of very large scalings with very small kernel entries
_MAX_LOG_SCALING = 20.0
#: kernel entries below exp(-this) times their row's largest are set to 0 (flushed) when the kernel is built.
#: Left alone, many would be float32 subnormals (at C / eps ~ 80 most of the kernel is below 1e-38), and
#: subnormal arithmetic is slow on x86, enough to slow Sinkhorn as a whole (figures: benchmarks/README.md,
#: "Measured figures behind cellbridge/ot/sinkhorn.py"). The kept entries,
#: times the 1 / (n m) of the marginals and scalings within exp(+-_MAX_LOG_SCALING), stay normal for
#: n m up to 1e8, and the flushed ones are below float32 resolution of their row's sum. A column flushed
#: entirely behaves as one that underflows (see the module notes): the next rebuild absorbs its scaling.
_LOG_KERNEL_FLOOR = 40.0
_KERNEL_FLOOR = math.exp(-_LOG_KERNEL_FLOOR)
#: over-relaxed scalings are clamped to exp(+-this) so that they can never overflow float32
_MAX_LOG_RELAXED = 60.0
_MIN_RELAXED, _MAX_RELAXED = math.exp(-_MAX_LOG_RELAXED), math.exp(_MAX_LOG_RELAXED)
#: eps annealing starts at most _ANNEAL_FACTOR above the target eps (at the mean cost when that is lower), and
#: with a tolerance divides eps by at most _ANNEAL_STEP per block (so two blocks from 32x), in blocks
#: _ANNEAL_BLOCK_SIZE short (one log-domain update and two scaling iterations): each annealing block only has
#: to bring the potentials near enough for the next, smaller eps, whose log-domain update corrects most of what
#: is left. It takes less time to the same tolerance than annealing from the mean cost by a factor of 8 per
#: full block, and than one block from 32x or three (figures: benchmarks/README.md, "Measured figures behind
#: cellbridge/ot/sinkhorn.py"); the small-eps accuracy tests hold either way.
_ANNEAL_FACTOR = 32.0
_ANNEAL_STEP = math.sqrt(_ANNEAL_FACTOR)
_ANNEAL_BLOCK_SIZE = 3


@dataclass
class SinkhornOutput:
    """Result of :func:`sinkhorn`.

    Attributes
    ----------
    plan
        Transport plan, ``(n, m)`` or ``(batch, n, m)``.
    f
        Row dual potential, ``(n,)`` or ``(batch, n)``.
    g
        Column dual potential, ``(m,)`` or ``(batch, m)``; with ``f``,
        ``P_ij = a_i b_j exp((f_i + g_j - C_ij) / eps)``.
    n_iter
        Number of iterations run (a log-domain half-step and a scaling iteration each count one).
    marginal_error
        L1 distance between the plan's column sums and ``b`` (row sums are exact after the last update in
        the balanced case), likewise for source-relaxed problems; relaxed on both sides (or with
        ``block_size=1``), the L1 change of the potentials over the last block divided by eps.
    converged
        Whether ``marginal_error <= tol`` was reached at the target eps (always False when ``tol`` is None).
    """

    plan: torch.Tensor
    f: torch.Tensor
    g: torch.Tensor
    n_iter: int
    marginal_error: torch.Tensor
    converged: bool


_WORKSPACES = threading.local()


def _workspace(shape: torch.Size, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """An ``n x m`` scratch tensor, reused across calls on the CPU (per thread; CUDA has a caching allocator).

    The returned plan never aliases it: the plan is a new tensor built from the workspace at the end.
    """
    if device.type != "cpu":
        return torch.empty(shape, dtype=dtype, device=device)
    key = (tuple(shape), dtype)
    cache = getattr(_WORKSPACES, "cache", None)
    if cache is None or cache[0] != key:
        cache = (key, torch.empty(shape, dtype=dtype))
        _WORKSPACES.cache = cache  # one entry: a training loop solves problems of one shape
    return cache[1]


def _matvec(K: torch.Tensor, v: torch.Tensor, *, per_problem: bool | None = None) -> torch.Tensor:
    """Batched ``K @ v`` for ``K`` ``(batch, n, m)`` and ``v`` ``(batch, m)``.

    On accelerators one ``bmm``; on the CPU (``per_problem=None`` picks by device) a loop of ``mv`` calls,
    because torch's CPU ``bmm`` of matrices by vectors is slower than BLAS ``gemv`` per problem once the
    batch has more than one problem (figures: ``benchmarks/README.md``).
    """
    if per_problem is None:
        per_problem = K.device.type == "cpu"
    if not per_problem:
        return torch.bmm(K, v.unsqueeze(-1)).squeeze(-1)
    if K.shape[0] == 1:
        return torch.mv(K[0], v[0]).unsqueeze(0)
    return torch.stack([torch.mv(K[b], v[b]) for b in range(K.shape[0])])


def _scaling_iterations(K, Kt, a, b, u, v, steps: int, omega: float, tiny: float):
    """``steps`` scaling iterations ``v = b / K^T u``, ``u = a / K v`` (over-relaxed), for every problem.

    On accelerators all problems at once by ``bmm``; on the CPU problem by problem on plain vectors (BLAS
    ``gemv``, see :func:`_matvec`), each problem's loop run to the end before the next, so that the
    per-iteration work is a handful of vector operations with no batching around them: at small ``n`` the
    operations around a ``gemv`` are a large share of an iteration (figures: ``benchmarks/README.md``).
    """
    if K.device.type != "cpu":
        for _ in range(steps):
            v = _scaling_update(v, b, _matvec(Kt, u), omega, tiny)
            u = _scaling_update(u, a, _matvec(K, v), omega, tiny)
        return u, v
    us, vs = [], []
    for p in range(K.shape[0]):
        Kp, Ktp, ap, bp, up, vp = K[p], Kt[p], a[p], b[p], u[p], v[p]
        for _ in range(steps):
            vp = _scaling_update(vp, bp, torch.mv(Ktp, up), omega, tiny)
            up = _scaling_update(up, ap, torch.mv(Kp, vp), omega, tiny)
        us.append(up)
        vs.append(vp)
    return torch.stack(us), torch.stack(vs)


@functools.lru_cache(maxsize=1)
def _numpy_exp_is_faster() -> bool:
    """Whether NumPy's float32 ``exp`` beats torch's on this CPU: where NumPy runs AVX-512 code and torch's
    kernels do not. Decided from the CPU's features, not by timing, so that every process on a machine takes
    the same path (the two differ in the last bit) and a seed gives the same plans."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as numpy_features
    except ImportError:  # NumPy < 2
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as numpy_features
        except ImportError:
            return False
    torch_capability = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", lambda: "")()
    return bool(numpy_features.get("AVX512F")) and "AVX512" not in str(torch_capability).upper()


def _exp_kernel_(z: torch.Tensor) -> torch.Tensor:
    """``exp`` in place of kernel exponents ``z <= 0``, fast on both kinds of device.

    By torch after clamping at ``-(floor + 1)``: torch's CPU ``exp`` is far slower on arguments below -87
    (float32 underflow, -inf included), and with more threads it runs in parallel. On one CPU thread where
    NumPy's float32 ``exp`` is faster (:func:`_numpy_exp_is_faster`: AVX-512 in NumPy, not in torch) by NumPy,
    which has no such slow path. On an AVX2 CPU torch's is the faster: 8-19% off a whole training step.
    Figures: ``benchmarks/README.md``.
    """
    if z.device.type == "cpu" and torch.get_num_threads() == 1 and z.is_contiguous() and _numpy_exp_is_faster():
        zn = z.numpy()
        np.exp(zn, out=zn)
        return z
    return z.clamp_min_(-_LOG_KERNEL_FLOOR - 1.0).exp_()


def _scaling_update(old: torch.Tensor, target: torch.Tensor, product: torch.Tensor, omega: float, tiny: float) -> torch.Tensor:
    """The over-relaxed scaling ``old^(1 - omega) (target / product)^omega``, clamped so that it stays finite.

    ``product`` (``K v`` or ``K^T u``, a fresh tensor) is overwritten.
    """
    if omega == 1.0:
        return torch.div(target, product.clamp_min_(tiny))
    # old * (target / (product * old))^omega: five vector operations (the log-space form takes nine), because
    # at small n these are what a scaling iteration costs besides its gemv. No NaN: old lies in
    # [_MIN_RELAXED, _MAX_RELAXED], so a product that underflows to 0 gives inf and one that overflows gives
    # 0, both finite after the clamp, and the next rebuild absorbs them.
    ratio = torch.div(target, product.mul_(old))
    return ratio.pow_(omega).mul_(old).clamp_(_MIN_RELAXED, _MAX_RELAXED)


def _as_batch(x: torch.Tensor | float | None, batch: int, like: torch.Tensor) -> torch.Tensor:
    """Broadcast a scalar or per-problem value to shape ``(batch, 1)`` on ``like``'s device and dtype."""
    t = torch.as_tensor(x, dtype=like.dtype, device=like.device)
    if t.ndim == 0:
        t = t.expand(batch)
    return t.reshape(batch, 1)


def _marginal(w: torch.Tensor | None, batch: int, n: int, like: torch.Tensor, name: str) -> torch.Tensor:
    if w is None:
        return torch.full((batch, n), 1.0 / n, dtype=like.dtype, device=like.device)
    w = torch.as_tensor(w, dtype=like.dtype, device=like.device)
    if w.ndim == 1:
        w = w.expand(batch, n)
    if w.shape != (batch, n):
        raise ValueError(f"{name} must have shape ({n},) or ({batch}, {n}), got {tuple(w.shape)}")
    return w


def _reg_pair(reg_m) -> tuple[float | None, float | None]:
    """``reg_m`` as ``(source, target)`` KL weights, None for a side kept exact; ValueError unless positive."""
    pair = tuple(reg_m) if isinstance(reg_m, (tuple, list)) else (reg_m, reg_m)
    if len(pair) != 2:
        raise ValueError(f"reg_m must be a number or a pair (source, target), got {reg_m!r}")
    out = []
    for value in pair:
        if torch.is_tensor(value):  # one weight per problem (e.g. proportional to each problem's eps)
            out.append(value)
            continue
        if value is None or value == float("inf"):
            out.append(None)
            continue
        if isinstance(value, bool) or not float(value) > 0:
            raise ValueError("reg_m must be positive (None for balanced transport)")
        out.append(float(value))
    return out[0], out[1]


def sinkhorn(
    cost: torch.Tensor,
    a: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    *,
    eps: float | torch.Tensor,
    reg_m: float | tuple[float | None, float | None] | None = None,
    max_iter: int = 2000,
    tol: float | None = 1e-4,
    block_size: int = 10,
    anneal_blocks: int = 4,
    omega: float = 1.5,
    g_init: torch.Tensor | None = None,
    overwrite_cost: bool = False,
) -> SinkhornOutput:
    """Entropic (optionally unbalanced) optimal transport plan by stabilised Sinkhorn iterations.

    Parameters
    ----------
    cost
        Cost matrix ``(n, m)`` or a batch of them ``(batch, n, m)``; float32 or float64, on any device.
    a, b
        Marginal weights, ``(n,)``/``(m,)`` or per problem ``(batch, n)``/``(batch, m)``; uniform if None.
        In the balanced case they must have equal total mass.
    eps
        Entropic regularisation (the multiplier of ``KL(P | a x b)``), a float or one per problem.
        For a Brownian reference with diffusion ``sigma`` over a time step ``Delta`` it is ``2 sigma^2 Delta``.
    reg_m
        KL penalty on the marginals for unbalanced transport; None (default) is balanced. One number
        relaxes both marginals with the same weight (POT's ``reg_m``); a pair ``(reg_m_a, reg_m_b)`` weighs
        the source (row) and target (column) marginals on their own, None or ``inf`` keeping that side
        exact: ``(reg_m_a, None)`` is source-relaxed transport (moscot's ``tau_a < 1, tau_b = 1``; POT's
        ``reg_m=(reg_m_a, inf)``), where mass is created or destroyed at the source and the target
        marginal holds.
    max_iter
        Maximum number of iterations (rounded up to whole blocks).
    tol
        Stop when the L1 marginal error falls below this, at the target eps (source-relaxed problems: the
        kept target marginal's; relaxed on both sides or with ``block_size=1``: the change of the
        potentials over a block, in units of eps). None runs exactly ``max_iter`` iterations with no host
        synchronisation (useful inside training loops).
    block_size
        Iterations per block: one log-domain update followed by ``block_size - 1`` scaling iterations.
        ``block_size=1`` is the pure log-domain algorithm. Unbalanced problems use one log-domain update of
        each potential and ``block_size - 1`` stabilised scaling iterations per block.
    anneal_blocks
        Eps scaling: at most the first ``anneal_blocks`` blocks anneal eps geometrically from the mean cost
        (or from 32 times the target, whichever is lower) down to its target (fewer when ``max_iter``
        allows fewer blocks); 0 disables it. With a tolerance the number of annealing blocks is cut to what
        a factor of ``sqrt(32)`` per block needs (so at most two), and they are short (3 iterations; see
        ``_ANNEAL_STEP``). Without one the schedule has a fixed length whatever the ratio of mean cost to
        eps, so a fixed iteration budget always ends at the target eps without reading anything back from
        the device.
    omega
        Over-relaxation of the scaling iterations, ``u <- u^(1 - omega) (a / K v)^omega`` with
        ``1 <= omega < 2``; applied from the first block at the target eps after annealing, or from the
        second block without annealing (balanced only). 1 is plain
        Sinkhorn; about 1.5 takes markedly fewer iterations at small eps (figures:
        ``benchmarks/README.md``).
    g_init
        Warm-start column potential (e.g. ``g`` of a previous solve on the same points); the row potential
        needs none, as the first update computes it from ``g``.
    overwrite_cost
        Write the plan into ``cost``'s memory, which the last update no longer needs (``cost`` must be a
        floating-point tensor the caller gives up). On the CPU a fresh ``n x m`` result costs more than the
        arithmetic that fills it (page faults; figures: ``benchmarks/README.md``), so callers that built the
        cost for this call alone, as :func:`cellbridge.ot.coupling` does, should set it.

    Returns
    -------
    SinkhornOutput
    """
    if cost.ndim not in (2, 3):
        raise ValueError(f"cost must have shape (n, m) or (batch, n, m), got {tuple(cost.shape)}")
    squeeze = cost.ndim == 2
    C = cost.unsqueeze(0) if squeeze else cost
    if not torch.is_floating_point(C):
        C = C.float()
    batch, n, m = C.shape
    a = _marginal(a, batch, n, C, "a")
    b = _marginal(b, batch, m, C, "b")
    eps_target = _as_batch(eps, batch, C)
    if eps_target.device.type == "cpu" and bool((eps_target <= 0).any()):  # no host read on accelerators
        raise ValueError("eps must be positive")
    reg_a, reg_b = (None if r is None else _as_batch(r, batch, C) for r in _reg_pair(reg_m))
    balanced = reg_a is None and reg_b is None
    if not 1.0 <= omega < 2.0:
        raise ValueError(f"omega must lie in [1, 2), got {omega}")
    block_size = max(1, int(block_size))
    n_blocks = max(1, -(-int(max_iter) // block_size))

    # outside inference mode, so that the caller gets a normal tensor (in-place updates, autograd downstream)
    plan_out = C if overwrite_cost else torch.empty_like(C)
    # the iterations are hundreds of small tensor operations: inference mode drops autograd's bookkeeping from
    # each (figures: benchmarks/README.md). The potentials are copied out as normal tensors.
    with torch.inference_mode():
        f, g, err, n_iter, converged = _iterate(
            C, a, b, eps_target, balanced=balanced, reg_m=(reg_a, reg_b), n_blocks=n_blocks, block_size=block_size,
            anneal_blocks=anneal_blocks, tol=tol, omega=omega, g_init=g_init, plan_out=plan_out)
    plan = plan_out
    f, g, err = f.clone(), g.clone(), err.clone()
    if squeeze:
        plan, f, g, err = plan[0], f[0], g[0], err[0]
    return SinkhornOutput(plan=plan, f=f, g=g, n_iter=n_iter, marginal_error=err, converged=converged)


def _iterate(C, a, b, eps_target, *, balanced, reg_m, n_blocks, block_size, anneal_blocks, tol, omega, g_init,
             plan_out):
    """The iterations of :func:`sinkhorn` on validated batched inputs; the plan is written into ``plan_out``."""
    batch, n, m = C.shape
    log_a, log_b = a.log(), b.log()
    f = torch.zeros_like(a)  # overwritten by the first update, which computes f from g
    g = torch.zeros_like(b) if g_init is None else g_init.reshape(batch, m).to(C).clone()
    tiny = torch.finfo(C.dtype).tiny
    # eps scaling starts where the plan is diffuse and Sinkhorn converges in a few steps: the mean cost, or
    # 32 eps if that is lower (starting higher only adds blocks, and time: benchmarks/README.md)
    log_ratio = (C.mean(dim=(1, 2)).reshape(batch, 1) / eps_target).clamp(1.0, _ANNEAL_FACTOR).log()
    n_anneal = min(max(0, int(anneal_blocks)), n_blocks - 1)
    if tol is not None and n_anneal > 0:
        # with host reads allowed, anneal only as far as needed, in short blocks (see _ANNEAL_STEP); the
        # float32 log of the ratio clamped at 32 can round above log(32): the slack keeps it at two blocks
        n_anneal = min(n_anneal, math.ceil(log_ratio.max().item() / math.log(_ANNEAL_STEP) - 1e-6))

    K = u = v = None
    err = torch.full((batch,), float("inf"), dtype=C.dtype, device=C.device)
    converged = False
    rebuild = True
    e_prev = None
    n_iter = 0
    for block in range(n_blocks):
        e = eps_target * torch.exp(log_ratio * (1.0 - block / n_anneal)) if block < n_anneal else eps_target
        e3 = e.unsqueeze(-1)
        if balanced:
            steps = block_size if tol is None or block >= n_anneal else min(block_size, _ANNEAL_BLOCK_SIZE)
            if rebuild or e is not e_prev:
                if K is not None:  # absorb the scalings into the potentials before changing the kernel
                    f = f + e_prev * u.log()
                    g = g + e_prev * v.log()
                # exact log-domain update of f; its exponentials are the stabilised kernel. In place in one
                # workspace (fresh n x m buffers cost page faults that outweigh the arithmetic on CPUs), in
                # six passes over n x m: z = (g - C) / e + log b fused in one addcmul, its row maximum, the
                # shift, exp (see _exp_kernel_), the flush, the row sums. The kernel is left unnormalised,
                # K_ij = exp(z_ij - zmax_i); the row normalisation a_i / s_i goes into the starting scaling u
                # instead of a seventh pass.
                K = _workspace(C.shape, C.dtype, C.device)
                torch.addcmul((g / e + log_b).unsqueeze(1), C, (-1.0 / e3), out=K)
                zmax = K.amax(dim=2, keepdim=True)
                # flush: exp, then zero what fell below exp(-floor)
                _exp_kernel_(K.sub_(zmax))
                torch.nn.functional.threshold_(K, _KERNEL_FLOOR, 0.0)
                s = K.sum(dim=2)
                # P_ij = u_i K_ij v_j = a_i b_j exp((f_i + g_j - C_ij) / e) with f = -e (zmax + log a) + e log u
                f = -e * (zmax.squeeze(-1) + log_a)
                Kt = K.transpose(1, 2)  # a view: gemv reads it as well as a copy would be read
                u0 = a / s.clamp_min(tiny)  # rows of diag(u0) K sum to a: the exact log-domain update
                u = u0
                v = torch.ones_like(b)
                steps -= 1
                n_iter += 1
            # over-relaxation only near the fixed point, where it converges markedly faster (Thibault et al.
            # 2021); far from it it can overshoot. Annealing brings the potentials near, so it starts with the
            # first block at the target eps (less time than a plain block first to the same tolerance; figures:
            # benchmarks/README.md); without annealing, after one plain block
            w = omega if block >= max(n_anneal, 1) else 1.0
            u, v = _scaling_iterations(K, Kt, a, b, u, v, steps, w, tiny)
            n_iter += steps
            e_prev = e
            colsum = v * _matvec(Kt, u)
            err = (colsum - b).abs().sum(dim=1)
            if tol is None:
                rebuild = True  # no host reads: re-stabilise every block
                continue
            # one host read per block: the marginal error and how far the scalings have drifted
            drift = torch.maximum((u / u0).log().abs().amax(), v.log().abs().amax())
            err_max, drift = torch.stack([err.max(), drift]).tolist()
            rebuild = drift > _MAX_LOG_SCALING
        else:
            # the fraction of a balanced update each side takes: reg / (reg + e), 1 for a kept marginal
            lam_a = 1.0 if reg_m[0] is None else reg_m[0] / (reg_m[0] + e)
            lam_b = 1.0 if reg_m[1] is None else reg_m[1] / (reg_m[1] + e)
            f_prev, g_prev = f, g
            # one exact log-domain update of each potential ...
            f = -lam_a * e * torch.logsumexp(log_b.unsqueeze(1) + (g.unsqueeze(1) - C) / e3, dim=2)
            g = -lam_b * e * torch.logsumexp(log_a.unsqueeze(2) + (f.unsqueeze(2) - C) / e3, dim=1)
            n_iter += 2
            if block_size > 1:
                # ... then block_size - 1 scaling iterations on the kernel stabilised at these potentials (the
                # current plan, K_ij = a_i b_j exp((f_i + g_j - C_ij) / e)): with the scalings u, v relative to
                # exp(f / e), exp(g / e), Chizat et al.'s u <- (a / K v)^lam_a becomes
                # u <- (a / Ks v)^lam_a exp((lam_a - 1) f / e), and likewise for v; two matrix-vector products
                # per iteration instead of two logsumexps over n x m
                Ks = torch.exp((f.unsqueeze(2) + g.unsqueeze(1) - C) / e3 + log_a.unsqueeze(2) + log_b.unsqueeze(1))
                ca = torch.exp((lam_a - 1.0) * f / e)
                cb = torch.exp((lam_b - 1.0) * g / e)
                u = torch.ones_like(a)
                v = torch.ones_like(b)
                for _ in range(block_size - 1):
                    v = (b / _matvec(Ks.transpose(1, 2), u).clamp_min(tiny)).pow(lam_b).mul_(cb)
                    u = (a / _matvec(Ks, v).clamp_min(tiny)).pow(lam_a).mul_(ca)
                f = f + e * u.log()
                g = g + e * v.log()
                n_iter += block_size - 1
            if reg_m[1] is None and block_size > 1:
                # target kept: stop on its L1 marginal error after the last source update, the rule of the
                # balanced solver (one matrix-vector product; the potentials' change, the fallback below,
                # keeps falling long after the plan has settled, and then every solve runs to max_iter)
                err = (v * _matvec(Ks.transpose(1, 2), u) - b).abs().sum(dim=1)
            else:
                err = ((f - f_prev).abs().sum(1) + (g - g_prev).abs().sum(1)) / e.squeeze(-1)
            if tol is None:
                continue
            err_max = err.max().item()
        if block >= n_anneal and err_max <= tol:
            converged = True
            break

    if balanced:
        u = a / _matvec(K, v).clamp_min(tiny)  # plain last update: rows exact
        f = f + e_prev * u.log()
        g = g + e_prev * v.log()
    e3 = eps_target.unsqueeze(-1)
    if balanced:
        torch.mul(K, u.unsqueeze(-1), out=plan_out).mul_(v.unsqueeze(1))
    else:  # a_i b_j exp((f_i + g_j - C_ij) / e), with the marginals' logs folded into the potentials
        row = (f + eps_target * log_a).unsqueeze(2)
        col = (g + eps_target * log_b).unsqueeze(1)
        torch.sub(C, row, out=plan_out).sub_(col).div_(-e3).exp_()
    return f, g, err, n_iter, converged
