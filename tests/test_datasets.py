"""The data sources: Debian's Fashion-MNIST read from an IDX file, and a clear way on when the set is missing."""

import gzip
import struct

import keras
import numpy as np
import pytest
from ebm_tutorial.artifacts import ArtifactError
from ebm_tutorial.datasets import load_fashion_mnist_test_images, read_idx_images

IMAGES = np.arange(3 * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(3, 28, 28)


def write_idx(path, images, magic=2051):
    header = struct.pack(">4I", magic, *images.shape)
    with gzip.open(path, "wb") as file:
        file.write(header + images.tobytes())
    return path


@pytest.fixture
def no_download(monkeypatch):
    """Keras' download replaced by one that fails the test if it is called, or that raises as offline does."""
    calls = []

    def load_data():
        calls.append("load_data")
        raise OSError("URL fetch failure: no network")

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", load_data)
    return calls


def test_debian_copy_is_read_from_its_idx_file(tmp_path, monkeypatch, no_download):
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", IMAGES)
    monkeypatch.setenv("EBM_FASHION_MNIST_DIR", str(tmp_path))
    images, source = load_fashion_mnist_test_images(download=True)
    assert source == "Debian dataset-fashion-mnist"
    assert images.dtype == np.uint8 and np.array_equal(images, IMAGES)
    assert no_download == [], "the Debian copy was there: nothing should be downloaded"


def test_quick_mode_never_downloads_and_says_how_to_get_the_set(tmp_path, monkeypatch, no_download):
    monkeypatch.setenv("EBM_FASHION_MNIST_DIR", str(tmp_path))  # an empty folder, as on a fresh machine
    images, message = load_fashion_mnist_test_images()  # the tests run in quick mode: the default is no download
    assert images is None and no_download == []
    assert "\n" not in message, "the reader gets one line"
    assert "apt install dataset-fashion-mnist" in message and "keras.datasets.fashion_mnist" in message


def test_offline_without_the_debian_copy_goes_on_without_the_set(tmp_path, monkeypatch, no_download):
    monkeypatch.setenv("EBM_FASHION_MNIST_DIR", str(tmp_path))
    images, message = load_fashion_mnist_test_images(download=True)
    assert images is None and no_download == ["load_data"]
    assert "download failed (OSError)" in message and "apt install dataset-fashion-mnist" in message


def test_online_without_the_debian_copy_uses_keras_download(tmp_path, monkeypatch):
    monkeypatch.setenv("EBM_FASHION_MNIST_DIR", str(tmp_path))
    labels = np.zeros(len(IMAGES), np.uint8)
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", lambda: ((IMAGES[:1], labels[:1]), (IMAGES, labels)))
    images, source = load_fashion_mnist_test_images(download=True)
    assert source == "keras.datasets.fashion_mnist" and np.array_equal(images, IMAGES)  # the test split


@pytest.mark.parametrize("damage", ["truncated", "wrong magic", "not gzip"])
def test_a_damaged_idx_file_gets_one_clear_message(tmp_path, damage):
    path = write_idx(tmp_path / "images.gz", IMAGES, magic=2049 if damage == "wrong magic" else 2051)
    if damage == "truncated":
        with gzip.open(path, "rb") as file:
            content = file.read()
        with gzip.open(path, "wb") as file:
            file.write(content[:-100])
    if damage == "not gzip":
        path.write_bytes(b"not an IDX file at all")
    with pytest.raises(ArtifactError, match="IDX") as raised:
        read_idx_images(path)
    assert "\n" not in str(raised.value) and str(path) in str(raised.value)
