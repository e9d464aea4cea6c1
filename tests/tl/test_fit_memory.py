"""Fitting without copies of the representation (issue 19, bounded memory): the statistics by blocks, the
cells in the caller's order, and a backed AnnData read like an in-memory one."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import cellbridge as cb
import cellbridge.normalization as cb_norm


def _course(n=600, dim=4, seed=0, offset=0.0):
    rng = np.random.default_rng(seed)
    day = np.repeat(np.arange(3), n // 3)
    rng.shuffle(day)  # unsorted by time, as most AnnData are
    x = (offset + day[:, None] * 1.5 + rng.normal(size=(n, dim))).astype(np.float32)
    adata = ad.AnnData(obs=pd.DataFrame({"day": day.astype(float)}, index=[f"c{i}" for i in range(n)]))
    adata.obsm["X_pca"] = x
    return adata


def test_blocked_moments_match_numpy_in_float64(monkeypatch):
    monkeypatch.setattr(cb_norm, "CHUNK_CELLS", 7)  # many blocks, the last one short
    x = np.random.default_rng(1).normal(1e4, 3.0, size=(100, 5)).astype(np.float32)
    mean, var = cb_norm.column_moments(x)
    ref = x.astype(np.float64)
    np.testing.assert_allclose(mean, ref.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(var, ref.var(axis=0), rtol=1e-10)


def test_fit_by_blocks_equals_fit_in_one_block(monkeypatch):
    adata = _course(offset=1e5)  # a large common offset: centring must be in float64
    one = cb.tl.fit(adata.copy(), "day", use_rep="X_pca", n_steps=30, progress=False, rng=0)
    monkeypatch.setattr(cb_norm, "CHUNK_CELLS", 64)
    blocks = cb.tl.fit(adata.copy(), "day", use_rep="X_pca", n_steps=30, progress=False, rng=0)
    x0 = adata.obsm["X_pca"][:20]
    # the block sums round differently in the last float64 bits, far below float32 resolution of the cells
    np.testing.assert_allclose(blocks.simulate(x0, [0, 2], rng=1), one.simulate(x0, [0, 2], rng=1), rtol=0, atol=1e-3)
    assert blocks.sigma == pytest.approx(one.sigma, rel=1e-12)


def test_cell_order_does_not_change_the_fit():
    adata = _course()
    order = np.argsort(adata.obs["day"].to_numpy(), kind="stable")
    shuffled = cb.tl.fit(adata, "day", use_rep="X_pca", n_steps=30, progress=False, rng=0)
    ordered = cb.tl.fit(adata[order].copy(), "day", use_rep="X_pca", n_steps=30, progress=False, rng=0)
    x0 = adata.obsm["X_pca"][:20]
    # the same minibatches (drawn in time-sorted positions either way), up to the centre's summation order
    np.testing.assert_allclose(shuffled.simulate(x0, [0, 2], rng=1), ordered.simulate(x0, [0, 2], rng=1),
                               rtol=0, atol=1e-4)


def test_fit_leaves_the_representation_untouched_and_reads_a_backed_anndata(tmp_path):
    adata = _course()
    before = adata.obsm["X_pca"].copy()
    in_memory = cb.tl.fit(adata, "day", use_rep="X_pca", n_steps=30, progress=False, rng=0)
    np.testing.assert_array_equal(adata.obsm["X_pca"], before)  # the fit read adata's array, never wrote it
    path = tmp_path / "course.h5ad"
    adata.write_h5ad(path)
    backed = ad.read_h5ad(path, backed="r")
    assert backed.isbacked
    from_disk = cb.tl.fit(backed, "day", use_rep="X_pca", n_steps=30, progress=False, rng=0)
    x0 = before[:20]
    np.testing.assert_array_equal(from_disk.simulate(x0, [0, 2], rng=1), in_memory.simulate(x0, [0, 2], rng=1))


def test_simulate_in_batches_equals_consecutive_calls_sharing_one_generator():
    adata = _course()
    model = cb.tl.fit(adata, "day", use_rep="X_pca", n_steps=10, progress=False, rng=0)
    x0 = adata.obsm["X_pca"][:30]
    t = model.time_points
    batched = model.simulate(x0, t, rng=5, batch_size=8)  # batches of 8, 8, 8 and 6 cells
    shared = np.random.default_rng(5)
    parts = [model.simulate(x0[k:k + 8], t, rng=shared) for k in range(0, 30, 8)]
    np.testing.assert_array_equal(batched, np.concatenate(parts, axis=1))
    # at most one batch of cells: unchanged by the batching
    np.testing.assert_array_equal(model.simulate(x0, t, rng=5, batch_size=30), model.simulate(x0, t, rng=5))
    with pytest.raises(ValueError, match="batch_size"):
        model.simulate(x0, t, batch_size=0)
