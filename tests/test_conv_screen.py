"""tools/conv_screen.py: its candidates and their combination, on small inputs (seconds)."""

import sys

import numpy as np
import pytest
from conftest import REPOSITORY

sys.path.insert(0, str(REPOSITORY / "tools"))
import conv_screen
import ebm_tutorial as ebm


def test_each_candidate_changes_one_thing_and_a_combination_all_of_them():
    baseline = conv_screen.settings_of({}, seed=0)
    assert baseline.chain_start == "persistent" and baseline.langevin_steps == 60 and baseline.sampler.step_size == 10
    for name, changes in conv_screen.CANDIDATES.items():
        assert len(changes) <= 1 and all(len(value) == 1 if isinstance(value, dict) else True
                                         for value in changes.values()), name
    name, changes = conv_screen.combined(["data_noise", "clip_0.01", "stride1_first"])
    assert name == "combined:clip_0.01+data_noise+stride1_first"
    assert conv_screen.candidate(name) == changes
    settings = conv_screen.settings_of(changes, seed=3)
    assert (settings.data_noise, settings.sampler.gradient_clip, settings.seed) == (0.03, 0.01, 3)
    assert settings.sampler.step_size == baseline.sampler.step_size  # the rest of the sampler kept
    assert changes["network"] == {"first_stride": 1}


def test_a_run_is_cached_under_the_settings_it_trains_with(monkeypatch):
    key = conv_screen.cache_key({}, seed=0)
    assert conv_screen.cache_key({"settings": {"langevin_steps": 20}}, seed=0)["settings"] != key["settings"]
    monkeypatch.setattr(conv_screen, "BASELINE", conv_screen.BASELINE.replace(restart_fraction=0.2))
    assert conv_screen.cache_key({}, seed=0) != key, "a changed baseline must not reuse runs cached under the old one"
    monkeypatch.setattr(conv_screen, "ENERGY_DRIFT_LIMIT", 5.0)
    assert conv_screen.cache_key({}, seed=0)["guards"]["energy_drift_limit"] == 5.0


@pytest.mark.parametrize("options", [{}, {"first_stride": 1}, {"average_pooling": True}, {"spectral_norm": False}])
def test_every_network_variant_maps_an_image_to_one_energy(options):
    network = ebm.build_conv_energy_network(**options)
    assert network(np.zeros((2, 28, 28), np.float32)).shape == (2, 1)
    wrapped = any("SpectralNormalization" in type(layer).__name__ for layer in network.layers)
    assert wrapped == options.get("spectral_norm", True)
