#!/usr/bin/env python
"""Seconds of `CellBridgeModel.simulate` (TIGON model, 2000 particles, day 0 to 4) with the default thread policy,
or with `python benchmarks/simulate_threads.py N` threads; results in benchmarks/results/threads.md."""
import sys, time, numpy as np, torch, cellbridge as cb
cb.settings.verbosity = 0
a = cb.datasets.tigon_simulation()
m = cb.CellBridgeModel.fit(a.X, a.obs["day"].to_numpy(), n_steps=20, progress=False, rng=0)
x0 = a.X[a.obs["day"].to_numpy() == 0]
x0 = np.repeat(x0, 5, axis=0)  # 2000 cells
kw = {} if len(sys.argv) < 2 else {"num_threads": int(sys.argv[1])}
for rep in range(3):
    s = time.perf_counter(); m.simulate(x0, [0, 1, 2, 3, 4], rng=0, **kw); print(f"{time.perf_counter()-s:.2f}s threads={torch.get_num_threads()}")
