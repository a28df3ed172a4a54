"""Data loading on small real data: the shipped CIFAR-10 subset, the full offline archive when this machine has it,
image trees, the official python format and IDX files built from real images, and every failure path's message."""
from __future__ import annotations

import gzip
import hashlib
import io
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

from mnaslib import data
from mnaslib.data import CorruptDatasetError, DatasetNotFoundError

SHARED = Path("/work/shared/datasets")
CIFAR_JPG = SHARED / "cifar10-jpg"
FASHION = SHARED / "fashion-mnist"
REPO = Path(__file__).resolve().parents[1]
# Expected decodes of the full archive, from the shared data's README (Pillow, official order, uint8 NHWC).
Y_TRAIN_SHA256 = "2b7cd2f24487317614016b72ffd53071c3062f592f0eb300c18a770d41ae1253"
X_TRAIN_SHA256 = "5aaf8a2cf2e577ff4dbb15e4f368840fab5aca1812bcc69682005f8dc661d466"
needs_cifar = pytest.mark.skipif(not (CIFAR_JPG / data.JPEG_ARCHIVE).is_file(),
                                 reason=f"the full CIFAR-10 JPEG archive is not at {CIFAR_JPG} on this machine")
needs_fashion = pytest.mark.skipif(not FASHION.is_dir(), reason=f"Fashion-MNIST is not at {FASHION} on this machine")


def sha256(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One decode cache for the whole session, so each archive is decoded once, and never in the user's home."""
    return tmp_path_factory.mktemp("mnas-cache")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, shared_cache: Path) -> None:
    """No user configuration leaks in, and no test can reach the network."""
    monkeypatch.delenv(data.ENV_DATA_DIR, raising=False)
    monkeypatch.setenv(data.ENV_CACHE_DIR, str(shared_cache))
    monkeypatch.setenv(data.ENV_OFFLINE, "1")


@pytest.fixture(scope="session")
def subset_train() -> data.ArraySplit:
    return data.load_dataset("cifar10_subset", "train")


def write_tree(root: Path, x: np.ndarray, y: np.ndarray, split: str = "train", suffix: str = ".png") -> None:
    for i, (img, label) in enumerate(zip(x, y)):
        folder = root / split / data.CIFAR10_CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(folder / f"{i:04d}{suffix}")


def write_idx(path: Path, array: np.ndarray, magic: int | None = None) -> None:
    header = (magic if magic is not None else 0x0800 | array.ndim).to_bytes(4, "big")
    header += b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


# ------------------------------------------------------------------------------------------------ shipped subset

def test_subset_is_balanced_with_documented_shapes(subset_train: data.ArraySplit) -> None:
    test = data.load_dataset("cifar10_subset", "test")
    assert subset_train.x.shape == (5000, 32, 32, 3) and subset_train.x.dtype == np.uint8
    assert test.x.shape == (1000, 32, 32, 3) and test.y.dtype == np.uint8
    assert np.bincount(subset_train.y).tolist() == [500] * 10
    assert np.bincount(test.y).tolist() == [100] * 10
    assert subset_train.is_subset and "SMALL SUBSET" in subset_train.note
    assert subset_train.class_names == data.CIFAR10_CLASSES


def test_cifar10_falls_back_to_subset_and_says_so(caplog: pytest.LogCaptureFixture,
                                                  subset_train: data.ArraySplit) -> None:
    with caplog.at_level("WARNING", logger="mnaslib.data"):
        split = data.load_dataset("cifar10")
    assert split.is_subset and str(data.SUBSET_DIR) in split.source
    assert any("SMALL shipped subset" in r.getMessage() for r in caplog.records)
    np.testing.assert_array_equal(split.y, subset_train.y)


def test_subset_is_byte_identical_to_the_full_archive_members() -> None:
    """Each subset member is the same-named file of the full archive, unchanged (the README's provenance claim)."""
    with tarfile.open(data.SUBSET_DIR / data.JPEG_ARCHIVE) as tar:
        names = [m.name for m in tar if m.isfile()]
    assert len(names) == 6000
    order = (data.SUBSET_DIR / "train_official_order.txt").read_text().split()
    assert names[:5000] == order


@pytest.mark.slow
@needs_cifar
def test_subset_regenerates_identically(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import make_cifar10_subset
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    digests = make_cifar10_subset.make_subset(CIFAR_JPG, tmp_path / "subset")
    shipped = data.SUBSET_DIR
    assert digests["uncompressed tar"] == make_cifar10_subset.tar_content_sha256(shipped / data.JPEG_ARCHIVE)
    for name in ("train_official_order.txt", "test_official_order.txt"):
        assert digests[name] == make_cifar10_subset.sha256_file(shipped / name)


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
    train_ds, val_ds, info = data.get_datasets("cifar10_subset", batch_size=100, val_size=500, seed=7,
                                               max_train=300)
    _, val_idx = data.holdout_split(subset_train.y, val_size=500, seed=7)
    val_x = np.concatenate([xb.numpy() for xb, _ in val_ds])
    val_y = np.concatenate([yb.numpy() for _, yb in val_ds])
    np.testing.assert_allclose(val_x, subset_train.x[val_idx] / 255.0, atol=1e-6)
    np.testing.assert_array_equal(val_y, subset_train.y[val_idx])
    train_x = np.concatenate([xb.numpy() for xb, _ in train_ds])
    val_keys = {img.tobytes() for img in subset_train.x[val_idx]}
    assert not any(np.rint(img * 255).astype(np.uint8).tobytes() in val_keys for img in train_x)
    assert info.sizes == {"train": 300, "val": 500} and len(train_x) == 300
    assert info.is_subset and info.num_classes == 10 and "held out" in info.split_rule
    # same seed, same held-out set, regardless of the train cap
    _, val_again, _ = data.get_datasets("cifar10_subset", batch_size=500, val_size=500, seed=7)
    np.testing.assert_array_equal(next(iter(val_again))[1].numpy(), val_y)


def test_pipeline_batches_resize_augment_and_shapes() -> None:
    train_ds, val_ds, info = data.get_datasets("cifar10_subset", image_size=48, batch_size=32, val_fraction=0.02,
                                               max_train=64, max_val=40, augment=True, seed=1)
    xb, yb = next(iter(train_ds))
    assert xb.shape == (32, 48, 48, 3) and xb.dtype.name == "float32" and yb.dtype.name == "int32"
    assert 0.0 <= float(np.min(xb)) and float(np.max(xb)) <= 1.0
    assert [b[0].shape[0] for b in val_ds] == [32, 8]
    assert info.input_shape == (48, 48, 3) and info.sizes == {"train": 64, "val": 40}
    first = [yb.numpy() for _, yb in train_ds]
    second = [yb.numpy() for _, yb in train_ds]
    assert not all(np.array_equal(a, b) for a, b in zip(first, second)), "train must reshuffle every epoch"
    test_ds, test_info = data.get_test_dataset("cifar10_subset", batch_size=250)
    assert test_info.sizes == {"test": 1000} and next(iter(test_ds))[0].shape == (250, 32, 32, 3)


# ----------------------------------------------------------------------------------------- full offline archive

@pytest.mark.slow
@needs_cifar
def test_full_archive_via_env_matches_documented_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(data.ENV_DATA_DIR, str(CIFAR_JPG))
    train = data.load_dataset("cifar10", "train")  # decodes once (~15 s) into the session cache
    assert not train.is_subset and "official order" in train.source and str(CIFAR_JPG) in train.source
    assert train.x.shape == (50000, 32, 32, 3)
    assert sha256(train.y) == Y_TRAIN_SHA256
    assert sha256(train.x) == X_TRAIN_SHA256
    # a data root holding several data sets works too, and the second load comes from the cache
    monkeypatch.setenv(data.ENV_DATA_DIR, str(SHARED))
    start = time.perf_counter()
    again = data.load_dataset("cifar10", "train")
    assert time.perf_counter() - start < 5
    assert sha256(again.y) == Y_TRAIN_SHA256


# ----------------------------------------------------------------------------------- other CIFAR-10 forms

def test_image_folder_tree_loads_pixels_exactly(tmp_path: Path, subset_train: data.ArraySplit) -> None:
    x, y = subset_train.x[:12], subset_train.y[:12]
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


def test_official_python_archive(tmp_path: Path, subset_train: data.ArraySplit) -> None:
    """The pickled batch format, written from real subset images: 5 train batches of 3 and a test batch of 2."""
    folder = tmp_path / "build" / data.PYTHON_DIR
    folder.mkdir(parents=True)
    x, y = subset_train.x[:17], subset_train.y[:17]
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        part = slice(3 * i, 3 * i + 3) if i < 5 else slice(15, 17)
        batch = {b"data": x[part].transpose(0, 3, 1, 2).reshape(-1, 3072), b"labels": y[part].tolist()}
        (folder / name).write_bytes(pickle.dumps(batch))
    with tarfile.open(tmp_path / data.PYTHON_ARCHIVE, "w:gz") as tar:
        tar.add(folder, arcname=data.PYTHON_DIR)
    from_tar = data.load_dataset("cifar10", data_dir=tmp_path / data.PYTHON_ARCHIVE)
    np.testing.assert_array_equal(from_tar.x, x[:15])
    np.testing.assert_array_equal(from_tar.y, y[:15])
    from_dir = data.load_dataset("cifar10", "test", data_dir=tmp_path / "build")
    np.testing.assert_array_equal(from_dir.x, x[15:])
    assert "official python" in from_dir.source


# -------------------------------------------------------------------------------------------------- Fashion-MNIST

def test_fashion_mnist_from_tiny_idx_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for split, n in (("train", 40), ("test", 10)):
        images, labels = data.FASHION_FILES[split]
        write_idx(tmp_path / images, rng.integers(0, 256, (n, 28, 28)))
        write_idx(tmp_path / labels, np.arange(n) % 10)
    split = data.load_dataset("fashion_mnist", "test", data_dir=tmp_path)
    assert split.x.shape == (10, 28, 28, 1) and split.y.tolist() == list(range(10))
    assert data.load_dataset("fashion_mnist", "test", data_dir=tmp_path, image_size=14).x.shape == (10, 14, 14, 1)
    train_ds, _, info = data.get_datasets("fashion_mnist", data_dir=tmp_path, image_size=32, val_size=10,
                                          batch_size=8)
    xb, _ = next(iter(train_ds))
    assert xb.shape == (8, 32, 32, 3) and info.input_shape == (32, 32, 3)
    gray_ds, _, gray = data.get_datasets("fashion_mnist", data_dir=tmp_path, channels=None, val_size=10)
    assert gray.input_shape == (28, 28, 1) and next(iter(gray_ds))[0].shape[1:] == (28, 28, 1)


def test_idx_with_wrong_magic_or_size_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "labels.gz"
    write_idx(bad, np.zeros(5), magic=0x0803)
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


@needs_fashion
def test_real_fashion_mnist_idx(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(data.ENV_DATA_DIR, str(SHARED))
    split = data.load_dataset("fashion_mnist", "test")
    assert split.x.shape == (10000, 28, 28, 1) and np.bincount(split.y).tolist() == [1000] * 10
    assert str(FASHION) in split.source


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
    with pytest.raises(ValueError, match="cifar10.*fashion_mnist.*synthetic"):
        data.load_dataset("cifar100")
    with pytest.raises(ValueError, match="split"):
        data.load_dataset("synthetic", "validation")


def test_missing_data_is_one_error_listing_every_way(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(data, "SUBSET_DIR", tmp_path / "no-subset")
    with pytest.raises(DatasetNotFoundError) as err:
        data.load_dataset("cifar10")
    message = str(err.value)
    for way in ("data_dir=PATH", data.ENV_DATA_DIR, "train/<class>/", data.JPEG_ARCHIVE, "official_order.txt",
                data.PYTHON_ARCHIVE, data.PYTHON_DIR, "no-subset", "cifar10_subset", "keras.datasets.cifar10",
                "disabled by MNAS_OFFLINE"):
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
    with pytest.raises(DatasetNotFoundError, match="cifar10_subset"):
        data.load_dataset("cifar10_subset")


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

    truncated = tmp_path / "truncated" / data.JPEG_ARCHIVE
    truncated.parent.mkdir()
    truncated.write_bytes((data.SUBSET_DIR / data.JPEG_ARCHIVE).read_bytes()[:200_000])
    with pytest.raises(CorruptDatasetError, match=re.escape(str(truncated))):
        data.load_dataset("cifar10", data_dir=truncated)
    assert truncated.stat().st_size == 200_000, "a bad input must be left as it was"

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


def test_order_file_from_another_archive_is_rejected(tmp_path: Path) -> None:
    shutil.copy(data.SUBSET_DIR / data.JPEG_ARCHIVE, tmp_path)
    shutil.copy(data.SUBSET_DIR / "test_official_order.txt", tmp_path)
    (tmp_path / "train_official_order.txt").write_text("cifar10-jpg/train/cat/9999.jpg\n")
    with pytest.raises(CorruptDatasetError, match="train_official_order.txt.*another archive"):
        data.load_dataset("cifar10", data_dir=tmp_path)


def test_damaged_cache_is_rebuilt_not_trusted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                              subset_train: data.ArraySplit) -> None:
    monkeypatch.setenv(data.ENV_CACHE_DIR, str(tmp_path))
    data.load_dataset("cifar10_subset")
    (cache,) = tmp_path.glob("cifar10-jpg-*")
    (cache / "x_train.npy").write_bytes(b"damaged")
    again = data.load_dataset("cifar10_subset")
    np.testing.assert_array_equal(again.x, subset_train.x)
