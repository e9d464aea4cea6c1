"""cb.tl.velocity read by scVelo itself (the real library, from the ``interop`` extra): its velocity graph and
stream plot run on what cellbridge writes, and agree with the cells' OT displacements."""

import importlib
import os

import anndata as ad
import matplotlib
import numpy as np
import pandas as pd
import pytest
import scanpy as sc

import cellbridge as cb
from cellbridge.ot.velocity import ot_velocities

matplotlib.use("Agg")


def _interop(name):
    """The library, or a skip outside CI; in CI the interop extra is installed, so its absence is a failure."""
    if os.environ.get("CI"):
        return importlib.import_module(name)
    return pytest.importorskip(name, reason=f"{name} is in the interop extra: pip install 'cellbridge[interop]'")


scv = _interop("scvelo")
pytestmark = pytest.mark.interop

FAST = dict(batch_size=64, hidden_dims=(32, 32), num_threads=1, progress=False, device="cpu")


def _cosines(a, b):
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)


@pytest.fixture(scope="module")
def course():
    """The built-in bifurcation as 60 genes (a random linear read-out of its 10 coordinates plus noise),
    PCA by cb.pp.prepare, an [SF]2M fit, the ODE velocity, and scanpy's neighbours."""
    base = cb.datasets.bifurcation(n_cells=120, rng=0)
    g = np.random.default_rng(0)
    X = base.X @ g.standard_normal((base.n_vars, 60)) + 0.05 * g.standard_normal((base.n_obs, 60)) + 3.0
    adata = ad.AnnData(X=X.astype(np.float32), obs=base.obs.copy(),
                       var=pd.DataFrame(index=[f"gene{j}" for j in range(60)]))
    cb.pp.prepare(adata, time_key="day", n_comps=10)
    model = cb.tl.fit(adata, "day", n_steps=400, rng=0, **FAST)
    cb.tl.velocity(adata, model, kind="ode")
    sc.pp.neighbors(adata, use_rep="X_pca", n_neighbors=15, random_state=0)
    return adata


def test_velocity_points_along_the_ot_displacement(course):
    """The velocity and each cell's displacement to its OT image in the next snapshot agree in direction.

    Measured: mean cosine 0.929-0.936 over the cells of days 0-3 (4 data / fit seeds). The OT image is itself
    noisy (a cell's barycentric partner carries the next snapshot's spread), so a perfect model would not
    reach 1; 0.7 is far above the 0 of an unrelated direction and leaves a margin below the fits.
    """
    adata = course
    day = adata.obs["day"].to_numpy()
    ot = ot_velocities(adata.obsm["X_pca"].astype(np.float64), day)
    early = day < day.max()
    cos = _cosines(adata.obsm["velocity_pca"][early], ot[early])
    assert cos.mean() > 0.7, cos.mean()


def test_scvelo_velocity_graph_and_its_projection_agree_with_cellbridge(course):
    """scVelo's transition graph, built from the gene-space velocity and state layers, projects back onto
    PCA as a velocity that points where cellbridge's does.

    scVelo's projection averages displacements to neighbours weighted by their cosine with the velocity,
    so it is a smoothed version of it: measured mean cosine 0.972-0.976 in the first two components (4 data /
    fit seeds); 0.8 leaves a margin.
    """
    adata = course.copy()
    scv.tl.velocity_graph(adata, xkey="velocity_state", n_jobs=1, show_progress_bar=False)
    graph = adata.uns["velocity_graph"]
    assert graph.shape == (adata.n_obs, adata.n_obs) and graph.nnz > adata.n_obs
    ours = adata.obsm.pop("velocity_pca")
    scv.tl.velocity_embedding(adata, basis="pca", vkey="velocity")
    theirs = adata.obsm["velocity_pca"]
    cos = _cosines(ours[:, :2], theirs[:, :2])
    assert np.nanmean(cos) > 0.8, np.nanmean(cos)


def test_scvelo_stream_plot_draws_cellbridge_velocity_as_it_is(course):
    """On the fitted PCA, scVelo plots the model's velocity itself (uns velocity_params lists the embedding),
    without a velocity graph and without changing it."""
    adata = course.copy()
    before = adata.obsm["velocity_pca"].copy()
    ax = scv.pl.velocity_embedding_stream(adata, basis="pca", color="day", show=False)
    streams = [c for c in ax.collections if type(c).__name__ == "LineCollection"]
    assert streams and sum(len(c.get_segments()) for c in streams) > 10
    assert "velocity_graph" not in adata.uns
    np.testing.assert_array_equal(adata.obsm["velocity_pca"], before)
    matplotlib.pyplot.close("all")


def test_scvelo_stream_plot_on_umap_through_the_velocity_graph(course):
    adata = course.copy()
    sc.tl.umap(adata, random_state=0)
    scv.tl.velocity_graph(adata, xkey="velocity_state", n_jobs=1, show_progress_bar=False)
    ax = scv.pl.velocity_embedding_stream(adata, basis="umap", color="branch", show=False)
    assert adata.obsm["velocity_umap"].shape == (adata.n_obs, 2) and np.isfinite(adata.obsm["velocity_umap"]).all()
    assert any(type(c).__name__ == "LineCollection" for c in ax.collections)
    matplotlib.pyplot.close("all")
