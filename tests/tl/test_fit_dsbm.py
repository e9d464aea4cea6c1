"""cb.tl.fit(method="dsbm") / cb.tl.simulate in both directions, persistence, warm start and bad input."""

import anndata as ad
import numpy as np
import pytest
import torch

import cellbridge as cb
from cellbridge.metrics import wasserstein

FAST = dict(method="dsbm", n_iterations=2, n_steps=40, batch_size=32, n_sim=64, sim_steps=10, hidden_dims=(16, 16),
            progress=False, device="cpu")


@pytest.fixture(scope="module")
def course():
    return cb.datasets.bifurcation(n_cells=120, n_dims=4, rng=0)


@pytest.fixture(scope="module")
def fitted(course):
    adata = course.copy()
    model = cb.tl.fit(adata, time_key="day", method="dsbm", n_iterations=4, n_steps=400, batch_size=128, n_sim=1024,
                      progress=False, device="cpu", rng=0)
    return adata, model


def _obs(adata, day):
    return adata.obsm["X_pca"][adata.obs["day"].to_numpy() == day]


def test_fit_records_per_iteration_history_and_writes_h5ad(fitted, tmp_path):
    adata, model = fitted
    rec = adata.uns["cellbridge"]
    assert rec["params"]["method"] == "dsbm" and rec["params"]["n_iterations"] == 4
    assert rec["params"]["init_coupling"] == "ot"
    hist = rec["loss_history"]
    assert len(hist["loss"]) == len(hist["iteration"]) == 1600
    np.testing.assert_array_equal(hist["iteration"], np.repeat(np.arange(4), 400))
    assert list(hist["iteration_direction"]) == ["backward", "forward", "backward", "forward"]
    assert len(hist["iteration_pair_cost"]) == 4
    adata.write_h5ad(tmp_path / "fit.h5ad")
    back = ad.read_h5ad(tmp_path / "fit.h5ad")
    np.testing.assert_allclose(back.uns["cellbridge"]["loss_history"]["loss"], hist["loss"])
    assert list(back.uns["cellbridge"]["loss_history"]["iteration_direction"]) == list(hist["iteration_direction"])
    assert set(model.networks) == {"forward", "backward"} and model.method == "dsbm"


def test_simulation_reaches_the_opposite_snapshot_both_ways(fitted):
    """Forwards from day 0 to day 4 and backwards from day 4 to day 0, each much closer (W1) to the snapshot
    it ends at than the snapshot it starts from."""
    adata, model = fitted
    base = wasserstein(_obs(adata, 0.0), _obs(adata, 4.0))
    fwd = cb.tl.simulate(adata, model, rng=0)
    end = fwd.obsm["X_pca"][fwd.obs["time"].to_numpy() == 4.0]
    assert wasserstein(end, _obs(adata, 4.0)) < 0.35 * base
    bwd = cb.tl.simulate(adata, model, direction="backward", rng=0)
    start = bwd.obsm["X_pca"][bwd.obs["time"].to_numpy() == 0.0]
    assert wasserstein(start, _obs(adata, 0.0)) < 0.35 * base
    assert bwd.uns["cellbridge_simulation"]["direction"] == "backward"


def test_backward_layout(fitted):
    adata, model = fitted
    sim = cb.tl.simulate(adata, model, from_time=3, t_eval=[2.5, 1.0], n_cells=5, direction="backward", rng=2)
    assert sim.n_obs == 5 * 3
    np.testing.assert_allclose(sim.obs["time"].to_numpy()[:3], [3.0, 2.5, 1.0])  # in the direction of travel
    start = sim.obs["time"].to_numpy() == 3.0
    src = sim.obs["source_cell"].to_numpy()[start]
    assert (adata.obs.loc[src, "day"].to_numpy() == 3.0).all()
    np.testing.assert_allclose(sim.obsm["X_pca"][start], adata[src].obsm["X_pca"], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="runs back in time"):
        cb.tl.simulate(adata, model, from_time=1, to_time=3, direction="backward")
    with pytest.raises(ValueError, match="between from_time and to_time"):
        cb.tl.simulate(adata, model, from_time=3, t_eval=[3.5], direction="backward")
    with pytest.raises(ValueError, match="direction"):
        cb.tl.simulate(adata, model, direction="sideways")


def test_probability_flow_ode_of_dsbm(fitted):
    """The ODE velocity (f - b) / 2 transports day 0 to day 4 as well (deterministically)."""
    adata, model = fitted
    a = cb.tl.simulate(adata, model, stochastic=False, rng=0)
    b = cb.tl.simulate(adata, model, stochastic=False, rng=1)
    np.testing.assert_array_equal(a.obsm["X_pca"], b.obsm["X_pca"])
    end = a.obsm["X_pca"][a.obs["time"].to_numpy() == 4.0]
    assert wasserstein(end, _obs(adata, 4.0)) < 0.35 * wasserstein(_obs(adata, 0.0), _obs(adata, 4.0))
    x = _obs(adata, 2.0)[:10]
    np.testing.assert_allclose(model.drift(2.0, x, stochastic=False, direction="backward"),
                               -model.drift(2.0, x, stochastic=False), rtol=1e-6)


def test_save_load_round_trip_gives_identical_simulations(fitted, tmp_path):
    adata, model = fitted
    model.save(tmp_path / "m")
    loaded = cb.load(tmp_path / "m")
    assert loaded.method == "dsbm" and loaded.directions == ("forward", "backward")
    for direction in ("forward", "backward"):
        a = cb.tl.simulate(adata, model, n_cells=20, direction=direction, rng=5)
        b = cb.tl.simulate(adata, loaded, n_cells=20, direction=direction, rng=5)
        np.testing.assert_array_equal(a.obsm["X_pca"], b.obsm["X_pca"])
    np.testing.assert_array_equal(loaded.history["iteration_direction"], model.history["iteration_direction"])


def test_same_seed_same_model(course):
    w = lambda m: torch.cat([p.flatten() for n in ("forward", "backward") for p in m.networks[n].parameters()])  # noqa: E731
    m1, m2, m3 = (cb.tl.fit(course.copy(), "day", rng=seed, **FAST) for seed in (7, 7, 8))
    assert torch.equal(w(m1), w(m2))
    assert not torch.equal(w(m1), w(m3))


def test_warm_start_from_sf2m(course):
    """init_coupling="sf2m" fits [SF]2M first (or takes a fitted one) and simulates it for the first pairs."""
    adata = course.copy()
    sf2m = cb.tl.fit(adata, "day", n_steps=60, batch_size=32, hidden_dims=(16, 16), progress=False, device="cpu")
    m1 = cb.tl.fit(adata, "day", init_coupling="sf2m", init_model=sf2m, key_added="dsbm", **FAST)
    assert m1.config["init_model"]["method"] == "sf2m" and adata.uns["dsbm"]["params"]["init_coupling"] == "sf2m"
    m2 = cb.tl.fit(adata, "day", init_coupling="sf2m", sf2m_options=dict(n_steps=60, batch_size=32, hidden_dims=(16, 16)),
                   key_added="dsbm2", **FAST)
    assert m2.config["init_model"]["train"]["n_steps"] == 60
    sim = cb.tl.simulate(adata, m2, n_cells=5, rng=0)
    assert np.isfinite(sim.obsm["X_pca"]).all()
    with pytest.raises(TypeError, match="init_coupling='sf2m'"):
        cb.tl.fit(adata, "day", init_model=sf2m, **FAST)
    with pytest.raises(ValueError, match="must be an \\[SF\\]2M model"):
        cb.tl.fit(adata, "day", init_coupling="sf2m", init_model=m1, **FAST)


def test_one_iteration_trains_one_direction(course):
    adata = course.copy()
    model = cb.tl.fit(adata, "day", **{**FAST, "n_iterations": 1})
    assert model.directions == ("backward",)
    sim = cb.tl.simulate(adata, model, direction="backward", n_cells=4, rng=0)
    assert sim.n_obs == 4 * 5
    with pytest.raises(ValueError, match="cannot simulate forward"):
        cb.tl.simulate(adata, model)
    with pytest.raises(ValueError, match="never trained"):
        model.simulate(_obs(adata, 0.0), [0.0, 1.0], stochastic=False)
    # the same answer before any work, for tools that simulate
    model.check_simulable("backward")
    with pytest.raises(ValueError, match="simulating forward needs the forward network"):
        model.check_simulable("forward")
    with pytest.raises(ValueError, match="probability-flow ODE needs the forward network"):
        model.check_simulable("backward", stochastic=False)
    with pytest.raises(ValueError, match="direction must be"):
        model.check_simulable("sideways")


def test_sf2m_models_simulate_backward(course):
    """[SF]2M integrates its SDE's time reversal (drift -v + sigma^2/2 s in reversed time) from the last day."""
    adata = course.copy()
    model = cb.tl.fit(adata, "day", n_steps=800, batch_size=128, progress=False, device="cpu", rng=0)
    bwd = cb.tl.simulate(adata, model, direction="backward", rng=0)
    start = bwd.obsm["X_pca"][bwd.obs["time"].to_numpy() == 0.0]
    assert wasserstein(start, _obs(adata, 0.0)) < 0.35 * wasserstein(_obs(adata, 4.0), _obs(adata, 0.0))
    x = _obs(adata, 1.0)[:10]
    v = model.drift(1.0, x, stochastic=False)
    np.testing.assert_allclose(model.drift(1.0, x) + model.drift(1.0, x, direction="backward"),
                               2 * (model.drift(1.0, x) - v), rtol=1e-4, atol=1e-5)  # both carry +sigma^2/2 s


def test_bad_settings(course):
    adata = course.copy()
    with pytest.raises(ValueError, match="available: 'sf2m', 'dsbm'"):
        cb.tl.fit(adata, "day", method="magic", progress=False)
    with pytest.raises(TypeError, match="unknown training arguments for method='dsbm'"):
        cb.tl.fit(adata, "day", ot_reuse=2, **FAST)
    with pytest.raises(ValueError, match="init_coupling"):
        cb.tl.fit(adata, "day", init_coupling="magic", **FAST)
    assert "cellbridge" not in adata.uns
