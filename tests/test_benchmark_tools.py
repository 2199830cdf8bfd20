"""The benchmark's XLA Langevin loop (tools/benchmark_train_step.py --xla-langevin; README, Speed) is the trainer's
update: given the noise the sampler draws, it ends where the sampler's steps end (seconds)."""

import sys

import numpy as np
from conftest import REPOSITORY

sys.path.insert(0, str(REPOSITORY / "tools"))
import benchmark_train_step
import ebm_tutorial as ebm
import keras
import tensorflow as tf


def test_xla_langevin_loop_is_the_samplers_update():
    keras.utils.set_random_seed(0)
    network = ebm.build_energy_network("relu", lipschitz_bound=None)
    sampler = ebm.SamplerSettings()  # notebook 03's epsilon, sigma and clip
    starts = tf.constant(ebm.uniform_noise_images(32, seed=0))
    steps = 3
    chains, seeds = starts, keras.random.SeedGenerator(7)
    for _ in range(steps):
        chains = ebm.sampling.langevin_step(network, chains, sampler, seeds)[0]
    twin = keras.random.SeedGenerator(7)  # the same seed: the noise langevin_step drew, step by step
    noise = tf.stack([sampler.noise_scale * keras.random.normal(tf.shape(starts), seed=twin) for _ in range(steps)])
    xla_chains = benchmark_train_step.xla_langevin_loop(network, sampler, steps)(starts, noise)
    assert np.abs(chains - starts).max() > 0.5, "the chains should move"
    np.testing.assert_allclose(xla_chains, chains, atol=1e-5)
