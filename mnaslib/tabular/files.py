"""Where a benchmark's data file comes from: a path, an environment variable, or a download checked by sha256.

Benchmark files are not part of this repository (their licences ask that the attribution travel with every copy,
and the project does not redistribute them). ``BenchmarkFile.locate`` finds one, first match wins:

1. ``path`` given by the caller (the file itself, or a folder holding it): strict, an explicit path that does not
   hold the file is an error rather than a silent fallback;
2. the file's environment variable (a file or a folder), then ``MNAS_BENCHMARK_DIR`` (a folder holding one
   subfolder per benchmark, like ``../shared/benchmarks/``);
3. the download cache (``$MNAS_CACHE_DIR/benchmarks``, default ``~/.cache/mnaslib/benchmarks``);
4. a download from the file's public address into that cache, unless ``MNAS_OFFLINE`` is set.

Every file found or downloaded is checked against its published sha256 before it is read; a mismatch names the file
and both digests and never deletes what the user supplied. The error when nothing works lists what was tried and
every way to provide the file.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable

from mnaslib.errors import UserError

ENV_BENCHMARK_DIR = "MNAS_BENCHMARK_DIR"
ENV_CACHE_DIR = "MNAS_CACHE_DIR"
ENV_OFFLINE = "MNAS_OFFLINE"
DOWNLOAD_TIMEOUT_S = 60.0


class BenchmarkNotFoundError(FileNotFoundError):
    """No copy of a benchmark file could be found or downloaded; the message says what was tried and how to fix it."""


class BenchmarkChecksumError(UserError):
    """A benchmark file exists but its sha256 is not the published one (a different version, or damaged)."""


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def offline() -> bool:
    """Whether ``MNAS_OFFLINE`` forbids downloads (any value but empty, 0, false, no)."""
    return os.environ.get(ENV_OFFLINE, "").strip().lower() not in ("", "0", "false", "no")


def cache_root() -> Path:
    """``$MNAS_CACHE_DIR/benchmarks`` (default ``~/.cache/mnaslib/benchmarks``): downloads land here."""
    return Path(os.environ.get(ENV_CACHE_DIR) or Path.home() / ".cache" / "mnaslib").expanduser() / "benchmarks"


@dataclass(frozen=True)
class BenchmarkFile:
    """One published data file: its name, checksum, public address, licence and the variable that points at it.

    ``folder`` is the benchmark's subfolder name under ``MNAS_BENCHMARK_DIR`` (and in ``../shared/benchmarks``).
    """

    benchmark: str
    folder: str
    filename: str
    sha256: str
    url: str
    env_var: str
    licence: str
    citation: str

    def _in(self, location: Path) -> Path:
        """``location`` itself if it is a file, else the file inside the folder ``location``."""
        return location if location.is_file() else location / self.filename

    def locate(self, path: str | os.PathLike | None = None, *, download: bool = True) -> Path:
        """The checked local copy of the file (see the module docstring for the order)."""
        if path is not None:
            candidate = self._in(Path(path).expanduser())
            if not candidate.is_file():
                raise BenchmarkNotFoundError(f"{self.benchmark}: {path} is not {self.filename} and holds no such file; "
                                             f"{self._advice()}")
            return self._checked(candidate)
        tried = []
        for variable, location in self._configured():
            candidate = self._in(location)
            if candidate.is_file():
                return self._checked(candidate)
            tried.append(f"${variable}={location} (no {self.filename})")
        cached = cache_root() / self.folder / self.filename
        if cached.is_file():
            return self._checked(cached)
        tried.append(f"the download cache {cached} (empty)")
        if download and not offline():
            return self._download(cached, tried)
        tried.append(f"no download (${ENV_OFFLINE} is set)" if offline() else "no download (not asked)")
        raise BenchmarkNotFoundError(f"{self.benchmark}: {self.filename} not found; tried {'; '.join(tried)}. "
                                     f"{self._advice()}")

    def _configured(self) -> list[tuple[str, Path]]:
        locations = []
        if os.environ.get(self.env_var):
            locations.append((self.env_var, Path(os.environ[self.env_var]).expanduser()))
        if os.environ.get(ENV_BENCHMARK_DIR):
            locations.append((ENV_BENCHMARK_DIR, Path(os.environ[ENV_BENCHMARK_DIR]).expanduser() / self.folder))
        return locations

    def _advice(self) -> str:
        return (f"Point ${self.env_var} at the file (or its folder), or ${ENV_BENCHMARK_DIR} at a folder with a "
                f"'{self.folder}/' subfolder, or let mnaslib download it from {self.url} (needs network; "
                f"sha256 {self.sha256[:12]}...). Licence: {self.licence}.")

    def _checked(self, path: Path) -> Path:
        actual = sha256_file(path)
        if actual != self.sha256:
            raise BenchmarkChecksumError(f"{self.benchmark}: {path} has sha256 {actual}, the published file has "
                                         f"{self.sha256}; it is another version or damaged. Replace it with the file "
                                         f"from {self.url}")
        return path

    def _download(self, target: Path, tried: list[str]) -> Path:
        """Download into a temporary file beside ``target``, check it, then rename it into place."""
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{self.filename}.", suffix=".partial")
        try:
            with os.fdopen(handle, "wb") as out, urllib.request.urlopen(self.url, timeout=DOWNLOAD_TIMEOUT_S) as src:
                shutil.copyfileobj(src, out)
            self._checked(Path(partial))
            os.replace(partial, target)
        except (OSError, ValueError) as err:
            Path(partial).unlink(missing_ok=True)
            tried.append(f"download from {self.url} failed ({type(err).__name__}: {err})")
            raise BenchmarkNotFoundError(f"{self.benchmark}: {self.filename} not found; tried {'; '.join(tried)}. "
                                         f"{self._advice()}") from None
        return target


def write_atomically(target: Path, write: Callable[[IO], None], binary: bool = False) -> None:
    """Write through ``write(handle)`` into a temporary file beside ``target``, then rename it into place: a
    concurrent reader never sees half a file, and a failed write leaves no partial one (for cached, derived files)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb" if binary else "w") as out:
            write(out)
        os.replace(partial, target)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
