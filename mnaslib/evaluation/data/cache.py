"""Derived files under ``cache_dir()``: decoded arrays, and the content digests that fingerprint a source.

Both are pure speed-ups that can be rebuilt from the source at any time, so nothing here ever fails a load: an
unreadable entry is ignored and recomputed, one that cannot be written costs a warning. Every entry is written under
a temporary name and renamed into place, so a reader (another worker process, an interrupted run) never sees half a
file.

Content digests are cached by each file's stat signature (path, size, modification and change times, inode): a
search that fingerprints its data at every start then reads the files only the first time, and any rewrite of a
file (which changes its change time, which user code cannot set back) invalidates the entry.
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import IO, Callable, Sequence

import numpy as np

from mnaslib.evaluation.data.base import ENV_CACHE_DIR, DatasetNotFoundError, cache_dir, sha256_file

log = logging.getLogger(__name__)

_MANIFEST_FORMAT = "mnaslib-manifest-v1"
# Fingerprint records list each file's sha256 only up to this many files (an image tree may hold thousands).
_MAX_LISTED = 8


def _write_atomically(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write through ``write(binary file)`` to a temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# ------------------------------------------------------------------------------------------------- decoded arrays

def load_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray] | None:
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


def save_split(folder: Path, split: str, x: np.ndarray, y: np.ndarray) -> None:
    """Cache one decoded split (labels first, so a reader that finds the images also finds the labels)."""
    try:
        for key, value in (("y", y), ("x", x)):
            _write_atomically(folder / f"{key}_{split}.npy", lambda f, v=value: np.save(f, v, allow_pickle=False))
    except OSError as exc:
        log.warning("could not write the decode cache %s (%s); set %s to a writable folder to avoid decoding "
                    "again next time", folder, exc, ENV_CACHE_DIR)


# ----------------------------------------------------------------------------------------------- content digests

def _stat_key(paths: Sequence[Path]) -> str:
    """A digest of the files' stat signatures: equal only while no file was replaced or rewritten."""
    key = hashlib.sha256(_MANIFEST_FORMAT.encode())
    for path in paths:
        try:
            st = path.stat()
        except OSError as exc:
            raise DatasetNotFoundError(f"could not read {path}: {exc.strerror or exc}") from exc
        key.update(f"{path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}\n".encode())
    return key.hexdigest()


def manifest(paths: Sequence[Path], root: Path) -> list[tuple[str, str]]:
    """``[(name relative to root, sha256)]`` of each file, from the cache when none of them changed since.

    The names are relative so that the same files in another folder have the same manifest: a fingerprint says what
    the data is, not where it lies.
    """
    names = [p.relative_to(root).as_posix() if p != root else p.name for p in paths]
    entry = cache_dir() / "fingerprints" / f"{_stat_key(paths)[:32]}.txt"
    try:
        lines = [line.split("  ", 1) for line in entry.read_text(encoding="utf-8").splitlines()]
        if [n for _, n in lines] == names and all(len(d) == 64 for d, _ in lines):
            return [(n, d) for d, n in lines]
    except (OSError, ValueError):
        pass  # absent or damaged: recompute
    pairs = [(name, sha256_file(path)) for name, path in zip(names, paths)]
    try:
        _write_atomically(entry, lambda f: f.write("".join(f"{d}  {n}\n" for n, d in pairs).encode()))
    except OSError as exc:
        log.warning("could not cache the digests of %s in %s (%s)", root, entry.parent, exc)
    return pairs


def files_fingerprint(paths: Sequence[Path], root: Path, what: str) -> dict:
    """The fingerprint record of a set of files: the sha256 of their ``sha256sum``-style manifest.

    ``sha256sum <files> | sha256sum`` in ``root`` gives the same digest (names as listed relative to ``root``).
    The record lists each file's own sha256 where there are few, so a stored record can be checked by hand.
    """
    pairs = manifest(paths, root)
    text = "".join(f"{d}  {n}\n" for n, d in pairs)
    record = {"fingerprint": "sha256:" + hashlib.sha256(text.encode()).hexdigest(),
              "fingerprint_of": f"{what}: sha256 of the sha256sum manifest of {len(pairs)} file(s)"}
    if len(pairs) <= _MAX_LISTED:
        record["files"] = dict(pairs)
    return record


def arrays_fingerprint(arrays: dict[str, np.ndarray], what: str) -> dict:
    """The fingerprint record of in-memory arrays: sha256 over each array's name, dtype, shape and bytes."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{a.dtype.str}:{a.shape}\n".encode())
        digest.update(a.tobytes())
    return {"fingerprint": "sha256:" + digest.hexdigest(), "fingerprint_of": f"{what}: the decoded arrays"}
