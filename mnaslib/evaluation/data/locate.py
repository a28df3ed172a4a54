"""Which source a data set name resolves to, in the documented order, or one error listing every way to provide it.

An explicit ``data_dir`` is strict (if it holds no such data set the call fails instead of silently using something
else); ``MNAS_DATA_DIR`` is tried next and a miss is reported, then the data set's own download. Nothing falls back
to a smaller data set: the Fashion-MNIST subset is only ever used when asked for by its own name.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable

from mnaslib.evaluation.data.base import (CIFAR10_CLASSES, DATASETS, ENV_DATA_DIR, ENV_OFFLINE, FASHION_FILES,
                                          JPEG_ARCHIVE, PYTHON_ARCHIVE, PYTHON_DIR, SUBSET_NOTE, SUBSET_PER_CLASS,
                                          DatasetNotFoundError, Located, PathLike, candidates, offline)
from mnaslib.evaluation.data.idx import detect_fashion, fashion_found
from mnaslib.evaluation.data.images import detect_tree, jpeg_found
from mnaslib.evaluation.data.pickled import ARCHIVE_SHA256, ARCHIVE_URL, python_found
from mnaslib.evaluation.data.subset import is_complete, make_subset, subset_dir
from mnaslib.evaluation.data.synthetic import synthetic_found
from mnaslib.errors import UserError

IMAGENETTE_TFDS = "imagenette/160px"
# Where keras.datasets.fashion_mnist downloads from (keras/src/datasets/fashion_mnist.py), into the same folder.
FASHION_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


def _detect_cifar10(root: Path) -> Located | str:
    """Which accepted CIFAR-10 form ``root`` is or holds (see the package docstring), or why there is none."""
    if root.is_file():
        if root.name == PYTHON_ARCHIVE:
            return python_found(root)
        if root.name.endswith((".tar.gz", ".tgz")):
            return jpeg_found(root)
        return f"{root} is a file but neither {JPEG_ARCHIVE} nor {PYTHON_ARCHIVE}"
    tree = detect_tree("cifar10", root, CIFAR10_CLASSES)
    if tree is not None:
        return tree
    for folder in candidates("cifar10", root):
        if (folder / JPEG_ARCHIVE).is_file():
            return jpeg_found(folder / JPEG_ARCHIVE)
        if (folder / PYTHON_ARCHIVE).is_file():
            return python_found(folder / PYTHON_ARCHIVE)
        batches = folder / PYTHON_DIR if (folder / PYTHON_DIR).is_dir() else folder
        if (batches / "data_batch_1").is_file():
            return python_found(batches)
    return f"{root} holds none of train/<class>/, {JPEG_ARCHIVE}, {PYTHON_ARCHIVE}, {PYTHON_DIR}/"


def _subset() -> Located | str:
    """The Fashion-MNIST subset in the cache, cut there first from the full data set (found as ``fashion_mnist`` is)
    if it is not there yet."""
    folder = subset_dir()
    if not is_complete(folder):
        try:
            full = locate("fashion_mnist", None)
        except DatasetNotFoundError as err:
            return f"the subset is cut on first use from the official Fashion-MNIST files, and none were found: {err}"
        make_subset(Path(full.location), folder)
    per_class = f"{SUBSET_PER_CLASS['train']} train / {SUBSET_PER_CLASS['test']} test images per class"
    return fashion_found(folder, f"SMALL SUBSET of Fashion-MNIST ({per_class}) cut into {folder}", kind="generated",
                         note=SUBSET_NOTE)


# -------------------------------------------------------------------------------------------- downloads and tfds

def _keras_cifar10() -> Located | str:
    """The official archive through Keras' downloader (sha256-checked there, and again by our reader)."""
    if offline():
        return f"the keras download is disabled by {ENV_OFFLINE}"
    import keras

    try:
        path = keras.utils.get_file(PYTHON_ARCHIVE, ARCHIVE_URL, file_hash=ARCHIVE_SHA256)
    except Exception as exc:  # keras raises a bare Exception for fetch failures
        return f"keras.utils.get_file could not fetch {ARCHIVE_URL}: {exc}"
    return python_found(Path(path), kind="download", via=f" (downloaded by keras from {ARCHIVE_URL})")


def _keras_fashion() -> Located | str:
    """The four IDX files from where keras.datasets.fashion_mnist gets them, read by our IDX reader."""
    if offline():
        return f"the keras download is disabled by {ENV_OFFLINE}"
    import keras

    try:
        paths = [Path(keras.utils.get_file(f, FASHION_URL + f, cache_subdir=os.path.join("datasets", "fashion-mnist")))
                 for pair in FASHION_FILES.values() for f in pair]
    except Exception as exc:  # keras raises a bare Exception for fetch failures
        return f"keras.utils.get_file could not fetch the Fashion-MNIST files from {FASHION_URL}: {exc}"
    folder = paths[0].parent
    return fashion_found(folder, f"Fashion-MNIST IDX files in {folder} (downloaded by keras from {FASHION_URL})",
                         kind="download")


def _tfds_fingerprint(builder: object) -> dict:
    """tensorflow-datasets metadata: hashing ImageNet's 150 GB at every start would cost minutes, so this covers the
    builder's name, version, split sizes and each prepared file's name and size, not the contents."""
    folder = Path(builder.data_dir)
    record = {"name": builder.info.full_name, "splits": {k: v.num_examples for k, v in builder.info.splits.items()},
              "files": sorted((p.name, p.stat().st_size) for p in folder.iterdir() if p.is_file())}
    digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()
    return {"fingerprint": "sha256:" + digest,
            "fingerprint_of": "tensorflow-datasets name, version, split sizes and file sizes (not file contents)"}


def _tfds(tfds_name: str, manual_dir: Path | None) -> Located | str:
    """A prepared tensorflow-datasets builder; tensorflow-datasets is optional and imported only here."""
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        return "tensorflow-datasets is not installed (pip install 'mnaslib[datasets]')"
    builder = tfds.builder(tfds_name)
    if offline() and manual_dir is None and not Path(builder.data_dir).is_dir():
        return f"tensorflow-datasets {tfds_name} is not prepared and {ENV_OFFLINE} forbids downloading it"
    config = tfds.download.DownloadConfig(manual_dir=str(manual_dir)) if manual_dir else None
    try:
        builder.download_and_prepare(download_config=config)
    except Exception as exc:  # tfds raises assorted types (AssertionError for missing manual files, IO errors...)
        return f"tensorflow-datasets could not prepare {tfds_name} (manual_dir={manual_dir}): {exc}"
    names = tuple(builder.info.features["label"].names)
    where = f", manual_dir={manual_dir}" if manual_dir else ""
    return Located(f"tensorflow-datasets {tfds_name} in {builder.data_dir}{where}", names, "tensorflow-datasets",
                   str(builder.data_dir), lambda: _tfds_fingerprint(builder), builder=builder)


def _detect_imagenet(root: Path) -> Located | str:
    """ImageNet through tensorflow-datasets, ``root`` (or its imagenet/ subfolder) being the manual download dir."""
    for folder in candidates("imagenet", root):
        if (folder / "ILSVRC2012_img_train.tar").is_file():
            return _tfds("imagenet2012", folder)
    return f"{root} holds no ILSVRC2012_img_train.tar"


def _detect_imagenette(root: Path) -> Located | str:
    """Imagenette as an image-folder tree (e.g. the extracted imagenette2-160.tgz)."""
    return detect_tree("imagenette", root, None) or f"{root} holds no train/<class>/ image tree"


_DETECTORS: dict[str, Callable[[Path], Located | str]] = {
    "cifar10": _detect_cifar10, "fashion_mnist": detect_fashion,
    "imagenet": _detect_imagenet, "imagenette": _detect_imagenette,
}
_FALLBACKS: dict[str, tuple[Callable[[], Located | str], ...]] = {
    "cifar10": (_keras_cifar10,),
    "fashion_mnist": (_keras_fashion,),
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
        f"allow the download: keras fetches the official {PYTHON_ARCHIVE} (sha256-checked) into ~/.keras/datasets "
        f"(needs network; unset {ENV_OFFLINE})",
        "for a smoke run without CIFAR-10, ask for the small Fashion-MNIST subset by its own name, "
        "dataset='fashion_mnist_subset' (it is never used in CIFAR-10's place)",
    ],
    "fashion_mnist_subset": [
        f"it is cut on first use from the four official Fashion-MNIST files: set {ENV_DATA_DIR}=PATH where PATH (or "
        "PATH/fashion-mnist/) holds them, or allow Keras' download of them (needs network)",
        "or load the full data set with name='fashion_mnist' (see its data_dir / MNAS_DATA_DIR forms)",
    ],
    "fashion_mnist": [
        f"pass data_dir=PATH or set {ENV_DATA_DIR}=PATH, where PATH (or its subfolder fashion-mnist/) holds "
        f"{', '.join(f for pair in FASHION_FILES.values() for f in pair)}",
        "allow the download: keras.utils.get_file fetches them as keras.datasets.fashion_mnist does (needs network; "
        f"or copy the four files to ~/.keras/datasets/fashion-mnist/; unset {ENV_OFFLINE})",
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


def check_name(name: str) -> None:
    """Reject a misspelt name up front, listing the known ones, before any file is touched."""
    if name not in DATASETS:
        raise UserError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")


def locate(name: str, data_dir: PathLike | None) -> Located:
    """Resolve a data set in the documented order, or raise the one not-found error."""
    check_name(name)
    if name in ("synthetic", "fashion_mnist_subset"):
        if data_dir is not None:
            raise UserError(f"{name} is always the same data and takes no data_dir"
                             + ("; use name='fashion_mnist' with data_dir" if name != "synthetic" else ""))
        found = synthetic_found() if name == "synthetic" else _subset()
        if isinstance(found, str):
            raise _not_found(name, [found])
        return found
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        found = _DETECTORS[name](root) if root.exists() else f"{root} does not exist"
        if isinstance(found, str):
            raise _not_found(name, [f"data_dir: {found}"])
        return found
    tried = []
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
            return found
        tried.append(found)
    raise _not_found(name, tried)
