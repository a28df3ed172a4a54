"""Image files: image-folder trees (``train/<class>/*.jpg``) and the CIFAR-10 JPEG archive with its order files.

Images are decoded with Pillow, never with ``tf.io.decode_jpeg``: the documented reference hashes of the JPEG
archive were made with Pillow, and other decoders round the chroma upsampling differently. Pillow refuses anything
that is not an image, so these sources cannot run code either.
"""
from __future__ import annotations

import hashlib
import io
import logging
import tarfile
import zlib
from pathlib import Path

import numpy as np

from mnaslib.evaluation.data.base import (CIFAR10_CLASSES, IMAGE_SUFFIXES, JPEG_NOTE, SPLITS, CorruptDatasetError,
                                          DatasetNotFoundError, Located, Reader, cache_dir, candidates, fit_image,
                                          label_dtype, read_lines)
from mnaslib.evaluation.data.cache import files_fingerprint, load_split, manifest, save_split

log = logging.getLogger(__name__)

_CACHE_FORMAT = "mnaslib-cifar10-jpg-v1"


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


def _tree_files(root: Path) -> list[Path]:
    """Every image of the tree's splits, in the order the reader reads them (split, class folder, file name)."""
    files = []
    for split in SPLITS:
        split_dir = _tree_split_dir(root, split)
        if split_dir is not None:
            for d in sorted(p for p in split_dir.iterdir() if p.is_dir()):
                files += _list_images(d)
    return files


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
                rgb = fit_image(rgb, fit_size)
            elif images and rgb.size != images[0].shape[1::-1]:
                raise ValueError(f"images in {root} differ in size ({files[0][0]} is {images[0].shape[1]}x"
                                 f"{images[0].shape[0]}, {path} is {rgb.size[0]}x{rgb.size[1]}); pass image_size "
                                 f"to crop and resize them to one size")
            images.append(np.asarray(rgb))
        y = np.array([label for _, label in files], label_dtype(len(class_names)))
        return np.stack(images), y

    return read


def detect_tree(name: str, root: Path, class_names: tuple[str, ...] | None) -> Located | None:
    """An image-folder tree at ``root`` or a known subfolder; class names fixed (CIFAR-10) or the sorted folders."""
    for folder in candidates(name, root):
        train = folder / "train"
        if train.is_dir():
            names = class_names or tuple(sorted(p.name for p in train.iterdir() if p.is_dir()))
            return Located(f"image-folder tree {folder}", names, "path", str(folder),
                           lambda f=folder: files_fingerprint(_tree_files(f), f, "every image file of the tree"),
                           read=_tree_reader(folder, names))
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
    """Decode one split's ``<split>/<class>/<file>`` images, in official order where it is known.

    Without an order file the split is sorted by class then name. Only the requested split is decoded, since a run
    that never evaluates on test should not pay for it.
    """
    from PIL import Image, UnidentifiedImageError

    order = read_lines(order_file) if order_file is not None else None
    blobs = _read_tar_images(archive, split)
    if not blobs:
        raise DatasetNotFoundError(f"{archive} holds no {split}/<class>/ images")
    for name in blobs:
        if name.split("/")[-2] not in CIFAR10_CLASSES:
            raise CorruptDatasetError(f"{archive}: member {name} is in class folder {name.split('/')[-2]!r}, not "
                                      f"one of the CIFAR-10 classes {list(CIFAR10_CLASSES)}")
    if order is not None:
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


def _jpeg_files(archive: Path) -> list[Path]:
    """The archive and the order files beside it: what its decoded arrays depend on."""
    orders = [archive.parent / f"{s}_official_order.txt" for s in SPLITS]
    return [archive] + [p for p in orders if p.is_file()]


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
            digests = dict(manifest(_jpeg_files(archive), archive.parent))
            key = hashlib.sha256(_CACHE_FORMAT.encode())
            key.update(digests[archive.name].encode())
            for split, path in sorted(order_files.items()):
                key.update(f"{split}:{digests[path.name]}".encode())
            key.update(PIL.__version__.encode())
            state["folder"] = cache_dir() / f"cifar10-jpg-{key.hexdigest()[:24]}"
        return state["folder"]

    def read(split: str, fit_size: int | None) -> tuple[np.ndarray, np.ndarray]:
        cached = load_split(folder(), split)
        if cached is not None:
            return cached
        log.info("decoding the %s split of %s once (about 10 s for the full train split); cache: %s", split,
                 archive, folder())
        x, y = _decode_jpeg_split(archive, split, order_files.get(split))
        save_split(folder(), split, x, y)
        return x, y

    return read


def jpeg_found(archive: Path) -> Located:
    """A located JPEG archive, saying whether the official order files were beside it."""
    ordered = all((archive.parent / f"{s}_official_order.txt").is_file() for s in SPLITS)
    order = "official order" if ordered else "no official order files: sorted by class and name"
    return Located(f"JPEG archive {archive} ({order})", CIFAR10_CLASSES, "path", str(archive),
                   lambda: files_fingerprint(_jpeg_files(archive), archive.parent, "the archive and its order files"),
                   read=_jpeg_reader(archive), note=JPEG_NOTE)
