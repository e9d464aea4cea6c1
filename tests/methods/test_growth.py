"""Growth (unbalanced dynamics): closed forms, no-growth agreement, weighted W1, persistence.

Closed form: two static, well separated clusters; A doubles per time unit, B stays. Each snapshot holds
the same number of cells, subsampled in proportion to the populations (A's share 1/2, 2/3, 4/5 at t = 0, 1,
2). Without population sizes every snapshot has mass 1, so the learned rates are the true ones minus the
log-ratio of the total populations (ln(3/2), ln(5/3)): only the difference ln 2 is claimed. With the
population sizes (2, 3, 5) the absolute rates ln 2 and 0 are.

Tolerance 0.15 per unit of time on rates of 0.69: the minibatch shares of A and B in batches of 64 cells
bias a log-ratio by O(1 / (B p)) (Jensen; up to ~0.03 for B's 20% share at t = 2), Sinkhorn stops at the
training tolerance, and 300 steps of a (32, 32) network leave a fitting error of a few hundredths; the
fits give differences 0.63-0.68 (see the report in the commit).
"""

import numpy as np
import ot as pot
import pytest

import cellbridge as cb
from cellbridge.model import CellBridgeModel

LN2 = float(np.log(2.0))
TOL = 0.15
FIT = dict(n_steps=300, batch_size=64, hidden_dims=(32, 32), progress=False, device="cpu", rng=0)
A, B = np.array([[-3.0, 0.0]]), np.array([[3.0, 0.0]])


def two_clusters(n=240, seed=0, growth=True):
    rng = np.random.default_rng(seed)
    xs, ts = [], []
    for k in range(3):
        share = 2.0**k / (2.0**k + 1) if growth else 0.5
        m_a = int(round(n * share))
        xs.append(np.concatenate([rng.normal(size=(m_a, 2)) * 0.3 + A, rng.normal(size=(n - m_a, 2)) * 0.3 + B]))
        ts.append(np.full(n, float(k)))
    return np.concatenate(xs), np.concatenate(ts)


@pytest.fixture(scope="module")
def data():
    return two_clusters()


@pytest.fixture(scope="module")
def relative(data):
    return CellBridgeModel.fit(*data, growth=True, **FIT)


@pytest.fixture(scope="module")
def absolute(data):
    return CellBridgeModel.fit(*data, growth=True, population_size={0: 2.0, 1: 3.0, 2: 5.0}, **FIT)


TIMES = [0.25, 0.75, 1.25, 1.75]


def test_rate_difference_is_ln2_without_population_sizes(relative):
    assert relative.growth_identifiable == "relative"
    for t in TIMES:
        diff = relative.growth_rate(t, A)[0] - relative.growth_rate(t, B)[0]
        assert abs(diff - LN2) < TOL, (t, diff)


def test_absolute_rates_with_population_sizes(absolute):
    assert absolute.growth_identifiable == "absolute"
    for t in TIMES:
        assert abs(absolute.growth_rate(t, A)[0] - LN2) < TOL, t
        assert abs(absolute.growth_rate(t, B)[0]) < TOL, t


def test_weighted_simulation_carries_the_growth(absolute):
    rng = np.random.default_rng(1)
    x0 = np.concatenate([rng.normal(size=(100, 2)) * 0.3 + A, rng.normal(size=(100, 2)) * 0.3 + B])
    states, log_w = absolute.simulate(x0, [0.0, 1.0, 2.0], rng=0, return_log_weights=True)
    assert log_w.shape == (3, 200) and np.all(log_w[0] == 0)
    in_a = states[:, :, 0] < 0
    for k, share in ((1, 2 / 3), (2, 4 / 5)):  # A's weighted share follows the doubling
        w = np.exp(log_w[k])
        assert abs(w[in_a[k]].sum() / w.sum() - share) < 0.05
    assert abs(np.exp(log_w[2]).mean() - 2.5) < 0.4  # population 2 -> 5
    assert np.abs(states[2] - states[0]).mean() < 1.0  # the clusters stay put: growth, not transport
    assert np.array_equal(absolute.simulate(x0, [0.0, 1.0], rng=0), states[:2])  # old API unchanged


def test_no_growth_data_agrees_with_balanced():
    x, t = two_clusters(growth=False, seed=3)
    balanced = CellBridgeModel.fit(x, t, **FIT)
    grown = CellBridgeModel.fit(x, t, growth=True, **FIT)
    rates = grown.growth_rate(1.0, np.concatenate([A, B, [[0.0, 0.0]]]))
    assert np.abs(rates[:2]).max() < 0.1
    x0 = x[t == 0]
    sb = balanced.simulate(x0, [0.0, 2.0], rng=0)[-1]
    sg, log_w = grown.simulate(x0, [0.0, 2.0], rng=0, return_log_weights=True)
    w = np.exp(log_w[-1])
    # same marginals within Monte-Carlo error: A's share (240 cells: se 0.032) and the W1 between them
    assert abs((sb[:, 0] < 0).mean() - np.average(sg[-1][:, 0] < 0, weights=w)) < 0.1
    assert cb.metrics.wasserstein(sb, sg[-1], weights_y=w) < 0.3


def test_weighted_w1_equals_pot_emd2():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 3)), rng.normal(size=(50, 3)) + 0.3
    wx, wy = rng.uniform(0.1, 2.0, 60), rng.uniform(0.1, 2.0, 50)
    cost = np.sqrt(((x[:, None] - y[None]) ** 2).sum(-1))
    ref = pot.emd2(wx / wx.sum(), wy / wy.sum(), cost)
    assert abs(cb.metrics.wasserstein(x, y, weights_x=wx, weights_y=wy) - ref) < 1e-10
    # unweighted scores as before, and uniform weights are the unweighted distance
    plain = cb.metrics.wasserstein(x, y)
    assert abs(plain - pot.emd2(np.full(60, 1 / 60), np.full(50, 1 / 50), cost)) < 1e-10
    assert abs(cb.metrics.wasserstein(x, y, weights_x=np.ones(60)) - plain) < 1e-12
    with pytest.raises(ValueError, match="weights_x"):
        cb.metrics.wasserstein(x, y, weights_x=np.ones(5))


def test_unbalanced_baseline_follows_growth_and_balanced_does_not():
    x, t = two_clusters(n=200)
    x0, x1 = x[t == 0], x[t == 1]
    ub = cb.evaluation.unbalanced_ot_interpolation(x0, x1, 0.5, rng=0)
    en = cb.evaluation.entropic_ot_interpolation(x0, x1, 0.5, rng=0)
    # growth at half the interval: A's share sqrt(2) / (sqrt(2) + 1) = 0.586, and no cell in the gap
    assert abs((ub[:, 0] < 0).mean() - np.sqrt(2) / (np.sqrt(2) + 1)) < 0.06
    assert (np.abs(ub[:, 0]) < 1.5).mean() < 0.02
    # the balanced plan must move a sixth of the mass from B to A: those pairs cross the gap
    assert (np.abs(en[:, 0]) < 1.5).mean() > 0.1


def test_dsbm_gets_growth_through_the_shared_interface(data):
    model = CellBridgeModel.fit(*data, method="dsbm", growth=True, n_iterations=2, n_sim=256,
                                **{**FIT, "n_steps": 200})
    assert model.has_growth and set(model.networks) == {"forward", "backward", "growth"}
    diff = model.growth_rate(0.5, A)[0] - model.growth_rate(0.5, B)[0]
    assert abs(diff - LN2) < 2 * TOL


def test_save_load_and_h5ad_round_trip(tmp_path):
    import anndata as ad

    x, t = two_clusters(n=120)
    adata = ad.AnnData(obs={"day": [f"d{int(v)}" for v in t]})
    adata.obsm["X_pca"] = x.astype(np.float32)
    adata.obs["pop"] = np.choose(t.astype(int), [2.0, 3.0, 5.0])
    model = cb.tl.fit(adata, "day", growth=True, population_size="pop", **{**FIT, "n_steps": 50})
    assert adata.uns["cellbridge"]["params"]["growth_identifiable"] == "absolute"
    model.save(tmp_path / "m")
    loaded = cb.load(tmp_path / "m")
    assert loaded.has_growth and loaded.config["terms"] == model.config["terms"]
    assert np.array_equal(loaded.growth_rate(0.5, x[:10]), model.growth_rate(0.5, x[:10]))
    cb.tl.growth_rate(adata, loaded)
    assert adata.obs["cellbridge_growth_rate"].notna().all()
    sim = cb.tl.simulate(adata, loaded, n_cells=50)
    w = sim.obs["weight"].to_numpy()
    for tp in np.unique(sim.obs["time"]):  # normalised to mean 1 per time point
        assert abs(w[sim.obs["time"].to_numpy() == tp].mean() - 1) < 1e-9
    resampled = cb.tl.simulate(adata, loaded, n_cells=50, resample=True)
    assert (resampled.obs["weight"] == 1).all() and resampled.n_obs == sim.n_obs
    adata.write_h5ad(tmp_path / "a.h5ad")
    sim.write_h5ad(tmp_path / "s.h5ad")
    back = ad.read_h5ad(tmp_path / "s.h5ad")
    assert np.allclose(back.obs["weight"], w)
    # a balanced model saved before growth existed still loads (no 'terms' in its config)
    old = CellBridgeModel.fit(x, t, **{**FIT, "n_steps": 20})
    old.save(tmp_path / "old")
    assert not cb.load(tmp_path / "old").has_growth


def test_prior_rates_reach_the_validation_cells_and_their_own_coupling(data):
    # with a validation split each side keeps its own cells' prior masses, and validation plans are solved
    # in a coupling of their own (the growth loss reads the training step's plans, never validation's)
    from cellbridge.methods.sf2m import SF2MConfig, SF2MTrainer

    x, t = data
    rates = 0.5 * x[:, 0]  # a prior that differs between the clusters
    trainer = SF2MTrainer(x, t, SF2MConfig(sigma=0.5, batch_size=32, val_fraction=0.25, n_steps=5), rng=0)
    trainer.attach_terms({"growth": {"rates": rates}})
    held_out = trainer.val_mask
    assert 0 < held_out.sum() < len(t)
    for sampler, cells in ((trainer.sampler, ~held_out), (trainer.val_sampler, held_out)):
        x0, _ = sampler.sample(32)
        a, _ = sampler.marginals()
        # a source cell's mass: its interval's share exp(rate Delta) / sum, Delta = 1; the rate read from its state
        expected = np.exp(0.5 * x0[..., 0].double().numpy())
        np.testing.assert_allclose(a.double().numpy(), expected / expected.sum(1, keepdims=True), rtol=1e-5)
        assert np.isin(x0[..., 0].numpy(), x[cells, 0].astype(np.float32)).all()
    assert np.isfinite(trainer.validation_loss())
    model = CellBridgeModel.fit(x, t, growth=True, growth_prior=rates, val_fraction=0.25, val_every=50, **FIT)
    assert np.isfinite(model.history["val_loss"]).all() and len(model.history["val_loss"]) == FIT["n_steps"] // 50
