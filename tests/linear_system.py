"""A sparse linear system with known network, observed as snapshots (shared by the GRN tests)."""

import numpy as np


def linear_time_course(seed=0, d=8, n_clusters=16, n_cells=240, times=np.linspace(0, 1, 6), noise=0.1, spread=0.1,
                       window=0.0):
    """Snapshots of dx = A x dt + noise dW, A = -I + 8 signed off-diagonal entries (j -> i where A_ij != 0).

    Cells start in 16 tight clusters spread over the space (several cell states), each snapshot from fresh
    trajectories, so a snapshot pairs with the next only through the marginals: the clusters' motion tells
    A apart from its transpose. With ``window > 0`` the cells of snapshot ``t`` are asynchronous, as in a
    real culture: each was recorded at its own time drawn uniformly from ``[t - window, t + window]``
    (clipped at 0), and the snapshot label stays ``t``.

    Returns ``(x (n, d) float32, snapshot label (n,), truth [regulator, target] signs (d, d))``.
    """
    rng = np.random.default_rng(seed)
    a = -np.eye(d)
    pairs = [(i, j) for i in range(d) for j in range(d) if i != j]
    for k in rng.choice(len(pairs), d, replace=False):
        i, j = pairs[k]
        a[i, j] = rng.choice([-1, 1]) * rng.uniform(0.8, 1.5)
    centres = rng.normal(0, 2.0, (n_clusters, d))
    xs, h = [], 0.01
    for end in times:
        z = centres[rng.integers(n_clusters, size=n_cells)] + spread * rng.normal(size=(n_cells, d))
        stop = np.clip(end + window * rng.uniform(-1, 1, n_cells), 0, None) if window > 0 else np.full(n_cells, end)
        for step in range(int(round(stop.max() / h))):
            moving = (step + 0.5) * h < stop
            z[moving] += h * z[moving] @ a.T + noise * np.sqrt(h) * rng.normal(size=(int(moving.sum()), d))
        xs.append(z)
    truth = np.sign(a.T).astype(int)  # [regulator, target]
    np.fill_diagonal(truth, 0)
    return np.concatenate(xs).astype(np.float32), np.repeat(times, n_cells), truth
