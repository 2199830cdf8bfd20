"""The evaluation metrics of notebook 04 on inputs with known answers (seconds)."""

import ebm_tutorial as ebm
import numpy as np
import pytest
import tensorflow as tf


def test_frechet_distance_of_a_set_with_itself_and_with_a_shifted_copy():
    features = np.random.default_rng(0).normal(size=(2000, 16))
    shift = np.linspace(-1, 1, 16)
    assert abs(ebm.frechet_distance(features, features)) < 1e-6
    assert ebm.frechet_distance(features, features + shift) == pytest.approx((shift**2).sum(), rel=1e-6)


def test_psnr_on_a_known_error():
    clean = np.zeros((4, 28, 28))
    assert ebm.psnr(clean, clean + 0.1) == pytest.approx(10 * np.log10(4 / 0.01))


@pytest.mark.parametrize(("positives", "negatives", "expected"), [
    ([2, 3, 4], [0, 1], 1.0), ([0, 1], [2, 3, 4], 0.0), ([1, 1], [1, 1, 1], 0.5), ([1, 3], [2], 0.5)])
def test_auroc_on_known_orderings(positives, negatives, expected):
    assert ebm.auroc(positives, negatives) == pytest.approx(expected)


@pytest.mark.parametrize(("steps", "step_size", "fidelity_weight"), [(0, 20.0, 0.2), (10, 0.0, 0.0)])
def test_the_denoiser_without_steps_returns_its_input(steps, step_size, fidelity_weight):
    noisy = ebm.uniform_noise_images(4, seed=0)
    network = ebm.build_energy_network("swish", hidden_units=(8,))
    denoise = ebm.make_denoiser(network, steps, ebm.SamplerSettings(step_size=step_size, gradient_clip=0.03))
    np.testing.assert_allclose(denoise(noisy, fidelity_weight), noisy, atol=1e-7)


def test_autocorrelation_of_a_constant_and_of_white_noise():
    white = np.random.default_rng(0).normal(size=(5000, 20))
    correlation = ebm.autocorrelation(white, max_lag=5)
    assert correlation[0] == pytest.approx(1.0) and np.abs(correlation[1:]).max() < 0.03
    ramp = np.repeat(np.arange(100.0)[:, None], 3, axis=1)
    assert ebm.autocorrelation(ramp, max_lag=3)[1] > 0.9  # a trend: neighbours stay alike


def test_the_denoiser_settles_where_the_energys_pull_and_the_fidelity_term_balance():
    """Descent on E = |x|^2 / (2 v) pulled to the noisy image y by mu (x - y): x* = mu y / (mu + (eps / 2) / v)."""
    variance, mu, step_size = 0.5, 0.2, 0.2
    def quadratic(images, training=False):
        return tf.reduce_sum(images**2, axis=[1, 2])[:, None] / (2 * variance)

    denoise = ebm.make_denoiser(quadratic, 300, ebm.SamplerSettings(step_size=step_size, gradient_clip=None))
    noisy = np.full((2, 28, 28), 0.6, np.float32)
    np.testing.assert_allclose(denoise(noisy, mu), mu * 0.6 / (mu + 0.5 * step_size / variance), rtol=1e-5)


def test_nearest_training_distances_are_the_brute_force_minimum():
    rng = np.random.default_rng(0)
    images, training = rng.uniform(-1, 1, (7, 28, 28)), rng.uniform(-1, 1, (40, 28, 28))
    brute = np.sqrt(((images[:, None] - training[None]) ** 2).sum(axis=(2, 3))).min(axis=1)
    np.testing.assert_allclose(ebm.nearest_training_distances(images, training, chunk=3), brute, rtol=1e-4)
    assert ebm.nearest_training_distances(training[:5], training).max() < 1e-2  # a training digit is its own nearest
