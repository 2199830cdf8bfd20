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


def run_steps(steps, settings, starts, energy=None, seed=0, **options):
    """`steps` updates of ebm.langevin_step with the given keyword options, in one compiled loop."""
    seed_generator = keras.random.SeedGenerator(seed)
    run = tf.function(lambda x: ebm.langevin_dynamics(energy, x, steps, settings, seed_generator, **options))
    return run(tf.constant(starts)).numpy()


def test_settings_are_read_by_name_and_bounds_come_back_from_json_as_a_tuple():
    settings = ebm.SamplerSettings(gradient_clip=5.0, noise_scale=0.0, step_size=0.4, bounds=[-2, 2])
    assert settings.bounds == (-2.0, 2.0) and settings == ebm.SamplerSettings(0.4, 0.0, 5.0, (-2.0, 2.0))
    # E = |x|^2 / 2: from x = 1 one noiseless step is 1 - (eps / 2) * 1 = 0.8 (the clip of 5 does not bind); with
    # epsilon and sigma or epsilon and c swapped it would be 1.0 plus noise, or 1 - 2.5 * 0.4 = 0
    moved = run_steps(1, settings, np.ones((2, 28, 28), np.float32), quadratic_energy(1.0))
    np.testing.assert_allclose(moved, 0.8, rtol=1e-6)
    clipped = run_steps(1, settings.replace(gradient_clip=0.25), np.ones((2, 28, 28), np.float32), quadratic_energy(1.0))
    np.testing.assert_allclose(clipped, 1 - 0.2 * 0.25, rtol=1e-6)  # now the clip binds: the drift is c, not 1


def test_without_bounds_the_chains_leave_the_box():
    wide_noise = ebm.SamplerSettings(step_size=1.0, noise_scale=3.0, gradient_clip=None, bounds=None)
    starts = np.zeros((4, 28, 28), np.float32)
    flat = quadratic_energy(1e12)  # grad E ~ 0
    assert np.abs(run_steps(1, wide_noise, starts, flat)).max() > 5.0
    assert np.abs(run_steps(1, wide_noise.replace(bounds=(-1, 1)), starts, flat)).max() <= 1.0


def test_clamped_pixels_never_move():
    settings = ebm.SamplerSettings(step_size=0.5, noise_scale=0.3, gradient_clip=None)
    starts = ebm.uniform_noise_images(8, seed=2)
    clamped = np.zeros_like(starts)
    clamped[:, :14] = 1.0  # the top half is known, as when inpainting the bottom half
    ends = run_steps(50, settings, starts, quadratic_energy(0.1), clamped=tf.constant(clamped))
    np.testing.assert_array_equal(ends[:, :14], starts[:, :14])
    assert np.abs(ends[:, 14:] - starts[:, 14:]).mean() > 0.1, "the free pixels should have moved"


def test_the_fidelity_term_has_the_known_fixed_point():
    """Descent on ||x||^2 / (2 v) pulled to y by mu (x - y): x* = mu y / (mu + (eps/2) / v)."""
    variance, mu = 0.5, 0.2
    settings = ebm.SamplerSettings(step_size=0.2, noise_scale=0.0, gradient_clip=None)
    observed = np.full((3, 28, 28), 0.6, np.float32)
    ends = run_steps(300, settings, observed, quadratic_energy(variance), observed=tf.constant(observed),
                     fidelity_weight=mu)
    np.testing.assert_allclose(ends, mu * 0.6 / (mu + 0.1 / variance), rtol=1e-5)


def test_a_schedule_sets_each_steps_size_and_noise():
    """E = |x|^2 / 2, steps of 0.2 (x <- 0.9 x) without noise, then a last step with sigma 0.25: mean 0.9^20, std 0.25."""
    schedule = np.zeros((20, 2), np.float32)
    schedule[:, 0] = 0.2
    schedule[-1, 1] = 0.25
    ends = run_steps(20, ebm.SamplerSettings(gradient_clip=None, bounds=None), np.ones((64, 28, 28), np.float32),
                     quadratic_energy(1.0), schedule=schedule)
    assert ends.mean() == pytest.approx(0.9**20, abs=0.005)
    assert ends.std() == pytest.approx(0.25, rel=0.02)


def test_a_gradient_function_drives_the_same_update_as_the_energy_it_is_the_gradient_of():
    variance = 0.05
    settings = ebm.SamplerSettings(step_size=0.01, noise_scale=0.05, gradient_clip=None)
    starts = ebm.uniform_noise_images(4, seed=3)
    from_energy = run_steps(10, settings, starts, quadratic_energy(variance), seed=5)
    from_score = run_steps(10, settings, starts, None, seed=5,
                           gradient_function=lambda x: (None, x / variance))  # -score of N(0, v)
    np.testing.assert_allclose(from_score, from_energy, rtol=1e-5, atol=1e-6)


def test_chains_at_steps_continue_one_set_of_chains():
    settings = ebm.SamplerSettings(step_size=0.02, noise_scale=0.0, gradient_clip=None)
    sampler = ebm.make_sampler(quadratic_energy(1.0), settings, seed=0)  # x <- x - 0.01 x = 0.99 x per step
    starts = np.ones((2, 28, 28), np.float32)
    chains_at = ebm.chains_at_steps(sampler, starts, [5, 0, 2, 5])
    assert list(chains_at) == [0, 2, 5]
    np.testing.assert_array_equal(chains_at[0], starts)
    np.testing.assert_allclose(chains_at[5], 0.99**5, rtol=1e-5)
    np.testing.assert_allclose(chains_at[2], 0.99**2, rtol=1e-5)
