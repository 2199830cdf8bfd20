"""The Langevin sampler and the CD model's chain starts, on energies and settings with known answers (seconds)."""

import json

import ebm_tutorial as ebm
import keras
import numpy as np
import pytest
import tensorflow as tf


def quadratic_energy(variance):
    """E(x) = ||x||^2 / (2 v) per image: p(x) at T = 1 is a Gaussian of variance v in every pixel."""
    return lambda images, training=False: tf.reduce_sum(images**2, axis=[1, 2])[:, None] / (2 * variance)


def test_temperature_of_the_update():
    assert ebm.SamplerSettings().temperature == pytest.approx(0.005**2 / 20)  # notebook 03's update: T = sigma^2/eps
    assert ebm.SamplerSettings.at_temperature_one(0.0075).temperature == pytest.approx(1.0)


def test_at_temperature_one_the_variance_is_the_discrete_updates():
    """x' = x - s x / v + sqrt(2 s) z has stationary variance v / (1 - s / (2 v)); the clamp to [-1, 1] never binds."""
    variance, tau = 0.01, 0.05
    settings = ebm.SamplerSettings.at_temperature_one(tau)
    step = settings.step_size / 2
    samples = ebm.make_sampler(quadratic_energy(variance), settings, seed=0)(np.zeros((64, 28, 28), np.float32), 300)
    expected = variance / (1 - step / (2 * variance))  # 6.7% above v: the step size's bias
    assert samples.var() == pytest.approx(expected, rel=0.02)
    assert abs(samples.var() - variance) > 0.04 * variance, "the discretisation bias should be visible at this step"


def test_without_noise_the_chains_descend_to_the_minimum():
    settings = ebm.SamplerSettings(step_size=0.01, noise_scale=0.0, gradient_clip=None)
    starts = ebm.uniform_noise_images(8, seed=0)
    ends = ebm.make_sampler(quadratic_energy(0.01), settings, seed=0)(starts, 200)  # contracts by 0.5 per step
    assert np.abs(ends).max() < 1e-6 < np.abs(starts).max()


def test_zero_steps_return_the_starts():
    starts = ebm.uniform_noise_images(4, seed=1)
    network = ebm.build_energy_network("swish", hidden_units=(8,))
    np.testing.assert_array_equal(ebm.make_sampler(network, ebm.SamplerSettings(), seed=0)(starts, 0), starts)


def test_the_clip_bounds_each_pixels_drift():
    settings = ebm.SamplerSettings(step_size=20.0, noise_scale=0.0, gradient_clip=0.03)
    starts = np.full((2, 28, 28), 0.5, np.float32)
    moved = ebm.make_sampler(quadratic_energy(1e-4), settings, seed=0)(starts, 1)  # gradient 5000 per pixel, clipped
    np.testing.assert_allclose(moved, 0.5 - 10 * 0.03, rtol=1e-6)


def test_settings_survive_a_json_round_trip():
    settings = ebm.TrainingSettings(chain_start="persistent", sampler=ebm.SamplerSettings.at_temperature_one(0.01),
                                    lipschitz_bound=None, max_gradient_norm=5.0)
    assert ebm.TrainingSettings.from_dict(json.loads(json.dumps(settings.to_dict()))) == settings
    with pytest.raises(ValueError, match="chain_start must be one of"):
        ebm.TrainingSettings(chain_start="buffer")


@pytest.mark.parametrize(("restart_fraction", "from_noise"), [(1.0, True), (0.0, False)])
def test_restarts_and_the_buffer(restart_fraction, from_noise):
    settings = ebm.TrainingSettings(chain_start="persistent", langevin_steps=2, buffer_size=16,
                                    restart_fraction=restart_fraction)
    model = ebm.ContrastiveEnergyNetwork(ebm.build_energy_network("swish", hidden_units=(8,)), settings)
    model.replay_buffer.assign(np.zeros((16, 28, 28), np.float32))
    starts, _ = model.chain_starting_points(tf.zeros((8, 28, 28)))
    assert bool((np.abs(starts.numpy()).reshape(8, -1).max(axis=1) > 0).all()) == from_noise
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(np.zeros((8, 28, 28), np.float32), epochs=1, batch_size=8, verbose=0)
    written = np.abs(model.replay_buffer.numpy()).reshape(16, -1).max(axis=1) > 0
    assert written.any(), "the chains were not written back into the buffer"
