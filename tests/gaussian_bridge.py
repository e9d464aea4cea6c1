"""The closed-form Gaussian Schrodinger bridge the trainer tests fit, and the tolerances of its checks.

N(-0.1, I) at t = 0 to N(0.1, I) at t = 1 in d = 5, reference sigma = 1. The static Schrodinger bridge
couples the endpoints with cross-covariance C = (sqrt(4 + sigma^4) - sigma^2) / 2 = 0.618 I (BRIEF,
Bunne et al. 2023); the SDE's terminal law is N(0.1, I).

Tolerances, for n simulated paths and averages over the d coordinates (z = 5 standard errors):
* terminal mean: standard error sqrt(1 / (n d));
* terminal variance: standard error sqrt(2 / (n d)) (Gaussian), plus the Euler-Maruyama bias of at most
  0.2% of the variance at 100 steps (BRIEF, section 2);
* cross-covariance: standard error sqrt((1 + C^2) / (n d)) (variance of a product of unit Gaussians with
  correlation C), plus the same relative Euler bias.
The training samples are whitened to exact moments, so the closed form is the target of the fit and not
only of its population limit.
"""

import math

import numpy as np

D, SIGMA, N_SIM, Z = 5, 1.0, 20_000, 5.0
C_EXACT = (math.sqrt(4 + SIGMA**4) - SIGMA**2) / 2
EULER_BIAS = 0.002  # relative, at 100 Euler-Maruyama steps


def whitened(rng: np.random.Generator, n: int, mean: float) -> np.ndarray:
    """``n`` points in d = D whose sample mean is ``mean`` and sample covariance the identity, exactly."""
    z = rng.normal(size=(n, D))
    z -= z.mean(0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z.T, bias=True))).T
    return (z + mean).astype(np.float32)


def training_cells(rng: np.random.Generator, n: int = 10_000) -> tuple[np.ndarray, np.ndarray]:
    """``n`` whitened cells at each end: states and times."""
    x = np.concatenate([whitened(rng, n, -0.1), whitened(rng, n, 0.1)])
    return x, np.repeat([0.0, 1.0], n)


def endpoints(model, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """N_SIM whitened starts and their SDE-simulated ends (100 Euler-Maruyama steps, seed 1)."""
    x0 = whitened(rng, N_SIM, -0.1)
    x1 = model.simulate(x0, [0.0, 1.0], stochastic=True, steps_per_interval=100, rng=1)[-1]
    return x0, x1


def cross_covariance(x0: np.ndarray, x1: np.ndarray) -> float:
    """Mean over the coordinates of Cov(X0_k, X1_k)."""
    return float(np.mean([np.cov(x0[:, k], x1[:, k])[0, 1] for k in range(D)]))


def cross_covariance_tolerance() -> float:
    """Z standard errors of :func:`cross_covariance` at N_SIM paths plus the Euler bias."""
    return Z * math.sqrt((1 + C_EXACT**2) / (N_SIM * D)) + EULER_BIAS * C_EXACT
