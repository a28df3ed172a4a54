"""Cut the Fashion-MNIST subset of the ``ci`` profile from the four official IDX files, and print its checksums.

``mnaslib.evaluation.data`` does this itself on first use (``mnaslib.evaluation.data.subset``); this script cuts it into
a folder of your choice and prints each file's size and sha256, the values ``data/README.md`` records::

    python benchmarks/make_fashion_mnist_subset.py --source /path/to/fashion-mnist --out /tmp/subset
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mnaslib.evaluation.data import SUBSET_PER_CLASS
from mnaslib.evaluation.data.subset import make_subset, subset_dir

def main(argv: list[str] | None = None) -> int:
    """Command-line entry: cut the subset and print each file's size and sha256 for ``data/README.md``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=os.environ.get("MNAS_DATA_DIR"),
                        help="folder holding the four official Fashion-MNIST .gz files, or a folder with a "
                             "fashion-mnist/ subfolder holding them (default: $MNAS_DATA_DIR)")
    parser.add_argument("--out", type=Path, default=subset_dir())
    parser.add_argument("--train-per-class", type=int, default=SUBSET_PER_CLASS["train"])
    parser.add_argument("--test-per-class", type=int, default=SUBSET_PER_CLASS["test"])
    args = parser.parse_args(argv)
    if args.source is None:
        parser.error("pass --source or set MNAS_DATA_DIR to the folder with the official Fashion-MNIST files")
    source = args.source / "fashion-mnist" if (args.source / "fashion-mnist").is_dir() else args.source
    digests = make_subset(source, args.out, args.train_per_class, args.test_per_class)
    for name, digest in digests.items():
        path = args.out / name
        size = f"{path.stat().st_size:,} bytes" if path.is_file() else ""
        print(f"{name:36s} {size:>16s}  sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
