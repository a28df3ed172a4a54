"""Data sets for the proxy task and for full training: numpy arrays, seeded ``tf.data`` pipelines, and their sources.

Decisions, and why:

* **Every number says where its data came from.** Sources are tried in a fixed, documented order (below); the
  ``source`` of the returned ``DatasetInfo``/``ArraySplit`` names the path or download actually used, and
  ``data_source(name)`` adds a content fingerprint that a search can store and check before it resumes.
* **Nothing is used in another data set's place.** When no CIFAR-10 is found the call fails with the ways to
  provide it; the small Fashion-MNIST subset (cut on first use from the official files) is used only when asked for
  by its name ``fashion_mnist_subset``, and says so in its source and note.
* **Data cannot run code.** The official CIFAR-10 python format is a pickle: its archive and batch files are
  checked against the official checksums and unpickled by a loader that can rebuild numpy arrays and nothing else
  (``pickled.py``). Every other format is parsed (IDX, images), never executed.
* **Bad input gets one clear error and loses nothing.** A missing data set raises one ``DatasetNotFoundError`` that
  lists what was looked at and every way to provide the data; a damaged file raises ``CorruptDatasetError`` naming
  it. Nothing the user supplied is ever modified; caches are written under temporary names and renamed into place.

Where ``cifar10`` comes from, first match wins:

1. ``data_dir`` (an explicit argument is strict: if it holds no CIFAR-10 the call fails), then the environment
   variable ``MNAS_DATA_DIR`` (a miss is reported and passed). Either may be, or contain a subfolder
   ``cifar10-jpg/``, ``cifar10/`` or ``cifar-10/`` that is:
   a. an image-folder tree ``train/<class>/*.jpg|*.png`` (optionally ``test/`` or ``val/``), class folders named
      as in ``CIFAR10_CLASSES``;
   b. the JPEG archive ``cifar10-jpg.tar.gz`` with ``train_official_order.txt``/``test_official_order.txt`` beside
      it (the official image order when present). Decoding takes ~10 s, so the decoded arrays are cached as .npy
      under ``MNAS_CACHE_DIR`` (default ``~/.cache/mnaslib``), keyed by the sha256 of the archive, the order files
      and the Pillow version;
   c. the official ``cifar-10-python.tar.gz`` (sha256-checked) or its extracted ``cifar-10-batches-py/`` (each batch
      md5-checked).
2. Keras' download of the official archive into ``~/.keras/datasets`` (needs network; ``MNAS_OFFLINE=1`` skips every
   download), checked and read like 1c.

``fashion_mnist`` reads the four official IDX ``.gz`` files from ``data_dir``/``MNAS_DATA_DIR`` (or their
``fashion-mnist/`` subfolder), else downloads them where ``keras.datasets.fashion_mnist`` does.
``fashion_mnist_subset`` is 500 train and 100 test images per class cut from those official files into the cache on
first use (``mnaslib.evaluation.data.subset``; its checksums are in ``data/README.md``). ``imagenet`` is prepared by
tensorflow-datasets (``imagenet2012``, with ``data_dir``/``MNAS_DATA_DIR`` as the manual download folder) and is only
streamed, never materialised as arrays. ``imagenette`` is an image-folder tree or tensorflow-datasets'
``imagenette/160px``. ``synthetic`` is generated in memory, for tests and smoke runs.
"""
from mnaslib.evaluation.data.api import data_source, load_dataset
from mnaslib.evaluation.data.base import (CIFAR10_CLASSES, DATASETS, ENV_CACHE_DIR, ENV_DATA_DIR, ENV_OFFLINE,
                                          FASHION_FILES, FASHION_MNIST_CLASSES, IMAGE_SUFFIXES, JPEG_ARCHIVE, JPEG_NOTE,
                                          PREPROCESSING, PYTHON_ARCHIVE, PYTHON_DIR, SPLITS, SUBDIRS, SUBSET_NOTE,
                                          SUBSET_PER_CLASS, ArraySplit, CorruptDatasetError, DatasetInfo,
                                          DatasetNotFoundError, Reader, cache_dir, sha256_file)
from mnaslib.evaluation.data.idx import read_idx, write_idx
from mnaslib.evaluation.data.locate import IMAGENETTE_TFDS
from mnaslib.evaluation.data.pickled import read_batch
from mnaslib.evaluation.data.pipelines import get_datasets, get_test_dataset, holdout_split
from mnaslib.evaluation.data.subset import subset_dir
from mnaslib.evaluation.data.synthetic import SYNTHETIC_CLASSES, SYNTHETIC_SIZES

__all__ = [
    "ArraySplit", "CIFAR10_CLASSES", "CorruptDatasetError", "DATASETS", "DatasetInfo", "DatasetNotFoundError",
    "ENV_CACHE_DIR", "ENV_DATA_DIR", "ENV_OFFLINE", "FASHION_FILES", "FASHION_MNIST_CLASSES", "IMAGENETTE_TFDS",
    "IMAGE_SUFFIXES", "JPEG_ARCHIVE", "JPEG_NOTE", "PREPROCESSING", "PYTHON_ARCHIVE", "PYTHON_DIR", "Reader", "SPLITS",
    "SUBDIRS", "SUBSET_NOTE", "SUBSET_PER_CLASS", "SYNTHETIC_CLASSES", "SYNTHETIC_SIZES", "cache_dir",
    "data_source", "get_datasets", "get_test_dataset", "holdout_split", "load_dataset", "read_batch", "read_idx",
    "sha256_file", "subset_dir", "write_idx",
]
