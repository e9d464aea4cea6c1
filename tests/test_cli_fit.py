"""``cellbridge fit``: the console command that fits an .h5ad file, alone or data-parallel under torchrun."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import cellbridge as cb
from cellbridge.cli import main

FIT = ["--time-key", "day", "--n-steps", "30", "--device", "cpu", "--no-progress"]


def _weights(model) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.drift_network.parameters()])


@pytest.fixture(scope="module")
def h5ad(tmp_path_factory):
    adata = cb.datasets.bifurcation(n_cells=100, rng=0)
    path = tmp_path_factory.mktemp("data") / "course.h5ad"
    adata.write_h5ad(path)
    return adata, path


def test_fit_writes_the_model_tl_fit_makes(h5ad, tmp_path, capsys):
    adata, path = h5ad
    out = tmp_path / "model"
    assert main(["fit", str(path), "--out", str(out), *FIT, "--seed", "3", "--option", "hidden_dims=[32,32]"]) == 0
    assert str(out) in capsys.readouterr().out
    model = cb.load(out)
    same = cb.tl.fit(adata.copy(), "day", n_steps=30, device="cpu", rng=3, progress=False, hidden_dims=(32, 32))
    assert torch.equal(_weights(model), _weights(same))
    assert (model.time_key, model.use_rep) == ("day", "X_pca")
    x0 = adata.obsm["X_pca"][adata.obs["day"].to_numpy() == 0][:50]
    path_ = model.simulate(x0, model.time_points, rng=0)
    assert path_.shape == (len(model.time_points), 50, adata.obsm["X_pca"].shape[1]) and np.isfinite(path_).all()


def test_fit_under_torchrun_is_the_data_parallel_fit(h5ad, tmp_path):
    adata, path = h5ad
    out = tmp_path / "model"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "cellbridge", "fit", str(path), "--out", str(out), *FIT]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "(2 processes)" in done.stdout
    model = cb.load(out)
    spawned = cb.tl.fit(adata.copy(), "day", n_steps=30, device="cpu", rng=0, progress=False, devices=2)
    one = cb.tl.fit(adata.copy(), "day", n_steps=30, device="cpu", rng=0, progress=False)
    assert torch.equal(_weights(model), _weights(spawned))
    assert not torch.equal(_weights(model), _weights(one))
    assert np.isfinite(model.simulate(adata.obsm["X_pca"][:20], [0.0, 4.0], rng=0)).all()


def test_fit_checkpoints_and_a_second_run_resumes(h5ad, tmp_path, capsys):
    _, path = h5ad
    args = ["fit", str(path), *FIT, "--checkpoint-dir", str(tmp_path / "ckpt"), "--checkpoint-every", "10"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert (tmp_path / "ckpt" / "checkpoint.pt").is_file()
    # the finished checkpoint: a second run resumes from it and writes the same model without training
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    assert torch.equal(_weights(cb.load(tmp_path / "a")), _weights(cb.load(tmp_path / "b")))


@pytest.mark.parametrize("extra, message", [
    (["--option", "hidden_dims"], "KEY=VALUE"),
    (["--option", "no_such_setting=1"], "no_such_setting"),
    (["--n-steps", "0"], "--n-steps must be positive"),
    (["--checkpoint-every", "5"], "checkpoint_every needs checkpoint_dir"),
])
def test_fit_refuses_bad_arguments(h5ad, tmp_path, capsys, extra, message):
    _, path = h5ad
    args = ["fit", str(path), "--out", str(tmp_path / "m"), *FIT, *extra]
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_fit_refuses_a_missing_file_a_full_folder_and_a_missing_time_key(h5ad, tmp_path, capsys):
    _, path = h5ad
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    assert main(["fit", str(tmp_path / "none.h5ad"), "--out", str(tmp_path / "m"), *FIT]) == 2
    assert main(["fit", str(path), "--out", str(full), *FIT]) == 2
    assert (full / "keep.txt").read_text() == "mine"
    assert main(["fit", str(path), "--out", str(tmp_path / "m"), *FIT[2:], "--time-key", "hour"]) == 2
    err = capsys.readouterr().err
    assert "no such file" in err and "not empty" in err and "hour" in err
