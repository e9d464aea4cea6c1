"""A new method is one class and one registration: a toy flow-matching method fitted, simulated, saved and
loaded through the public API (cb.tl.fit(..., method="toy"))."""

from dataclasses import dataclass
from typing import ClassVar

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import torch

import cellbridge as cb
from cellbridge.methods import IntervalSampler, Method, MethodConfig, Stage, Trainer, TrainResult
from cellbridge.nn import TimeMLP

SHIFT = np.array([2.0, -1.0])


@dataclass
class ToyConfig(MethodConfig):
    OT_METHODS: ClassVar[tuple[str, ...]] = ("independent",)
    ot_method: str = "independent"


class ToyTrainer(Trainer):
    """Plain (independent-coupling) flow matching on straight lines between random pairs."""

    label = "toy"

    def __init__(self, x, t, config, *, device, rng):
        self.config, self.device = config, torch.device(device)
        self.sampler = IntervalSampler(x, t, self.device)
        self.gen = torch.Generator().manual_seed(int(np.random.default_rng(rng).integers(2**31)))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.gen.initial_seed()))
            self.flow = TimeMLP(self.sampler.dim, config.hidden_dims, n_freqs=config.n_freqs)

    def stages(self):
        return [Stage(0, self.config.n_steps, (self.flow,))]

    def stage_losses(self, stage, step):
        x0, x1 = self.sampler.sample(self.config.batch_size, self.gen)  # (K, B, d)
        t0, h = self.sampler.t0[:, None, None], (self.sampler.t1 - self.sampler.t0)[:, None, None]
        s = torch.rand((*x0.shape[:2], 1), generator=self.gen)
        xt, u, d = (1 - s) * x0 + s * x1, (x1 - x0) / h, x0.shape[-1]
        return ((self.flow((t0 + s * h).reshape(-1, 1), xt.reshape(-1, d)) - u.reshape(-1, d)).pow(2).mean(),)


@pytest.fixture
def toy_method():
    @cb.methods.register_method("toy", label="toy flow matching", config=ToyConfig, networks=("flow",),
                                drift_network="flow")
    class Toy(Method):
        @classmethod
        def train(cls, x, t, config, *, context, rng, **options):
            trainer = ToyTrainer(x, t, config, device=context.device, rng=rng)
            return TrainResult({"flow": trainer.flow}, trainer.train(progress=context.progress))

        @classmethod
        def drift(cls, networks, sigma, *, stochastic, direction):
            sign = 1.0 if direction == "forward" else -1.0
            return lambda t, x: sign * networks["flow"](t, x)

    yield Toy
    cb.methods.unregister_method("toy")


def _shifting_course(n=300, seed=0):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(size=(n, 2)) * 0.5 + k * SHIFT for k in range(3)]).astype(np.float32)
    obs = pd.DataFrame({"day": np.repeat([0.0, 1.0, 2.0], n)}, index=[f"c{i}" for i in range(3 * n)])
    return ad.AnnData(X=x, obs=obs, obsm={"X_pca": x.copy()})


def test_a_registered_toy_method_fits_simulates_saves_and_loads(toy_method, tmp_path):
    adata = _shifting_course()
    assert "toy" in cb.methods.available_methods()
    model = cb.tl.fit(adata, "day", method="toy", n_steps=400, batch_size=64, hidden_dims=(32, 32), num_threads=1,
                      progress=False, device="cpu", rng=0)
    assert model.method == "toy" and set(model.networks) == {"flow"} and model.drift_network is model.networks["flow"]
    assert adata.uns["cellbridge"]["params"]["method"] == "toy"
    assert adata.uns["cellbridge"]["loss_history"]["loss"][-50:].mean() < adata.uns["cellbridge"]["loss_history"]["loss"][:10].mean()
    # the marginal flow of independent pairs moves every population mean by SHIFT per day (exactly, in
    # expectation); a 300-cell start has a mean error of 0.5 / sqrt(300) = 0.03 per coordinate, and the
    # trained field is allowed another ~0.1 per day
    x0 = adata.obsm["X_pca"][adata.obs["day"].to_numpy() == 0]
    end = model.simulate(x0, [0.0, 2.0], stochastic=False, steps_per_interval=20)[-1]
    np.testing.assert_allclose(end.mean(0) - x0.mean(0), 2 * SHIFT, atol=0.25)
    model.save(tmp_path / "toy")
    loaded = cb.load(tmp_path / "toy")
    assert loaded.method == "toy"
    np.testing.assert_array_equal(loaded.simulate(x0[:20], [0.0, 1.0], stochastic=False, steps_per_interval=10),
                                  model.simulate(x0[:20], [0.0, 1.0], stochastic=False, steps_per_interval=10))
    sim = cb.tl.simulate(adata, loaded, from_time=0, stochastic=False, n_cells=10, rng=0)
    assert np.isfinite(sim.obsm["X_pca"]).all()


def test_methods_are_looked_up_by_name_and_unknown_names_are_listed(toy_method):
    assert cb.methods.get_method("sf2m") is cb.methods.SF2M and cb.methods.get_method("toy") is toy_method
    with pytest.raises(ValueError, match="available: 'sf2m', 'dsbm', 'toy'"):
        cb.methods.get_method("magic")
    with pytest.raises(TypeError, match="drift_network"):
        cb.methods.register_method("bad", label="bad", config=ToyConfig, networks=("a",), drift_network="b")
    with pytest.raises(ValueError, match="registered already"):
        cb.methods.register_method("toy", label="x", config=ToyConfig, networks=("flow",), drift_network="flow")(
            type("Other", (Method,), {}))
    with pytest.raises(ValueError, match="ot_method"):
        ToyConfig(sigma=1.0, ot_method="entropic").validate()
