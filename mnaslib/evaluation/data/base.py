"""The vocabulary every data module shares: data set names and file names, the two errors, the result types.

Kept free of readers and of TensorFlow so that every other module of the package (and the subset script in
``benchmarks/``) can import it without pulling in the rest.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Union

import numpy as np

from mnaslib.errors import UserError

PathLike = Union[str, "os.PathLike[str]"]

DATASETS: tuple[str, ...] = ("cifar10", "fashion_mnist", "fashion_mnist_subset", "imagenet", "imagenette",
                             "synthetic")
CIFAR10_CLASSES: tuple[str, ...] = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                    "ship", "truck")
FASHION_MNIST_CLASSES: tuple[str, ...] = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                                          "Shirt", "Sneaker", "Bag", "Ankle boot")
SPLITS: tuple[str, ...] = ("train", "test")

ENV_DATA_DIR = "MNAS_DATA_DIR"
ENV_CACHE_DIR = "MNAS_CACHE_DIR"
ENV_OFFLINE = "MNAS_OFFLINE"

JPEG_ARCHIVE = "cifar10-jpg.tar.gz"
PYTHON_ARCHIVE = "cifar-10-python.tar.gz"
PYTHON_DIR = "cifar-10-batches-py"
FASHION_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
# Subfolder names under which a data root (such as MNAS_DATA_DIR pointing at a folder of several data sets) may
# hold each data set, so one environment variable serves them all.
SUBDIRS: dict[str, tuple[str, ...]] = {
    "cifar10": ("cifar10-jpg", "cifar10", "cifar-10"),
    "fashion_mnist": ("fashion-mnist", "fashion_mnist"),
    "imagenet": ("imagenet", "imagenet2012"),
    "imagenette": ("imagenette", "imagenette2-160", "imagenette2"),
}
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
SUBSET_PER_CLASS = {"train": 500, "test": 100}

PREPROCESSING = "float32 in [0, 1] (pixel / 255); bilinear resize to image_size when it differs"
JPEG_NOTE = ("JPEG-recompressed CIFAR-10 (quality 75, 4:2:0): accuracies sit somewhat below published CIFAR-10 "
             "numbers; compare architectures with each other, not with the literature")
SUBSET_NOTE = ("SMALL SUBSET: 5,000-train / 1,000-test Fashion-MNIST images cut from the official files "
               # word for word as when the subset was defined (the cutter is now mnaslib.evaluation.data.subset)
               "(mnaslib.data.subset: the first 500 train and 100 test images of each class in official order), "
               "not Fashion-MNIST; "
               "for tests and smoke runs, its accuracies mean little")


class DatasetNotFoundError(UserError):
    """No source of a data set could be found; the message lists what was looked at and every way to provide it."""


class CorruptDatasetError(UserError):
    """A data file exists but cannot be read as what it claims to be; the message names the file."""


@dataclass(frozen=True, eq=False)
class ArraySplit:
    """One split as numpy arrays, with where it came from.

    ``x`` is ``(N, H, W, C)`` uint8 (C is 1 for Fashion-MNIST), ``y`` is ``(N,)`` integer labels (uint8, as
    ``keras.datasets`` returns them, when there are at most 256 classes).
    """

    x: np.ndarray
    y: np.ndarray
    class_names: tuple[str, ...]
    source: str
    note: str = ""


@dataclass(frozen=True)
class DatasetInfo:
    """What a pipeline holds and where it came from; ``to_dict`` gives a plain dict for reports and logs."""

    name: str
    num_classes: int
    class_names: tuple[str, ...]
    input_shape: tuple[int, int, int]
    source: str
    sizes: dict[str, int]
    split_rule: str
    preprocessing: str = PREPROCESSING
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (a deep copy) for reports, logs and json.dumps."""
        return asdict(self)


# A reader turns a split name and an optional size (used by image trees, whose images may differ in size) into
# (x, y) arrays.
Reader = Callable[[str, Union[int, None]], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True, eq=False)
class Located:
    """A located source. Arrays come from ``read``; tensorflow-datasets sources carry a prepared ``builder``.

    ``kind`` is "path" (files the user provided), "download" (files a download put in a cache), "generated" or
    "tensorflow-datasets"; ``location`` is the path or name behind it. ``fingerprint`` computes, on demand (it may
    read every file once), a dict with the content ``fingerprint`` and what it covers (``fingerprint_of``).
    """

    source: str
    class_names: tuple[str, ...]
    kind: str
    location: str
    fingerprint: Callable[[], dict[str, Any]]
    read: Reader | None = None
    builder: Any = None
    note: str = ""


def label_dtype(num_classes: int) -> type:
    """uint8 like keras.datasets where it fits, int32 beyond 256 classes."""
    return np.uint8 if num_classes <= 256 else np.int32


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks; a file that cannot be read is a ``CorruptDatasetError`` naming it."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except FileNotFoundError as exc:
        raise DatasetNotFoundError(f"{path} does not exist (it was there when the data set was located; was it "
                                   f"moved or deleted meanwhile?)") from exc
    except OSError as exc:
        raise CorruptDatasetError(f"could not read {path}: {exc.strerror or exc}") from exc
    return digest.hexdigest()


def read_lines(path: Path) -> list[str]:
    """The whitespace-separated entries of a text file such as an order file, with a clear error naming the file.

    A binary file (``UnicodeDecodeError``) or an unreadable one would otherwise surface as a message without the
    file's name.
    """
    try:
        return path.read_text(encoding="utf-8").split()
    except UnicodeDecodeError as exc:
        raise CorruptDatasetError(f"{path} is not a UTF-8 text file (byte {exc.start}: {exc.reason}); it should "
                                  f"list one archive member per line - replace it with the file that came with "
                                  f"the archive") from exc
    except OSError as exc:
        raise CorruptDatasetError(f"could not read {path}: {exc.strerror or exc}") from exc


def offline() -> bool:
    """Whether MNAS_OFFLINE forbids network downloads (any value but empty, 0, false, no)."""
    return os.environ.get(ENV_OFFLINE, "").strip().lower() not in ("", "0", "false", "no")


def cache_dir() -> Path:
    """Folder for derived files (decoded arrays, fingerprints): ``MNAS_CACHE_DIR`` or ``~/.cache/mnaslib``."""
    return Path(os.environ.get(ENV_CACHE_DIR) or Path.home() / ".cache" / "mnaslib").expanduser()


def candidates(name: str, root: Path) -> list[Path]:
    """``root`` itself, then its known subfolders for ``name`` that exist."""
    return [root] + [root / sub for sub in SUBDIRS.get(name, ()) if (root / sub).is_dir()]


def fit_image(image: Any, size: int) -> Any:
    """Centre-crop a PIL image to a square and resize it to ``size`` (a no-op when it already is)."""
    from PIL import ImageOps

    return image if image.size == (size, size) else ImageOps.fit(image, (size, size))


def fit_array(x: np.ndarray, size: int) -> np.ndarray:
    """Resize every image of a uint8 NHWC array with ``fit_image`` (Pillow keeps this free of TensorFlow)."""
    from PIL import Image

    out = np.empty((len(x), size, size, x.shape[-1]), np.uint8)
    for i, img in enumerate(x):
        fitted = np.asarray(fit_image(Image.fromarray(img[..., 0] if x.shape[-1] == 1 else img), size))
        out[i] = fitted.reshape(size, size, x.shape[-1])
    return out
