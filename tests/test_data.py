"""Data loading on small real data: the shipped Fashion-MNIST subset, the official files where ``shared/`` has them,
image trees, JPEG archives and the official python format built from real images, the pickle defences, source
fingerprints, and every failure path's message."""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import re
import shutil
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnaslib.evaluation import data
from mnaslib.evaluation.data import CorruptDatasetError, DatasetNotFoundError, pickled
from mnaslib.evaluation.data.subset import make_subset, payload_sha256, subset_dir
from shared_data import require_shared, shared_path

REPO = Path(__file__).resolve().parents[1]
# Expected decodes of the full JPEG archive, from the shared data's README (Pillow, official order, uint8 NHWC).
Y_TRAIN_SHA256 = "2b7cd2f24487317614016b72ffd53071c3062f592f0eb300c18a770d41ae1253"
X_TRAIN_SHA256 = "5aaf8a2cf2e577ff4dbb15e4f368840fab5aca1812bcc69682005f8dc661d466"


def sha256(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One decode cache for the whole session, so each archive is decoded once, and never in the user's home; the
    Fashion-MNIST subset is cut into it from shared/ (these tests run offline, with no MNAS_DATA_DIR)."""
    cache = tmp_path_factory.mktemp("mnas-cache")
    official = shared_path("datasets", "fashion-mnist")
    if official is not None:
        make_subset(official, cache / "fashion_mnist_subset")
    return cache


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, shared_cache: Path) -> None:
    """No user configuration leaks in, and no test can reach the network."""
    monkeypatch.delenv(data.ENV_DATA_DIR, raising=False)
    monkeypatch.setenv(data.ENV_CACHE_DIR, str(shared_cache))
    monkeypatch.setenv(data.ENV_OFFLINE, "1")


@pytest.fixture(scope="session")
def subset_train() -> data.ArraySplit:
    return data.load_dataset("fashion_mnist_subset", "train")


def rgb(x: np.ndarray) -> np.ndarray:
    """Grey images (N, H, W, 1) as RGB, so real Fashion-MNIST pixels can fill RGB formats exactly."""
    return np.repeat(x, 3, axis=-1)


def cifar_like(x: np.ndarray) -> np.ndarray:
    """Grey 28x28 images as 32x32 RGB (a black border of 2), the only size the CIFAR-10 python format holds."""
    return rgb(np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0))))


def write_tree(root: Path, x: np.ndarray, y: np.ndarray, split: str = "train", suffix: str = ".png") -> None:
    for i, (img, label) in enumerate(zip(x, y)):
        folder = root / split / data.CIFAR10_CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(folder / f"{i:04d}{suffix}")


def write_jpeg_archive(folder: Path, x: np.ndarray, y: np.ndarray, split: str = "train") -> list[str]:
    """A CIFAR-10-style JPEG archive of ``x`` in ``folder`` with its order file; returns the member names."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    with tarfile.open(folder / data.JPEG_ARCHIVE, "w:gz") as tar:
        for i, (img, label) in enumerate(zip(x, y)):
            blob = io.BytesIO()
            Image.fromarray(img).save(blob, format="JPEG")
            info = tarfile.TarInfo(f"cifar10-jpg/{split}/{data.CIFAR10_CLASSES[label]}/{i:04d}.jpg")
            info.size = blob.tell()
            tar.addfile(info, io.BytesIO(blob.getvalue()))
            names.append(info.name)
    (folder / f"{split}_official_order.txt").write_text("".join(n + "\n" for n in names))
    return names


def write_batches(folder: Path, x: np.ndarray, y: np.ndarray) -> None:
    """The official python layout from real images: data_batch_1..5 of 3 images each and a test_batch of 2."""
    folder.mkdir(parents=True)
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        part = slice(3 * i, 3 * i + 3) if i < 5 else slice(15, 17)
        batch = {b"data": x[part].transpose(0, 3, 1, 2).reshape(-1, 3072), b"labels": y[part].tolist()}
        (folder / name).write_bytes(pickle.dumps(batch))


# --------------------------------------------------------------------------------------- the Fashion-MNIST subset

def test_subset_is_balanced_with_documented_shapes(subset_train: data.ArraySplit) -> None:
    test = data.load_dataset("fashion_mnist_subset", "test")
    assert subset_train.x.shape == (5000, 28, 28, 1) and subset_train.x.dtype == np.uint8
    assert test.x.shape == (1000, 28, 28, 1) and test.y.dtype == np.uint8
    assert np.bincount(subset_train.y).tolist() == [500] * 10
    assert np.bincount(test.y).tolist() == [100] * 10
    assert "SMALL SUBSET" in subset_train.source and "SMALL SUBSET" in subset_train.note
    assert subset_train.class_names == data.FASHION_MNIST_CLASSES
    assert (subset_dir() / "LICENSE").read_text().startswith("The MIT License (MIT) Copyright © 2017 Zalando SE")
    with pytest.raises(ValueError, match="takes no data_dir.*name='fashion_mnist'"):
        data.load_dataset("fashion_mnist_subset", data_dir=subset_dir())


def test_readme_records_every_file_and_array_of_the_cut(subset_train: data.ArraySplit) -> None:
    """data/README.md's tables are the provenance record of the cut: every byte count and sha256 must be true."""
    readme = (REPO / "data" / "README.md").read_text()
    section = readme.split("## fashion_mnist_subset", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \|(?: ([^|`]*) \|)? `([0-9a-f]{64})` \|$", section, flags=re.M)
    files = {p.name for p in subset_dir().iterdir()}
    listed = {name for name, _, _ in rows if name in files}
    assert listed == files, "every file of the cut is listed"
    arrays = {"x_train": subset_train.x, "y_train": subset_train.y}
    test = data.load_dataset("fashion_mnist_subset", "test")
    arrays.update(x_test=test.x, y_test=test.y)
    checked = 0
    for name, middle, digest in rows:
        path = subset_dir() / name
        if name in arrays:
            assert middle.strip() == str(arrays[name].shape) and sha256(arrays[name]) == digest, name
        elif middle.strip():  # the file table: bytes and sha256 of the file
            assert int(middle.replace(",", "")) == path.stat().st_size and data.sha256_file(path) == digest, name
        else:  # the content table: sha256 of the uncompressed IDX data
            with gzip.open(path) as f:
                assert hashlib.sha256(f.read()).hexdigest() == digest, name
        checked += 1
    assert checked == 6 + 4 + 4


def test_subset_is_cut_on_first_use_and_identically_again(tmp_path: Path) -> None:
    official = require_shared("datasets", "fashion-mnist")
    digests = make_subset(official, tmp_path / "subset")
    cut = subset_dir()
    assert sorted(p.name for p in (tmp_path / "subset").iterdir()) == sorted(p.name for p in cut.iterdir())
    for path in cut.iterdir():
        if path.suffix == ".gz":  # the data first, so a different zlib shows up as what it is
            assert digests[f"{path.name} content"] == payload_sha256(path), path.name
        assert (tmp_path / "subset" / path.name).read_bytes() == path.read_bytes(), path.name
    # a source that is not the official file is refused before it is read
    fake = tmp_path / "fake"
    shutil.copytree(cut, fake)
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz has md5 .* not the official"):
        make_subset(fake, tmp_path / "again")
    assert not (tmp_path / "again").exists()


def test_the_repository_ships_no_fashion_mnist_file() -> None:
    assert not (REPO / "data" / "fashion_mnist_subset").exists()


def test_cifar10_never_falls_back_to_the_subset() -> None:
    with pytest.raises(DatasetNotFoundError) as err:
        data.get_datasets("cifar10")
    message = str(err.value)
    assert "MNAS_DATA_DIR is not set" in message and "keras download is disabled by MNAS_OFFLINE" in message
    assert "never used in CIFAR-10's place" in message and "Fashion-MNIST" not in message.split("Provide it")[0]


# ------------------------------------------------------------------------------------------------ held-out split

def test_holdout_split_is_disjoint_stratified_and_seeded(subset_train: data.ArraySplit) -> None:
    y = subset_train.y
    train, val = data.holdout_split(y, val_size=500, seed=3)
    assert len(np.intersect1d(train, val)) == 0
    assert np.array_equal(np.union1d(train, val), np.arange(len(y)))
    assert np.bincount(y[val]).tolist() == [50] * 10
    again = data.holdout_split(y, val_size=500, seed=3)
    assert np.array_equal(val, again[1]) and np.array_equal(train, again[0])
    assert not np.array_equal(val, data.holdout_split(y, val_size=500, seed=4)[1])
    with pytest.raises(ValueError, match="val_size"):
        data.holdout_split(y, val_size=len(y), seed=0)


def test_pipelines_hold_out_validation_from_train(subset_train: data.ArraySplit) -> None:
    train_ds, val_ds, info = data.get_datasets("fashion_mnist_subset", batch_size=100, val_size=500, seed=7,
                                               max_train=300)
    _, val_idx = data.holdout_split(subset_train.y, val_size=500, seed=7)
    val_x = np.concatenate([xb.numpy() for xb, _ in val_ds])
    val_y = np.concatenate([yb.numpy() for _, yb in val_ds])
    np.testing.assert_allclose(val_x, rgb(subset_train.x[val_idx]) / 255.0, atol=1e-6)  # grey repeated to RGB
    np.testing.assert_array_equal(val_y, subset_train.y[val_idx])
    train_x = np.concatenate([xb.numpy() for xb, _ in train_ds])
    val_keys = {img.tobytes() for img in subset_train.x[val_idx]}
    assert not any(np.rint(img[..., :1] * 255).astype(np.uint8).tobytes() in val_keys for img in train_x)
    assert info.sizes == {"train": 300, "val": 500} and len(train_x) == 300
    assert "SMALL SUBSET" in info.source and info.num_classes == 10 and "held out" in info.split_rule
    assert info.input_shape == (28, 28, 3)
    # same seed, same held-out set, regardless of the train cap
    _, val_again, _ = data.get_datasets("fashion_mnist_subset", batch_size=500, val_size=500, seed=7)
    np.testing.assert_array_equal(next(iter(val_again))[1].numpy(), val_y)


def test_pipeline_batches_resize_augment_and_shapes() -> None:
    """The ci profile's child input: 28x28 grey resized to 32x32 RGB."""
    train_ds, val_ds, info = data.get_datasets("fashion_mnist_subset", image_size=32, batch_size=32,
                                               val_fraction=0.02, max_train=64, max_val=40, augment=True, seed=1)
    xb, yb = next(iter(train_ds))
    assert xb.shape == (32, 32, 32, 3) and xb.dtype.name == "float32" and yb.dtype.name == "int32"
    assert 0.0 <= float(np.min(xb)) and float(np.max(xb)) <= 1.0
    assert np.array_equal(xb[..., 0], xb[..., 2]), "grey stays grey in three channels"
    assert [b[0].shape[0] for b in val_ds] == [32, 8]
    assert info.input_shape == (32, 32, 3) and info.sizes == {"train": 64, "val": 40}
    first = [yb.numpy() for _, yb in train_ds]
    second = [yb.numpy() for _, yb in train_ds]
    assert not all(np.array_equal(a, b) for a, b in zip(first, second)), "train must reshuffle every epoch"
    test_ds, test_info = data.get_test_dataset("fashion_mnist_subset", batch_size=250, channels=None)
    assert test_info.sizes == {"test": 1000} and next(iter(test_ds))[0].shape == (250, 28, 28, 1)


# ----------------------------------------------------------------------------------------- full offline archive

@pytest.mark.slow
def test_full_archive_via_env_matches_documented_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    cifar_jpg = require_shared("datasets", "cifar10-jpg")
    monkeypatch.setenv(data.ENV_DATA_DIR, str(cifar_jpg))
    train = data.load_dataset("cifar10", "train")  # decodes once (~15 s) into the session cache
    assert "official order" in train.source and str(cifar_jpg) in train.source
    assert train.x.shape == (50000, 32, 32, 3)
    assert sha256(train.y) == Y_TRAIN_SHA256
    assert sha256(train.x) == X_TRAIN_SHA256
    # a data root holding several data sets works too, and the second load comes from the cache
    monkeypatch.setenv(data.ENV_DATA_DIR, str(cifar_jpg.parent))
    start = time.perf_counter()
    again = data.load_dataset("cifar10", "train")
    assert time.perf_counter() - start < 5
    assert sha256(again.y) == Y_TRAIN_SHA256
    record = data.data_source("cifar10")
    assert record["files"][data.JPEG_ARCHIVE] == "d81d7c1e5a399d340a75ff344a0f27772ef3e9388961f0041a5f713adf0a7b1b"


# ----------------------------------------------------------------------------------- other CIFAR-10 forms

def test_image_folder_tree_loads_pixels_exactly(tmp_path: Path, subset_train: data.ArraySplit) -> None:
    x, y = rgb(subset_train.x[:12]), subset_train.y[:12]
    write_tree(tmp_path, x, y)
    write_tree(tmp_path, x[:4], y[:4], split="test")
    split = data.load_dataset("cifar10", data_dir=tmp_path)
    order = np.lexsort((np.arange(12), y))  # the tree is read class by class, files by name
    np.testing.assert_array_equal(split.x, x[order])
    np.testing.assert_array_equal(split.y, y[order])
    assert split.source == f"image-folder tree {tmp_path}"
    assert len(data.load_dataset("cifar10", "test", data_dir=tmp_path).y) == 4
    assert data.load_dataset("cifar10", data_dir=tmp_path, image_size=16).x.shape == (12, 16, 16, 3)


def test_image_tree_with_mixed_sizes_needs_image_size(tmp_path: Path) -> None:
    for i, side in enumerate((20, 30)):
        (tmp_path / "train" / "n01").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (side, side + 5), (i * 90, 0, 0)).save(tmp_path / "train" / "n01" / f"{i}.JPEG")
    (tmp_path / "train" / "n02").mkdir()
    Image.new("RGB", (40, 30), (0, 200, 0)).save(tmp_path / "train" / "n02" / "a.jpg")
    with pytest.raises(ValueError, match="pass image_size"):
        data.load_dataset("imagenette", data_dir=tmp_path)
    split = data.load_dataset("imagenette", data_dir=tmp_path, image_size=24)
    assert split.x.shape == (3, 24, 24, 3) and split.y.tolist() == [0, 0, 1]
    assert split.class_names == ("n01", "n02")
    train_ds, _, info = data.get_datasets("imagenette", data_dir=tmp_path, image_size=24, val_size=1, batch_size=4)
    assert info.num_classes == 2 and next(iter(train_ds))[0].shape == (2, 24, 24, 3)


def test_official_python_format_is_checked_then_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                     subset_train: data.ArraySplit) -> None:
    """Batches built from real images are refused as not official, and read exactly once their digests are the
    expected ones (the official tables swapped for these files' digests, as if they were the official files)."""
    x, y = cifar_like(subset_train.x[:17]), subset_train.y[:17]
    folder = tmp_path / "build" / data.PYTHON_DIR
    write_batches(folder, x, y)
    with tarfile.open(tmp_path / data.PYTHON_ARCHIVE, "w:gz") as tar:
        tar.add(folder, arcname=data.PYTHON_DIR)
    archive_bytes = (tmp_path / data.PYTHON_ARCHIVE).read_bytes()
    with pytest.raises(CorruptDatasetError, match=f"{data.PYTHON_ARCHIVE} has sha256 .* not that of the official"):
        data.load_dataset("cifar10", data_dir=tmp_path / data.PYTHON_ARCHIVE)
    with pytest.raises(CorruptDatasetError, match="data_batch_1 has md5 .* not the official .* not unpickled"):
        data.load_dataset("cifar10", data_dir=tmp_path / "build")
    assert (tmp_path / data.PYTHON_ARCHIVE).read_bytes() == archive_bytes, "a refused input is left as it was"

    monkeypatch.setattr(pickled, "ARCHIVE_SHA256", data.sha256_file(tmp_path / data.PYTHON_ARCHIVE))
    monkeypatch.setattr(pickled, "BATCH_MD5", {p.name: hashlib.md5(p.read_bytes()).hexdigest()
                                               for p in folder.iterdir()})
    from_tar = data.load_dataset("cifar10", data_dir=tmp_path / data.PYTHON_ARCHIVE)
    np.testing.assert_array_equal(from_tar.x, x[:15])
    np.testing.assert_array_equal(from_tar.y, y[:15])
    from_dir = data.load_dataset("cifar10", "test", data_dir=tmp_path / "build")
    np.testing.assert_array_equal(from_dir.x, x[15:])
    assert "official python batches" in from_dir.source


class _Command:
    """A pickle payload that runs ``command`` through os.system when unpickled by a plain ``pickle.loads``."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


class _Exec:
    """A pickle payload that runs Python source through builtins.exec."""

    def __init__(self, source: str) -> None:
        self.source = source

    def __reduce__(self):
        return exec, (self.source,)


@pytest.mark.parametrize("payload", ["system", "exec"])
def test_malicious_batch_is_refused_and_never_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                   payload: str) -> None:
    marker = tmp_path / "marker"
    if payload == "system":
        batch = {b"data": _Command(f"touch {marker}"), b"labels": [0]}
        refused = f"{os.system.__module__}.system"
    else:  # hidden inside the labels list
        batch = {b"data": np.zeros((1, 3072), np.uint8), b"labels": [0, _Exec(f"open({str(marker)!r}, 'w')")]}
        refused = "builtins.exec"
    blob = pickle.dumps(batch)
    with pytest.raises(CorruptDatasetError, match=re.escape(f"refers to {refused}")):
        data.read_batch(blob, "crafted")
    # through the loader, even when the file's md5 is taken to be the official one (as after a collision)
    folder = tmp_path / data.PYTHON_DIR
    write_batches(folder, np.zeros((17, 32, 32, 3), np.uint8), np.zeros(17, np.uint8))
    (folder / "data_batch_1").write_bytes(blob)
    monkeypatch.setenv(data.ENV_DATA_DIR, str(tmp_path))
    monkeypatch.setattr(pickled, "BATCH_MD5", {p.name: hashlib.md5(p.read_bytes()).hexdigest()
                                               for p in folder.iterdir()})
    with pytest.raises(CorruptDatasetError, match=re.escape(f"{folder / 'data_batch_1'} is not a CIFAR-10 batch")):
        data.load_dataset("cifar10")
    assert not marker.exists(), "the payload ran"
    pickle.loads(blob)  # the control: the same bytes do run code when unpickled plainly
    assert marker.exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_well_formed_batch_is_accepted_at_any_protocol(subset_train: data.ArraySplit, protocol: int) -> None:
    x, y = cifar_like(subset_train.x[:5]), subset_train.y[:5]
    batch = {b"batch_label": b"testing batch 1 of 1", b"filenames": [b"a.png"] * 5,
             b"data": x.transpose(0, 3, 1, 2).reshape(5, 3072), b"labels": y.tolist()}
    images, labels = data.read_batch(pickle.dumps(batch, protocol=protocol), "fake")
    np.testing.assert_array_equal(images, x)
    np.testing.assert_array_equal(labels, y)
    with pytest.raises(CorruptDatasetError, match="fake: b'labels' must be 5 integers 0-9"):
        data.read_batch(pickle.dumps({**batch, b"labels": [10] * 5}, protocol=protocol), "fake")
    with pytest.raises(CorruptDatasetError, match="fake: b'data' must be a uint8 array of shape"):
        data.read_batch(pickle.dumps({**batch, b"data": batch[b"data"].astype(np.int64)}, protocol=protocol), "fake")
    with pytest.raises(CorruptDatasetError, match="expected a dict with b'data' and b'labels'"):
        data.read_batch(pickle.dumps([1, 2], protocol=protocol), "fake")


# -------------------------------------------------------------------------------------------------- Fashion-MNIST

def test_fashion_mnist_from_tiny_idx_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for split, n in (("train", 40), ("test", 10)):
        images, labels = data.FASHION_FILES[split]
        data.write_idx(tmp_path / images, rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        data.write_idx(tmp_path / labels, (np.arange(n) % 10).astype(np.uint8))
    split = data.load_dataset("fashion_mnist", "test", data_dir=tmp_path)
    assert split.x.shape == (10, 28, 28, 1) and split.y.tolist() == list(range(10))
    assert data.load_dataset("fashion_mnist", "test", data_dir=tmp_path, image_size=14).x.shape == (10, 14, 14, 1)
    train_ds, _, info = data.get_datasets("fashion_mnist", data_dir=tmp_path, image_size=32, val_size=10,
                                          batch_size=8)
    xb, _ = next(iter(train_ds))
    assert xb.shape == (8, 32, 32, 3) and info.input_shape == (32, 32, 3)
    gray_ds, _, gray = data.get_datasets("fashion_mnist", data_dir=tmp_path, channels=None, val_size=10)
    assert gray.input_shape == (28, 28, 1) and next(iter(gray_ds))[0].shape[1:] == (28, 28, 1)
    with pytest.raises(ValueError, match="uint8 arrays"):
        data.write_idx(tmp_path / "wrong.gz", np.zeros(3, np.int32))


def test_idx_with_wrong_magic_or_size_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "labels.gz"
    with gzip.open(bad, "wb") as f:
        f.write((0x0803).to_bytes(4, "big") + (5).to_bytes(4, "big") + bytes(5))
    with pytest.raises(CorruptDatasetError, match="labels.gz.*magic"):
        data.read_idx(bad, 1)
    short = tmp_path / "short.gz"
    with gzip.open(short, "wb") as f:
        f.write((0x0801).to_bytes(4, "big") + (9).to_bytes(4, "big") + b"\0\0")
    with pytest.raises(CorruptDatasetError, match="short.gz.*promises"):
        data.read_idx(short, 1)
    (tmp_path / "plain").write_bytes(b"not gzip")
    with pytest.raises(CorruptDatasetError, match="plain"):
        data.read_idx(tmp_path / "plain", 1)
    with pytest.raises(DatasetNotFoundError, match=re.escape(f"{tmp_path / 'absent.gz'} does not exist")):
        data.read_idx(tmp_path / "absent.gz", 1)


def test_real_fashion_mnist_idx(monkeypatch: pytest.MonkeyPatch) -> None:
    official = require_shared("datasets", "fashion-mnist")
    monkeypatch.setenv(data.ENV_DATA_DIR, str(official.parent))
    split = data.load_dataset("fashion_mnist", "test")
    assert split.x.shape == (10000, 28, 28, 1) and np.bincount(split.y).tolist() == [1000] * 10
    assert str(official) in split.source
    subset = data.load_dataset("fashion_mnist_subset", "test")
    first = np.sort(np.concatenate([np.flatnonzero(split.y == c)[:100] for c in range(10)]))
    np.testing.assert_array_equal(subset.x, split.x[first])  # the documented selection rule


# ------------------------------------------------------------------------------------------- source fingerprints

def test_data_source_fingerprints_content_not_place(tmp_path: Path, shared_cache: Path) -> None:
    rng = np.random.default_rng(1)
    for folder in ("a", "b"):
        for split, n in (("train", 20), ("test", 10)):
            images, labels = data.FASHION_FILES[split]
            (tmp_path / folder).mkdir(exist_ok=True)
            data.write_idx(tmp_path / folder / images, rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
            data.write_idx(tmp_path / folder / labels, (np.arange(n) % 10).astype(np.uint8))
    a = data.data_source("fashion_mnist", tmp_path / "a")
    b = data.data_source("fashion_mnist", tmp_path / "b")
    assert a["fingerprint"] != b["fingerprint"], "different images, different fingerprints"
    assert a == data.data_source("fashion_mnist", tmp_path / "a"), "the same source, the same record"
    assert a["kind"] == "path" and a["location"] == str(tmp_path / "a") and a["fingerprint"].startswith("sha256:")
    assert a["files"]["t10k-images-idx3-ubyte.gz"] == data.sha256_file(tmp_path / "a" / "t10k-images-idx3-ubyte.gz")
    shutil.copytree(tmp_path / "a", tmp_path / "copy")
    copy = data.data_source("fashion_mnist", tmp_path / "copy")
    assert copy["fingerprint"] == a["fingerprint"] and copy["location"] != a["location"]
    # a rewritten file is noticed although its digest was cached
    assert list((shared_cache / "fingerprints").glob("*.txt"))
    shutil.copy(tmp_path / "b" / "t10k-images-idx3-ubyte.gz", tmp_path / "a" / "t10k-images-idx3-ubyte.gz")
    assert data.data_source("fashion_mnist", tmp_path / "a")["fingerprint"] not in (a["fingerprint"],
                                                                                   b["fingerprint"])
    subset = data.data_source("fashion_mnist_subset")
    synthetic = data.data_source("synthetic")
    assert "SMALL SUBSET" in subset["source"] and synthetic["kind"] == "generated"
    assert len({subset["fingerprint"], synthetic["fingerprint"], a["fingerprint"]}) == 3
    assert synthetic == data.data_source("synthetic")


def test_data_source_of_a_jpeg_archive_covers_its_order_files(tmp_path: Path, subset_train: data.ArraySplit) -> None:
    write_jpeg_archive(tmp_path / "one", rgb(subset_train.x[:6]), subset_train.y[:6])
    shutil.copytree(tmp_path / "one", tmp_path / "two")
    order = tmp_path / "two" / "train_official_order.txt"
    order.write_text("".join(reversed(order.read_text().splitlines(keepends=True))))
    one, two = data.data_source("cifar10", tmp_path / "one"), data.data_source("cifar10", tmp_path / "two")
    assert set(one["files"]) == {data.JPEG_ARCHIVE, "train_official_order.txt"}
    assert one["files"][data.JPEG_ARCHIVE] == two["files"][data.JPEG_ARCHIVE]
    assert one["fingerprint"] != two["fingerprint"], "another image order is other data"


# ------------------------------------------------------------------------------------------------------ synthetic

def test_synthetic_is_deterministic_and_learnable() -> None:
    train, test = data.load_dataset("synthetic", "train"), data.load_dataset("synthetic", "test")
    np.testing.assert_array_equal(train.x, data.load_dataset("synthetic", "train").x)
    assert data.load_dataset("synthetic", "test", image_size=20).x.shape == (500, 20, 20, 3)
    # nearest class-mean colour: the simplest model there is beats chance (10%) by far
    colour = lambda x: x.reshape(len(x), -1, 3).mean(axis=1)  # noqa: E731
    centroids = np.stack([colour(train.x)[train.y == c].mean(axis=0) for c in range(10)])
    guess = np.argmin(((colour(test.x)[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    assert (guess == test.y).mean() > 0.5


# ------------------------------------------------------------------------------------------------------- failures

def test_unknown_name_lists_known_names() -> None:
    with pytest.raises(ValueError, match="cifar10.*fashion_mnist.*fashion_mnist_subset.*synthetic"):
        data.load_dataset("cifar100")
    with pytest.raises(ValueError, match="split"):
        data.load_dataset("synthetic", "validation")


def test_missing_data_is_one_error_listing_every_way(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as err:
        data.load_dataset("cifar10")
    message = str(err.value)
    for way in ("data_dir=PATH", data.ENV_DATA_DIR, "train/<class>/", data.JPEG_ARCHIVE, "official_order.txt",
                data.PYTHON_ARCHIVE, data.PYTHON_DIR, "sha256-checked", "disabled by MNAS_OFFLINE",
                "dataset='fashion_mnist_subset'"):
        assert way in message, way
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv(data.ENV_DATA_DIR, str(empty))  # a data root without CIFAR-10 is reported, then passed
    with pytest.raises(DatasetNotFoundError, match=re.escape(f"{data.ENV_DATA_DIR}: {empty} holds none")):
        data.get_datasets("cifar10")
    with pytest.raises(DatasetNotFoundError, match="does not exist"):  # an explicit data_dir is strict
        data.load_dataset("cifar10", data_dir=tmp_path / "typo")
    with pytest.raises(DatasetNotFoundError, match="(?s)fashion-mnist.*keras.datasets.fashion_mnist"):
        data.load_dataset("fashion_mnist")
    monkeypatch.setenv(data.ENV_CACHE_DIR, str(tmp_path / "no-cache"))  # no cut yet, and no official files
    with pytest.raises(DatasetNotFoundError, match="(?s)cut on first use.*none were found.*MNAS_DATA_DIR=PATH"):
        data.load_dataset("fashion_mnist_subset")


def test_imagenet_without_tensorflow_datasets_says_how(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # behave as if it were not installed
    with pytest.raises(DatasetNotFoundError, match="(?s)not installed.*mnaslib\\[datasets\\].*ILSVRC2012"):
        data.get_datasets("imagenet", image_size=64)


def test_corrupt_archives_name_the_file(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage" / data.JPEG_ARCHIVE
    garbage.parent.mkdir()
    garbage.write_bytes(b"this is not a tarball")
    with pytest.raises(CorruptDatasetError, match=re.escape(f"could not read {garbage}")):
        data.load_dataset("cifar10", data_dir=garbage.parent)

    noise = np.random.default_rng(0).integers(0, 256, (40, 32, 32, 3), dtype=np.uint8)  # JPEG cannot shrink it
    write_jpeg_archive(tmp_path / "full", noise, np.arange(40) % 10)
    truncated = tmp_path / "truncated" / data.JPEG_ARCHIVE
    truncated.parent.mkdir()
    whole = (tmp_path / "full" / data.JPEG_ARCHIVE).read_bytes()
    truncated.write_bytes(whole[:len(whole) // 2])
    with pytest.raises(CorruptDatasetError, match=re.escape(str(truncated))):
        data.load_dataset("cifar10", data_dir=truncated)
    assert truncated.stat().st_size == len(whole) // 2, "a bad input must be left as it was"

    bad_member = tmp_path / "member" / data.JPEG_ARCHIVE
    bad_member.parent.mkdir()
    with tarfile.open(bad_member, "w:gz") as tar:
        good = io.BytesIO()
        Image.new("RGB", (32, 32)).save(good, format="JPEG")
        for name, blob in (("c/train/cat/0.jpg", good.getvalue()), ("c/train/dog/1.jpg", b"\xff\xd8 broken")):
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    with pytest.raises(CorruptDatasetError, match="member c/train/dog/1.jpg"):
        data.load_dataset("cifar10", data_dir=bad_member)


def test_bad_order_files_are_named(tmp_path: Path, subset_train: data.ArraySplit) -> None:
    write_jpeg_archive(tmp_path, rgb(subset_train.x[:5]), subset_train.y[:5])
    order = tmp_path / "train_official_order.txt"
    order.write_text("cifar10-jpg/train/cat/9999.jpg\n")
    with pytest.raises(CorruptDatasetError, match="train_official_order.txt.*another archive"):
        data.load_dataset("cifar10", data_dir=tmp_path)
    order.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe binary")
    with pytest.raises(CorruptDatasetError, match=re.escape(f"{order} is not a UTF-8 text file")):
        data.load_dataset("cifar10", data_dir=tmp_path)


def test_damaged_cache_is_rebuilt_not_trusted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                              subset_train: data.ArraySplit) -> None:
    monkeypatch.setenv(data.ENV_CACHE_DIR, str(tmp_path / "cache"))
    write_jpeg_archive(tmp_path / "archive", rgb(subset_train.x[:8]), subset_train.y[:8])
    first = data.load_dataset("cifar10", data_dir=tmp_path / "archive")
    (cache,) = (tmp_path / "cache").glob("cifar10-jpg-*")
    (cache / "x_train.npy").write_bytes(b"damaged")
    again = data.load_dataset("cifar10", data_dir=tmp_path / "archive")
    np.testing.assert_array_equal(again.x, first.x)
    assert np.load(cache / "x_train.npy").shape == (8, 28, 28, 3), "the cache was rewritten"
