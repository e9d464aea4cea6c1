"""A 2-D time course translated by a known constant drift, shared by the velocity and transition tests."""

import anndata as ad
import numpy as np
import pandas as pd

#: fast fit settings for these small courses
FAST = dict(batch_size=32, hidden_dims=(16, 16), num_threads=1, progress=False, device="cpu")
#: displacement per day of the translating course
V = np.array([1.0, -0.5])


def translating_course(n=200, n_days=3, rng=0):
    """Snapshots N(k V, 0.3^2 I) at days k = 0, 1, 2 in 2-D, each centred exactly on k V (the sample means
    are exact, so the mean velocity's error is the fit's alone, not sampling's)."""
    g = np.random.default_rng(rng)
    snaps = []
    for k in range(n_days):
        z = 0.3 * g.standard_normal((n, 2))
        snaps.append(k * V + z - z.mean(axis=0))
    adata = ad.AnnData(obs=pd.DataFrame({"day": np.repeat(np.arange(n_days, dtype=float), n)},
                                        index=[f"c{i}" for i in range(n * n_days)]))
    adata.obsm["X_pca"] = np.concatenate(snaps).astype(np.float32)
    return adata
