"""The official CIFAR-10 python format: a checksum-verified archive, and batches unpickled without running code.

The batches are pickles, and a plain ``pickle.loads`` runs whatever a crafted file asks for (a ``data_batch_1``
whose ``__reduce__`` calls ``os.system`` did, from a folder ``MNAS_DATA_DIR`` pointed at). Two defences, so that
neither alone has to be perfect:

* **Checksums first.** ``cifar-10-python.tar.gz`` must have the official sha256 (the one Keras pins for its
  download; md5 c58f30108f718f92721af3b95e74349a on the CIFAR page), and each file of an extracted
  ``cifar-10-batches-py/`` the official md5 (as published by torchvision), before a byte of it is unpickled.
* **A restricted unpickler.** ``BatchUnpickler`` resolves only the numpy functions that rebuild an array (and the
  latin-1 encoding by which Python 3 pickles bytes at old protocols); lists, dicts, bytes and str need no lookup.
  Any other global (``os.system``, ``builtins.eval``, ...) is refused with a ``CorruptDatasetError``, so even a
  file that matched a checksum by collision cannot run code.
"""
from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from mnaslib.evaluation.data.base import CIFAR10_CLASSES, PYTHON_ARCHIVE, CorruptDatasetError, Located, Reader
from mnaslib.evaluation.data.cache import files_fingerprint, manifest

ARCHIVE_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
BATCHES: dict[str, tuple[str, ...]] = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)),
                                       "test": ("test_batch",)}
BATCH_MD5: dict[str, str] = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f", "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751", "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb", "test_batch": "40351d587109b95175f43aff81a1287e",
}


def _latin1_bytes(text: str, encoding: str) -> bytes:
    """Python 3's pickle of ``bytes`` at protocols 0-2 is ``_codecs.encode(text, "latin1")``: allow that codec only."""
    if encoding != "latin1" or not isinstance(text, str):
        raise pickle.UnpicklingError(f"it asks for _codecs.encode with {encoding!r}, only 'latin1' rebuilds bytes")
    return text.encode("latin1")


def _array_globals() -> dict[tuple[str, str], Any]:
    """The globals a pickled numpy array (and Python 3 bytes) refer to, under the names numpy 1 and 2 write.

    ``_reconstruct`` (protocols 0-4, the official Python 2 batches) and ``_frombuffer`` (protocol 5) are taken from
    a live array's own ``__reduce__`` so that they are whatever this numpy uses, whatever its module layout.
    """
    reconstruct = np.zeros(1).__reduce__()[0]
    frombuffer = np.zeros(1).__reduce_ex__(5)[0]
    allowed: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
                                           ("_codecs", "encode"): _latin1_bytes}
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        allowed[(f"{core}.numeric", "_frombuffer")] = frombuffer
    return allowed


class BatchUnpickler(pickle.Unpickler):
    """Unpickles a CIFAR-10 batch and nothing else: only numpy array reconstruction may be looked up."""

    _ALLOWED = _array_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}, which a CIFAR-10 batch never holds "
                                         f"(refused: unpickling it could run code)") from None


def read_batch(blob: bytes, origin: str) -> tuple[np.ndarray, np.ndarray]:
    """``(images NHWC uint8, labels)`` of one pickled batch; anything else is a ``CorruptDatasetError``.

    A batch is a dict with ``b"data"`` (a uint8 array of N rows of 3,072 bytes: the red, green, blue 32x32 planes)
    and ``b"labels"`` (N ints 0-9), as the official Python 2 pickles hold them.
    """
    try:
        batch = BatchUnpickler(io.BytesIO(blob), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise CorruptDatasetError(f"{origin} is not a CIFAR-10 batch: {exc}") from exc
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        keys = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise CorruptDatasetError(f"{origin} is not a CIFAR-10 batch: expected a dict with b'data' and b'labels', "
                                  f"got {keys}")
    data, labels = batch[b"data"], np.asarray(batch[b"labels"])
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        shape = getattr(data, "shape", None), getattr(data, "dtype", type(data).__name__)
        raise CorruptDatasetError(f"{origin}: b'data' must be a uint8 array of shape (N, 3072), got {shape}")
    if labels.shape != (len(data),) or labels.dtype.kind not in "iu" or (labels.size and not
                                                                         0 <= labels.min() <= labels.max() < 10):
        raise CorruptDatasetError(f"{origin}: b'labels' must be {len(data)} integers 0-9, got shape {labels.shape} "
                                  f"of {labels.dtype}")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels.astype(np.uint8)


def _check_batch_md5(blob: bytes, name: str, origin: str) -> None:
    """Refuse a batch whose md5 is not the official one, before it is unpickled."""
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    if digest != BATCH_MD5[name]:
        raise CorruptDatasetError(f"{origin} has md5 {digest}, not the official {BATCH_MD5[name]}: it is not the "
                                  f"official CIFAR-10 {name}, so it is not unpickled; extract the official "
                                  f"{PYTHON_ARCHIVE} again")


def check_archive(path: Path) -> None:
    """Refuse an archive whose sha256 is not the official one (its digest comes from the fingerprint cache)."""
    digest = dict(manifest([path], path.parent))[path.name]
    if digest != ARCHIVE_SHA256:
        raise CorruptDatasetError(f"{path} has sha256 {digest}, not that of the official {PYTHON_ARCHIVE} "
                                  f"({ARCHIVE_SHA256}, md5 {ARCHIVE_MD5}); download it again from {ARCHIVE_URL} "
                                  f"(a damaged or altered archive is not read, since its batches are pickles)")


def _read_split(files: dict[str, Path | bytes], split: str, origin: Path) -> tuple[np.ndarray, np.ndarray]:
    """One split from its batch files (paths, or bytes already read from the verified archive)."""
    xs, ys = [], []
    for name in BATCHES[split]:
        if name not in files:
            raise CorruptDatasetError(f"{origin} lacks the CIFAR-10 batch file {name}")
        source = files[name]
        if isinstance(source, Path):
            try:
                blob = source.read_bytes()
            except OSError as exc:
                raise CorruptDatasetError(f"could not read {source}: {exc.strerror or exc}") from exc
            _check_batch_md5(blob, name, str(source))
            where = str(source)
        else:
            blob, where = source, f"{origin}: member {name}"
        x, y = read_batch(blob, where)
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


def _archive_members(path: Path) -> dict[str, bytes]:
    """The batch files of a verified archive, by base name, read in memory (the archive is never extracted)."""
    check_archive(path)
    wanted = {n for names in BATCHES.values() for n in names}
    try:
        with tarfile.open(path, "r:gz") as tar:
            return {Path(m.name).name: tar.extractfile(m).read() for m in tar
                    if m.isfile() and Path(m.name).name in wanted}
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise CorruptDatasetError(f"could not read {path} as a .tar.gz ({exc}); download it again from "
                                  f"{ARCHIVE_URL}") from exc


def _python_reader(path: Path) -> Reader:
    """Reader for ``cifar-10-python.tar.gz`` or an extracted ``cifar-10-batches-py`` folder; splits are kept."""
    state: dict[str, Any] = {}

    def read(split: str, fit_size: int | None) -> tuple[np.ndarray, np.ndarray]:
        if split not in state:
            if "files" not in state:
                state["files"] = ({p.name: p for p in path.iterdir() if p.name in BATCH_MD5} if path.is_dir()
                                  else _archive_members(path))
            state[split] = _read_split(state["files"], split, path)
        return state[split]

    return read


def python_found(path: Path, kind: str = "path", via: str = "") -> Located:
    """The official archive (a file) or extracted batches (a folder) as a located source."""
    if path.is_dir():
        files = [path / n for names in BATCHES.values() for n in names]
        return Located(f"official python batches {path}{via}", CIFAR10_CLASSES, kind, str(path),
                       lambda: files_fingerprint(files, path, "the six batch files"), read=_python_reader(path))
    return Located(f"official python archive {path}{via}", CIFAR10_CLASSES, kind, str(path),
                   lambda: files_fingerprint([path], path.parent, "the archive"), read=_python_reader(path))
