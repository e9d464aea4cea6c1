"""The default thread count: 1 for ordinary fits (the demo's among them), whatever torch's default, so a
fit cannot collapse when another process holds a core; more only for large steps on idle cores."""

import re

import numpy as np
import pytest
import torch

import cellbridge as cb
from cellbridge._utils import THREADED_WORK, auto_num_threads
from cellbridge.methods import SF2M, SF2MConfig


@pytest.fixture
def two_torch_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_the_demo_fit_trains_on_one_thread_whatever_torchs_default(two_torch_threads, cb_messages):
    adata = cb.datasets.bifurcation(rng=0)  # the demo's data; tl.fit's defaults are the demo's settings
    cb.tl.fit(adata, "day", n_steps=5, progress=False, device="cpu")
    used = [int(m) for _, line in cb_messages for m in re.findall(r"training on cpu \((\d+) threads?\)", line)]
    assert used == [1]
    assert torch.get_num_threads() == 2  # restored afterwards
    cb_messages.clear()
    cb.tl.fit(adata, "day", n_steps=5, progress=False, device="cpu", num_threads=2)
    assert any("(2 threads)" in line for _, line in cb_messages)  # an explicit count is obeyed


def test_the_rule_uses_threads_only_for_large_steps(two_torch_threads):
    cfg = SF2MConfig(sigma=1.0)
    assert SF2M.work_per_step(cfg, 10, 4) < THREADED_WORK  # the demo's network and batch
    assert auto_num_threads(SF2M.work_per_step(cfg, 10, 4)) == 1
    big = SF2M.work_per_step(SF2MConfig(sigma=1.0, batch_size=4096), 50, 4)
    assert big > THREADED_WORK and 1 <= auto_num_threads(big) <= 2
    # work grows linearly in the batch and in the number of intervals
    assert SF2M.work_per_step(SF2MConfig(sigma=1.0, batch_size=512), 10, 4) == pytest.approx(2 * SF2M.work_per_step(cfg, 10, 4))
    assert SF2M.work_per_step(cfg, 10, 8) == pytest.approx(2 * SF2M.work_per_step(cfg, 10, 4))
    assert np.isfinite(big)


def test_simulate_restores_the_thread_count_and_gives_the_same_paths_on_any_count(two_torch_threads):
    adata = cb.datasets.bifurcation(rng=0)
    model = cb.tl.fit(adata, "day", n_steps=5, progress=False, device="cpu")
    x0 = adata.obsm["X_pca"][:50]
    t = model.time_points
    chosen = model.simulate(x0, t, rng=3)  # the default policy: 1 thread for a small simulation
    assert torch.get_num_threads() == 2
    np.testing.assert_allclose(model.simulate(x0, t, rng=3, num_threads=2), chosen, rtol=1e-5, atol=1e-5)
    assert torch.get_num_threads() == 2
    with pytest.raises(ValueError, match="num_threads"):
        model.simulate(x0, t, num_threads=0)
