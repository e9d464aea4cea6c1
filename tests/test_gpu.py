"""CUDA path: skipped cleanly where no GPU is present (CI has none; run them on a GPU machine)."""

import numpy as np
import pytest
import torch

from cellbridge.methods import SF2MConfig, SF2MTrainer
from cellbridge.ot import sample_pairs, sinkhorn, sq_euclidean

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def test_sinkhorn_on_cuda_matches_cpu():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(3, 300, 20, generator=g), torch.randn(3, 300, 20, generator=g) + 0.5
    C = sq_euclidean(x, y)
    eps = 0.01 * C.mean().item()
    cpu = sinkhorn(C, eps=eps, tol=1e-6, max_iter=5000)
    gpu = sinkhorn(C.cuda(), eps=eps, tol=1e-6, max_iter=5000)
    assert gpu.plan.device.type == "cuda"
    assert (gpu.plan.cpu() - cpu.plan).abs().sum() < 1e-3


def test_pair_draws_on_cuda_follow_the_plan():
    """The blocked pair draw on the device: frequencies within 5 binomial standard errors of the plan."""
    g = torch.Generator().manual_seed(1)
    P = torch.rand(40, 50, generator=g, dtype=torch.float64) * (torch.rand(40, 50, generator=g) > 0.5)
    P = P / P.sum()
    n = 400_000
    i, j = sample_pairs(P.float().cuda(), n, generator=torch.Generator(device="cuda").manual_seed(0))
    counts = torch.zeros_like(P)
    counts.index_put_((i.cpu(), j.cpu()), torch.ones(n, dtype=torch.float64), accumulate=True)
    se = (P * (1 - P) / n).sqrt()
    assert ((counts / n - P).abs() <= 5 * se + 1e-6).all()
    assert (counts[P == 0] == 0).all()


@pytest.mark.parametrize("n_times", [2, 3])  # the straight bridge; PCHIP paths through chained plans
def test_training_step_stays_on_the_device(n_times):
    """A step of the sync-free trainer makes no device-to-host copy (CUDA sync debug mode would raise)."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(500, 5)) + k for k in range(n_times)]).astype(np.float32)
    t = np.repeat(np.arange(n_times, dtype=float), 500)
    tr = SF2MTrainer(x, t, SF2MConfig(sigma=0.5, batch_size=256), device="cuda", rng=0)
    tr.step()  # warm-up (lazy CUDA initialisation may synchronise)
    torch.cuda.set_sync_debug_mode("error")
    try:
        losses = tr.step()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert losses.device.type == "cuda" and bool(torch.isfinite(losses).all())


def test_dense_metrics_on_cuda_match_numpy():
    from cellbridge.metrics import energy_distance, mmd_rbf

    r = np.random.default_rng(0)
    x, y = r.normal(size=(1500, 10)), r.normal(size=(1200, 10)) + 0.2
    assert mmd_rbf(x, y, device="cuda") == pytest.approx(mmd_rbf(x, y), rel=1e-7)
    assert energy_distance(x, y, device="cuda") == pytest.approx(energy_distance(x, y), rel=1e-7)


def test_split_plans_keep_a_large_batch_step_on_the_device():
    """Batch 4096 coupled as plans of at most 1024 cells (ot_max_plan): still no device-to-host copy."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(5000, 5)) + k for k in range(3)]).astype(np.float32)
    t = np.repeat(np.arange(3, dtype=float), 5000)
    tr = SF2MTrainer(x, t, SF2MConfig(sigma=0.5, batch_size=4096, ot_max_plan=1024), device="cuda", rng=0)
    tr.step()
    torch.cuda.set_sync_debug_mode("error")
    try:
        losses = tr.step()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert bool(torch.isfinite(losses).all())


def test_data_parallel_over_a_one_rank_nccl_group(tmp_path):
    """The NCCL all-reduce path of devices='group' on one GPU: a one-rank group averages nothing, so the fit
    equals the one-process fit on the same device (same seed), up to the rank's own minibatch generator."""
    import torch.distributed as dist

    from cellbridge.model import CellBridgeModel

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(500, 5)) + k for k in range(3)]).astype(np.float32)
    t = np.repeat(np.arange(3, dtype=float), 500)
    dist.init_process_group("nccl", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    try:
        a = CellBridgeModel.fit(x, t, n_steps=50, device="cuda", rng=0, progress=False, devices="group")
        b = CellBridgeModel.fit(x, t, n_steps=50, device="cuda", rng=0, progress=False, devices="group")
    finally:
        dist.destroy_process_group()
    assert np.isfinite(a.history["loss"]).all()
    np.testing.assert_allclose(a.history["loss"], b.history["loss"], rtol=1e-4)
