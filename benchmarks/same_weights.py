"""Same seed, same model, across a refactor: fit 16 small models ([SF]2M and DSBM in every path, coupling,
reuse, validation, NGM and initialisation setting), then save their weights, loss histories and simulations,
or compare them with a saved set bit for bit.

    git checkout A && python benchmarks/same_weights.py save [FILE]    # before the change
    git checkout B && python benchmarks/same_weights.py check [FILE]   # after: EQUAL / DIFFER per fit
    python benchmarks/same_weights.py diff [FILE]                      # how far apart (max |sim diff|)

FILE defaults to /tmp/cellbridge_same_weights.pkl. One torch thread; CPU.
"""
import sys, pickle, numpy as np, torch
import cellbridge as cb
from cellbridge.model import CellBridgeModel
torch.set_num_threads(1)
mode = sys.argv[1]  # save | check | diff
REF = sys.argv[2] if len(sys.argv) > 2 else "/tmp/cellbridge_same_weights.pkl"
rng = np.random.default_rng(0)
x = np.concatenate([rng.normal(size=(120, 3)) + [k, 0.5 * k**2, 0] for k in range(4)]).astype(np.float32)
t = np.repeat(np.arange(4.0), 120)
x2, t2 = x[t < 2], t[t < 2]
cases = {
  "sf2m_pchip": dict(x=x, t=t, method="sf2m", n_steps=60, batch_size=32),
  "sf2m_linear": dict(x=x, t=t, method="sf2m", n_steps=60, batch_size=32, path="linear"),
  "sf2m_spline_reuse": dict(x=x, t=t, method="sf2m", n_steps=60, batch_size=32, path="spline", ot_reuse=3),
  "sf2m_linear_reuse_val": dict(x=x, t=t, method="sf2m", n_steps=120, batch_size=32, path="linear", ot_reuse=2, val_fraction=0.2, val_every=20, patience=2),
  "sf2m_exact": dict(x=x, t=t, method="sf2m", n_steps=40, batch_size=32, ot_method="exact", grad_clip=1.0),
  "sf2m_indep": dict(x=x, t=t, method="sf2m", n_steps=40, batch_size=32, ot_method="independent"),
  "sf2m_indep_pchip_reuse": dict(x=x, t=t, method="sf2m", n_steps=40, batch_size=32, ot_method="independent", ot_reuse=2),
  "sf2m_epsrel_2tp": dict(x=x2, t=t2, method="sf2m", n_steps=40, batch_size=32, ot_eps_rel=0.05),
  "sf2m_ngm": dict(x=x, t=t, method="sf2m", n_steps=60, batch_size=32, drift="ngm", ngm_adaptive=True),
  "sf2m_syncfree": dict(x=x, t=t, method="sf2m", n_steps=30, batch_size=32, ot_sync_free=True),
  "dsbm_ot": dict(x=x, t=t, method="dsbm", n_steps=30, batch_size=32, n_iterations=3, n_sim=100, sim_steps=10),
  "dsbm_exact_refresh": dict(x=x, t=t, method="dsbm", n_steps=30, batch_size=32, n_iterations=2, n_sim=100, sim_steps=10, ot_method="exact", refresh_every=10, first_direction="forward"),
  "dsbm_indep_cold": dict(x=x, t=t, method="dsbm", n_steps=20, n_steps_first=30, batch_size=32, n_iterations=3, n_sim=100, sim_steps=10, init_coupling="independent", warm_start=False, grad_clip=0.5),
  "dsbm_ref": dict(x=x, t=t, method="dsbm", n_steps=20, batch_size=32, n_iterations=2, n_sim=100, sim_steps=10, init_coupling="reference"),
  "dsbm_sf2m": dict(x=x, t=t, method="dsbm", n_steps=20, batch_size=32, n_iterations=2, n_sim=100, sim_steps=10, init_coupling="sf2m", sf2m_options=dict(n_steps=30, batch_size=32)),
  "dsbm_1it": dict(x=x, t=t, method="dsbm", n_steps=20, batch_size=32, n_iterations=1, n_sim=100, sim_steps=10),
}
out = {}
for name, kw in cases.items():
    kw = dict(kw); xx, tt = kw.pop("x"), kw.pop("t")
    m = CellBridgeModel.fit(xx, tt, rng=3, progress=False, device="cpu", **kw)
    try:
        sim = m.simulate(xx[:20], [0, 1.5, 3], steps_per_interval=10, rng=1)
    except ValueError:
        sim = m.simulate(xx[-20:], [3, 1.5, 0], steps_per_interval=10, rng=1, direction="backward")
    try:
        ode = m.simulate(xx[:20], [0, 1.5, 3], steps_per_interval=10, stochastic=False, rng=1)
    except ValueError:
        ode = None
    out[name] = {"w": {k: {n: p.clone() for n, p in v.state_dict().items()} for k, v in m.networks.items()},
                 "hist": {k: np.asarray(v) for k, v in m.history.items() if k not in ("train_seconds", "iteration_seconds")},
                 "sim": sim, "ode": ode, "config": m.config}
if mode == "save":
    pickle.dump(out, open(REF, "wb")); print("saved", len(out))
elif mode == "check":
    ref = pickle.load(open(REF, "rb")); bad = 0
    for name in cases:
        a, b = ref[name], out[name]
        ok = a["w"].keys() == b["w"].keys() and all(torch.equal(a["w"][k][n], b["w"][k][n]) for k in a["w"] for n in a["w"][k])
        ok &= np.array_equal(a["sim"], b["sim"]) and ((a["ode"] is None and b["ode"] is None) or np.array_equal(a["ode"], b["ode"]))
        hk = set(a["hist"]) == set(b["hist"]) and all(np.array_equal(a["hist"][k], b["hist"][k]) for k in a["hist"])
        print(f"{name:28s} weights+sims {'EQUAL' if ok else 'DIFFER'}  history {'EQUAL' if hk else 'DIFFER'}")
        bad += (not ok) or (not hk)
    print("all identical" if not bad else f"{bad} differ")
if mode == "diff":
    ref = pickle.load(open(REF, "rb"))
    for name in cases:
        a, b = ref[name], out[name]
        print(f"{name:28s} max |sim diff| {np.abs(a['sim'] - b['sim']).max():.2e}  final loss {a['hist']['loss'][-1]:.4f} vs {b['hist']['loss'][-1]:.4f}")
