"""Source-relaxed (unbalanced) entropic OT against POT, and through MinibatchCoupling."""

import numpy as np
import ot as pot
import pytest
import torch

from cellbridge.methods import IntervalSampler
from cellbridge.ot import MinibatchCoupling, sinkhorn


def _problem(n, m, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, 3)), rng.normal(size=(m, 3)) + 0.5
    a = rng.uniform(0.5, 1.5, n)
    return torch.tensor(((x[:, None] - y[None]) ** 2).sum(-1)), a / a.sum(), np.full(m, 1.3 / m)


@pytest.mark.parametrize("reg_m", [0.3, 1.0, 5.0])
def test_source_relaxed_matches_pot(reg_m):
    """reg_m=(tau, None) is POT's sinkhorn_unbalanced with reg_m=(tau, inf): target kept, source relaxed."""
    C, a, b = _problem(50, 60, seed=1)
    eps = 0.1 * C.mean().item()
    out = sinkhorn(C, torch.tensor(a), torch.tensor(b), eps=eps, reg_m=(reg_m, None), tol=1e-13, max_iter=50_000)
    ref = pot.unbalanced.sinkhorn_unbalanced(a, b, C.numpy(), eps, (reg_m, float("inf")), reg_type="kl",
                                             numItermax=100_000, stopThr=1e-15)
    assert np.abs(out.plan.numpy() - ref).sum() < 1e-9
    assert np.abs(out.plan.sum(0).numpy() - b).max() < 1e-12  # the target marginal holds
    assert np.abs(out.plan.sum(1).numpy() - a).sum() > 1e-3  # the source's does not


@pytest.mark.parametrize("eps_rel", [0.01, 0.001])
def test_long_scaling_blocks_give_the_log_domain_plan(eps_rel):
    """Blocks of 32 stabilised scaling iterations (what the minibatch coupling uses) reach the plan of the
    pure log-domain algorithm (block_size=1) at small eps, where POT's unbalanced solver no longer converges."""
    C, a, b = _problem(120, 100, seed=3)
    eps = eps_rel * C.mean().item()
    reg = eps * 0.95 / 0.05
    kw = dict(eps=eps, reg_m=(reg, None), tol=1e-12, max_iter=200_000)
    ref = sinkhorn(C, torch.tensor(a), torch.tensor(b), block_size=1, **kw).plan
    out = sinkhorn(C, torch.tensor(a), torch.tensor(b), block_size=32, **kw).plan
    assert torch.isfinite(out).all()
    assert (out - ref).abs().sum() < 1e-10


def test_two_sided_api_unchanged_and_pair_form():
    C, a, b = _problem(30, 40, seed=2)
    eps = 0.1 * C.mean().item()
    one = sinkhorn(C, eps=eps, reg_m=1.0, tol=1e-12, max_iter=20_000).plan
    pair = sinkhorn(C, eps=eps, reg_m=(1.0, 1.0), tol=1e-12, max_iter=20_000).plan
    assert torch.equal(one, pair)
    ref = pot.unbalanced.sinkhorn_unbalanced(np.full(30, 1 / 30), np.full(40, 1 / 40), C.numpy(), eps, (1.0, 2.0),
                                             reg_type="kl", numItermax=100_000, stopThr=1e-15)
    mixed = sinkhorn(C, eps=eps, reg_m=(1.0, 2.0), tol=1e-13, max_iter=50_000).plan
    assert np.abs(mixed.numpy() - ref).sum() < 1e-9
    balanced = sinkhorn(C, eps=eps, reg_m=(None, float("inf")), tol=1e-9, max_iter=5000).plan
    assert torch.allclose(balanced, sinkhorn(C, eps=eps, tol=1e-9, max_iter=5000).plan)
    with pytest.raises(ValueError, match="positive"):
        sinkhorn(C, eps=eps, reg_m=(-1.0, None))


def test_batched_per_problem_reg_matches_separate_solves():
    Cs = torch.stack([_problem(20, 25, seed=s)[0] for s in range(3)])
    eps = torch.tensor([0.05, 0.1, 0.2]) * Cs.mean(dim=(1, 2))
    reg = eps * 9.0
    batched = sinkhorn(Cs, eps=eps, reg_m=(reg, None), tol=1e-12, max_iter=20_000).plan
    for k in range(3):
        single = sinkhorn(Cs[k], eps=eps[k].item(), reg_m=(reg[k].item(), None), tol=1e-12, max_iter=20_000).plan
        assert (batched[k] - single).abs().sum() < 1e-9


def test_minibatch_coupling_tau_is_moscots_parameterisation():
    """tau -> reg_m = eps tau / (1 - tau); masses from the sampler's population sizes reach the plan."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(40, 2)), rng.normal(size=(40, 2)) + 1.0])
    t = np.repeat([0.0, 1.0], 40)
    sampler = IntervalSampler(x, t, population=np.array([1.0, 2.5]))
    mc = MinibatchCoupling("entropic", sigma=0.5, tau=0.9, marginals=sampler.marginals, tol=1e-12, max_iter=50_000)
    x0, x1 = sampler.sample(30, torch.Generator().manual_seed(0))
    plan = mc.plan(x0.double(), x1.double(), sampler.t1 - sampler.t0)[0]
    assert abs(plan.sum().item() - 2.5) < 1e-6  # the target mass (population ratio) is kept (float32 masses)
    eps = 2 * 0.5**2 * 1.0
    C = ((x0[0].double()[:, None] - x1[0].double()[None]) ** 2).sum(-1).numpy()
    ref = pot.unbalanced.sinkhorn_unbalanced(np.full(30, 2.5 / 30), np.full(30, 2.5 / 30), C, eps,
                                             (eps * 0.9 / 0.1, float("inf")), reg_type="kl", numItermax=100_000,
                                             stopThr=1e-15)
    assert np.abs(plan.numpy() - ref).sum() < 1e-6
    with pytest.raises(ValueError, match="tau"):
        MinibatchCoupling("entropic", sigma=0.5, tau=1.5)
    with pytest.raises(ValueError, match="entropic"):
        MinibatchCoupling("exact", tau=0.5)


def test_sampler_prior_rates_shape_the_source_masses():
    x = np.zeros((20, 1))
    t = np.repeat([0.0, 2.0], 10)
    rates = np.where(np.arange(20) < 5, np.log(3.0) / 2, 0.0)  # the first five cells triple over the interval
    sampler = IntervalSampler(x, t, rates=rates)
    sampler.sample(1000, torch.Generator().manual_seed(1))
    a, b = sampler.marginals()
    i0 = sampler._last[0][0]
    fast = (i0 < 5).numpy()
    ratio = a[0][fast].mean() / a[0][~fast].mean()
    assert abs(ratio.item() - 3.0) < 1e-5
    assert abs(a.sum().item() - 1.0) < 1e-5 and abs(b.sum().item() - 1.0) < 1e-5
