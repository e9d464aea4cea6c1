"""Data-parallel training over processes (cellbridge.distributed): gloo on the CPU, NCCL on GPUs."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cellbridge.model import CellBridgeModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gaussian_bridge import C_EXACT, cross_covariance, cross_covariance_tolerance, endpoints, training_cells  # noqa: E402


def _weights(model: CellBridgeModel) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.drift_network.parameters()])


@pytest.fixture(scope="module")
def small_course():
    rng = np.random.default_rng(3)
    return training_cells(rng, 500)


@pytest.mark.slow
def test_two_processes_fit_the_gaussian_schrodinger_bridge():
    # two ranks of 256 cells per step: the single-process test's 512 cells per step, averaged over ranks
    rng = np.random.default_rng(0)
    x, t = training_cells(rng)
    model = CellBridgeModel.fit(x, t, sigma=1.0, n_steps=3000, batch_size=256, n_freqs=4, device="cpu", rng=0,
                                progress=False, devices=2)
    cross = cross_covariance(*endpoints(model, rng))
    assert abs(cross - C_EXACT) < cross_covariance_tolerance()


def test_same_seed_same_processes_same_model(small_course):
    x, t = small_course
    kw = dict(sigma=1.0, n_steps=40, batch_size=64, device="cpu", progress=False, devices=2)
    a, b = CellBridgeModel.fit(x, t, rng=0, **kw), CellBridgeModel.fit(x, t, rng=0, **kw)
    assert torch.equal(_weights(a), _weights(b))
    np.testing.assert_array_equal(a.history["loss"], b.history["loss"])
    # the ranks draw their own minibatches: not the one-process fit, and another seed is another model
    one = CellBridgeModel.fit(x, t, rng=0, **{**kw, "devices": None})
    other = CellBridgeModel.fit(x, t, rng=1, **kw)
    assert not torch.equal(_weights(a), _weights(one)) and not torch.equal(_weights(a), _weights(other))


def test_one_device_is_one_process(small_course):
    x, t = small_course
    kw = dict(sigma=1.0, n_steps=10, batch_size=32, device="cpu", progress=False, rng=0)
    assert torch.equal(_weights(CellBridgeModel.fit(x, t, devices=1, **kw)), _weights(CellBridgeModel.fit(x, t, **kw)))


@pytest.mark.parametrize("devices, error", [
    (0, ValueError), (True, TypeError), ("two", TypeError), (2.0, TypeError), ("group", ValueError),
    pytest.param([0, 1], ValueError, marks=pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA present")),
])
def test_bad_devices_are_refused_before_training(small_course, devices, error):
    x, t = small_course
    with pytest.raises(error, match="devices|process group"):
        CellBridgeModel.fit(x, t, n_steps=5, device="cpu", progress=False, devices=devices)


def test_data_parallel_checkpoints_are_refused(small_course, tmp_path):
    x, t = small_course
    with pytest.raises(ValueError, match="checkpoints of a data-parallel fit"):
        CellBridgeModel.fit(x, t, n_steps=5, device="cpu", progress=False, devices=2, checkpoint_dir=tmp_path)
    assert not any(tmp_path.iterdir())


@pytest.mark.gpu
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices")
def test_two_gpus_fit_the_gaussian_schrodinger_bridge():
    rng = np.random.default_rng(0)
    x, t = training_cells(rng)
    model = CellBridgeModel.fit(x, t, sigma=1.0, n_steps=3000, batch_size=256, n_freqs=4, device="cuda",
                                rng=0, progress=False, devices=[0, 1])
    cross = cross_covariance(*endpoints(model.to("cpu"), rng))
    assert abs(cross - C_EXACT) < cross_covariance_tolerance()
