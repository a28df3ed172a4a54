"""Data sets for the proxy task and for full training: numpy arrays and seeded ``tf.data`` pipelines.

Decisions, and why:

* **Validation is held out of the training split, never taken from the test split.** The paper holds out 50K
  ImageNet *training* images as the search's reward set and keeps the official validation set for the final numbers;
  a search that tuned itself on the test split would report optimistic accuracies. ``holdout_split`` draws the
  held-out set per class from a seeded generator, so it is class-balanced and identical for the same seed.
* **Every number says where its data came from.** Sources are tried in a fixed, documented order (below) and the
  ``source`` of the returned ``DatasetInfo``/``ArraySplit`` names the path or download actually used. Falling back
  to the small shipped CIFAR-10 subset is logged as a warning and flagged by ``is_subset``, because accuracies on
  5,000 images are not CIFAR-10 accuracies.
* **Preprocessing is float32 in [0, 1]** (pixel / 255), resized bilinearly to ``image_size`` when that differs from
  the stored size. A fixed scale needs no statistics (statistics computed on the whole train split would leak the
  held-out images into preprocessing), and every mnaslib network starts with conv + batch norm, which absorbs the
  offset and scale of the input.
* **Bad input gets one clear error and loses nothing.** A missing data set raises one ``DatasetNotFoundError`` that
  lists what was looked at and every way to provide the data; a damaged file raises ``CorruptDatasetError`` naming
  it. Nothing the user supplied is ever modified; the decode cache is written to a temporary folder and renamed
  into place, so an interrupted run cannot leave a half-written cache behind.

Where ``cifar10`` comes from, first match wins:

1. ``data_dir`` (an explicit argument is strict: if it holds no CIFAR-10 the call fails instead of silently using
   something smaller), then the environment variable ``MNAS_DATA_DIR``. Either may be, or contain a subfolder
   ``cifar10-jpg/``, ``cifar10/`` or ``cifar-10/`` that is:
   a. an image-folder tree ``train/<class>/*.jpg|*.png`` (optionally ``test/`` or ``val/``), class folders named
      as in ``CIFAR10_CLASSES``;
   b. the JPEG archive ``cifar10-jpg.tar.gz`` with ``train_official_order.txt``/``test_official_order.txt`` beside
      it (the official image order when present). Decoding takes ~10 s, so the decoded arrays are cached as .npy
      under ``MNAS_CACHE_DIR`` (default ``~/.cache/mnaslib``), keyed by the sha256 of the archive, the order files
      and the Pillow version;
   c. the official ``cifar-10-python.tar.gz`` or its extracted ``cifar-10-batches-py/``.
2. The subset shipped in ``data/cifar10_subset`` (500 train and 100 test images per class; also loadable by the
   name ``cifar10_subset``).
3. ``keras.datasets.cifar10.load_data()``, which downloads the official archive (needs network; set
   ``MNAS_OFFLINE=1`` to skip every download).

``fashion_mnist`` reads the four official IDX ``.gz`` files from ``data_dir``/``MNAS_DATA_DIR`` (or their
``fashion-mnist/`` subfolder), else ``keras.datasets.fashion_mnist.load_data()``. ``imagenet`` is prepared by
tensorflow-datasets (``imagenet2012``, with ``data_dir``/``MNAS_DATA_DIR`` as the manual download folder) and is
only streamed, never materialised as arrays. ``imagenette`` is an image-folder tree or tensorflow-datasets'
``imagenette/160px``. ``synthetic`` is generated in memory, for tests and smoke runs.
"""
from __future__ import annotations

import colorsys
import gzip
import hashlib
import io
import logging
import os
import pickle
import tarfile
import tempfile
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Union

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf

log = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]

DATASETS: tuple[str, ...] = ("cifar10", "cifar10_subset", "fashion_mnist", "imagenet", "imagenette", "synthetic")
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
SUBSET_DIR = Path(__file__).resolve().parents[1] / "data" / "cifar10_subset"
IMAGENETTE_TFDS = "imagenette/160px"

PREPROCESSING = "float32 in [0, 1] (pixel / 255); bilinear resize to image_size when it differs"
JPEG_NOTE = ("JPEG-recompressed CIFAR-10 (quality 75, 4:2:0): accuracies sit somewhat below published CIFAR-10 "
             "numbers; compare architectures with each other, not with the literature")
SUBSET_NOTE = ("SMALL SUBSET: the 5,000-train / 1,000-test CIFAR-10 images shipped in data/cifar10_subset, not "
               "CIFAR-10; " + JPEG_NOTE)
SYNTHETIC_SIZES = {"train": 2000, "test": 500}
SYNTHETIC_CLASSES: tuple[str, ...] = tuple(f"hue_{36 * c:03d}" for c in range(10))
_CACHE_FORMAT = "mnaslib-cifar10-jpg-v1"
# Streamed (tensorflow-datasets) pipelines are cached in memory after decoding and resizing only when the split
# fits in this many bytes: Imagenette does, ImageNet at any useful size does not.
_MAX_CACHE_BYTES = 4 << 30


class DatasetNotFoundError(ValueError):
    """No source of a data set could be found; the message lists what was looked at and every way to provide it."""


class CorruptDatasetError(ValueError):
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
    is_subset: bool = False
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
    is_subset: bool = False
    preprocessing: str = PREPROCESSING
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (a deep copy) for reports, logs and json.dumps."""
        return asdict(self)


# A reader turns a split name and an optional size (used by image trees, whose images may differ in size) into
# (x, y) arrays.
Reader = Callable[[str, Union[int, None]], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True, eq=False)
class _Found:
    """A located source: arrays come from ``read``; tensorflow-datasets sources carry a prepared ``builder``."""

    source: str
    class_names: tuple[str, ...]
    read: Reader | None = None
    builder: Any = None
    is_subset: bool = False
    note: str = ""


# --------------------------------------------------------------------------------------------------- small helpers

def _label_dtype(num_classes: int) -> type:
    """uint8 like keras.datasets where it fits, int32 beyond 256 classes."""
    return np.uint8 if num_classes <= 256 else np.int32


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _offline() -> bool:
    """Whether MNAS_OFFLINE forbids network downloads (any value but empty, 0, false, no)."""
    return os.environ.get(ENV_OFFLINE, "").strip().lower() not in ("", "0", "false", "no")


def cache_dir() -> Path:
    """Folder for derived files (decoded arrays): ``MNAS_CACHE_DIR`` or ``~/.cache/mnaslib``."""
    return Path(os.environ.get(ENV_CACHE_DIR) or Path.home() / ".cache" / "mnaslib").expanduser()


def _candidates(name: str, root: Path) -> list[Path]:
    """``root`` itself, then its known subfolders for ``name`` that exist."""
    return [root] + [root / sub for sub in SUBDIRS.get(name, ()) if (root / sub).is_dir()]


def _fit_image(image: Any, size: int) -> Any:
    """Centre-crop a PIL image to a square and resize it to ``size`` (a no-op when it already is)."""
    from PIL import ImageOps

    return image if image.size == (size, size) else ImageOps.fit(image, (size, size))


def _fit_array(x: np.ndarray, size: int) -> np.ndarray:
    """Resize every image of a uint8 NHWC array with ``_fit_image`` (Pillow keeps this free of TensorFlow)."""
    from PIL import Image

    out = np.empty((len(x), size, size, x.shape[-1]), np.uint8)
    for i, img in enumerate(x):
        fitted = np.asarray(_fit_image(Image.fromarray(img[..., 0] if x.shape[-1] == 1 else img), size))
        out[i] = fitted.reshape(size, size, x.shape[-1])
    return out


# ------------------------------------------------------------------------------------------------------ IDX files

def read_idx(path: PathLike, ndim: int) -> np.ndarray:
    """Parse a gzipped IDX file of unsigned bytes with ``ndim`` dimensions (the MNIST/Fashion-MNIST format).

    The magic number (0x0000 08 ``ndim``) and the promised size are checked, so a truncated download or the wrong
    file (labels given as images) fails here with the file's name rather than as a reshape error later.
    """
    path = Path(path)
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise CorruptDatasetError(f"could not decompress {path}: {exc}") from exc
    magic = 0x0800 | ndim
    header = 4 + 4 * ndim
    if len(data) < header or int.from_bytes(data[:4], "big") != magic:
        raise CorruptDatasetError(f"{path} is not an IDX file of {ndim}-D unsigned bytes: magic number "
                                  f"{data[:4].hex() or 'missing'}, expected {magic:08x}")
    dims = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(dims))
    if len(data) - header != expected:
        raise CorruptDatasetError(f"{path}: the header promises shape {dims} ({expected:,} bytes) but the file "
                                  f"holds {len(data) - header:,} bytes after it")
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def _fashion_reader(folder: Path) -> Reader:
    """Reader for the four Fashion-MNIST IDX files in ``folder``; images gain a channel axis (N, 28, 28, 1)."""

    def read(split: str, fit_size: int | None) -> tuple[np.ndarray, np.ndarray]:
        image_file, label_file = (folder / f for f in FASHION_FILES[split])
        x, y = read_idx(image_file, 3), read_idx(label_file, 1)
        if len(x) != len(y):
            raise CorruptDatasetError(f"{image_file} holds {len(x):,} images but {label_file} {len(y):,} labels")
        if y.size and y.max() >= len(FASHION_MNIST_CLASSES):
            raise CorruptDatasetError(f"{label_file} holds label {y.max()}, Fashion-MNIST has 10 classes")
        return x[..., None], y.astype(np.uint8)

    return read


def _detect_fashion(root: Path) -> _Found | str:
    """The folder (``root`` or a known subfolder) holding all four IDX files, or why there is none."""
    wanted = [f for pair in FASHION_FILES.values() for f in pair]
    for folder in _candidates("fashion_mnist", root):
        present = [f for f in wanted if (folder / f).is_file()]
        if len(present) == len(wanted):
            return _Found(f"Fashion-MNIST IDX files in {folder}", FASHION_MNIST_CLASSES, _fashion_reader(folder))
        if present:
            missing = sorted(set(wanted) - set(present))
            return f"{folder} holds only some Fashion-MNIST files; missing {', '.join(missing)}"
    return f"{root} holds no {', '.join(wanted)}"


# ------------------------------------------------------------------------------------------------- image folders

def _list_images(folder: Path) -> list[Path]:
    """Image files of one class folder, sorted by name so the order does not depend on the file system."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _tree_split_dir(root: Path, split: str) -> Path | None:
    """``train/`` for train; ``test/`` or else ``val/`` (Imagenette's name) for test."""
    for sub in (("train",) if split == "train" else ("test", "val")):
        if (root / sub).is_dir():
            return root / sub
    return None


def _tree_reader(root: Path, class_names: tuple[str, ...]) -> Reader:
    """Reader for an image-folder tree; labels are positions in ``class_names``."""

    def read(split: str, fit_size: int | None) -> tuple[np.ndarray, np.ndarray]:
        from PIL import Image, UnidentifiedImageError

        split_dir = _tree_split_dir(root, split)
        if split_dir is None:
            raise DatasetNotFoundError(f"the image-folder tree {root} has no {split} split "
                                       f"({'train/' if split == 'train' else 'test/ or val/'} is missing)")
        dirs = sorted(p.name for p in split_dir.iterdir() if p.is_dir())
        unknown = [d for d in dirs if d not in class_names]
        if unknown:
            raise CorruptDatasetError(f"{split_dir} has class folders {unknown} that are not among the "
                                      f"{len(class_names)} classes {list(class_names)}")
        files = [(p, class_names.index(d)) for d in dirs for p in _list_images(split_dir / d)]
        if not files:
            raise CorruptDatasetError(f"{split_dir} holds no {'/'.join(sorted(IMAGE_SUFFIXES))} images in class "
                                      f"folders")
        images = []
        for path, _ in files:
            try:
                with Image.open(path) as img:
                    rgb = img.convert("RGB")
            except (UnidentifiedImageError, OSError, ValueError) as exc:
                raise CorruptDatasetError(f"{path} is not a readable image: {exc}") from exc
            if fit_size is not None:
                rgb = _fit_image(rgb, fit_size)
            elif images and rgb.size != images[0].shape[1::-1]:
                raise ValueError(f"images in {root} differ in size ({files[0][0]} is {images[0].shape[1]}x"
                                 f"{images[0].shape[0]}, {path} is {rgb.size[0]}x{rgb.size[1]}); pass image_size "
                                 f"to crop and resize them to one size")
            images.append(np.asarray(rgb))
        y = np.array([label for _, label in files], _label_dtype(len(class_names)))
        return np.stack(images), y

    return read


def _detect_tree(name: str, root: Path, class_names: tuple[str, ...] | None) -> _Found | None:
    """An image-folder tree at ``root`` or a known subfolder; class names fixed (CIFAR-10) or the sorted folders."""
    for folder in _candidates(name, root):
        train = folder / "train"
        if train.is_dir():
            names = class_names or tuple(sorted(p.name for p in train.iterdir() if p.is_dir()))
            return _Found(f"image-folder tree {folder}", names, _tree_reader(folder, names))
    return None


# -------------------------------------------------------------------------------------- CIFAR-10 JPEG archive

def _read_tar_images(archive: Path, split: str) -> dict[str, bytes]:
    """The images under ``<root>/<split>/<class>/`` of a .tar.gz, by member name.

    Any damage (not gzip, truncated, not a tar) becomes a ``CorruptDatasetError`` naming the file.
    """
    blobs = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                parts = member.name.split("/")
                if (member.isfile() and len(parts) >= 3 and parts[-3] == split
                        and Path(member.name).suffix.lower() in IMAGE_SUFFIXES):
                    blobs[member.name] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise CorruptDatasetError(f"could not read {archive} as a .tar.gz of images ({exc}); replace the file with "
                                  f"a good copy (data/README.md lists the expected sha256)") from exc
    return blobs


def _decode_jpeg_split(archive: Path, split: str, order_file: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """Decode one split's ``<split>/<class>/<file>`` images with Pillow, in official order where it is known.

    Pillow is used (not ``tf.io.decode_jpeg``) because the documented reference hashes were made with it; other
    decoders round the chroma upsampling differently. Without an order file the split is sorted by class then name.
    Only the requested split is decoded, since a run that never evaluates on test should not pay for it.
    """
    from PIL import Image, UnidentifiedImageError

    blobs = _read_tar_images(archive, split)
    if not blobs:
        raise DatasetNotFoundError(f"{archive} holds no {split}/<class>/ images")
    for name in blobs:
        if name.split("/")[-2] not in CIFAR10_CLASSES:
            raise CorruptDatasetError(f"{archive}: member {name} is in class folder {name.split('/')[-2]!r}, not "
                                      f"one of the CIFAR-10 classes {list(CIFAR10_CLASSES)}")
    if order_file is not None:
        order = order_file.read_text().split()
        if len(order) != len(blobs) or set(order) != blobs.keys():
            mismatch = sorted(set(order) - blobs.keys())[:1] or sorted(blobs.keys() - set(order))[:1]
            raise CorruptDatasetError(f"{order_file} lists {len(order):,} files but {archive} holds {len(blobs):,} "
                                      f"{split} images (first mismatch: {mismatch}); the order file belongs to "
                                      f"another archive")
    else:
        order = sorted(blobs, key=lambda n: (CIFAR10_CLASSES.index(n.split("/")[-2]), n))
    x = None
    for i, name in enumerate(order):
        try:
            with Image.open(io.BytesIO(blobs[name])) as img:
                pixels = np.asarray(img.convert("RGB"))
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise CorruptDatasetError(f"{archive}: member {name} is not a readable image ({exc})") from exc
        if x is None:
            x = np.empty((len(order), *pixels.shape), np.uint8)
        elif pixels.shape != x.shape[1:]:
            raise CorruptDatasetError(f"{archive}: member {name} is {pixels.shape}, the others {x.shape[1:]}")
        x[i] = pixels
    y = np.array([CIFAR10_CLASSES.index(n.split("/")[-2]) for n in order], np.uint8)
    return x, y


def _load_cached_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray] | None:
    """A cached split, or None when absent or unreadable (a damaged cache is rebuilt, never trusted)."""
    paths = folder / f"x_{split}.npy", folder / f"y_{split}.npy"
    if not all(p.is_file() for p in paths):
        return None
    try:
        x, y = (np.load(p, allow_pickle=False) for p in paths)
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable cache %s (%s); decoding again", folder, exc)
        return None
    if x.ndim != 4 or x.dtype != np.uint8 or y.shape != (len(x),):
        log.warning("ignoring inconsistent cache %s; decoding again", folder)
        return None
    return x, y


def _save_cached_split(folder: Path, split: str, x: np.ndarray, y: np.ndarray) -> None:
    """Write each array under a temporary name and rename it into place, so no reader ever sees half a file.

    A cache that cannot be written only costs speed, so failure is a warning, not an error.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for key, value in (("y", y), ("x", x)):
            fd, tmp = tempfile.mkstemp(prefix=f".{key}_{split}-", suffix=".npy", dir=folder)
            try:
                with os.fdopen(fd, "wb") as f:
                    np.save(f, value, allow_pickle=False)
                os.replace(tmp, folder / f"{key}_{split}.npy")
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
    except OSError as exc:
        log.warning("could not write the decode cache %s (%s); set %s to a writable folder to avoid decoding "
                    "again next time", folder, exc, ENV_CACHE_DIR)


def _jpeg_reader(archive: Path) -> Reader:
    """Reader for the JPEG archive: decode a split once, then serve it from the .npy cache.

    The cache folder is keyed by the sha256 of the archive and of the order files and by the Pillow version, so a
    changed file or decoder can never be served stale arrays.
    """
    order_files = {s: archive.parent / f"{s}_official_order.txt" for s in SPLITS}
    order_files = {s: p for s, p in order_files.items() if p.is_file()}
    state: dict[str, Path] = {}

    def folder() -> Path:
        import PIL

        if "folder" not in state:
            try:
                key = hashlib.sha256(_CACHE_FORMAT.encode())
                key.update(sha256_file(archive).encode())
                for split, path in sorted(order_files.items()):
                    key.update(f"{split}:{sha256_file(path)}".encode())
            except OSError as exc:
                raise CorruptDatasetError(f"could not read {archive} or its order files: {exc}") from exc
            key.update(PIL.__version__.encode())
            state["folder"] = cache_dir() / f"cifar10-jpg-{key.hexdigest()[:24]}"
        return state["folder"]

    def read(split: str, fit_size: int | None) -> tuple[np.ndarray, np.ndarray]:
        cached = _load_cached_split(folder(), split)
        if cached is not None:
            return cached
        log.info("decoding the %s split of %s once (about 10 s for the full train split); cache: %s", split,
                 archive, folder())
        x, y = _decode_jpeg_split(archive, split, order_files.get(split))
        _save_cached_split(folder(), split, x, y)
        return x, y

    return read


def _jpeg_found(archive: Path, is_subset: bool = False) -> _Found:
    """A located JPEG archive, saying whether the official order files were beside it."""
    ordered = all((archive.parent / f"{s}_official_order.txt").is_file() for s in SPLITS)
    order = "official order" if ordered else "no official order files: sorted by class and name"
    return _Found(f"JPEG archive {archive} ({order})", CIFAR10_CLASSES, _jpeg_reader(archive),
                  is_subset=is_subset, note=SUBSET_NOTE if is_subset else JPEG_NOTE)


# ------------------------------------------------------------------------------- CIFAR-10 official python format

def _parse_batches(files: dict[str, bytes], origin: Path) -> dict[str, np.ndarray]:
    """Arrays from the official pickled batches (``data_batch_1..5``, ``test_batch``) given by base name.

    The official format is a pickle, so only point this at the official archive: unpickling runs code from the file.
    """
    arrays = {}
    for split, names in (("train", [f"data_batch_{i}" for i in range(1, 6)]), ("test", ["test_batch"])):
        missing = [n for n in names if n not in files]
        if missing:
            raise CorruptDatasetError(f"{origin} lacks the CIFAR-10 batch files {missing}")
        xs, ys = [], []
        for n in names:
            try:
                batch = pickle.loads(files[n], encoding="bytes")
                data = np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32)
                labels = np.asarray(batch[b"labels"], np.uint8)
            except (pickle.UnpicklingError, EOFError, KeyError, ValueError, TypeError, AttributeError) as exc:
                raise CorruptDatasetError(f"{origin}: {n} is not a CIFAR-10 batch ({exc!r})") from exc
            if len(data) != len(labels):
                raise CorruptDatasetError(f"{origin}: {n} holds {len(data)} images but {len(labels)} labels")
            xs.append(data.transpose(0, 2, 3, 1))
            ys.append(labels)
        arrays[f"x_{split}"], arrays[f"y_{split}"] = np.concatenate(xs), np.concatenate(ys)
    return arrays


def _python_reader(path: Path) -> Reader:
    """Reader for ``cifar-10-python.tar.gz`` (read in memory, never extracted) or a ``cifar-10-batches-py`` dir."""
    state: dict[str, dict[str, np.ndarray]] = {}

    def load() -> dict[str, np.ndarray]:
        if path.is_dir():
            return _parse_batches({p.name: p.read_bytes() for p in path.iterdir() if p.is_file()}, path)
        try:
            with tarfile.open(path, "r:gz") as tar:
                files = {Path(m.name).name: tar.extractfile(m).read() for m in tar if m.isfile()}
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            raise CorruptDatasetError(f"could not read {path} as a .tar.gz ({exc}); replace it with a good copy "
                                      f"(official md5 c58f30108f718f92721af3b95e74349a)") from exc
        return _parse_batches(files, path)

    def read(split: str, fit_size: int | None) -> tuple[np.ndarray, np.ndarray]:
        if "arrays" not in state:
            state["arrays"] = load()
        return state["arrays"][f"x_{split}"], state["arrays"][f"y_{split}"]

    return read


def _detect_cifar10(root: Path) -> _Found | str:
    """Which accepted CIFAR-10 form ``root`` is or holds (see the module docstring), or why there is none."""
    if root.is_file():
        if root.name == PYTHON_ARCHIVE:
            return _Found(f"official python archive {root}", CIFAR10_CLASSES, _python_reader(root))
        if root.name.endswith((".tar.gz", ".tgz")):
            return _jpeg_found(root)
        return f"{root} is a file but neither {JPEG_ARCHIVE} nor {PYTHON_ARCHIVE}"
    tree = _detect_tree("cifar10", root, CIFAR10_CLASSES)
    if tree is not None:
        return tree
    for folder in _candidates("cifar10", root):
        if (folder / JPEG_ARCHIVE).is_file():
            return _jpeg_found(folder / JPEG_ARCHIVE)
        if (folder / PYTHON_ARCHIVE).is_file():
            return _Found(f"official python archive {folder / PYTHON_ARCHIVE}", CIFAR10_CLASSES,
                          _python_reader(folder / PYTHON_ARCHIVE))
        batches = folder / PYTHON_DIR if (folder / PYTHON_DIR).is_dir() else folder
        if (batches / "data_batch_1").is_file():
            return _Found(f"official python batches {batches}", CIFAR10_CLASSES, _python_reader(batches))
    return f"{root} holds none of train/<class>/, {JPEG_ARCHIVE}, {PYTHON_ARCHIVE}, {PYTHON_DIR}/"


def _subset() -> _Found | str:
    """The subset shipped with the repository, if this checkout has it."""
    archive = SUBSET_DIR / JPEG_ARCHIVE
    if archive.is_file():
        return _jpeg_found(archive, is_subset=True)
    return f"the shipped subset {archive} is missing (a package installed without the repository's data/)"


# -------------------------------------------------------------------------------------------- downloads and tfds

def _keras_download(name: str) -> _Found | str:
    """keras.datasets' own download, as the last resort; any failure (no network) becomes a reason, not a crash."""
    if _offline():
        return f"the keras download is disabled by {ENV_OFFLINE}"
    import keras

    loader = {"cifar10": keras.datasets.cifar10, "fashion_mnist": keras.datasets.fashion_mnist}[name]
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as exc:  # keras raises a bare Exception for fetch failures
        return f"keras.datasets.{name}.load_data() failed: {exc}"
    arrays = {}
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        arrays[split] = (x[..., None] if x.ndim == 3 else x, np.asarray(y, np.uint8).reshape(-1))
    classes = CIFAR10_CLASSES if name == "cifar10" else FASHION_MNIST_CLASSES
    return _Found(f"keras.datasets.{name} download (~/.keras/datasets)", classes,
                  lambda split, fit_size: arrays[split])


def _tfds(tfds_name: str, manual_dir: Path | None) -> _Found | str:
    """A prepared tensorflow-datasets builder; tensorflow-datasets is optional and imported only here."""
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        return "tensorflow-datasets is not installed (pip install 'mnaslib[datasets]')"
    builder = tfds.builder(tfds_name)
    if _offline() and manual_dir is None and not Path(builder.data_dir).is_dir():
        return f"tensorflow-datasets {tfds_name} is not prepared and {ENV_OFFLINE} forbids downloading it"
    config = tfds.download.DownloadConfig(manual_dir=str(manual_dir)) if manual_dir else None
    try:
        builder.download_and_prepare(download_config=config)
    except Exception as exc:  # tfds raises assorted types (AssertionError for missing manual files, IO errors...)
        return f"tensorflow-datasets could not prepare {tfds_name} (manual_dir={manual_dir}): {exc}"
    names = tuple(builder.info.features["label"].names)
    where = f", manual_dir={manual_dir}" if manual_dir else ""
    return _Found(f"tensorflow-datasets {tfds_name} in {builder.data_dir}{where}", names, builder=builder)


def _detect_imagenet(root: Path) -> _Found | str:
    """ImageNet through tensorflow-datasets, ``root`` (or its imagenet/ subfolder) being the manual download dir."""
    for folder in _candidates("imagenet", root):
        if (folder / "ILSVRC2012_img_train.tar").is_file():
            return _tfds("imagenet2012", folder)
    return f"{root} holds no ILSVRC2012_img_train.tar"


def _detect_imagenette(root: Path) -> _Found | str:
    """Imagenette as an image-folder tree (e.g. the extracted imagenette2-160.tgz)."""
    return _detect_tree("imagenette", root, None) or f"{root} holds no train/<class>/ image tree"


_DETECTORS: dict[str, Callable[[Path], _Found | str]] = {
    "cifar10": _detect_cifar10, "fashion_mnist": _detect_fashion,
    "imagenet": _detect_imagenet, "imagenette": _detect_imagenette,
}
_FALLBACKS: dict[str, tuple[Callable[[], _Found | str], ...]] = {
    "cifar10": (_subset, lambda: _keras_download("cifar10")),
    "fashion_mnist": (lambda: _keras_download("fashion_mnist"),),
    "imagenet": (lambda: _tfds("imagenet2012", None),),
    "imagenette": (lambda: _tfds(IMAGENETTE_TFDS, None),),
}

_WAYS: dict[str, list[str]] = {
    "cifar10": [
        f"pass data_dir=PATH or set {ENV_DATA_DIR}=PATH, where PATH (or its subfolder cifar10-jpg/, cifar10/ or "
        "cifar-10/) is one of:\n"
        "     a. an image-folder tree PATH/train/<class>/*.jpg|*.png (optionally PATH/test/<class>/), class folders "
        f"named {' '.join(CIFAR10_CLASSES)};\n"
        f"     b. the JPEG archive PATH/{JPEG_ARCHIVE}, with train_official_order.txt and test_official_order.txt "
        "beside it for the official order (PATH may also be the .tar.gz file itself);\n"
        f"     c. the official archive PATH/{PYTHON_ARCHIVE} or its extracted folder PATH/{PYTHON_DIR}/",
        f"keep the shipped subset {SUBSET_DIR} (regenerate it with benchmarks/make_cifar10_subset.py); it is also "
        "loadable as name='cifar10_subset'",
        f"allow the download: keras.datasets.cifar10.load_data() fetches {PYTHON_ARCHIVE} into ~/.keras/datasets "
        f"(needs network; unset {ENV_OFFLINE})",
    ],
    "cifar10_subset": [
        f"restore {SUBSET_DIR} from the repository, or regenerate it with benchmarks/make_cifar10_subset.py "
        "--source FOLDER_WITH_cifar10-jpg.tar.gz",
        "or load the full data set with name='cifar10' (see its data_dir / MNAS_DATA_DIR forms)",
    ],
    "fashion_mnist": [
        f"pass data_dir=PATH or set {ENV_DATA_DIR}=PATH, where PATH (or its subfolder fashion-mnist/) holds "
        f"{', '.join(f for pair in FASHION_FILES.values() for f in pair)}",
        "allow the download: keras.datasets.fashion_mnist.load_data() (needs network; or copy the four files to "
        f"~/.keras/datasets/fashion-mnist/ to make it work offline; unset {ENV_OFFLINE})",
    ],
    "imagenet": [
        "install tensorflow-datasets: pip install 'mnaslib[datasets]'",
        f"pass data_dir=PATH or set {ENV_DATA_DIR}=PATH, where PATH (or its subfolder imagenet/) holds the manual "
        "downloads ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar from image-net.org; tensorflow-datasets "
        "prepares them once into $TFDS_DATA_DIR (default ~/tensorflow_datasets)",
        "or have imagenet2012 already prepared in $TFDS_DATA_DIR",
    ],
    "imagenette": [
        f"pass data_dir=PATH or set {ENV_DATA_DIR}=PATH, where PATH (or its subfolder imagenette/, imagenette2-160/) "
        "is an image-folder tree PATH/train/<wnid>/*.JPEG with PATH/val/ (the extracted imagenette2-160.tgz)",
        f"install tensorflow-datasets (pip install 'mnaslib[datasets]') and allow it to download {IMAGENETTE_TFDS} "
        f"(needs network; unset {ENV_OFFLINE})",
    ],
}


def _not_found(name: str, tried: list[str]) -> DatasetNotFoundError:
    """The one error for a missing data set: what was looked at, then every way to provide it."""
    looked = "\n".join(f"  - {t}" for t in tried)
    ways = "\n".join(f"  {i}. {w}" for i, w in enumerate(_WAYS[name], 1))
    return DatasetNotFoundError(f"no {name} data found.\nLooked at:\n{looked}\nProvide it in one of these ways:\n"
                                f"{ways}")


def _check_name(name: str) -> None:
    """Reject a misspelt name up front, listing the known ones, before any file is touched."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")


def _locate(name: str, data_dir: PathLike | None) -> _Found:
    """Resolve a data set in the documented order, or raise the one not-found error."""
    _check_name(name)
    if name == "synthetic":
        if data_dir is not None:
            raise ValueError("the synthetic dataset is generated in memory and takes no data_dir")
        return _Found("synthetic (generated in memory, fixed seeds)", SYNTHETIC_CLASSES, _synthetic,
                      note="synthetic images with a class-dependent mean colour; for tests and smoke runs only")
    if name == "cifar10_subset":
        if data_dir is not None:
            raise ValueError("cifar10_subset is always the shipped subset; use name='cifar10' with data_dir")
        found = _subset()
        if isinstance(found, str):
            raise _not_found(name, [found])
        return found
    tried = []
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        found = _DETECTORS[name](root) if root.exists() else f"{root} does not exist"
        if isinstance(found, str):
            raise _not_found(name, [f"data_dir: {found}"])
        return found
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        root = Path(env).expanduser()
        found = _DETECTORS[name](root) if root.exists() else f"{root} does not exist"
        if not isinstance(found, str):
            return found
        tried.append(f"{ENV_DATA_DIR}: {found}")
    else:
        tried.append(f"{ENV_DATA_DIR} is not set")
    for fallback in _FALLBACKS[name]:
        found = fallback()
        if not isinstance(found, str):
            if found.is_subset:
                log.warning("%s: no full CIFAR-10 found (%s); using the SMALL shipped subset %s (500 train / 100 "
                            "test images per class) - results are not CIFAR-10 results", name, "; ".join(tried),
                            SUBSET_DIR)
            return found
        tried.append(found)
    raise _not_found(name, tried)


# ------------------------------------------------------------------------------------------------------ synthetic

def _synthetic(split: str, fit_size: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Noisy 32x32 images whose mean colour depends on the class (hues evenly spaced round the colour wheel).

    The noise (std 64 per pixel) hides the colour in any single pixel but averaging over the image recovers it:
    a nearest-mean-colour rule scores far above the 10% of chance, so a small network with global pooling has a
    signal to learn within a few epochs, which makes training code testable in seconds without real data.
    """
    rng = np.random.default_rng({"train": 1, "test": 2}[split])
    n = SYNTHETIC_SIZES[split]
    k = len(SYNTHETIC_CLASSES)
    y = rng.permutation(np.arange(n) % k).astype(np.uint8)
    palette = np.array([colorsys.hsv_to_rgb(c / k, 0.6, 0.8) for c in range(k)]) * 255.0
    x = palette[y][:, None, None, :] + rng.normal(0.0, 64.0, (n, 32, 32, 3))
    return np.clip(np.rint(x), 0, 255).astype(np.uint8), y


# -------------------------------------------------------------------------------------------------- public API

def load_dataset(name: str, split: str = "train", data_dir: PathLike | None = None, *,
                 image_size: int | None = None) -> ArraySplit:
    """One split of a data set as numpy arrays (uint8 NHWC images and integer labels) with its source.

    ``split`` is "train" or "test" (the official test split; hold validation out of train with
    ``holdout_split``). ``image_size`` centre-crops and resizes every image to a square of that size (needed for
    image trees whose images differ in size). ImageNet is never materialised: use ``get_datasets``.
    """
    _check_name(name)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if image_size is not None and image_size < 1:
        raise ValueError(f"image_size must be a positive number of pixels, got {image_size}")
    found = _locate(name, data_dir)
    if found.read is None:
        raise ValueError(f"{name} from {found.source} is streamed by tensorflow-datasets and too large for numpy "
                         f"arrays; use get_datasets() / get_test_dataset()")
    x, y = found.read(split, image_size)
    if image_size is not None and x.shape[1:3] != (image_size, image_size):
        x = _fit_array(x, image_size)
    return ArraySplit(x, y, found.class_names, found.source, found.is_subset, found.note)


def _stratified_pick(labels: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of ``count`` items drawn per class in proportion to class size (largest remainder)."""
    classes, sizes = np.unique(labels, return_counts=True)
    quota = count * sizes / len(labels)
    take = np.floor(quota).astype(int)
    for c in np.argsort(-(quota - take), kind="stable")[:count - take.sum()]:
        take[c] += 1
    picked = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, take)]
    return np.sort(np.concatenate(picked))


def holdout_split(labels: np.ndarray, *, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, val)`` of a training split: ``val_size`` images held out, per class, by a seeded draw.

    This is the paper's protocol (a held-out part of the *training* set rewards the search). Stratifying keeps
    small validation sets class-balanced; both index arrays are sorted, disjoint and together cover every image,
    and the same labels, size and seed always give the same split.
    """
    labels = np.asarray(labels)
    if not 1 <= val_size < len(labels):
        raise ValueError(f"val_size must be between 1 and {len(labels) - 1} for {len(labels)} training images, "
                         f"got {val_size}")
    val = _stratified_pick(labels, val_size, np.random.default_rng([seed, 0]))
    train = np.setdiff1d(np.arange(len(labels)), val, assume_unique=True)
    return train, val


def _val_count(n: int, val_fraction: float, val_size: int | None) -> int:
    """How many training images to hold out: ``val_size`` when given, else ``round(val_fraction * n)``."""
    if val_size is None:
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction}")
        val_size = max(1, round(val_fraction * n))
    if not 1 <= val_size < n:
        raise ValueError(f"val_size must be between 1 and {n - 1} for {n} training images, got {val_size}")
    return val_size


def _check_pipeline_args(image_size: int | None, batch_size: int, channels: int | None) -> None:
    """Fail on bad pipeline settings before the (possibly slow) data loading starts."""
    if image_size is not None and image_size < 1:
        raise ValueError(f"image_size must be a positive number of pixels, got {image_size}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be 1, 3 or None (keep the stored channels), got {channels}")


def _augment(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Pad by 1/8 of the side, random-crop back and random-flip: the standard CIFAR augmentation, stateless.

    Stateless ops with per-image seeds from a seeded ``tf.data.Dataset.random`` make the augmentation reproducible
    for a given seed yet different in every epoch.
    """
    import tensorflow as tf

    height, width, depth = image.shape
    pad = max(1, height // 8)
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    padded = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
    image = tf.image.stateless_random_crop(padded, [height, width, depth], seed=crop_seed)
    return tf.image.stateless_random_flip_left_right(image, seed=flip_seed)


def _finish(ds: tf.data.Dataset, *, image_size: int, channels: int | None, batch_size: int, training: bool,
            augment: bool, seed: int, shuffle_buffer: int) -> tf.data.Dataset:
    """Shared tail of every pipeline: shuffle (train), augment, batch, scale/convert/resize, prefetch.

    Images stay uint8 until after batching so the shuffle buffer holds a quarter of the float bytes, and the
    resize runs per batch, after augmentation at the stored size.
    """
    import tensorflow as tf

    if training:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        if augment:
            seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
            ds = tf.data.Dataset.zip((ds, seeds)).map(lambda xy, s: (_augment(xy[0], s), xy[1]),
                                                      num_parallel_calls=tf.data.AUTOTUNE)

    def to_model_input(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        x = tf.cast(images, tf.float32) / 255.0
        if channels == 3 and x.shape[-1] == 1:
            x = tf.image.grayscale_to_rgb(x)
        elif channels == 1 and x.shape[-1] == 3:
            x = tf.image.rgb_to_grayscale(x)
        if tuple(x.shape[1:3]) != (image_size, image_size):
            x = tf.image.resize(x, (image_size, image_size), antialias=True)
        return x, tf.cast(labels, tf.int32)

    ds = ds.batch(batch_size).map(to_model_input, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _array_pipeline(x: np.ndarray, y: np.ndarray, **kwargs: Any) -> tf.data.Dataset:
    """A pipeline over in-memory arrays. No ``.cache()``: the arrays already are the cache, a second copy would
    only double the memory."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y))
    return _finish(ds, shuffle_buffer=max(1, len(y)), **kwargs)


def _stream_pipeline(ds: tf.data.Dataset, count: int, *, image_size: int, **kwargs: Any) -> tf.data.Dataset:
    """A pipeline over a tensorflow-datasets split: decode, fit to a square of ``image_size``, cache if small."""
    import tensorflow as tf

    def fit(image: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        shape = tf.shape(image)
        side = tf.minimum(shape[0], shape[1])
        image = tf.image.crop_to_bounding_box(image, (shape[0] - side) // 2, (shape[1] - side) // 2, side, side)
        image = tf.image.resize(image, (image_size, image_size), antialias=True)
        return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8), label

    ds = ds.map(fit, num_parallel_calls=tf.data.AUTOTUNE)
    if count * image_size * image_size * 3 <= _MAX_CACHE_BYTES:
        ds = ds.cache()
    return _finish(ds, image_size=image_size, shuffle_buffer=min(count, 10_000), **kwargs)


def get_datasets(name: str, *, image_size: int | None = None, batch_size: int = 128, val_fraction: float = 0.1,
                 val_size: int | None = None, seed: int = 0, max_train: int | None = None,
                 max_val: int | None = None, augment: bool = False, channels: int | None = 3,
                 data_dir: PathLike | None = None) -> tuple[tf.data.Dataset, tf.data.Dataset, DatasetInfo]:
    """Training and validation pipelines, the validation images held out of the training split.

    ``val_size`` (a count) overrides ``val_fraction``. ``max_train``/``max_val`` then cap each side by a further
    stratified seeded draw, so the validation set for a seed does not depend on ``max_train``. Batches are
    ``(float32 [B, S, S, C] in [0, 1], int32 [B])`` with ``S = image_size`` (default: the stored size) and ``C =
    channels`` (3 by default, since mnaslib networks take RGB; grayscale is repeated; None keeps the stored
    channels). The train pipeline reshuffles every epoch from ``seed``; ``augment`` adds pad-crop-flip.
    """
    _check_pipeline_args(image_size, batch_size, channels)
    for label, cap in (("max_train", max_train), ("max_val", max_val)):
        if cap is not None and cap < 1:
            raise ValueError(f"{label} must be >= 1 or None, got {cap}")
    found = _locate(name, data_dir)
    common = {"channels": channels, "batch_size": batch_size, "augment": augment, "seed": seed}
    if found.read is None:
        return _tfds_datasets(name, found, image_size, val_fraction, val_size, max_train, max_val, common)

    x, y = found.read("train", image_size)
    n_val = _val_count(len(y), val_fraction, val_size)
    train_idx, val_idx = holdout_split(y, val_size=n_val, seed=seed)
    rule = f"val: {n_val:,} of {len(y):,} training images held out per class (seed {seed})"
    if max_train is not None and max_train < len(train_idx):
        train_idx = train_idx[_stratified_pick(y[train_idx], max_train, np.random.default_rng([seed, 1]))]
        rule += f"; train capped at {max_train:,} (class-proportional seeded draw)"
    if max_val is not None and max_val < len(val_idx):
        val_idx = val_idx[_stratified_pick(y[val_idx], max_val, np.random.default_rng([seed, 2]))]
        rule += f"; val capped at {max_val:,} (class-proportional seeded draw)"
    size = image_size or x.shape[1]
    out_channels = channels or x.shape[-1]
    train_ds = _array_pipeline(x[train_idx], y[train_idx], image_size=size, training=True, **common)
    val_ds = _array_pipeline(x[val_idx], y[val_idx], image_size=size, training=False, **common)
    info = DatasetInfo(name, len(found.class_names), found.class_names, (size, size, out_channels), found.source,
                       {"train": len(train_idx), "val": len(val_idx)}, rule, found.is_subset, note=found.note)
    return train_ds, val_ds, info


def _tfds_datasets(name: str, found: _Found, image_size: int | None, val_fraction: float, val_size: int | None,
                   max_train: int | None, max_val: int | None,
                   common: dict[str, Any]) -> tuple[tf.data.Dataset, tf.data.Dataset, DatasetInfo]:
    """``get_datasets`` for tensorflow-datasets sources, whose images are streamed from disk.

    The held-out set is the first ``val_size`` examples of the tfds train split: tfds shuffles examples when it
    prepares a data set, so that is a fixed pseudo-random draw; the seed orders the training stream only.
    """
    import tensorflow_datasets as tfds

    if image_size is None:
        raise ValueError(f"{name} images differ in size; pass image_size")
    n = found.builder.info.splits["train"].num_examples
    n_val = _val_count(n, val_fraction, val_size)
    n_train = min(max_train or n, n - n_val)
    kept_val = min(max_val or n_val, n_val)
    read_config = tfds.ReadConfig(shuffle_seed=common["seed"])
    train = found.builder.as_dataset(split=f"train[{n_val}:{n_val + n_train}]", as_supervised=True,
                                     shuffle_files=True, read_config=read_config)
    val = found.builder.as_dataset(split=f"train[:{kept_val}]", as_supervised=True)
    channels = common["channels"] or 3
    train_ds = _stream_pipeline(train, n_train, image_size=image_size, training=True, **common)
    val_ds = _stream_pipeline(val, kept_val, image_size=image_size, training=False, **common)
    rule = (f"val: the first {kept_val:,} of the {n:,} examples of tfds' (pre-shuffled) train split; train: the "
            f"next {n_train:,}")
    info = DatasetInfo(name, len(found.class_names), found.class_names, (image_size, image_size, channels),
                       found.source, {"train": n_train, "val": kept_val}, rule, note=found.note)
    return train_ds, val_ds, info


def get_test_dataset(name: str, *, image_size: int | None = None, batch_size: int = 128, channels: int | None = 3,
                     data_dir: PathLike | None = None) -> tuple[tf.data.Dataset, DatasetInfo]:
    """The official test split (ImageNet's validation set) as a pipeline, for final numbers only, never search."""
    _check_pipeline_args(image_size, batch_size, channels)
    found = _locate(name, data_dir)
    common = {"channels": channels, "batch_size": batch_size, "augment": False, "seed": 0, "training": False}
    if found.read is None:
        if image_size is None:
            raise ValueError(f"{name} images differ in size; pass image_size")
        split = found.builder.info.splits["validation"]
        ds = _stream_pipeline(found.builder.as_dataset(split="validation", as_supervised=True), split.num_examples,
                              image_size=image_size, **common)
        size, count, out_channels = image_size, split.num_examples, channels or 3
    else:
        x, y = found.read("test", image_size)
        size, count, out_channels = image_size or x.shape[1], len(y), channels or x.shape[-1]
        ds = _array_pipeline(x, y, image_size=size, **common)
    info = DatasetInfo(name, len(found.class_names), found.class_names, (size, size, out_channels), found.source,
                       {"test": count}, "test: the official test split, whole", found.is_subset, note=found.note)
    return ds, info
