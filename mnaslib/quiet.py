"""Keep TensorFlow's start-up and conversion chatter out of what a user reads, without hiding real errors.

``mnaslib/__init__.py`` imports this module first, so the environment is set before anything in mnaslib imports
TensorFlow: in the ``mnas`` command, in notebook kernels (the notebooks import mnaslib before TensorFlow) and in the
worker processes, which inherit it. Every variable is only a default: one the user set keeps its value. A program that
imports TensorFlow *before* mnaslib has already printed the lines, and nothing here can take them back.

What each line is and what silences it at its source (TensorFlow 2.21, checked on x86-64 Linux):

* ``I... cpu_feature_guard.cc] This TensorFlow binary is optimized to use available CPU instructions ...`` and the
  converter's ``I``/``W`` lines (``Reading SavedModel from``, ``Ignored output_format`` ...) are C++ INFO and WARNING
  logs: ``TF_CPP_MIN_LOG_LEVEL=2`` drops them and still shows ERROR and FATAL.
* ``I0000 ... port.cc] oneDNN custom operations are on ...`` (printed twice, once per library that links it) is
  logged while TensorFlow loads, before it applies ``TF_CPP_MIN_LOG_LEVEL``, so not even level 3 removes it, and
  ``E0000 ... oneDNN supports DT_INT32 only on platforms with AVX-512. Falling back ...`` (CPUs without AVX-512) is at
  ERROR level, which only level 3 would hide, together with every real error. Both come from the oneDNN custom ops;
  ``TF_ENABLE_ONEDNN_OPTS=0`` switches those off, and with them the lines and absl's ``WARNING: All log messages
  before absl::InitializeLog() is called are written to STDERR``, which is printed only in front of such early lines.
  Off, training runs TensorFlow's default (Eigen) kernels, whose sums differ from oneDNN's in the last bits (the
  line itself warns of "slightly different numerical results"). Latency is measured in LiteRT, which the ops never
  touch (MnasNet-A1's TFLite file converts byte-identical with them on and off); what off costs a proxy child's
  training is measured by ``benchmarks/child_throughput.py`` (its ``kernel`` and ``worker`` arms; the figures
  measured so far are in ``docs/architecture.md``, "Measured costs").
  ``TF_ENABLE_ONEDNN_OPTS=1`` set before mnaslib is imported keeps them, and their lines.
* Worker processes (``executor: process``) train children and print nowhere a user reads, so they run oneDNN's
  kernels, which are faster where the CPU has AVX-512 (``benchmarks/child_throughput.py``),
  at ``TF_CPP_MIN_LOG_LEVEL=3`` (a worker's failures reach the search as Python exceptions with their messages),
  and import TensorFlow with its standard error pointed at the null device, which drops the load-time lines that no
  log level reaches (``worker_environment``, ``import_tensorflow_silently``). A value the user set wins here too.
* ``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.`` is printed by LiteRT's C++ logger, which no
  variable reaches, when an interpreter applies its default delegate; ``latency.runtime.interpreter`` creates
  interpreters inside ``native_stderr_silenced`` (a failure still raises its Python exception).
* ``INFO:tensorflow:Assets written to: ...`` (twice per TFLite conversion in Jupyter) comes from TensorFlow's Python
  logger, which sets itself to INFO in an interactive session; ``tensorflow_info_silenced`` holds it at WARNING while
  mnaslib itself saves and converts a model, and leaves it alone everywhere else.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import Any, Iterator

DEFAULTS = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}
WORKER_DEFAULTS = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "1"}
PROGRESS_VARIABLE = "MNAS_PROGRESS"  # "text": plain-text progress bars (progress_bar)
USER_SET = frozenset(name for name in DEFAULTS if name in os.environ)  # read before the defaults are applied

for _name, _value in DEFAULTS.items():
    os.environ.setdefault(_name, _value)


def worker_environment() -> dict[str, str]:
    """The TensorFlow settings for a worker process this one starts: ``WORKER_DEFAULTS`` except what the user set
    (a worker inherits this process's environment, where mnaslib's defaults and the user's values look alike)."""
    return {name: os.environ[name] if name in USER_SET else value for name, value in WORKER_DEFAULTS.items()}


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 on the null device for the block, then restored: for lines that C++ libraries print
    straight to it, which no Python logger or log level reaches. Python exceptions raised inside still propagate
    with their messages."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def import_tensorflow_silently() -> None:
    """Import TensorFlow with its standard error on the null device: for worker processes, whose load-time oneDNN
    lines would otherwise reach the user's terminal. An import error is still raised."""
    if "tensorflow" in sys.modules:
        return
    with native_stderr_silenced():
        import tensorflow  # noqa: F401


def progress_bar(*args: Any, **kwargs: Any):
    """A tqdm bar: the notebook widget in an interactive session, plain text where ``MNAS_PROGRESS=text``.

    A notebook executed headless (``mnas reproduce``, papermill) saves a widget bar as its first frame, "0/320"
    for good, because nothing renders the widget's later states; a text bar writes each state to the cell's
    output stream, so the saved notebook shows how far it went. ``reproduce.run_notebook`` sets the variable for
    the kernels it starts.
    """
    if os.environ.get(PROGRESS_VARIABLE) == "text":
        from tqdm.std import tqdm
    else:
        from tqdm.auto import tqdm
    return tqdm(*args, **kwargs)


@contextlib.contextmanager
def tensorflow_info_silenced() -> Iterator[None]:
    """TensorFlow's Python logger at WARNING or above for the block (its INFO lines dropped), as it was afterwards.

    Also usable as a decorator. Warnings and errors still show; only mnaslib's own conversions use it, so the INFO
    lines of a user's own TensorFlow code are untouched.
    """
    import tensorflow as tf

    logger = tf.get_logger()  # the first call configures it (INFO in Jupyter), so take it before changing the level
    previous = logger.level
    logger.setLevel(max(previous, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(previous)
