"""A run directory: one search's trial store and TensorBoard logs, taken by one search at a time.

``open_run`` is where a search starts or resumes. It takes an exclusive lock on the directory (released by the
operating system when the process dies, even by SIGKILL), so a second search on the same directory is refused with
"another search (pid N) is using DIR" instead of training children twice and corrupting the record; it refuses an
emptied store beside the logs of an earlier run (a truncated file would otherwise restart the search silently); and
it refuses to resume under a config that would change the search.

A search writes only its own files: a symbolic link where its pid note, store or TensorBoard folder should be is
refused before anything is written (a link planted in a shared run directory would otherwise make the search
overwrite whatever the link points to), and the pid note is created exclusively, never through a link.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mnaslib.errors import UserError
from mnaslib.search.store import SIDE_FILES, STORE_FILENAME, StoreError, TrialStore
from mnaslib.search.store_schema import dumps

PID_FILENAME = ".search.pid"
TENSORBOARD_DIR = "tensorboard"
# The config keys a resume may change, the one list of them: the profile's name, how long a search runs and who
# evaluates its children change the schedule, not the search; whether repeats are re-evaluated is a choice of this
# start. Where the same data lies may change between a run and its resume (a moved folder); what it is may not: the
# data's name and content fingerprint are checked, its path and the files' listing are not. Every other key (space,
# strategy, reward, seed, proxy training...) defines the search.
RESUMABLE_KEYS = ("profile", "steps", "executor", "notes", "reevaluate", "data.source", "data.kind", "data.location",
                  "data.files", "data.fingerprint_of")


class RunLocked(StoreError):
    """Another live search holds the run directory."""


class RunLock:
    """An exclusive advisory lock on the run directory itself, which the OS drops when the owning process ends
    however it ends, so a killed search never leaves a stale lock. The owner's pid is noted in ``.search.pid`` for
    the message a second search gets; the note is removed on release, so the directory is left as it was."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.note = run_dir / PID_FILENAME
        self._fd: int | None = None
        self._noted = False

    def acquire(self) -> "RunLock":
        # POSIX locks the directory's own descriptor; Windows cannot open a directory, so it locks the note file
        fd = os.open(self.run_dir, os.O_RDONLY) if os.name != "nt" else os.open(self.note, os.O_RDWR | os.O_CREAT)
        try:
            _lock(fd)
        except OSError:
            os.close(fd)
            owner = self.note.read_text().strip() if self.note.is_file() else "unknown"
            raise RunLocked(f"another search (pid {owner}) is using {self.run_dir}; wait for it to finish, stop it, "
                            f"or use another --run-dir") from None
        self._fd = fd
        if os.name == "nt":
            os.write(fd, str(os.getpid()).encode())
        else:
            try:
                self._write_note()
            except BaseException:
                self.release()
                raise
        return self

    def _write_note(self) -> None:
        """The pid note, created exclusively and never through a link; a note left by a killed search (we hold the
        lock, so its owner is gone) is a plain file and is replaced."""
        refuse_link(self.note)
        self.note.unlink(missing_ok=True)
        fd = os.open(self.note, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with os.fdopen(fd, "w") as note:
            note.write(str(os.getpid()))
        self._noted = True

    def release(self) -> None:
        if self._fd is not None:
            if os.name != "nt" and self._noted and not self.note.is_symlink():
                self.note.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None
            self._noted = False


def _lock(fd: int) -> None:
    if os.name == "nt":
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return
    import fcntl  # flock works on a directory's descriptor (Linux, macOS)

    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def refuse_link(path: Path) -> None:
    """A StoreError when ``path`` is a symbolic link where a search writes a file or folder of its own."""
    if path.is_symlink():
        raise StoreError(f"{path} is a symbolic link (to {os.readlink(path)}); a search writes only its own files: "
                         f"remove the link, or use another --run-dir")


def check_run_files(run_dir: Path) -> None:
    """Refuse a run directory holding a link where the search writes (nothing has been written yet)."""
    for name in (PID_FILENAME, STORE_FILENAME, *(STORE_FILENAME + s for s in SIDE_FILES), TENSORBOARD_DIR):
        refuse_link(run_dir / name)
    logs = run_dir / TENSORBOARD_DIR
    if logs.is_dir():
        for path in logs.rglob("*"):
            refuse_link(path)


def check_run_dir(run_dir: str | os.PathLike[str]) -> Path:
    """``run_dir`` as a path that is, or can become, a directory (it is not created here); an empty name, a file,
    a path under a file, a link to nowhere or a link where the search writes is a clear error."""
    if not str(run_dir).strip():
        raise StoreError("--run-dir is empty; name the directory the search should use (it is created if needed)")
    path = Path(run_dir).expanduser()
    if path.is_symlink() and not path.exists():
        raise StoreError(f"--run-dir {path} is a symbolic link to {os.readlink(path)}, which does not exist; create "
                         "that directory, or remove the link")
    if path.is_dir():
        check_run_files(path)
    if path.exists() and not path.is_dir():
        raise StoreError(f"--run-dir {path} is a file, not a directory; choose a directory (it is created if needed)")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise StoreError(f"--run-dir {path} is under {parent}, which is a file; choose another directory")
            break
    return path


def _flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys; values normalised through JSON so a tuple equals the list it was saved as."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = json.loads(dumps(value, name))
    return flat


def config_differences(stored: Mapping[str, Any], config: Mapping[str, Any],
                       resumable_keys: Iterable[str] = RESUMABLE_KEYS) -> dict[str, tuple[Any, Any]]:
    """Dotted keys whose values differ between two configs, as ``{key: (stored, new)}`` (a missing key shows as the
    string '<missing>'), ignoring keys under any of ``resumable_keys`` (a key matches itself and everything under
    it, so 'workers' covers 'workers.count')."""
    skip = tuple(resumable_keys)
    old, new = _flatten(stored), _flatten(config)
    missing = "<missing>"
    return {key: (old.get(key, missing), new.get(key, missing)) for key in sorted(set(old) | set(new))
            if old.get(key, missing) != new.get(key, missing)
            and not any(key == s or key.startswith(f"{s}.") for s in skip)}


def open_run(run_dir: str | os.PathLike[str], config: Mapping[str, Any],
             resumable_keys: Iterable[str] = RESUMABLE_KEYS, *, lock: bool = True) -> TrialStore:
    """Start a search in ``run_dir`` or resume the one already there, and record this start in ``runs``.

    Resuming under a config that changes the search would mix two experiments in one record, so any difference
    outside ``resumable_keys`` raises a ValueError naming the keys; the stored config is never overwritten. With
    ``lock`` the directory is locked until the store is closed (``store.close()`` releases it).
    """
    resumable_keys = tuple(resumable_keys)
    run_dir = check_run_dir(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    run_lock = RunLock(run_dir).acquire() if lock else None
    try:
        check_run_files(run_dir)  # again under the lock: what was checked before may have changed
        store_path = run_dir / STORE_FILENAME
        if (store_path.is_file() and store_path.stat().st_size == 0
                and any((run_dir / TENSORBOARD_DIR).glob("*"))):
            raise StoreError(f"{store_path} is empty but {run_dir / TENSORBOARD_DIR} holds an earlier run's logs: the "
                             f"store was truncated. Restore it from a backup, or move {run_dir} aside to start anew")
        store = TrialStore(store_path)
        previous = store.runs()
        if previous:
            differences = config_differences(previous[-1]["config"], config, resumable_keys)
            if differences:
                store.close()
                listed = "; ".join(f"{key}: stored {old!r}, now {new!r}" for key, (old, new) in differences.items())
                raise UserError(f"refusing to resume {run_dir}: its search was started with a different config "
                                f"({listed}). Resume with the stored config (see TrialStore.runs()), or start "
                                f"fresh in a new run directory (or move {run_dir} aside). Only "
                                f"{', '.join(resumable_keys) or 'no keys'} may change on resume.")
        store.record_run(config)
    except BaseException:
        if run_lock is not None:
            run_lock.release()
        raise
    store.attach_lock(run_lock)
    return store
