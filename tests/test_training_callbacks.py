"""The EBM-specific callbacks of notebook 03, exercised directly on a tiny model."""

import json
import math

import ebm_tutorial as ebm
import keras
import numpy as np
import pytest

TINY_SETTINGS = ebm.TrainingSettings(chain_start="persistent", langevin_steps=3, buffer_size=16)


@pytest.fixture
def tiny_model():
    network = ebm.build_energy_network("swish", hidden_units=(8,))
    model = ebm.ContrastiveEnergyNetwork(network, TINY_SETTINGS)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(np.zeros((16, 28, 28), np.float32), epochs=1, batch_size=8, verbose=0)  # builds the optimiser
    return model


def test_divergence_guard_rolls_back_and_lowers_the_learning_rate(tiny_model):
    guard = ebm.DivergenceGuard()
    guard.set_model(tiny_model)
    healthy = {"loss": -1.0, "energy_data": -1.0, "energy_negatives": 1.0, "gradient_norm": 0.5}
    guard.on_epoch_end(0, dict(healthy))
    good_weights = [w.numpy().copy() for w in tiny_model.energy_network.weights]
    for weight in tiny_model.energy_network.weights:
        weight.assign(np.full(weight.shape, np.nan, np.float32))

    logs = {**healthy, "loss": math.nan}
    guard.on_epoch_end(1, logs)
    assert guard.rollbacks == [2] and logs["diverged"] == 1.0
    for restored, good in zip(tiny_model.energy_network.weights, good_weights):
        np.testing.assert_array_equal(restored.numpy(), good)
    assert logs["learning_rate"] == pytest.approx(5e-4)

    exploding = {**healthy, "energy_negatives": 1e6}
    guard.on_epoch_end(2, exploding)
    assert guard.rollbacks == [2, 3]


def test_trivial_regime_monitor_flags_only_the_fixed_point(tiny_model, capsys):
    monitor = ebm.TrivialRegimeMonitor(alpha=0.1)
    monitor.set_model(tiny_model)
    learning, trivial = {"energy_data": -3.0, "energy_negatives": 2.5}, {"energy_data": -4.99, "energy_negatives": 4.98}
    monitor.on_epoch_end(0, learning)
    monitor.on_epoch_end(1, trivial)
    assert (learning["trivial_regime"], trivial["trivial_regime"]) == (0.0, 1.0)
    assert monitor.flagged_epochs == [2]
    assert "stopped learning the data" in capsys.readouterr().out


def test_epoch_recorder_drops_rows_of_an_abandoned_run(tiny_model, tmp_path):
    history_file, negatives_file = tmp_path / "history.json", tmp_path / "negatives.npz"
    recorder = ebm.EpochRecorder(history_file, negatives_file, TINY_SETTINGS, {"quick": True}, producer="03")
    recorder.set_model(tiny_model)
    recorder.on_train_begin()
    for epoch in range(3):
        recorder.on_epoch_begin(epoch)
        recorder.on_epoch_end(epoch, {"loss": float(epoch)})
    recorder.on_train_begin()  # a new run that resumes at epoch index 1 (epoch 1 finished before)
    recorder.on_epoch_begin(1)
    recorder.on_epoch_end(1, {"loss": 10.0})
    record = json.loads(history_file.read_text())
    rows = record["epochs"]
    assert ebm.TrainingSettings.from_dict(record["settings"]) == TINY_SETTINGS and record["run"] == {"quick": True}
    assert [(row["epoch"], row["loss"]) for row in rows] == [(1, 0.0), (2, 10.0)]
    assert ebm.load_arrays(negatives_file, "03")["negatives"].shape == (2, 8, 28, 28)
    assert not list(tmp_path.glob(".*partial*")), "a temporary file was left behind"


@pytest.mark.parametrize(("max_gradient_norm", "clipped"), [(1e-9, 1.0), (1e9, 0.0)])
def test_gradient_norm_clipping_reports_clipped_steps(max_gradient_norm, clipped):
    network = ebm.build_energy_network("swish", hidden_units=(8,))
    model = ebm.ContrastiveEnergyNetwork(network, TINY_SETTINGS.replace(max_gradient_norm=max_gradient_norm))
    model.compile(optimizer=keras.optimizers.SGD(1.0))
    before = [weight.numpy().copy() for weight in network.trainable_weights]
    logs = model.fit(np.random.default_rng(0).uniform(-1, 1, (16, 28, 28)).astype(np.float32), epochs=1, batch_size=8,
                     verbose=0).history
    assert logs["clipped_steps"] == [clipped] and logs["gradient_norm"][0] > 1e-6
    step = np.sqrt(sum(((weight.numpy() - old) ** 2).sum() for weight, old in zip(network.trainable_weights, before)))
    if clipped:  # plain SGD with rate 1: two clipped steps move the weights by at most 2 x the limit
        assert step <= 2 * max_gradient_norm * 1.01


def test_without_a_limit_nothing_is_clipped_or_reported(tiny_model):
    assert tiny_model.settings.max_gradient_norm is None and "clipped_steps" not in tiny_model.train_trackers
