"""cb.tl.fates on the built-in bifurcation: fate probabilities that recover each cell's branch, rows that sum
to 1, standard errors within the binomial bound, the "other" column of a subset of groups, reproducibility,
h5ad round trip, and bad input that leaves adata unchanged."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import cellbridge as cb
from cellbridge.fates import membership, monte_carlo_mean

FAST = dict(batch_size=32, hidden_dims=(16, 16), num_threads=1, progress=False, device="cpu")


@pytest.fixture(scope="module")
def bifurcation():
    """150 cells per day at days 0..4 in 5 dimensions; [SF]2M with 300 fast steps (about 4 s on one core)."""
    adata = cb.datasets.bifurcation(n_cells=150, n_dims=5, rng=0)
    model = cb.tl.fit(adata, "day", n_steps=300, rng=0, **FAST)
    return adata, model


def _state(adata):
    return (set(adata.obsm), list(adata.obs.columns), set(adata.uns))


@pytest.mark.parametrize("day", [2, 3])
def test_fates_recover_the_branch_of_late_cells(bifurcation, day):
    """AUROC of P(upper) - P(lower) against the sign of the source cell's latent y is at least 0.9 (the issue's criterion).

    Truth: from day 2 on (internal clock tau >= 2) the pitchfork's wells at y = +-sqrt(tau - 1) are separated
    by a barrier of height (tau - 1)^2 / 4 >= 0.25, against sigma^2 / 2 = 0.03 of the latent noise, so a cell
    on one side of y = 0 keeps its descendants on that side (up to cells at y ~ 0, which either AUROC
    convention must tolerate). Measured: 0.983 at day 2 and 1.000 at day 3 (0.968 even at day 1; seed 0); 0.9
    is the issue's bound.
    Rows sum to 1 up to float64 rounding of 15-term sums (1e-9 is far above it). The SE of a mean of values in
    [0, 1] with mean p cannot exceed sqrt(p (1 - p) / (n - 1)) (sample std, ddof=1): the bound is exact, so
    the epsilon 1e-12 only absorbs rounding.
    """
    adata, model = bifurcation
    adata = adata.copy()
    cb.tl.fates(adata, model, day, groupby="branch", progress=False)
    prob, se = adata.obsm["cellbridge_fates"], adata.obsm["cellbridge_fates_se"]
    assert isinstance(prob, pd.DataFrame) and list(prob.columns) == ["root", "upper", "lower"]
    assert prob.index.equals(adata.obs_names) and se.index.equals(adata.obs_names)
    src = (adata.obs["day"] == day).to_numpy()
    assert prob[~src].isna().all().all() and se[~src].isna().all().all()
    p = prob[src].to_numpy()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
    assert (p >= 0).all()
    y = adata.obsm["X_latent"][src, 1]
    auroc = roc_auc_score(y > 0, p[:, 1] - p[:, 2])
    assert auroc >= 0.9, auroc
    n = adata.uns["cellbridge_fates_params"]["n_sims"]
    assert n == 100
    s = se[src].to_numpy()
    assert (s <= np.sqrt(p * (1 - p) / (n - 1)) + 1e-12).all()
    assert s.max() > 0.01  # some cells are undecided: the SEs are not all zero


def test_params_and_h5ad_round_trip(bifurcation, tmp_path):
    adata, model = bifurcation
    adata = adata.copy()
    cb.tl.fates(adata, model, "day3", groupby="branch", n_sims=10, key_added="f", progress=False)
    params = adata.uns["f_params"]
    assert params["from_time"] == 3.0 and params["to_time"] == 4.0 and params["groupby"] == "branch"
    assert list(params["groups"]) == ["root", "upper", "lower"] and params["n_sims"] == 10
    assert params["model_method"] == "sf2m" and params["stochastic"] is True
    adata.write_h5ad(tmp_path / "fates.h5ad")
    back = ad.read_h5ad(tmp_path / "fates.h5ad")
    pd.testing.assert_frame_equal(back.obsm["f"], adata.obsm["f"])
    pd.testing.assert_frame_equal(back.obsm["f_se"], adata.obsm["f_se"])
    assert dict(back.uns["f_params"]).keys() == dict(params).keys()
    assert list(back.uns["f_params"]["groups"]) == list(params["groups"])


def test_same_seed_same_result_other_seed_other_draws(bifurcation):
    adata, model = bifurcation
    a, b, c = adata.copy(), adata.copy(), adata.copy()
    for x, seed in ((a, 1), (b, 1), (c, 2)):
        cb.tl.fates(x, model, 3, groupby="branch", n_sims=10, rng=seed, progress=False)
    pd.testing.assert_frame_equal(a.obsm["cellbridge_fates"], b.obsm["cellbridge_fates"])
    assert not a.obsm["cellbridge_fates"].equals(c.obsm["cellbridge_fates"])


def test_a_subset_of_groups_gets_an_other_column(bifurcation):
    """The simulations do not depend on the groups, so with the same seed the requested group's column is the
    full run's exactly, and "other" holds the rest of the mass."""
    adata, model = bifurcation
    full, sub = adata.copy(), adata.copy()
    cb.tl.fates(full, model, 3, groupby="branch", n_sims=20, progress=False)
    cb.tl.fates(sub, model, 3, groupby="branch", groups="upper", n_sims=20, progress=False)
    f, s = full.obsm["cellbridge_fates"], sub.obsm["cellbridge_fates"]
    assert list(s.columns) == ["upper", "other"]
    pd.testing.assert_series_equal(s["upper"], f["upper"])
    np.testing.assert_allclose(s["other"].dropna(), (f["root"] + f["lower"]).dropna(), atol=1e-12)


def test_ode_fates_have_zero_standard_errors(bifurcation):
    adata, model = bifurcation
    adata = adata.copy()
    cb.tl.fates(adata, model, 3, groupby="branch", stochastic=False, progress=False)
    src = (adata.obs["day"] == 3).to_numpy()
    assert adata.uns["cellbridge_fates_params"]["n_sims"] == 1
    assert (adata.obsm["cellbridge_fates_se"][src].to_numpy() == 0).all()
    np.testing.assert_allclose(adata.obsm["cellbridge_fates"][src].sum(axis=1), 1.0, atol=1e-9)


def test_core_membership_and_monte_carlo_mean():
    m, cols = membership(pd.Categorical(["b", "a", None, "c"], categories=["c", "b", "a"]), ["a", "b"])
    assert cols == ["a", "b", "other"]
    np.testing.assert_array_equal(m.toarray(), [[0, 1, 0], [1, 0, 0], [0, 0, 1], [0, 0, 1]])
    _, cols = membership(pd.Categorical(["b", "a", "c"], categories=["c", "b", "a"]))
    assert cols == ["c", "b", "a"]  # category order, no "other" when every cell has a group
    mean, se = monte_carlo_mean(np.array([[1.0], [0.0], [1.0], [1.0]]), 2)
    np.testing.assert_allclose(mean.ravel(), [0.5, 1.0])
    np.testing.assert_allclose(se.ravel(), [np.std([1, 0], ddof=1) / np.sqrt(2), 0.0])


def _bad_cases(adata):
    early = adata.copy()
    early.obs["stage"] = np.where(adata.obs["day"] < 4, "early", "late")
    shifted = adata.copy()  # day 4 relabelled day 8: observed, but beyond the model's time points
    shifted.obs["day"] = np.where(adata.obs["day"] == 4, 8.0, adata.obs["day"])
    return [
        (adata, dict(from_time=3, groupby="missing"), "groupby"),
        (early, dict(from_time=3, groupby="stage", groups=["early"]), "groups"),
        (adata, dict(from_time=3, groupby="branch", groups=["nonsense"]), "groups"),
        (adata, dict(from_time=3, to_time=2, groupby="branch"), "to_time"),
        (adata, dict(from_time=3, to_time=3, groupby="branch"), "to_time"),
        (adata, dict(from_time=2.5, groupby="branch"), "from_time"),
        (adata, dict(from_time=3, to_time=3.5, groupby="branch"), "to_time"),
        (shifted, dict(from_time=3, to_time=8, groupby="branch"), "to_time"),
        (adata, dict(from_time=3, groupby="branch", n_sims=0), "n_sims"),
        (adata, dict(from_time=3, groupby="branch", rng=-1), "rng"),
        (adata, dict(from_time=3, groupby="branch", key_added=""), "key_added"),
    ]


def test_bad_input_raises_naming_the_argument_and_leaves_adata_unchanged(bifurcation):
    adata, model = bifurcation
    for data, kwargs, name in _bad_cases(adata.copy()):
        before = _state(data)
        with pytest.raises((ValueError, TypeError), match=name):
            cb.tl.fates(data, model, progress=False, **kwargs)
        assert _state(data) == before, kwargs
