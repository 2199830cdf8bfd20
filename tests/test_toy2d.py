"""Notebook 00's 2-D landscape (ebm_tutorial.toy2d) against its closed forms (seconds)."""

import ebm_tutorial as ebm
import numpy as np
import pytest

LANDSCAPE = ebm.Landscape(((-1.4, -0.8), (1.4, -0.8), (0.0, 1.5)), (0.45, 0.6, 0.85), (1.0, 0.45, 0.08))  # 00's
GRID = ebm.QuadratureGrid(5.0, 200, 25)


def test_quadrature_finds_the_closed_form_partition_function():
    z_quadrature = float(np.exp(-LANDSCAPE.energy(GRID.centres)).sum() * GRID.cell**2)
    assert z_quadrature == pytest.approx(LANDSCAPE.partition_function, rel=1e-4)
    assert LANDSCAPE.component_weights.sum() == pytest.approx(1.0)
    density = GRID.density(LANDSCAPE.energy(GRID.centres))
    assert density.sum() == pytest.approx(1.0) and GRID.binned(density).sum() == pytest.approx(1.0)
    assert GRID.binned(density).shape == (25, 25)


def test_the_gradient_is_the_energys_derivative():
    points = np.random.default_rng(0).uniform(-3, 3, (200, 2))
    _, gradient = LANDSCAPE.energy_and_gradient(points)
    step = 1e-5
    numeric = np.stack([(LANDSCAPE.energy(points + step * unit) - LANDSCAPE.energy(points - step * unit)) / (2 * step)
                        for unit in np.eye(2)], axis=-1)
    np.testing.assert_allclose(gradient, numeric, atol=1e-6)


def test_exact_samples_have_the_component_weights_and_the_density():
    samples = LANDSCAPE.exact_samples(20_000, np.random.default_rng(1))
    # regions are not components (tails spill over), but well A's narrow Gaussian stays inside its region
    weights = LANDSCAPE.mode_weights(samples)
    assert weights.sum() == pytest.approx(1.0) and abs(weights[0] - LANDSCAPE.component_weights[0]) < 0.02
    density = GRID.density(LANDSCAPE.energy(GRID.centres))
    exact_tv = GRID.total_variation(samples, density)
    assert exact_tv < 0.06, "exact samples should sit at the sampling floor of the histogram"
    assert GRID.total_variation(np.random.default_rng(2).uniform(-4, 4, (20_000, 2)), density) > 0.4 > exact_tv


def test_the_2d_network_maps_points_to_one_energy():
    network = ebm.build_energy_mlp_2d()
    assert network(np.zeros((5, 2), np.float32)).shape == (5, 1)
    assert network.count_params() == (2 * 64 + 64) + (64 * 64 + 64) + (64 + 1)
