"""Bad input to cb.tl.fit fails at the top of the call with a message naming the argument, and leaves the
AnnData as it was; suspicious input is allowed with a warning or adjusted with a log line."""

import logging

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import cellbridge as cb

FAST = dict(n_steps=20, batch_size=16, hidden_dims=(8, 8), num_threads=1, progress=False, device="cpu")


def _course(n=20, offset=0.0, spread=1.0, seed=0):
    rng = np.random.default_rng(seed)
    x = np.concatenate([offset + spread * (rng.normal(size=(n, 2)) + [k, 0]) for k in range(3)])
    obs = pd.DataFrame({"day": np.repeat([0.0, 1.0, 2.0], n)}, index=[f"c{i}" for i in range(3 * n)])
    return ad.AnnData(obs=obs, obsm={"X_pca": x})


def _snapshot(adata):
    return list(adata.obs.columns), list(adata.obsm.keys()), list(adata.uns.keys())


@pytest.mark.parametrize("bad, error, name", [
    (dict(n_steps=2.5), TypeError, "n_steps"),
    (dict(batch_size="64"), TypeError, "batch_size"),
    (dict(sigma="0.5"), TypeError, "sigma"),
    (dict(sigma=-1.0), ValueError, "sigma"),
    (dict(lr=0.0), ValueError, "lr"),
    (dict(hidden_dims=(16, 0)), TypeError, "hidden_dims"),
    (dict(time_key=3), TypeError, "time_key"),
    (dict(key_added=None), TypeError, "key_added"),
    (dict(progress="yes"), TypeError, "progress"),
    (dict(num_threads=0), ValueError, "num_threads"),
    (dict(checkpoint_every=10), ValueError, "checkpoint_every"),
    (dict(method=None), TypeError, "method"),
    (dict(method="magic"), ValueError, "unknown method"),
])
def test_bad_arguments_name_themselves_and_write_nothing(bad, error, name):
    adata = _course()
    before = _snapshot(adata)
    kwargs = {**FAST, "time_key": "day", **bad}
    with pytest.raises(error, match=name):
        cb.tl.fit(adata, **kwargs)
    assert _snapshot(adata) == before


def test_a_batch_larger_than_every_time_point_is_capped_with_a_log_line(cb_messages):
    adata = _course(n=20)
    cb.tl.fit(adata, "day", **{**FAST, "batch_size": 10_000})
    assert adata.uns["cellbridge"]["params"]["batch_size"] == 20
    assert any("batch_size=10000" in m and "batch_size=20" in m for _, m in cb_messages)


def test_a_sigma_far_from_the_default_warns(cb_messages):
    adata = _course()
    default = cb.normalization.default_sigma(adata.obsm["X_pca"], adata.obs["day"].to_numpy())
    cb.tl.fit(adata, "day", sigma=100 * default, **FAST)
    warnings = [m for level, m in cb_messages if level == logging.WARNING]
    assert any("sigma=" in m and "default" in m for m in warnings)
    cb_messages.clear()
    cb.tl.fit(adata, "day", sigma=2 * default, **FAST)
    assert not [m for level, m in cb_messages if level == logging.WARNING and "sigma=" in m]


def test_a_large_common_offset_keeps_the_spread():
    """float64 data at 1e8 with spread 0.2: a float32 cast before centring keeps about 8 units of resolution
    there (every cell collapses onto a few values); centred in float64 first, the fitted model's simulated
    spread matches the data's. Tolerance 5%: 60 cells per time point estimate a standard deviation to about
    1 / sqrt(2 * 60) = 9% each, and the simulated cells start from the observed ones, so the two spreads
    share most of that error."""
    adata = _course(n=60, offset=1e8, spread=0.2)
    model = cb.tl.fit(adata, "day", **{**FAST, "n_steps": 200, "batch_size": 60})
    x0 = adata.obsm["X_pca"][adata.obs["day"].to_numpy() == 0]
    assert model.normalization.scale == pytest.approx(cb.normalization.rms_spread(adata.obsm["X_pca"]), rel=1e-9)
    sim = model.simulate(x0, [0.0, 0.5], stochastic=False, steps_per_interval=20)
    spread = lambda a: np.sqrt(np.mean(np.var(a, axis=0)))  # noqa: E731
    assert spread(sim[0]) == pytest.approx(spread(x0), rel=1e-6)
    assert spread(sim[-1]) == pytest.approx(spread(x0), rel=0.05)
