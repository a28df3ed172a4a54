"""The small Fashion-MNIST subset of the ``ci`` profile and the tests, cut on first use from the official files.

Why cut, not shipped: the repository redistributes no data it did not make, so the subset is derived where it is
used, from the four official IDX files found the usual way (``MNAS_DATA_DIR``, else Keras' download), into the cache
(``cache_dir()/fashion_mnist_subset``). The selection is a fixed rule on the official order: the first 500 training
and 100 test images of every class, kept in official order, no random numbers. The files are written as IDX in gzip
with a fixed header (no name, time 0, level 9), under the official names, so one reader serves the subset and the
full set and two cuts give byte-identical files (with the same zlib); ``data/README.md`` records their checksums.
The source files are checked against their official md5 and sha256 before they are read, and the cut is written to
a temporary folder first and moved into place only when complete.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from mnaslib.evaluation.data.base import (FASHION_FILES, FASHION_MNIST_CLASSES, SUBSET_PER_CLASS, CorruptDatasetError,
                                          cache_dir, sha256_file)
from mnaslib.evaluation.data.idx import read_idx, write_idx


def subset_dir() -> Path:
    """Where the subset is cut to and read from: ``cache_dir()/fashion_mnist_subset``."""
    return cache_dir() / "fashion_mnist_subset"


def is_complete(folder: Path) -> bool:
    """Whether ``folder`` holds all four IDX files of a finished cut (a cut is moved into place only when whole)."""
    return all((folder / f).is_file() for pair in FASHION_FILES.values() for f in pair)


# The official files: md5 as published in the Fashion-MNIST README (zalandoresearch/fashion-mnist), sha256 as
# documented for the same files in shared/datasets/README.md.
OFFICIAL: dict[str, tuple[str, str]] = {
    "train-images-idx3-ubyte.gz": ("8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                                   "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
    "train-labels-idx1-ubyte.gz": ("25c81989df183df01b3e8a0aad5dffbe",
                                   "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
    "t10k-images-idx3-ubyte.gz": ("bef4ecab320f06d8554ea6380940ec79",
                                  "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
    "t10k-labels-idx1-ubyte.gz": ("bb300cfdad3c16e7a12a480ee83cd310",
                                  "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
}

# The licence file of zalandoresearch/fashion-mnist (commit 5e60fd2944e1f66c76303eebaebd6167d1ae1231), verbatim.
LICENSE = (
    "The MIT License (MIT) Copyright © 2017 Zalando SE, https://tech.zalando.com\n\n"
    "Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated "
    "documentation files (the “Software”), to deal in the Software without restriction, including without "
    "limitation the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the "
    "Software, and to permit persons to whom the Software is furnished to do so, subject to the following "
    "conditions:\n\n"
    "The above copyright notice and this permission notice shall be included in all copies or substantial portions "
    "of the Software.\n\n"
    "THE SOFTWARE IS PROVIDED “AS IS”, WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED "
    "TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE "
    "AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF "
    "CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER "
    "DEALINGS IN THE SOFTWARE.\n"
)

# Every cut is byte-identical to the ones before it (data/README.md records its size and sha256), so the notice
# keeps the name its cutter had when the subset was defined (now mnaslib.evaluation.data.subset).
NOTICE = """\
This folder holds a subset of Fashion-MNIST, redistributed under the MIT licence in LICENSE.

Fashion-MNIST: Copyright © 2017 Zalando SE, https://tech.zalando.com
Source: https://github.com/zalandoresearch/fashion-mnist (the official IDX files, checked by md5 and sha256).
Please cite: Han Xiao, Kashif Rasul, Roland Vollgraf. Fashion-MNIST: a Novel Image Dataset for Benchmarking
Machine Learning Algorithms. arXiv:1708.07747, 2017.

What was changed: images and labels were selected, not altered. The files hold the first {train} training and the
first {test} test images of each of the 10 classes in official order, kept in official order ({n_train:,} and
{n_test:,} images), written as IDX files under the official names (gzip without file name, time 0, level 9) by
mnaslib.data.subset. This subset is not Fashion-MNIST: accuracies on it
are not Fashion-MNIST accuracies.
"""


def check_source(folder: Path) -> dict[str, Path]:
    """The four official files in ``folder``, each checked against its official md5 and sha256 before it is read."""
    paths = {name: folder / name for name in OFFICIAL}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"the source folder must hold the four official Fashion-MNIST files; missing: "
                                f"{', '.join(missing)}")
    for name, path in paths.items():
        md5 = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
        sha256 = sha256_file(path)
        if (md5, sha256) != OFFICIAL[name]:
            raise ValueError(f"{path} has md5 {md5} / sha256 {sha256}, not the official {OFFICIAL[name][0]} / "
                             f"{OFFICIAL[name][1]}; use the official files (Debian's dataset-fashion-mnist package "
                             f"holds the same data with a different gzip header, and so different checksums)")
    return paths


def select(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Positions of the first ``per_class`` images of each class, in official order."""
    counts = np.bincount(labels, minlength=len(FASHION_MNIST_CLASSES))
    if labels.max() >= len(FASHION_MNIST_CLASSES) or counts.min() < per_class:
        raise CorruptDatasetError(f"cannot take {per_class} images of each class from labels counted {counts}")
    return np.sort(np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(len(counts))]))


def payload_sha256(path: Path) -> str:
    """sha256 of a .gz file's uncompressed content: the same data even where another zlib compresses differently."""
    with gzip.open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def make_subset(source: Path, out: Path, train_per_class: int = SUBSET_PER_CLASS["train"],
                test_per_class: int = SUBSET_PER_CLASS["test"]) -> dict[str, str]:
    """Cut the subset from the official files in ``source`` into ``out``; returns each written file's sha256.

    For the .gz files the sha256 of the uncompressed IDX content is returned too, under ``"<name> content"``.
    """
    paths = check_source(source)
    per_class = {"train": train_per_class, "test": test_per_class}
    arrays: dict[str, np.ndarray] = {}
    for split, (image_name, label_name) in FASHION_FILES.items():
        images, labels = read_idx(paths[image_name], 3), read_idx(paths[label_name], 1)
        keep = select(labels, per_class[split])
        arrays[image_name], arrays[label_name] = images[keep], labels[keep]

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp makes it private; the subset is meant to be shared like any folder
    try:
        for name, array in arrays.items():
            write_idx(staging / name, array)
        (staging / "LICENSE").write_text(LICENSE, encoding="utf-8")
        (staging / "NOTICE").write_text(NOTICE.format(train=train_per_class, test=test_per_class,
                                                      n_train=10 * train_per_class, n_test=10 * test_per_class),
                                        encoding="utf-8")
        if out.exists():
            for f in staging.iterdir():
                os.replace(f, out / f.name)
            staging.rmdir()
        else:
            staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    digests = {}
    for name in [*arrays, "LICENSE", "NOTICE"]:
        digests[name] = sha256_file(out / name)
        if name.endswith(".gz"):
            digests[f"{name} content"] = payload_sha256(out / name)
    return digests


