"""The LiteRT runtime both host timers share: an interpreter with random inputs, pinning, timed invocations, and
what identifies the machine.

``host.measure_tflite`` (whole networks, wall or thread-CPU clock) and ``layer_table.PairedTimer`` (layers against an
interleaved reference) time the same way underneath: one interpreter thread, random batch-1 inputs (latency does not
depend on the values), the garbage collector paused while timing, the thread pinned to one core.
"""
from __future__ import annotations

import contextlib
import gc
import os
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from mnaslib.quiet import native_stderr_silenced


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def runtime_label() -> str:
    """``LiteRT 2.3.0`` (or ``tf.lite 2.21.0`` where LiteRT is not installed)."""
    try:
        import ai_edge_litert  # noqa: F401
    except ImportError:
        import tensorflow as tf

        return f"tf.lite {tf.__version__}"
    return f"LiteRT {package_version('ai-edge-litert') or 'unknown version'}"


def interpreter(flatbuffer: bytes, num_threads: int = 1, seed: int = 0) -> tuple[Any, list[dict[str, Any]]]:
    """A LiteRT interpreter (``tf.lite``'s where LiteRT is missing) with every input filled with random values of
    its dtype; returns it and its input details."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    with native_stderr_silenced():  # LiteRT's "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
        loaded = Interpreter(model_content=flatbuffer, num_threads=num_threads)
        loaded.allocate_tensors()
    rng = np.random.default_rng(seed)
    inputs = loaded.get_input_details()
    for detail in inputs:
        shape, dtype = tuple(detail["shape"]), np.dtype(detail["dtype"])
        if np.issubdtype(dtype, np.floating):
            value = rng.standard_normal(shape).astype(dtype)
        elif np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            value = rng.integers(max(info.min, -128), min(info.max, 255), size=shape, endpoint=True, dtype=dtype)
        else:
            raise TypeError(f"cannot make random input of dtype {dtype} for input {detail['name']!r}")
        loaded.set_tensor(detail["index"], value)
    return loaded, inputs


def cpu_ms(loaded: Any) -> float:
    """One invocation's thread CPU time in ms (with one interpreter thread, the inference's own compute time)."""
    start = time.thread_time_ns()
    loaded.invoke()
    return (time.thread_time_ns() - start) / 1e6


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The garbage collector off inside the block (a collection mid-run would be timed as the model's)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def timed_runs(loaded: Any, runs: int) -> dict[str, list[float]]:
    """Wall and thread-CPU milliseconds of ``runs`` invocations, with the garbage collector paused meanwhile."""
    wall, thread_cpu = [], []
    with gc_paused():
        for _ in range(runs):
            start, start_cpu = time.perf_counter_ns(), time.thread_time_ns()
            loaded.invoke()
            end_cpu, end = time.thread_time_ns(), time.perf_counter_ns()
            wall.append((end - start) / 1e6)
            thread_cpu.append((end_cpu - start_cpu) / 1e6)
    return {"wall": wall, "thread_cpu": thread_cpu}


@contextlib.contextmanager
def pinned(cores: int | Iterable[int] | None) -> Iterator[frozenset[int] | None]:
    """Run the calling thread (and threads it starts) on ``cores`` inside the block; restore its affinity after.

    Yields the cores pinned to, or ``None`` when ``cores`` is ``None`` or the platform cannot pin (no
    ``os.sched_setaffinity``, e.g. macOS), in which case the block runs unpinned.
    """
    if cores is None or not hasattr(os, "sched_setaffinity"):
        yield None
        return
    wanted = frozenset([cores] if isinstance(cores, int) else cores)
    allowed = os.sched_getaffinity(0)
    if not wanted or not wanted <= allowed:
        raise ValueError(f"cannot pin to cores {sorted(wanted)}: this process may run only on cores {sorted(allowed)}; "
                         "pass pin_core=<one of those> or pin_core=None to leave scheduling to the OS")
    os.sched_setaffinity(0, wanted)
    try:
        yield wanted
    finally:
        os.sched_setaffinity(0, allowed)


def cpu_model() -> str:
    """A human-readable CPU name: ``model name`` from /proc/cpuinfo (x86), ``Hardware``/``CPU part`` on ARM."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    for key in ("model name", "Hardware", "Processor", "CPU part"):
        for line in text.splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key and value.strip():
                return value.strip()
    return platform.processor() or platform.machine() or "unknown CPU"
