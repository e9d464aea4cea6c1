"""cb.tl.push / cb.tl.pull on a course with a known one-to-one map (three well-separated clusters translated
rigidly each day): the mass goes to the image cluster and comes back, for [SF]2M and DSBM; the conventions of
``cells``; the layout of the output; h5ad round trip; bad input leaves adata unchanged."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import cellbridge as cb

FAST = dict(batch_size=32, hidden_dims=(16, 16), num_threads=1, progress=False, device="cpu")
CENTRES = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
V = np.array([1.0, 0.5])  # every cluster moves by V per day


def _clusters(n=60, n_days=3, rng=0):
    """Clusters A, B, C of n cells N(c + k V, 0.2^2 I) at days k = 0, 1, 2: cluster j at day k is the image of
    cluster j at day k - 1 (a shift of |V| = 1.1, against 4 between clusters, 20 standard deviations)."""
    g = np.random.default_rng(rng)
    x, label, day = [], [], []
    for k in range(n_days):
        for j, c in enumerate(CENTRES):
            x.append(c + k * V + 0.2 * g.standard_normal((n, 2)))
            label += ["ABC"[j]] * n
            day += [float(k)] * n
    adata = ad.AnnData(obs=pd.DataFrame({"day": day, "cluster": pd.Categorical(label)},
                                        index=[f"c{i}" for i in range(len(day))]))
    adata.obsm["X_pca"] = np.concatenate(x).astype(np.float32)
    return adata


@pytest.fixture(scope="module")
def course():
    adata = _clusters()
    sf2m = cb.tl.fit(adata, "day", n_steps=300, rng=0, **FAST)
    return adata, sf2m


def _share(adata, key, day, cluster):
    at = (adata.obs["day"] == day).to_numpy()
    return float(adata.obs[key][at & (adata.obs["cluster"] == cluster).to_numpy()].sum())


def _mask(adata, day, cluster):
    return ((adata.obs["day"] == day) & (adata.obs["cluster"] == cluster)).to_numpy()


def _push_pull_shares(adata, model, n_sims):
    adata = adata.copy()
    shares = []
    for j in "ABC":
        cb.tl.push(adata, model, _mask(adata, 0, j), 2, n_sims=n_sims, progress=False)
        cb.tl.pull(adata, model, _mask(adata, 2, j), 0, n_sims=n_sims, progress=False)
        shares.append((_share(adata, "cellbridge_push", 2, j), _share(adata, "cellbridge_pull", 0, j)))
    return np.array(shares)


def test_push_and_pull_follow_the_one_to_one_map_sf2m(course):
    """At least 90% of each cluster's mass reaches its image two days later, and 90% of the image's comes back.

    Chance is 1/3; leaking across 20 standard deviations needs a fit that mixes clusters (minibatch OT with
    batches of 32 over three clusters does pair some cells across them). Measured with these settings
    (n_sims=20, seed 0): push 0.991 / 0.999 / 0.995 and pull 0.990 / 0.997 / 1.000 (clusters A, B, C); with
    10,000 end states 0.987 at worst. 0.9 allows ten times the largest leak seen.
    """
    adata, model = course
    shares = _push_pull_shares(adata, model, n_sims=20)
    assert (shares >= 0.9).all(), shares


def test_push_and_pull_follow_the_one_to_one_map_dsbm():
    """DSBM (forward and backward networks) after 100 fast steps: at least 80% of the mass on the image.

    Measured (n_sims=20, seed 0): push 0.999 / 0.973 / 0.967, pull 0.926 / 1.000 / 1.000 (the shorter fit
    leaks more than [SF]2M's 300 steps; 0.915 at worst with 10,000 end states); 0.8 is well above chance (1/3)
    and below the worst value seen.
    """
    adata = _clusters()
    model = cb.tl.fit(adata, "day", method="dsbm", n_steps=100, rng=0, **FAST)
    assert set(model.directions) == {"forward", "backward"}
    shares = _push_pull_shares(adata, model, n_sims=20)
    assert (shares >= 0.8).all(), shares


def test_layout_conventions_and_h5ad(course, tmp_path):
    adata, model = course
    adata = adata.copy()
    mask = _mask(adata, 0, "B")
    cb.tl.push(adata, model, mask, 1, n_sims=5, rng=3, progress=False)
    mass = adata.obs["cellbridge_push"]
    at = (adata.obs["day"] == 1).to_numpy()
    assert mass.dtype == np.float64 and mass[~at].isna().all() and (mass[at] >= 0).all()
    np.testing.assert_allclose(mass[at].sum(), 1.0, atol=1e-9)
    params = adata.uns["cellbridge_push_params"]
    assert params["direction"] == "forward" and params["source_time"] == 0.0 and params["to_time"] == 1.0
    assert params["n_cells"] == mask.sum() and params["n_sims"] == 5
    # the same cells as names, as a boolean Series and as a (column, value) spec give the same mass
    sub = adata.copy()
    sub.obs["pick"] = np.where(mask, "yes", "no")
    for cells, data in ((list(adata.obs_names[mask]), adata),
                        (pd.Series(mask, index=adata.obs_names), adata),
                        (("pick", "yes"), sub)):
        cb.tl.push(data, model, cells, 1, n_sims=5, rng=3, progress=False, key_added="again")
        pd.testing.assert_series_equal(data.obs["again"], mass, check_names=False)
    # default n_sims: 10,000 end states in all
    cb.tl.pull(adata, model, _mask(adata, 2, "A"), 1, progress=False, key_added="back")
    assert adata.uns["back_params"]["n_sims"] == int(np.ceil(10_000 / 60))
    assert adata.obs["back"][(adata.obs["day"] != 1).to_numpy()].isna().all()
    adata.write_h5ad(tmp_path / "mass.h5ad")
    back = ad.read_h5ad(tmp_path / "mass.h5ad")
    pd.testing.assert_series_equal(back.obs["cellbridge_push"], adata.obs["cellbridge_push"])
    pd.testing.assert_series_equal(back.obs["back"], adata.obs["back"])
    assert dict(back.uns["back_params"]) == dict(adata.uns["back_params"])


def test_bad_input_raises_naming_the_argument_and_leaves_adata_unchanged(course):
    adata, model = course
    adata = adata.copy()
    day0 = _mask(adata, 0, "A")
    cases = [
        (cb.tl.push, dict(cells=("cluster", "A"), to_time=2), "one time point"),  # A at every day
        (cb.tl.push, dict(cells=day0 | _mask(adata, 1, "A"), to_time=2), "one time point"),
        (cb.tl.push, dict(cells=day0, to_time=0), "to_time"),
        (cb.tl.pull, dict(cells=day0, to_time=1), "to_time"),
        (cb.tl.push, dict(cells=day0, to_time=1.5), "to_time"),
        (cb.tl.push, dict(cells=day0, to_time=9), "to_time"),
        (cb.tl.push, dict(cells=np.zeros(adata.n_obs, bool), to_time=1), "cells"),
        (cb.tl.push, dict(cells=["c0", "nope"], to_time=1), "cells"),
        (cb.tl.push, dict(cells="c0", to_time=1), "cells"),
        (cb.tl.push, dict(cells=("nope", "A"), to_time=1), "cells"),
        (cb.tl.push, dict(cells=("cluster", "Z"), to_time=1), "cells"),
        (cb.tl.push, dict(cells=day0[:10], to_time=1), "cells"),
        (cb.tl.push, dict(cells=day0, to_time=1, n_sims=0), "n_sims"),
    ]
    before = (set(adata.obsm), list(adata.obs.columns), set(adata.uns))
    for fn, kwargs, name in cases:
        with pytest.raises((ValueError, TypeError), match=name):
            fn(adata, model, progress=False, **kwargs)
        assert (set(adata.obsm), list(adata.obs.columns), set(adata.uns)) == before, kwargs
