"""Torch Sinkhorn against POT, and the properties the trainer relies on."""

import functools

import numpy as np
import ot as pot
import pytest
import torch

from cellbridge.ot import coupling, sinkhorn, sq_euclidean


def _problem(n, m, d, seed, dtype=torch.float64):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = 1.3 * rng.normal(size=(m, d)) + 0.5
    return sq_euclidean(torch.tensor(x, dtype=dtype), torch.tensor(y, dtype=dtype))


@functools.lru_cache(maxsize=None)
def _pot_reference(d, eps_rel, n, m):
    """POT's log-domain Sinkhorn in float64, run far past convergence (cached: shared across omegas).

    POT's faster stabilised solver is no reference here: in 50 dimensions at eps = 1e-3 of the mean cost
    it returns NaN.
    """
    C = _problem(n, m, d, seed=d)
    eps = eps_rel * C.mean().item()
    return C, eps, pot.sinkhorn(np.full(n, 1 / n), np.full(m, 1 / m), C.numpy(), eps,
                                method="sinkhorn_log", numItermax=30_000, stopThr=1e-12)


# The plans are compared in L1 (total variation x 2). Our stopping rule is an L1 column-marginal error
# below tol = 1e-6; for a plan whose rows are exact, the distance to the fixed point is of the order of
# the marginal error times the condition of the problem, which grows like 1/eps: hence 1e-4 at eps down
# to 1e-2 of the mean cost, and 2e-3 at 1e-3 where neither POT nor we reach 1e-6 in 1e5 iterations
# (POT's own log-domain solver stops on its iteration limit there).
@pytest.mark.parametrize("d", [2, 50])
@pytest.mark.parametrize("eps_rel, tol_plan", [(1e-1, 1e-4), (1e-2, 1e-4), (1e-3, 2e-3)])
@pytest.mark.parametrize("omega", [1.0, 1.5])
@pytest.mark.filterwarnings("ignore:Sinkhorn did not converge")
def test_plan_matches_pot(d, eps_rel, tol_plan, omega):
    n, m = (60, 75) if eps_rel > 1e-3 else (40, 50)  # the slowly converging case is kept small
    C, eps, ref = _pot_reference(d, eps_rel, n, m)
    out = sinkhorn(C, eps=eps, tol=1e-6, max_iter=20_000, omega=omega)
    P = out.plan.numpy()
    assert np.isfinite(P).all()
    assert np.abs(P - ref).sum() < tol_plan
    np.testing.assert_allclose(P.sum(1), 1 / n, rtol=1e-6)  # rows are exact after the last update
    assert np.abs(P.sum(0) - 1 / m).sum() < max(1e-6, tol_plan / 2)


@pytest.mark.parametrize("d", [2, 50])
def test_float32_small_eps_is_finite_and_not_independent(d):
    """In float32 at eps = 1e-3 of the mean cost the plan stays finite and near the exact OT plan.

    POT's default (scaling-form) Sinkhorn underflows here and falls back towards the independent plan;
    ours must not: its transport cost lies within the entropic bias (eps * log(n m)) of exact OT.
    """
    C = _problem(200, 200, d, seed=1, dtype=torch.float32)
    eps = 1e-3 * C.mean().item()
    out = sinkhorn(C, eps=eps, tol=1e-3, max_iter=5000)
    P = out.plan.double()
    assert torch.isfinite(P).all()
    assert (P.sum(0) - 1 / 200).abs().sum() < 2e-3
    exact = pot.emd2(np.full(200, 1 / 200), np.full(200, 1 / 200), C.double().numpy())
    indep = C.double().mean().item()
    cost = (P * C.double()).sum().item()
    assert cost - exact < eps * np.log(200 * 200)
    assert cost < exact + 0.05 * (indep - exact)


def test_unbalanced_matches_pot():
    C = _problem(50, 60, 3, seed=2)
    eps = 0.1 * C.mean().item()
    out = sinkhorn(C, eps=eps, reg_m=1.0, tol=1e-12, max_iter=50_000)
    ref = pot.unbalanced.sinkhorn_unbalanced(np.full(50, 1 / 50), np.full(60, 1 / 60), C.numpy(), eps, 1.0,
                                             reg_type="kl", numItermax=100_000, stopThr=1e-15)
    assert np.abs(out.plan.numpy() - ref).sum() < 1e-8
    assert out.plan.sum().item() < 0.99  # mass is destroyed where transport is expensive


def test_batched_equals_separate_solves():
    Cs = torch.stack([_problem(40, 40, 4, seed=s) for s in range(3)])
    eps = torch.tensor([0.05, 0.1, 0.2]) * Cs.mean(dim=(1, 2))
    batched = sinkhorn(Cs, eps=eps, tol=1e-9, max_iter=20_000)
    for k in range(3):
        single = sinkhorn(Cs[k], eps=eps[k].item(), tol=1e-9, max_iter=20_000)
        assert (batched.plan[k] - single.plan).abs().sum() < 1e-7


def test_fixed_iterations_without_tolerance():
    """tol=None (no host reads, used in training) lands on the same plan as the tolerance-driven loop."""
    C = _problem(64, 64, 5, seed=3, dtype=torch.float32)
    eps = 0.02 * C.mean().item()
    a = sinkhorn(C, eps=eps, tol=None, max_iter=400)
    b = sinkhorn(C, eps=eps, tol=1e-6, max_iter=4000)
    assert not a.converged
    assert (a.plan - b.plan).abs().sum() < 1e-3


def test_warm_start_converges_faster():
    C = _problem(80, 80, 5, seed=4)
    eps = 0.01 * C.mean().item()
    cold = sinkhorn(C, eps=eps, tol=1e-6, max_iter=20_000, anneal_blocks=0)
    warm = sinkhorn(C, eps=eps, tol=1e-6, max_iter=20_000, anneal_blocks=0, g_init=cold.g)
    assert warm.n_iter < cold.n_iter / 5
    assert (warm.plan - cold.plan).abs().sum() < 1e-5


def test_entropic_plan_tends_to_exact_plan():
    """As eps -> 0 the entropic plan converges to the (unique, here a permutation) exact plan."""
    C = _problem(30, 30, 2, seed=5)
    exact = pot.emd(np.full(30, 1 / 30), np.full(30, 1 / 30), C.numpy())
    errs = [np.abs(sinkhorn(C, eps=r * C.mean().item(), tol=1e-8, max_iter=50_000).plan.numpy() - exact).sum()
            for r in (1e-1, 1e-2, 1e-3)]
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 0.1


def test_bad_arguments():
    C = _problem(5, 5, 2, seed=0)
    with pytest.raises(ValueError, match="eps must be positive"):
        sinkhorn(C, eps=0.0)
    with pytest.raises(ValueError, match="omega"):
        sinkhorn(C, eps=1.0, omega=2.0)
    with pytest.raises(ValueError, match="shape"):
        sinkhorn(C[0], eps=1.0)
    with pytest.raises(ValueError, match="unknown coupling"):
        coupling(torch.zeros(3, 2), torch.zeros(3, 2), method="nope")


def test_batched_matvec_paths_agree():
    # the accelerator path (one bmm) must equal the CPU path (gemv per problem); it is otherwise only
    # exercised on a GPU, which CI does not have
    from cellbridge.ot.sinkhorn import _matvec

    g = torch.Generator().manual_seed(0)
    K = torch.rand(3, 7, 5, generator=g)
    v = torch.rand(3, 5, generator=g)
    ref = torch.einsum("bnm,bm->bn", K, v)
    for per_problem in (True, False):
        torch.testing.assert_close(_matvec(K, v, per_problem=per_problem), ref)
        # transposed views, as the solver passes them
        torch.testing.assert_close(_matvec(K.transpose(1, 2), ref, per_problem=per_problem),
                                   torch.einsum("bnm,bn->bm", K, ref))


@pytest.mark.parametrize("reg_m", [None, 1.0])
def test_overwrite_cost_gives_the_same_plan_in_the_cost_memory(reg_m):
    """``overwrite_cost`` changes where the plan lives, not what it is (balanced and unbalanced)."""
    C = _problem(30, 40, 3, seed=5)
    eps = 0.05 * C.mean().item()
    kept = sinkhorn(C, eps=eps, reg_m=reg_m, tol=1e-9, max_iter=5000)
    C2 = C.clone()
    moved = sinkhorn(C2, eps=eps, reg_m=reg_m, tol=1e-9, max_iter=5000, overwrite_cost=True)
    assert moved.plan.data_ptr() == C2.data_ptr()
    torch.testing.assert_close(moved.plan, kept.plan, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(C, _problem(30, 40, 3, seed=5))  # without the flag the cost is untouched


def test_kernel_exp_paths_agree():
    """The kernel's exponentials by NumPy (one CPU thread) and by torch (clamped; more threads) give the same plan."""
    from cellbridge._utils import cpu_threads

    C = _problem(120, 100, 10, seed=6, dtype=torch.float32)
    eps = 2e-3 * C.mean().item()  # C / eps up to ~1000: most exponents underflow float32
    with cpu_threads(1):
        one = sinkhorn(C, eps=eps, tol=1e-4, max_iter=5000)
    with cpu_threads(2):
        two = sinkhorn(C, eps=eps, tol=1e-4, max_iter=5000)
    assert torch.isfinite(one.plan).all()
    # float32 exp implementations differ by an ulp or two: the plans agree far inside the tolerance
    assert (one.plan - two.plan).abs().sum() < 1e-4


@pytest.mark.parametrize("overwrite_cost", [False, True])
def test_outputs_are_ordinary_tensors(overwrite_cost):
    """The iterations run in inference mode, but what the caller gets can be updated in place and enter autograd."""
    C = _problem(20, 30, 3, seed=7)
    out = sinkhorn(C, eps=0.1 * C.mean().item(), overwrite_cost=overwrite_cost)
    for t in (out.plan, out.f, out.g, out.marginal_error):
        assert not t.is_inference()
    out.plan.mul_(2.0)  # would raise on an inference tensor
    (out.f.requires_grad_() * 2).sum().backward()
    assert torch.equal(out.f.grad, torch.full_like(out.f, 2.0))
