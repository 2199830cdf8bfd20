"""The energy network (its size and its Lipschitz bound) and the figure helpers, on inputs with known answers."""

import ebm_tutorial as ebm
import keras
import matplotlib.pyplot as plt
import numpy as np
import pytest


def test_the_energy_network_maps_each_image_to_one_number():
    network = ebm.build_energy_network("swish", hidden_units=(8,))
    assert network.count_params() == (784 * 8 + 8) + (8 + 1)
    assert network(np.zeros((3, 28, 28), np.float32)).shape == (3, 1)


def test_spectral_normalisation_bounds_the_energys_slope():
    """With ReLU (slope <= 1) and every layer's spectral norm at most 1, |E(x) - E(x')| <= L ||x - x'||."""
    keras.utils.set_random_seed(0)
    bound = 10.0
    network = ebm.build_energy_network("relu", hidden_units=(64, 32), lipschitz_bound=bound)
    images = ebm.uniform_noise_images(64, seed=0)
    for _ in range(30):  # power iteration runs in training mode: let it converge to each layer's largest singular value
        network(images, training=True)
    energies = network(images).numpy().ravel()
    others = network(images[::-1]).numpy().ravel()
    distances = np.linalg.norm((images - images[::-1]).reshape(len(images), -1), axis=1)
    assert np.all(np.abs(energies - others) <= 1.01 * bound * distances + 1e-6)
    plain = ebm.build_energy_network("relu", hidden_units=(64, 32))
    assert len(plain.layers) == len(network.layers) - 1, "the plain MLP has no rescaling layer"


def test_image_grid_tiles_row_by_row_and_drops_a_partial_row():
    images = np.arange(5 * 2 * 3).reshape(5, 2, 3)  # five 2 x 3 images
    grid = ebm.image_grid(images, 2)
    assert grid.shape == (2 * 2, 2 * 3)  # two full rows of two; the fifth image is dropped
    np.testing.assert_array_equal(grid[:2, 3:], images[1])
    np.testing.assert_array_equal(grid[2:, :3], images[2])


def test_show_digits_draws_on_the_series_pixel_scale():
    figure, axis = plt.subplots()
    image = ebm.show_digits(axis, ebm.uniform_noise_images(4, seed=0), 2)
    assert image.get_clim() == (-1, 1) and image.get_cmap().name == "gray"
    assert image.get_array().shape == (56, 56)
    plt.close(figure)


def test_plot_training_history_draws_from_the_file_and_saves_under_the_prefix(tmp_path, monkeypatch):
    monkeypatch.setattr(ebm.artifacts, "FIGURES_DIR", tmp_path / "figures")
    rows = [{"epoch": epoch, "loss": -epoch, "energy_data": -epoch, "energy_negatives": epoch} for epoch in (1, 2, 3)]
    history = ebm.save_json(tmp_path / "training_history.json", {"settings": ebm.TrainingSettings().to_dict(),
                                                                 "epochs": rows})
    _, energy_figure = ebm.plot_training_history(history)
    assert not (tmp_path / "figures").exists(), "without a prefix nothing is saved"
    energy_lines = {line.get_label(): line.get_ydata() for line in energy_figure.axes[0].get_lines()}
    np.testing.assert_array_equal(energy_lines["E(Langevin negatives)"], [1, 2, 3])
    ebm.plot_training_history(history, figure_prefix="15")
    assert sorted(path.name for path in (tmp_path / "figures").iterdir()) == ["15_energies_per_epoch.png",
                                                                              "15_loss_curve.png"]
    plt.close("all")
    with pytest.raises(ebm.ArtifactError, match="has no field settings"):
        ebm.plot_training_history(ebm.save_json(tmp_path / "training_history.json", {"epochs": rows}))
