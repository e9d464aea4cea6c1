"""The velocity-matching term (cellbridge.methods.velocity): targets, wiring into a fit, and the gene network
of the learned drift on the linear test system."""

import sys
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import cellbridge as cb
from cellbridge.grn import score_network
from cellbridge.methods import available_terms
from cellbridge.methods.velocity import velocity_targets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from linear_system import linear_time_course  # noqa: E402


def _linear_adata(seed=0, **kwargs):
    x, t, truth = linear_time_course(seed=seed, **kwargs)
    genes = [f"g{i}" for i in range(x.shape[1])]
    adata = ad.AnnData(x, var=pd.DataFrame(index=genes))
    adata.obs["time"] = t
    return adata, truth, genes


def test_targets_of_a_rigid_shift_and_their_times():
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(40, 3))
    shift = np.array([1.0, -2.0, 0.5])
    x = np.concatenate([x0, x0 + shift, x0 + 2 * shift])
    t = np.repeat([0.0, 0.5, 1.0], 40)
    v, t_cell = velocity_targets(x, t, n_sub=1)
    np.testing.assert_allclose(v, np.tile(shift / 0.5, (len(x), 1)), atol=1e-9)
    np.testing.assert_array_equal(t_cell, t)
    # refined: every cell gets a time inside its snapshot's share of the grid, averaged over the resolutions
    v, t_cell = velocity_targets(x, t, n_sub=(2, 3))
    assert v.shape == x.shape and np.all(np.isfinite(v))
    assert np.all(np.abs(t_cell - t) < 0.25)
    with pytest.raises(ValueError, match="exceeds"):
        velocity_targets(x, t, n_sub=41)


def test_ngm_default_on_recorded_saved_and_refused_where_it_cannot_work(tmp_path):
    assert "velocity" in available_terms()
    adata, _, _ = _linear_adata()
    model = cb.tl.fit(adata, "time", use_rep="X", drift="ngm", n_steps=5, batch_size=32, progress=False, rng=0)
    assert model.config["terms"]["velocity"] == {"weight": 10.0, "n_sub": [3, 4, 5, 6]}
    assert "velocity_loss" in model.history and np.all(np.isfinite(model.history["velocity_loss"]))
    assert adata.uns["cellbridge"]["params"]["velocity_matching"] == 10.0
    model.save(tmp_path / "m")
    back = cb.load(tmp_path / "m")
    np.testing.assert_array_equal(back.drift(0.5, adata.X[:5]), model.drift(0.5, adata.X[:5]))
    # off by default for the plain drift, and on request
    plain = cb.tl.fit(adata, "time", use_rep="X", n_steps=3, batch_size=32, progress=False, rng=0)
    assert "terms" not in plain.config
    off = cb.tl.fit(adata, "time", use_rep="X", drift="ngm", velocity_matching=0, n_steps=3, batch_size=32,
                    progress=False, rng=0)
    assert "terms" not in off.config
    with pytest.raises(ValueError, match="sf2m"):
        cb.tl.fit(adata, "time", use_rep="X", method="dsbm", velocity_matching=1.0, n_steps=3, n_iterations=1,
                  batch_size=32, progress=False)
    with pytest.raises(ValueError, match="velocity_matching"):
        cb.tl.fit(adata, "time", use_rep="X", velocity_matching=-1.0, n_steps=3, progress=False)
    with pytest.raises(ValueError, match="velocity_n_sub needs"):
        cb.tl.fit(adata, "time", use_rep="X", velocity_n_sub=1, n_steps=3, progress=False)


def test_small_snapshots_drop_the_finer_resolutions():
    adata, _, _ = _linear_adata(n_cells=4)
    model = cb.tl.fit(adata, "time", use_rep="X", drift="ngm", n_steps=2, batch_size=4, progress=False, rng=0)
    assert np.all(np.isfinite(model.history["velocity_loss"]))


def test_learned_route_recovers_the_linear_system_with_every_sign():
    # synchronous snapshots (every cell of a snapshot recorded at the same time): velocities between the
    # snapshots themselves (velocity_n_sub=1); see the velocity_n_sub note of tl.fit
    adata, truth, genes = _linear_adata(seed=0)
    model = cb.tl.fit(adata, "time", use_rep="X", drift="ngm", ngm_lambda=1e-2, n_steps=600, batch_size=128,
                      ot_method="exact", velocity_matching=1.0, velocity_n_sub=1, progress=False, rng=0)
    edges = cb.tl.grn(adata, model, top_k=None)
    signs = (edges.pivot(index="regulator", columns="target", values="sign")
             .reindex(index=genes, columns=genes).fillna(0).to_numpy())
    res = score_network(adata.varp["cellbridge_grn"], truth, signs, genes=genes)
    assert res["auroc"] > 0.95, res
    assert res["signed_accuracy"] == 1.0, res
