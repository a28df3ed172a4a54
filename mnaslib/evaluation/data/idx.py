"""The IDX format (MNIST, Fashion-MNIST and its subset): a checked reader, a reproducible writer.

IDX holds no code, only a big-endian header and raw bytes, so a crafted file can at worst fail to parse. The writer
exists so that the subset is written in the very format the official files use and one reader serves both.
"""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from mnaslib.evaluation.data.base import (FASHION_FILES, FASHION_MNIST_CLASSES, CorruptDatasetError,
                                          DatasetNotFoundError, Located, PathLike, Reader, candidates)
from mnaslib.evaluation.data.cache import files_fingerprint


def read_idx(path: PathLike, ndim: int) -> np.ndarray:
    """Parse a gzipped IDX file of unsigned bytes with ``ndim`` dimensions (the MNIST/Fashion-MNIST format).

    The magic number (0x0000 08 ``ndim``) and the promised size are checked, so a truncated download or the wrong
    file (labels given as images) fails here with the file's name rather than as a reshape error later.
    """
    path = Path(path)
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError as exc:
        raise DatasetNotFoundError(f"{path} does not exist") from exc
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


def write_idx(path: PathLike, array: np.ndarray) -> None:
    """Write a uint8 array as a gzipped IDX file that is byte-reproducible (with the same zlib).

    The gzip header carries no file name and modification time 0, and the level is fixed at 9, so writing the same
    array twice gives the same bytes; ``read_idx`` reads it back exactly.
    """
    array = np.asarray(array)
    if array.dtype != np.uint8 or not 1 <= array.ndim <= 255:
        raise ValueError(f"IDX files here hold uint8 arrays of 1 to 255 dimensions, got {array.dtype} with "
                         f"{array.ndim} dimensions")
    header = (0x0800 | array.ndim).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                                compresslevel=9) as f:
        f.write(header + np.ascontiguousarray(array).tobytes())


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


def fashion_found(folder: Path, source: str, kind: str = "path", note: str = "") -> Located:
    """The Fashion-MNIST IDX files in ``folder`` as a located source, fingerprinted by their four files."""
    files = [folder / f for pair in FASHION_FILES.values() for f in pair]
    return Located(source, FASHION_MNIST_CLASSES, kind, str(folder),
                   lambda: files_fingerprint(files, folder, "the four IDX .gz files"),
                   read=_fashion_reader(folder), note=note)


def detect_fashion(root: Path) -> Located | str:
    """The folder (``root`` or a known subfolder) holding all four IDX files, or why there is none."""
    wanted = [f for pair in FASHION_FILES.values() for f in pair]
    for folder in candidates("fashion_mnist", root):
        present = [f for f in wanted if (folder / f).is_file()]
        if len(present) == len(wanted):
            return fashion_found(folder, f"Fashion-MNIST IDX files in {folder}")
        if present:
            missing = sorted(set(wanted) - set(present))
            return f"{folder} holds only some Fashion-MNIST files; missing {', '.join(missing)}"
    return f"{root} holds no {', '.join(wanted)}"
