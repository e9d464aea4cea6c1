"""cb.tl.gene_trends: trends that start at the observed cells and end at the last snapshot on a course with
known linear genes (model in X_pca, genes through varm['PCs']); per-fate trends that separate on a gene-space
bifurcation (model in X); the tidy table's layout, h5ad round trip, seeds and bad input."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import cellbridge as cb

FAST = dict(batch_size=32, hidden_dims=(16, 16), num_threads=1, progress=False, device="cpu")
V = np.array([1.0, -0.5])  # displacement per day of the translating course
COLUMNS = ["time", "gene", "fate", "mean", "se", "n_trajectories"]


@pytest.fixture(scope="module")
def translating():
    """20 genes = latent @ W + 5 + noise(0.1) of a 2-D course N(k V, 0.3^2 I) at days k = 0, 1, 2 (100 cells a
    day, snapshot means exactly k V); PCA with 3 components (varm['PCs']) by cb.pp.prepare, [SF]2M in X_pca."""
    g = np.random.default_rng(0)
    latent = []
    for k in range(3):
        z = 0.3 * g.standard_normal((100, 2))
        latent.append(k * V + z - z.mean(axis=0))
    latent = np.concatenate(latent)
    w = np.random.default_rng(1).standard_normal((2, 20))
    X = latent @ w + 5.0 + 0.1 * g.standard_normal((300, 20))
    adata = ad.AnnData(X=X.astype(np.float32),
                       obs=pd.DataFrame({"day": np.repeat([0.0, 1.0, 2.0], 100)}, index=[f"c{i}" for i in range(300)]),
                       var=pd.DataFrame(index=[f"g{j}" for j in range(20)]))
    cb.pp.prepare(adata, time_key="day", n_comps=3)
    model = cb.tl.fit(adata, "day", n_steps=300, rng=0, **FAST)
    return adata, model, w


@pytest.fixture(scope="module")
def bifurcation_genes():
    """The built-in bifurcation (150 cells a day, days 0..4) read out in 4 genes: ``branch_gene`` = y (the
    branch coordinate, centred on 0), ``time_gene`` = x + 3, two mixtures; noise 0.1; [SF]2M fitted in X."""
    bif = cb.datasets.bifurcation(n_cells=150, n_dims=2, rng=0)
    latent = bif.obsm["X_latent"].astype(np.float64)
    w = np.array([[0.0, 1.0, 0.5, 0.7], [1.0, 0.0, 0.5, -0.7]])
    X = latent @ w + np.array([0.0, 3.0, 3.0, 3.0]) + 0.1 * np.random.default_rng(1).standard_normal((bif.n_obs, 4))
    adata = ad.AnnData(X=X.astype(np.float32), obs=bif.obs.copy(),
                       var=pd.DataFrame(index=["branch_gene", "time_gene", "mix_up", "mix_down"]))
    model = cb.tl.fit(adata, "day", use_rep="X", n_steps=300, rng=0, **FAST)
    return adata, model


def _at(table, time, fate="all"):
    rows = table[np.isclose(table["time"], time) & (table["fate"] == fate)]
    return rows.set_index("gene")


def test_trends_start_at_the_cells_and_end_at_the_last_snapshot(translating):
    """The trend at from_time is the mean of the source cells' own states in gene space (mean + X_pca @ PCs.T),
    to float32 precision (1e-4 on values near 5). At day 2 it matches the observed genes' mean within 0.15.

    Tolerance: the error is the fit's error in the latent mean (about 0.03 per day for these settings, see
    the velocity tests) times |W_j| <= 2.9, plus the PCA's discarded noise (about 0.01): measured 0.096 for
    this fit, 0.051 / 0.050 / 0.044 for fit seeds 1-3; 0.15 is under half a gene's within-day spread (0.35).
    The same check against the day-0 mean (no dynamics) fails by more than 1.
    """
    adata, model, w = translating
    adata = adata.copy()
    table = cb.tl.gene_trends(adata, model, list(adata.var_names), n_sims=5, n_points=11, progress=False)
    assert list(table.columns) == COLUMNS and set(table["fate"]) == {"all"}
    assert (table["n_trajectories"] == 500).all() and table["n_trajectories"].dtype == np.int64
    assert np.isin([0.0, 1.0, 2.0], table["time"]).all() and table["time"].nunique() == 11
    assert (table["se"] > 0).all()
    day = adata.obs["day"].to_numpy()
    mean_x = adata.X.mean(axis=0)
    start = mean_x + adata.obsm["X_pca"][day == 0].mean(axis=0) @ adata.varm["PCs"].T
    np.testing.assert_allclose(_at(table, 0.0).loc[adata.var_names, "mean"], start, atol=1e-4)
    observed = pd.Series(adata.X[day == 2].mean(axis=0), index=adata.var_names)
    err = (_at(table, 2.0)["mean"] - observed).abs()
    assert err.max() < 0.15, err.max()
    assert (pd.Series(adata.X[day == 0].mean(axis=0), index=adata.var_names) - observed).abs().max() > 1.0
    stored = adata.uns["cellbridge_gene_trends"]
    pd.testing.assert_frame_equal(stored, table)


def test_table_round_trips_h5ad_and_seeds_reproduce(translating, tmp_path):
    adata, model, _ = translating
    adata = adata.copy()
    table = cb.tl.gene_trends(adata, model, "g3", from_time="day1", n_sims=2, n_points=5, rng=4,
                              key_added="trend", progress=False)
    assert table["gene"].tolist() == ["g3"] * 5 and table["time"].tolist() == [1.0, 1.25, 1.5, 1.75, 2.0]
    params = adata.uns["trend_params"]
    assert params["from_time"] == 1.0 and params["to_time"] == 2.0 and list(params["genes"]) == ["g3"]
    assert params["n_sims"] == 2 and params["use_rep"] == "X_pca" and "groupby" not in params  # None dropped
    adata.write_h5ad(tmp_path / "trends.h5ad")
    back = ad.read_h5ad(tmp_path / "trends.h5ad")
    pd.testing.assert_frame_equal(back.uns["trend"], adata.uns["trend"])
    again = cb.tl.gene_trends(adata.copy(), model, "g3", from_time=1, n_sims=2, n_points=5, rng=4, progress=False)
    pd.testing.assert_frame_equal(again, table)
    other = cb.tl.gene_trends(adata.copy(), model, "g3", from_time=1, n_sims=2, n_points=5, rng=5, progress=False)
    assert not np.allclose(other["mean"].iloc[1:], table["mean"].iloc[1:])


def test_per_fate_trends_separate_on_the_bifurcation(bifurcation_genes):
    """Trajectories from day 0 split by the branch their end state lands in: the branch gene (y itself,
    centred) ends positive for the upper fate and negative for the lower one, by more than 0.5 (the branches
    sit at y = +-sqrt(3) = +-1.73; measured +1.46 / -1.23: this short fit leaves a third of its end states
    between the branches, which pull the means in); from the common start (day 0, |mean| < 0.2: measured
    0.08) on. The time gene (x + 3) moves alike in both: difference at day 4 under 0.5, one within-day
    standard deviation of x there (0.51); measured 0.22, against 2.69 for the branch gene.
    """
    adata, model = bifurcation_genes
    adata = adata.copy()
    table = cb.tl.gene_trends(adata, model, ["branch_gene", "time_gene"], from_time=0, groupby="branch",
                              n_sims=5, n_points=9, progress=False)
    assert set(table["fate"]) <= {"root", "upper", "lower"} and {"upper", "lower"} <= set(table["fate"])
    counts = table.groupby("fate")["n_trajectories"].first()
    assert counts.sum() == 150 * 5
    up, low = _at(table, 4.0, "upper"), _at(table, 4.0, "lower")
    assert up.loc["branch_gene", "mean"] > 0.5 and low.loc["branch_gene", "mean"] < -0.5
    assert abs(_at(table, 0.0, "upper").loc["branch_gene", "mean"]) < 0.2
    assert abs(up.loc["time_gene", "mean"] - low.loc["time_gene", "mean"]) < 0.5
    assert adata.uns["cellbridge_gene_trends_params"]["groupby"] == "branch"


def test_bad_input_raises_naming_the_argument_and_leaves_adata_unchanged(translating, bifurcation_genes):
    adata, model, _ = translating
    bif, bif_model = bifurcation_genes
    no_pcs = adata.copy()
    del no_pcs.varm["PCs"]
    early = bif.copy()
    early.obs["stage"] = np.where(bif.obs["day"] < 4, "early", "late")
    cases = [
        (adata, model, dict(genes=["g0", "nope"]), "genes"),
        (no_pcs, model, dict(genes=["g0"]), "genes"),
        (adata, model, dict(genes="g0", groups=["a"]), "groups"),
        (adata, model, dict(genes="g0", n_points=1), "n_points"),
        (adata, model, dict(genes="g0", from_time=2, to_time=1), "to_time"),
        (adata, model, dict(genes="g0", to_time=5), "to_time"),
        (adata, model, dict(genes="g0", from_time=0.5), "from_time"),
        (bif, bif_model, dict(genes="branch_gene", groupby="missing"), "groupby"),
        (early, bif_model, dict(genes="branch_gene", groupby="stage", groups="early"), "groups"),
    ]
    for data, mdl, kwargs, name in cases:
        before = (set(data.obsm), list(data.obs.columns), set(data.uns))
        with pytest.raises((ValueError, TypeError), match=name):
            cb.tl.gene_trends(data, mdl, progress=False, **kwargs)
        assert (set(data.obsm), list(data.obs.columns), set(data.uns)) == before, kwargs
