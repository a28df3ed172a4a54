"""``tf.data`` pipelines: the held-out validation split, seeded augmentation, batching and preprocessing.

* **Validation is held out of the training split, never taken from the test split.** The paper holds out 50K
  ImageNet *training* images as the search's reward set and keeps the official validation set for the final numbers;
  a search that tuned itself on the test split would report optimistic accuracies. ``holdout_split`` draws the
  held-out set per class from a seeded generator, so it is class-balanced and identical for the same seed.
* **Preprocessing is float32 in [0, 1]** (pixel / 255), resized bilinearly to ``image_size`` when that differs from
  the stored size, grey repeated to 3 channels by default (mnaslib networks take RGB). A fixed scale needs no
  statistics (statistics computed on the whole train split would leak the held-out images into preprocessing), and
  every mnaslib network starts with conv + batch norm, which absorbs the offset and scale of the input.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mnaslib.evaluation.data.base import DatasetInfo, Located, PathLike
from mnaslib.evaluation.data.locate import locate

if TYPE_CHECKING:
    import tensorflow as tf

# Streamed (tensorflow-datasets) pipelines are cached in memory after decoding and resizing only when the split
# fits in this many bytes: Imagenette does, ImageNet at any useful size does not.
_MAX_CACHE_BYTES = 4 << 30


def _stratified_pick(labels: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of ``count`` items drawn per class in proportion to class size (largest remainder)."""
    classes, sizes = np.unique(labels, return_counts=True)
    quota = count * sizes / len(labels)
    take = np.floor(quota).astype(int)
    for c in np.argsort(-(quota - take), kind="stable")[:count - take.sum()]:
        take[c] += 1
    picked = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, take)]
    return np.sort(np.concatenate(picked))


def holdout_split(labels: np.ndarray, *, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, val)`` of a training split: ``val_size`` images held out, per class, by a seeded draw.

    This is the paper's protocol (a held-out part of the *training* set rewards the search). Stratifying keeps
    small validation sets class-balanced; both index arrays are sorted, disjoint and together cover every image,
    and the same labels, size and seed always give the same split.
    """
    labels = np.asarray(labels)
    if not 1 <= val_size < len(labels):
        raise ValueError(f"val_size must be between 1 and {len(labels) - 1} for {len(labels)} training images, "
                         f"got {val_size}")
    val = _stratified_pick(labels, val_size, np.random.default_rng([seed, 0]))
    train = np.setdiff1d(np.arange(len(labels)), val, assume_unique=True)
    return train, val


def _val_count(n: int, val_fraction: float, val_size: int | None) -> int:
    """How many training images to hold out: ``val_size`` when given, else ``round(val_fraction * n)``."""
    if val_size is None:
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction}")
        val_size = max(1, round(val_fraction * n))
    if not 1 <= val_size < n:
        raise ValueError(f"val_size must be between 1 and {n - 1} for {n} training images, got {val_size}")
    return val_size


def _check_pipeline_args(image_size: int | None, batch_size: int, channels: int | None) -> None:
    """Fail on bad pipeline settings before the (possibly slow) data loading starts."""
    if image_size is not None and image_size < 1:
        raise ValueError(f"image_size must be a positive number of pixels, got {image_size}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be 1, 3 or None (keep the stored channels), got {channels}")


def _augment(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Pad by 1/8 of the side, random-crop back and random-flip: the standard CIFAR augmentation, stateless.

    Stateless ops with per-image seeds from a seeded ``tf.data.Dataset.random`` make the augmentation reproducible
    for a given seed yet different in every epoch.
    """
    import tensorflow as tf

    height, width, depth = image.shape
    pad = max(1, height // 8)
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    padded = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
    image = tf.image.stateless_random_crop(padded, [height, width, depth], seed=crop_seed)
    return tf.image.stateless_random_flip_left_right(image, seed=flip_seed)


def _finish(ds: tf.data.Dataset, *, image_size: int, channels: int | None, batch_size: int, training: bool,
            augment: bool, seed: int, shuffle_buffer: int) -> tf.data.Dataset:
    """Shared tail of every pipeline: shuffle (train), augment, batch, scale/convert/resize, prefetch.

    Images stay uint8 until after batching so the shuffle buffer holds a quarter of the float bytes, and the
    resize runs per batch, after augmentation at the stored size.
    """
    import tensorflow as tf

    if training:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        if augment:
            seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
            ds = tf.data.Dataset.zip((ds, seeds)).map(lambda xy, s: (_augment(xy[0], s), xy[1]),
                                                      num_parallel_calls=tf.data.AUTOTUNE)

    def to_model_input(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        x = tf.cast(images, tf.float32) / 255.0
        if channels == 3 and x.shape[-1] == 1:
            x = tf.image.grayscale_to_rgb(x)
        elif channels == 1 and x.shape[-1] == 3:
            x = tf.image.rgb_to_grayscale(x)
        if tuple(x.shape[1:3]) != (image_size, image_size):
            x = tf.image.resize(x, (image_size, image_size), antialias=True)
        return x, tf.cast(labels, tf.int32)

    ds = ds.batch(batch_size).map(to_model_input, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _array_pipeline(x: np.ndarray, y: np.ndarray, **kwargs: Any) -> tf.data.Dataset:
    """A pipeline over in-memory arrays. No ``.cache()``: the arrays already are the cache, a second copy would
    only double the memory."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y))
    return _finish(ds, shuffle_buffer=max(1, len(y)), **kwargs)


def _stream_pipeline(ds: tf.data.Dataset, count: int, *, image_size: int, **kwargs: Any) -> tf.data.Dataset:
    """A pipeline over a tensorflow-datasets split: decode, fit to a square of ``image_size``, cache if small."""
    import tensorflow as tf

    def fit(image: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        shape = tf.shape(image)
        side = tf.minimum(shape[0], shape[1])
        image = tf.image.crop_to_bounding_box(image, (shape[0] - side) // 2, (shape[1] - side) // 2, side, side)
        image = tf.image.resize(image, (image_size, image_size), antialias=True)
        return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8), label

    ds = ds.map(fit, num_parallel_calls=tf.data.AUTOTUNE)
    if count * image_size * image_size * 3 <= _MAX_CACHE_BYTES:
        ds = ds.cache()
    return _finish(ds, image_size=image_size, shuffle_buffer=min(count, 10_000), **kwargs)


def get_datasets(name: str, *, image_size: int | None = None, batch_size: int = 128, val_fraction: float = 0.1,
                 val_size: int | None = None, seed: int = 0, max_train: int | None = None,
                 max_val: int | None = None, augment: bool = False, channels: int | None = 3,
                 data_dir: PathLike | None = None) -> tuple[tf.data.Dataset, tf.data.Dataset, DatasetInfo]:
    """Training and validation pipelines, the validation images held out of the training split.

    ``val_size`` (a count) overrides ``val_fraction``. ``max_train``/``max_val`` then cap each side by a further
    stratified seeded draw, so the validation set for a seed does not depend on ``max_train``. Batches are
    ``(float32 [B, S, S, C] in [0, 1], int32 [B])`` with ``S = image_size`` (default: the stored size) and ``C =
    channels`` (3 by default, since mnaslib networks take RGB; grayscale is repeated; None keeps the stored
    channels). The train pipeline reshuffles every epoch from ``seed``; ``augment`` adds pad-crop-flip.
    """
    _check_pipeline_args(image_size, batch_size, channels)
    for label, cap in (("max_train", max_train), ("max_val", max_val)):
        if cap is not None and cap < 1:
            raise ValueError(f"{label} must be >= 1 or None, got {cap}")
    found = locate(name, data_dir)
    common = {"channels": channels, "batch_size": batch_size, "augment": augment, "seed": seed}
    if found.read is None:
        return _tfds_datasets(name, found, image_size, val_fraction, val_size, max_train, max_val, common)

    x, y = found.read("train", image_size)
    n_val = _val_count(len(y), val_fraction, val_size)
    train_idx, val_idx = holdout_split(y, val_size=n_val, seed=seed)
    rule = f"val: {n_val:,} of {len(y):,} training images held out per class (seed {seed})"
    if max_train is not None and max_train < len(train_idx):
        train_idx = train_idx[_stratified_pick(y[train_idx], max_train, np.random.default_rng([seed, 1]))]
        rule += f"; train capped at {max_train:,} (class-proportional seeded draw)"
    if max_val is not None and max_val < len(val_idx):
        val_idx = val_idx[_stratified_pick(y[val_idx], max_val, np.random.default_rng([seed, 2]))]
        rule += f"; val capped at {max_val:,} (class-proportional seeded draw)"
    size = image_size or x.shape[1]
    out_channels = channels or x.shape[-1]
    train_ds = _array_pipeline(x[train_idx], y[train_idx], image_size=size, training=True, **common)
    val_ds = _array_pipeline(x[val_idx], y[val_idx], image_size=size, training=False, **common)
    info = DatasetInfo(name, len(found.class_names), found.class_names, (size, size, out_channels), found.source,
                       {"train": len(train_idx), "val": len(val_idx)}, rule, note=found.note)
    return train_ds, val_ds, info


def _tfds_datasets(name: str, found: Located, image_size: int | None, val_fraction: float, val_size: int | None,
                   max_train: int | None, max_val: int | None,
                   common: dict[str, Any]) -> tuple[tf.data.Dataset, tf.data.Dataset, DatasetInfo]:
    """``get_datasets`` for tensorflow-datasets sources, whose images are streamed from disk.

    The held-out set is the first ``val_size`` examples of the tfds train split: tfds shuffles examples when it
    prepares a data set, so that is a fixed pseudo-random draw; the seed orders the training stream only.
    """
    import tensorflow_datasets as tfds

    if image_size is None:
        raise ValueError(f"{name} images differ in size; pass image_size")
    n = found.builder.info.splits["train"].num_examples
    n_val = _val_count(n, val_fraction, val_size)
    n_train = min(max_train or n, n - n_val)
    kept_val = min(max_val or n_val, n_val)
    read_config = tfds.ReadConfig(shuffle_seed=common["seed"])
    train = found.builder.as_dataset(split=f"train[{n_val}:{n_val + n_train}]", as_supervised=True,
                                     shuffle_files=True, read_config=read_config)
    val = found.builder.as_dataset(split=f"train[:{kept_val}]", as_supervised=True)
    channels = common["channels"] or 3
    train_ds = _stream_pipeline(train, n_train, image_size=image_size, training=True, **common)
    val_ds = _stream_pipeline(val, kept_val, image_size=image_size, training=False, **common)
    rule = (f"val: the first {kept_val:,} of the {n:,} examples of tfds' (pre-shuffled) train split; train: the "
            f"next {n_train:,}")
    info = DatasetInfo(name, len(found.class_names), found.class_names, (image_size, image_size, channels),
                       found.source, {"train": n_train, "val": kept_val}, rule, note=found.note)
    return train_ds, val_ds, info


def get_test_dataset(name: str, *, image_size: int | None = None, batch_size: int = 128, channels: int | None = 3,
                     data_dir: PathLike | None = None) -> tuple[tf.data.Dataset, DatasetInfo]:
    """The official test split (ImageNet's validation set) as a pipeline, for final numbers only, never search."""
    _check_pipeline_args(image_size, batch_size, channels)
    found = locate(name, data_dir)
    common = {"channels": channels, "batch_size": batch_size, "augment": False, "seed": 0, "training": False}
    if found.read is None:
        if image_size is None:
            raise ValueError(f"{name} images differ in size; pass image_size")
        split = found.builder.info.splits["validation"]
        ds = _stream_pipeline(found.builder.as_dataset(split="validation", as_supervised=True), split.num_examples,
                              image_size=image_size, **common)
        size, count, out_channels = image_size, split.num_examples, channels or 3
    else:
        x, y = found.read("test", image_size)
        size, count, out_channels = image_size or x.shape[1], len(y), channels or x.shape[-1]
        ds = _array_pipeline(x, y, image_size=size, **common)
    info = DatasetInfo(name, len(found.class_names), found.class_names, (size, size, out_channels), found.source,
                       {"test": count}, "test: the official test split, whole", note=found.note)
    return ds, info
