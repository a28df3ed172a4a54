"""Regenerate the shipped CIFAR-10 subset ``data/cifar10_subset`` from the full offline JPEG archive.

Why a script: the subset is committed to git so that tests and the laptop profile work with no data set-up, and a
reader must be able to check that it is exactly what ``data/README.md`` says. The selection is a fixed rule on the
official order (walk ``train_official_order.txt`` and keep each image while its class has fewer than
``--train-per-class``; the same for test), and the original JPEG bytes are copied unchanged, so every subset image
is byte-identical to the same-named file of the full archive. The tarball is written deterministically (USTAR,
zeroed owners and times, gzip without name or time), so two runs give identical bytes with the same zlib.

Usage::

    python benchmarks/make_cifar10_subset.py --source /path/to/cifar10-jpg [--out data/cifar10_subset]

The output is written to a temporary folder first and moved into place only when complete, so an interrupted
or failing run leaves the previous subset untouched.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mnaslib.data import CIFAR10_CLASSES, JPEG_ARCHIVE, CorruptDatasetError, sha256_file  # noqa: E402

# sha256 of the full archive documented in /work/shared/datasets/README.md: the subset is only the documented
# subset when it is cut from exactly this file.
SOURCE_SHA256 = "d81d7c1e5a399d340a75ff344a0f27772ef3e9388961f0041a5f713adf0a7b1b"



def select(order: list[str], per_class: int) -> list[str]:
    """The first ``per_class`` images of each class in official order, kept in official order.

    Taking a prefix of the official order per class (rather than a random draw) makes the rule checkable by eye
    and independent of any random-number generator.
    """
    counts = dict.fromkeys(CIFAR10_CLASSES, 0)
    chosen = []
    for path in order:
        cls = path.split("/")[-2]
        if cls not in counts:
            raise CorruptDatasetError(f"order file names unknown class {cls!r} in line {path!r}")
        if counts[cls] < per_class:
            counts[cls] += 1
            chosen.append(path)
    short = {c: n for c, n in counts.items() if n < per_class}
    if short:
        raise ValueError(f"not enough images for {per_class} per class: {short}")
    return chosen


def write_tar_gz(path: Path, members: list[tuple[str, bytes]]) -> None:
    """Write ``members`` to a byte-reproducible .tar.gz (fixed metadata, no gzip name or mtime)."""
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                                compresslevel=9) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))


def tar_content_sha256(path: Path) -> str:
    """sha256 of the uncompressed tar stream: stable even where a different zlib compresses differently."""
    digest = hashlib.sha256()
    with gzip.open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def make_subset(source: Path, out: Path, train_per_class: int = 500, test_per_class: int = 100,
                check_source: bool = True) -> dict[str, str]:
    """Cut the subset from ``source`` (a folder with the archive and both order files) into ``out``.

    Returns the sha256 of each written file (and of the uncompressed tar) for the provenance record.
    """
    archive = source / JPEG_ARCHIVE
    orders = {split: source / f"{split}_official_order.txt" for split in ("train", "test")}
    missing = [str(p) for p in (archive, *orders.values()) if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"the source folder must hold {JPEG_ARCHIVE} and both official order files; "
                                f"missing: {', '.join(missing)}")
    if check_source and (digest := sha256_file(archive)) != SOURCE_SHA256:
        raise ValueError(f"{archive} has sha256 {digest}, not the documented {SOURCE_SHA256}; the subset would "
                         f"not be the documented one (pass --any-source to cut it anyway)")
    chosen = {"train": select(orders["train"].read_text().split(), train_per_class),
              "test": select(orders["test"].read_text().split(), test_per_class)}
    wanted = set(chosen["train"]) | set(chosen["test"])
    blobs: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if member.isfile() and member.name in wanted:
                    blobs[member.name] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise CorruptDatasetError(f"could not read {archive}: {exc}") from exc
    absent = wanted - blobs.keys()
    if absent:
        raise CorruptDatasetError(f"{archive} lacks {len(absent)} files named in the order files, "
                                  f"e.g. {sorted(absent)[0]}")

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp makes it private; the subset is meant to be shared like any folder
    try:
        write_tar_gz(staging / JPEG_ARCHIVE, [(p, blobs[p]) for p in chosen["train"] + chosen["test"]])
        for split, paths in chosen.items():
            (staging / f"{split}_official_order.txt").write_text("".join(p + "\n" for p in paths))
        if out.exists():
            for f in staging.iterdir():
                os.replace(f, out / f.name)
            staging.rmdir()
        else:
            staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    digests = {f.name: sha256_file(f) for f in sorted(out.iterdir()) if f.is_file() and f.name != "README.md"}
    digests["uncompressed tar"] = tar_content_sha256(out / JPEG_ARCHIVE)
    return digests


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: cut the subset and print each file's size and sha256 for ``data/README.md``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=os.environ.get("MNAS_DATA_DIR"),
                        help="folder holding cifar10-jpg.tar.gz and the *_official_order.txt files "
                             "(default: $MNAS_DATA_DIR)")
    parser.add_argument("--out", type=Path, default=REPO / "data" / "cifar10_subset")
    parser.add_argument("--train-per-class", type=int, default=500)
    parser.add_argument("--test-per-class", type=int, default=100)
    parser.add_argument("--any-source", action="store_true",
                        help="cut from an archive whose sha256 differs from the documented one")
    args = parser.parse_args(argv)
    if args.source is None:
        parser.error("pass --source or set MNAS_DATA_DIR to the folder with the full CIFAR-10 JPEG archive")
    digests = make_subset(args.source, args.out, args.train_per_class, args.test_per_class,
                          check_source=not args.any_source)
    for name, digest in digests.items():
        path = args.out / name
        size = f"{path.stat().st_size:,} bytes" if path.is_file() else ""
        print(f"{name:28s} {size:>18s}  sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
