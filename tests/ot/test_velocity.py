"""OT-matched velocities against a closed form (a rigidly shifted cloud)."""

import numpy as np
import ot as pot
import pytest

from cellbridge.ot.velocity import barycentric_images, ot_velocities


def test_rigid_shifts_give_the_shift_over_the_interval():
    # exact OT between a cloud and a translate of it is the translation (Brenier), in any cell order
    rng = np.random.default_rng(0)
    base = rng.normal(size=(40, 3))
    c1, c2 = np.array([1.0, -2.0, 0.5]), np.array([0.0, 3.0, -1.0])
    snaps = [base, base + c1, base + c1 + c2]
    x = np.concatenate([s[rng.permutation(40)] for s in snaps])
    t = np.repeat([0.0, 0.5, 2.0], 40)
    v = ot_velocities(x, t)
    np.testing.assert_allclose(v[:40], np.broadcast_to(c1 / 0.5, (40, 3)), atol=1e-10)
    np.testing.assert_allclose(v[40:80], np.broadcast_to(c2 / 1.5, (40, 3)), atol=1e-10)
    # the last snapshot looks back: the same shift
    np.testing.assert_allclose(v[80:], np.broadcast_to(c2 / 1.5, (40, 3)), atol=1e-10)


def test_barycentric_images_average_split_partners():
    # one cell against two equally near ones: half its mass to each, image their mean
    img = barycentric_images(np.array([[0.0, 0.0]]), np.array([[1.0, 1.0], [1.0, -1.0]]))
    np.testing.assert_allclose(img, [[1.0, 0.0]])


def test_barycentric_images_match_pot_reference_in_float64():
    # the images from the package's exact coupling equal POT's exact plan on POT's squared Euclidean cost
    rng = np.random.default_rng(3)
    x_from, x_to = rng.normal(size=(30, 4)), rng.normal(size=(45, 4)) + 0.5
    plan = pot.emd(np.full(30, 1 / 30), np.full(45, 1 / 45), pot.dist(x_from, x_to))
    expected = plan @ x_to / plan.sum(axis=1, keepdims=True)
    img = barycentric_images(x_from.astype(np.float32), x_to)  # any float input is used in float64
    assert img.dtype == np.float64
    np.testing.assert_allclose(barycentric_images(x_from, x_to), expected, rtol=0, atol=1e-12)
    read_only = x_to.copy()
    read_only.flags.writeable = False
    np.testing.assert_allclose(barycentric_images(x_from, read_only), expected, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="x_from"):
        barycentric_images(x_from[0], x_to)


def test_bad_input():
    x = np.zeros((4, 2))
    with pytest.raises(ValueError, match="two time points"):
        ot_velocities(x, np.zeros(4))
    with pytest.raises(ValueError, match="n_cells"):
        ot_velocities(x, np.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        ot_velocities(np.full((4, 2), np.nan), np.array([0, 0, 1, 1.0]))
