"""Data sets as numpy arrays, and the record of exactly which data a name resolves to."""
from __future__ import annotations

from typing import Any

from mnaslib.evaluation.data.base import SPLITS, ArraySplit, PathLike, fit_array
from mnaslib.evaluation.data.locate import check_name, locate


def load_dataset(name: str, split: str = "train", data_dir: PathLike | None = None, *,
                 image_size: int | None = None) -> ArraySplit:
    """One split of a data set as numpy arrays (uint8 NHWC images and integer labels) with its source.

    ``split`` is "train" or "test" (the official test split; hold validation out of train with
    ``holdout_split``). ``image_size`` centre-crops and resizes every image to a square of that size (needed for
    image trees whose images differ in size). ImageNet is never materialised: use ``get_datasets``.
    """
    check_name(name)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if image_size is not None and image_size < 1:
        raise ValueError(f"image_size must be a positive number of pixels, got {image_size}")
    found = locate(name, data_dir)
    if found.read is None:
        raise ValueError(f"{name} from {found.source} is streamed by tensorflow-datasets and too large for numpy "
                         f"arrays; use get_datasets() / get_test_dataset()")
    x, y = found.read(split, image_size)
    if image_size is not None and x.shape[1:3] != (image_size, image_size):
        x = fit_array(x, image_size)
    return ArraySplit(x, y, found.class_names, found.source, found.note)


def data_source(name: str, data_dir: PathLike | None = None) -> dict[str, Any]:
    """Exactly which data ``name`` resolves to, with a content fingerprint, as a plain (json-able) dict.

    Keys: ``name``; ``source`` (the same text as ``DatasetInfo.source``); ``kind`` ("path", "download",
    "generated" or "tensorflow-datasets"); ``location`` (the path, or the generator's name); ``fingerprint``
    ("sha256:..."), ``fingerprint_of`` (what it covers) and, for a few files, ``files`` (each file's sha256).

    The fingerprint depends on the content only, not on where it lies, so a search can store it and refuse to
    resume on different data. It is cheap to repeat: file digests are cached beside the decode cache and recomputed
    only when a file changes; only the first call on a source reads every byte of it.
    """
    found = locate(name, data_dir)
    return {"name": name, "source": found.source, "kind": found.kind, "location": found.location,
            **found.fingerprint()}
