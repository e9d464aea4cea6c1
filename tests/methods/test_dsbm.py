"""The DSBM trainer: settings, couplings, batched simulation over intervals, history and seeding."""

import numpy as np
import pytest
import torch

from cellbridge.methods import DSBMConfig, DSBMTrainer

SMALL = dict(batch_size=32, n_sim=64, hidden_dims=(16, 16), sim_steps=10)


def _course(seed=0, n=200, times=(0.0, 0.25, 1.0), d=2):
    """Three snapshots at unequal intervals (0.25 and 0.75), shifted along the first axis."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(size=(n, d)) + np.array([3.0 * k] + [0.0] * (d - 1)) for k in range(len(times))])
    return x.astype(np.float32), np.repeat(times, n)


@pytest.mark.parametrize("bad, match", [
    (dict(sigma=0.0), "sigma"),
    (dict(sigma=1.0, n_iterations=0), "n_iterations"),
    (dict(sigma=1.0, n_steps=0), "n_steps"),
    (dict(sigma=1.0, n_steps_first=0), "n_steps"),
    (dict(sigma=1.0, n_sim=1), "n_sim"),
    (dict(sigma=1.0, init_coupling="sinkhorn"), "init_coupling"),
    (dict(sigma=1.0, ot_method="independent"), "ot_method"),
    (dict(sigma=1.0, first_direction="up"), "first_direction"),
    (dict(sigma=1.0, init_coupling="reference", first_direction="forward"), "backward"),
    (dict(sigma=1.0, sim_steps=0), "sim_steps"),
    (dict(sigma=1.0, refresh_every=0), "refresh_every"),
    (dict(sigma=1.0, t_clip=0.5), "t_clip"),
    (dict(sigma=1.0, lr_schedule="step"), "lr_schedule"),
])
def test_bad_config(bad, match):
    with pytest.raises(ValueError, match=match):
        DSBMConfig(**bad).validate()


def test_directions_alternate_and_first_iteration_steps():
    cfg = DSBMConfig(sigma=1.0, n_steps=10, n_steps_first=30)
    assert [cfg.direction(i) for i in range(4)] == ["backward", "forward", "backward", "forward"]
    assert [cfg.steps(i) for i in range(3)] == [30, 10, 10]
    cfg = DSBMConfig(sigma=1.0, first_direction="forward")
    assert [cfg.direction(i) for i in range(3)] == ["forward", "backward", "forward"]
    assert cfg.to_dict()["hidden_dims"] == [64, 64, 64]


def test_sf2m_coupling_needs_a_drift():
    x, t = _course()
    with pytest.raises(ValueError, match="init_drift"):
        DSBMTrainer(x, t, DSBMConfig(sigma=1.0, init_coupling="sf2m", **SMALL))


@pytest.mark.parametrize("init", ["independent", "reference", "ot", "ot-exact", "sf2m"])
def test_initial_coupling_shapes_and_statistics(init):
    x, t = _course()
    kind, ot_method = ("ot", "exact") if init == "ot-exact" else (init, "entropic")
    cfg = DSBMConfig(sigma=0.5, init_coupling=kind, ot_method=ot_method, **{**SMALL, "n_sim": 600, "batch_size": 128})
    # a zero drift makes the "sf2m" coupling the reference process itself: x1 = x0 + sigma sqrt(Delta) z
    tr = DSBMTrainer(x, t, cfg, rng=0, init_drift=(lambda t, x: torch.zeros_like(x)) if kind == "sf2m" else None)
    x0, x1 = tr.initial_pairs()
    assert x0.shape == x1.shape == (2, 600, 2)
    disp = (x1 - x0).pow(2).sum(-1).mean(1)  # per interval
    if kind in ("reference", "sf2m"):
        # Brownian increments: E|x1 - x0|^2 = d sigma^2 Delta with Delta = 0.25 and 0.75
        np.testing.assert_allclose(disp.numpy(), [2 * 0.25 * 0.25, 2 * 0.25 * 0.75], rtol=0.15)
    elif kind == "independent":
        np.testing.assert_allclose(disp.numpy(), [9 + 4, 9 + 4], rtol=0.15)  # |shift|^2 + 2 d
    else:
        assert (disp < 9 + 1.0).all()  # OT pairs the clouds by translation: about |shift|^2 = 9 plus a little
    # every start is a cell of its snapshot
    cells = {tuple(np.round(v, 5)) for v in x[t == 0.0]}
    assert all(tuple(np.round(v, 5)) in cells for v in x0[0].numpy())


def test_simulation_is_batched_over_unequal_intervals():
    """With a zero drift the SDE is Brownian motion: per interval, Var(end - start) = sigma^2 Delta, both ways."""
    x, t = _course()
    tr = DSBMTrainer(x, t, DSBMConfig(sigma=0.5, **SMALL), rng=0)
    zero = lambda t, x: torch.zeros_like(x)  # noqa: E731
    tr.forward, tr.backward = zero, zero
    start = torch.zeros(2, 20_000, 2)
    for direction in ("forward", "backward"):
        end = tr.simulate(start, direction)
        np.testing.assert_allclose(end.var(1).mean(-1).numpy(), [0.25 * 0.25, 0.25 * 0.75], rtol=0.05)
    # a constant drift moves each interval by drift * Delta, forwards with +f and backwards with +b
    tr.forward = lambda t, x: torch.ones_like(x)  # noqa: E731
    tr.backward = lambda t, x: -2 * torch.ones_like(x)  # noqa: E731
    fwd, bwd = tr.simulate(start, "forward"), tr.simulate(start, "backward")
    np.testing.assert_allclose(fwd.mean(1)[:, 0].numpy(), [0.25, 0.75], atol=0.02)
    np.testing.assert_allclose(bwd.mean(1)[:, 0].numpy(), [-0.5, -1.5], atol=0.02)


def test_history_per_iteration():
    x, t = _course(1)
    cfg = DSBMConfig(sigma=0.5, n_iterations=3, n_steps=40, n_steps_first=60, log_every=20, **SMALL)
    tr = DSBMTrainer(x, t, cfg, rng=0)
    hist = tr.train(progress=False)
    assert list(hist["iteration_direction"]) == ["backward", "forward", "backward"]
    assert list(hist["iteration_steps"]) == [60, 40, 40]
    assert len(hist["loss"]) == len(hist["step"]) == len(hist["iteration"]) == 140
    np.testing.assert_array_equal(hist["iteration"], np.repeat([0, 1, 2], [60, 40, 40]))
    np.testing.assert_array_equal(hist["step"], np.arange(1, 141))
    assert np.isfinite(hist["loss"]).all() and hist["train_seconds"] > 0
    for key in ("iteration_pair_cost", "iteration_final_loss", "iteration_seconds"):
        assert len(hist[key]) == 3
    assert tr.trained == ["backward", "forward"] and tr.iteration == 3
    with pytest.raises(RuntimeError, match="iterations are done"):
        tr.run_iteration()


def test_bridge_matching_reduces_the_loss():
    x, t = _course(2, 300)
    cfg = DSBMConfig(sigma=0.5, n_iterations=1, n_steps=400, batch_size=64, n_sim=512, hidden_dims=(32, 32),
                     init_coupling="ot")
    hist = DSBMTrainer(x, t, cfg, rng=0).train(progress=False)
    assert hist["loss"][-50:].mean() < 0.5 * hist["loss"][:10].mean()


def _weights(tr):
    return torch.cat([p.detach().flatten() for n in (tr.forward, tr.backward) for p in n.parameters()])


def test_same_seed_same_networks():
    x, t = _course(3, 100)
    cfg = lambda: DSBMConfig(sigma=0.5, n_iterations=2, n_steps=30, init_coupling="ot", **SMALL)  # noqa: E731
    runs = [DSBMTrainer(x, t, cfg(), rng=seed) for seed in (5, 5, 6)]
    for r in runs:
        r.train(progress=False)
    assert torch.equal(_weights(runs[0]), _weights(runs[1]))
    assert not torch.equal(_weights(runs[0]), _weights(runs[2]))
    # tensors in, same trainer as arrays in
    b = DSBMTrainer(torch.from_numpy(x), torch.from_numpy(t), cfg(), rng=5)
    b.train(progress=False)
    assert torch.equal(_weights(runs[0]), _weights(b))


def test_warm_start_off_reinitialises_each_fit():
    """Without warm start the third iteration's backward fit starts again from a fresh initialisation."""
    x, t = _course(4, 100)
    base = dict(sigma=0.5, n_iterations=3, n_steps=20, init_coupling="independent", **SMALL)
    warm, cold = DSBMTrainer(x, t, DSBMConfig(**base), rng=0), DSBMTrainer(x, t, DSBMConfig(**base, warm_start=False), rng=0)
    for tr in (warm, cold):
        tr.run_iteration()
        tr.run_iteration()
    assert torch.equal(_weights(warm), _weights(cold))  # identical so far: nothing was re-initialised
    fresh = cold._make(cold._reinit_seeds[2]).state_dict()
    before = {k: v.clone() for k, v in warm.backward.state_dict().items()}
    seen = {}
    original = cold.loss

    def spy(direction, x0, x1, generator=None):  # record the backward weights at the first step of iteration 3
        if not seen:
            seen.update({k: v.clone() for k, v in cold.backward.state_dict().items()})
        return original(direction, x0, x1, generator)

    cold.loss = spy
    cold.run_iteration()
    assert all(torch.equal(seen[k], fresh[k]) for k in fresh)
    assert not all(torch.equal(seen[k], before[k]) for k in before)
