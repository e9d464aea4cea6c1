"""Data-parallel training over processes (cellbridge.distributed): gloo on the CPU, NCCL on GPUs."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import cellbridge as cb
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


KILL_SCRIPT = """
import sys
import numpy as np
sys.path.insert(0, {tests!r})
from gaussian_bridge import training_cells
import cellbridge as cb
from cellbridge.model import CellBridgeModel
cb.settings.verbosity = "info"
x, t = training_cells(np.random.default_rng(3), 500)
model = CellBridgeModel.fit(x, t, sigma=1.0, n_steps=400, batch_size=64, ot_reuse=2, device="cpu", rng=5,
                            progress=False, devices=2, checkpoint_dir=sys.argv[1], checkpoint_every=25)
model.save(sys.argv[2])
"""


def _fit_in_subprocess(ckpt: Path, out: Path, *, kill_at_first_checkpoint: bool = False) -> str:
    """Run the 2-process fit of KILL_SCRIPT; its log (stderr). Killed: launcher and ranks, by SIGKILL."""
    script = KILL_SCRIPT.format(tests=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.Popen([sys.executable, "-c", script, str(ckpt), str(out)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    if not kill_at_first_checkpoint:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        return err
    try:
        deadline = time.time() + 300
        while not (ckpt / "checkpoint.pt").is_file() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the fit ended before it was killed"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    return ""


@pytest.mark.slow
def test_killed_data_parallel_fit_resumes_to_the_uninterrupted_model(tmp_path):
    _fit_in_subprocess(tmp_path / "ckpt", tmp_path / "never", kill_at_first_checkpoint=True)
    assert not (tmp_path / "never").exists()
    log = _fit_in_subprocess(tmp_path / "ckpt", tmp_path / "resumed")
    assert "resuming from the checkpoint" in log, log[-2000:]
    assert "resuming" not in _fit_in_subprocess(tmp_path / "fresh", tmp_path / "uninterrupted")
    resumed, uninterrupted = cb.load(tmp_path / "resumed"), cb.load(tmp_path / "uninterrupted")
    for name in resumed.networks:
        assert torch.equal(torch.cat([p.reshape(-1) for p in resumed.networks[name].parameters()]),
                           torch.cat([p.reshape(-1) for p in uninterrupted.networks[name].parameters()]))


def test_a_checkpoint_of_another_number_of_processes_is_refused(small_course, tmp_path):
    x, t = small_course
    kw = dict(sigma=1.0, n_steps=10, batch_size=32, device="cpu", progress=False, rng=0, checkpoint_dir=tmp_path)
    CellBridgeModel.fit(x, t, devices=2, **kw)
    with pytest.raises(ValueError, match="different fit"):
        CellBridgeModel.fit(x, t, **kw)


@pytest.mark.gpu
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices")
def test_two_gpus_fit_the_gaussian_schrodinger_bridge():
    rng = np.random.default_rng(0)
    x, t = training_cells(rng)
    model = CellBridgeModel.fit(x, t, sigma=1.0, n_steps=3000, batch_size=256, n_freqs=4, device="cuda",
                                rng=0, progress=False, devices=[0, 1])
    cross = cross_covariance(*endpoints(model.to("cpu"), rng))
    assert abs(cross - C_EXACT) < cross_covariance_tolerance()
