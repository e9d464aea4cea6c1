"""Checkpoints: a fit killed by SIGKILL and resumed ends bit for bit where an uninterrupted fit ends; a
checkpoint of another fit is refused."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from cellbridge.model import CellBridgeModel

# the fits: [SF]2M with PCHIP chains, plan reuse and validation (every piece of trainer state), and DSBM
# with three IMF iterations (a checkpoint inside the second iteration: couplings and iteration records), and
# [SF]2M with growth
CASES = {
    "sf2m": dict(method="sf2m", n_steps=700, batch_size=64, hidden_dims=[32, 32], ot_reuse=3, val_fraction=0.2,
                 val_every=50, checkpoint_every=50),
    "dsbm": dict(method="dsbm", n_iterations=3, n_steps=250, batch_size=64, hidden_dims=[32, 32], n_sim=256,
                 sim_steps=10, checkpoint_every=300),
    # growth: the rate network and its optimiser state, and the source-relaxed couplings
    "growth": dict(method="sf2m", growth=True, n_steps=500, batch_size=64, hidden_dims=[32, 32], checkpoint_every=50),
}

SCRIPT = """
import json, sys
import numpy as np
from cellbridge.model import CellBridgeModel
sys.path.insert(0, {tests!r})
from methods.test_checkpoint import course
x, t = course()
kwargs = json.loads(sys.argv[1])
CellBridgeModel.fit(x, t, rng=7, device="cpu", num_threads=1, progress=False, checkpoint_dir=sys.argv[2], **kwargs)
"""


def course(n=150, seed=0):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(size=(n, 3)) * 0.5 + [k, 0.3 * k**2, 0] for k in range(4)])
    return x.astype(np.float32), np.repeat(np.arange(4.0), n)


def _fit(kwargs, **extra):
    x, t = course()
    return CellBridgeModel.fit(x, t, rng=7, device="cpu", num_threads=1, progress=False, **kwargs, **extra)


def _same_weights(a, b):
    return all(torch.equal(p, q) for name in a.networks
               for p, q in zip(a.networks[name].state_dict().values(), b.networks[name].state_dict().values()))


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_killed_and_resumed_fit_equals_an_uninterrupted_one(case, tmp_path, cb_messages):
    kwargs = CASES[case]
    ckpt = tmp_path / "ckpt"
    script = SCRIPT.format(tests=os.path.dirname(os.path.dirname(__file__)))
    proc = subprocess.Popen([sys.executable, "-c", script, json.dumps(kwargs), str(ckpt)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 300
        while not (ckpt / "checkpoint.pt").exists():
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.time() < deadline, "no checkpoint was written"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    resumed = _fit(kwargs, checkpoint_dir=ckpt)
    assert any("resuming from the checkpoint" in m for _, m in cb_messages), "the second fit did not resume"
    uninterrupted = _fit({k: v for k, v in kwargs.items() if k != "checkpoint_every"})
    assert _same_weights(resumed, uninterrupted)
    np.testing.assert_array_equal(resumed.history["loss"], uninterrupted.history["loss"])
    if case == "sf2m":
        np.testing.assert_array_equal(resumed.history["val_loss"], uninterrupted.history["val_loss"])
    elif case == "growth":
        assert resumed.has_growth
        np.testing.assert_array_equal(resumed.history["growth_loss"], uninterrupted.history["growth_loss"])
    else:
        np.testing.assert_array_equal(resumed.history["iteration_pair_cost"], uninterrupted.history["iteration_pair_cost"])


def test_a_finished_checkpoint_gives_the_same_model_and_other_fits_are_refused(tmp_path):
    kwargs = dict(method="sf2m", n_steps=60, batch_size=32, hidden_dims=[16, 16], checkpoint_every=25)
    first = _fit(kwargs, checkpoint_dir=tmp_path)
    again = _fit(kwargs, checkpoint_dir=tmp_path)  # resumes from the final checkpoint: nothing left to train
    assert _same_weights(first, again)
    np.testing.assert_array_equal(first.history["loss"], again.history["loss"])
    x, t = course()
    with pytest.raises(ValueError, match="different fit"):
        CellBridgeModel.fit(x + 1e-3, t, rng=7, device="cpu", num_threads=1, progress=False, checkpoint_dir=tmp_path,
                            **kwargs)
    with pytest.raises(ValueError, match="different fit"):
        _fit({**kwargs, "lr": 2e-3}, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="different fit"):
        CellBridgeModel.fit(x, t, rng=8, device="cpu", num_threads=1, progress=False, checkpoint_dir=tmp_path, **kwargs)
    with pytest.raises(ValueError, match="seed"):
        CellBridgeModel.fit(x, t, rng=None, progress=False, checkpoint_dir=tmp_path / "other", **kwargs)
    with pytest.raises(ValueError, match="checkpoint_every"):
        _fit({**kwargs, "checkpoint_every": 0}, checkpoint_dir=tmp_path / "zero")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read the checkpoint"):
        _fit(kwargs, checkpoint_dir=tmp_path / "broken")
