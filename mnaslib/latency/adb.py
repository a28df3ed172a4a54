"""Measure latency on an Android phone over adb with TFLite's ``benchmark_model``, the way the paper did.

MnasNet measured "real-world inference latency by executing the model on mobile phones" (Pixel 1, TFLite, single
thread on a big core, batch 1). This runner repeats that protocol: it converts the model to a batch-1 float32
``.tflite`` (``mnaslib.latency.tflite``), pushes it, runs

    adb shell taskset <mask> <benchmark_model> --graph=<file> --num_threads=1 --warmup_runs=W --num_runs=N

pins the benchmark to the big cores with ``taskset``, parses what ``benchmark_model`` prints, records the phone
(``ro.product.model``, ``ro.build.version.release``) and the binary, and removes the pushed file.

Its output is parsed by :mod:`mnaslib.latency.benchmark_model`. Tested only against a stand-in that replays the
real output format, not on a phone.
"""
from __future__ import annotations

import hashlib
import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Sequence

from mnaslib.latency.base import LatencyProvider, LatencyResult
from mnaslib.latency.tflite import Quantization, RepresentativeDataset, check_flatbuffer, read_tflite, to_tflite
from mnaslib.labels import Provenance
from mnaslib.latency.benchmark_model import (OUTPUT_LINES, AdbError, BenchmarkOutput, find_version, indent,
                                            parse_benchmark_output)

BENCHMARK_MODEL_URL = "https://www.tensorflow.org/lite/performance/measurement#native_benchmark_binary"

@dataclass
class AdbPixelProvider(LatencyProvider):
    """Latency of a ``keras.Model`` or ``.tflite`` file on a phone over adb, single thread, batch 1.

    ``taskset_mask`` is the hex CPU mask of the big cores: ``f0`` (cpu4-7) suits Pixel 2 and most 8-core phones;
    the Pixel 1 (Snapdragon 821) has four cores and its big ones are cpu2-3, mask ``c``. ``extra_args`` are appended
    to the ``benchmark_model`` command line (e.g. ``('--use_xnnpack=false',)`` for the pre-XNNPACK kernels of the
    paper's time). See docs/latency.md for setting up the phone.
    """

    name: ClassVar[str] = "pixel-adb"

    serial: str | None = None
    benchmark_binary: str = "/data/local/tmp/benchmark_model"
    device_dir: str = "/data/local/tmp"
    taskset_mask: str = "f0"
    num_threads: int = 1
    warmup_runs: int = 10
    num_runs: int = 100
    timeout_s: float = 300.0
    adb_path: str = "adb"
    extra_args: Sequence[str] = ()
    quantization: Quantization = "float32"
    representative_dataset: RepresentativeDataset | None = None
    cache_dir: str | Path | None = None
    _ready: tuple[str, str, dict[str, str]] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[0-9a-fA-F]+", self.taskset_mask) or int(self.taskset_mask, 16) == 0:
            raise ValueError(f"taskset_mask must be a non-zero hex CPU mask such as 'f0' or 'c', got "
                             f"{self.taskset_mask!r}")
        if self.num_threads < 1 or self.warmup_runs < 0 or self.num_runs < 1:
            raise ValueError(f"need num_threads >= 1, warmup_runs >= 0, num_runs >= 1; got {self.num_threads}, "
                             f"{self.warmup_runs}, {self.num_runs}")
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {self.timeout_s}")

    def check(self) -> str:
        """adb, a ready phone and benchmark_model on it, or the AdbError that says what is missing; returns the
        device's serial. ``latency`` runs it before anything slow (a TFLite conversion takes tens of seconds), and
        the measurement that follows reuses what it found."""
        adb = self._adb_executable()
        serial = self.select_device(adb)
        props = _parse_getprop(self._shell(adb, serial, "getprop", timeout=30).stdout)
        self._check_binary(adb, serial)
        self._ready = (adb, serial, props)
        return serial

    def latency(self, model_or_arch: Any) -> LatencyResult:
        """Measure a ``keras.Model``, a ``.tflite`` path or flatbuffer bytes on the phone."""
        if self._ready is None:
            self.check()
        extra: dict[str, Any] = {}
        if isinstance(model_or_arch, (bytes, str, Path)):
            flatbuffer = read_tflite(model_or_arch)
            check_flatbuffer(flatbuffer, num_params=0)  # catches files that keep their weights as variables
        else:
            import keras

            if not isinstance(model_or_arch, keras.Model):
                raise TypeError(f"{type(self).__name__} measures a keras.Model or a .tflite file (path or bytes), "
                                f"got {type(model_or_arch).__name__}; build an Arch into a model first with "
                                "mnaslib.spaces.models.build_model")
            flatbuffer = to_tflite(model_or_arch, quantization=self.quantization,
                                   representative_dataset=self.representative_dataset, cache_dir=self.cache_dir)
            extra = {"model": model_or_arch.name, "params": int(model_or_arch.count_params()),
                     "input_shape": [1, *map(int, model_or_arch.inputs[0].shape[1:])],
                     "quantization": self.quantization}
        result = self.run_benchmark(flatbuffer)
        return replace(result, details={**result.details, **extra})

    def run_benchmark(self, flatbuffer: bytes) -> LatencyResult:
        """Push ``flatbuffer``, run ``benchmark_model`` on it under ``taskset``, parse, clean up."""
        if self._ready is None:
            self.check()
        adb, serial, props = self._ready
        self._ready = None  # the next measurement checks the phone again
        present = self._check_mask(adb, serial)
        version_probe = self._shell(adb, serial, f"{shlex.quote(self.benchmark_binary)} --version", timeout=30,
                                    check=False)
        digest = hashlib.sha256(flatbuffer).hexdigest()[:16]
        remote = f"{self.device_dir.rstrip('/')}/mnaslib_{digest}.tflite"
        command = " ".join([
            "taskset", self.taskset_mask, shlex.quote(self.benchmark_binary), f"--graph={shlex.quote(remote)}",
            f"--num_threads={self.num_threads}", f"--warmup_runs={self.warmup_runs}",
            f"--num_runs={self.num_runs}", *map(shlex.quote, self.extra_args)])
        try:  # from the push on, the remote file is removed whatever happens (a failed push can leave part of it)
            with tempfile.TemporaryDirectory(prefix="mnaslib-adb-") as local_dir:
                local = Path(local_dir) / Path(remote).name
                local.write_bytes(flatbuffer)
                self._run(adb, serial, ["push", str(local), remote], timeout=120)
            run = self._shell(adb, serial, command, timeout=self.timeout_s)
        finally:
            self._shell(adb, serial, f"rm -f {shlex.quote(remote)}", timeout=30, check=False)
        output = parse_benchmark_output(run.stdout + run.stderr)
        version = find_version(version_probe.stdout + version_probe.stderr) or output.version
        return self._result(output, props, serial, version, present, command, len(flatbuffer))

    def select_device(self, adb: str) -> str:
        """The serial to talk to: ``self.serial`` if connected and ready, else the only device connected."""
        devices = self.devices(adb)
        listing = ", ".join(f"{s} ({state})" for s, state in devices)
        if self.serial is not None:
            state = dict(devices).get(self.serial)
            if state is None:
                raise AdbError("device-not-found", f"no device with serial {self.serial!r} is connected; connected: "
                               f"{listing or 'none'}")
            chosen = self.serial
        elif not devices:
            raise AdbError("no-device", "no Android device is connected: plug the phone in with USB debugging "
                           "enabled (Settings > Developer options) and check `adb devices`")
        elif len(devices) > 1:
            raise AdbError("several-devices", f"{len(devices)} devices are connected ({listing}); pass "
                           "serial=<one of them> to choose")
        else:
            chosen, state = devices[0]
        if state == "unauthorized":
            raise AdbError("unauthorized", f"device {chosen} has not authorised this computer: unlock the phone and "
                           "accept the 'Allow USB debugging?' dialog (if none shows, revoke USB debugging "
                           "authorisations in Developer options and reconnect)")
        if state != "device":
            raise AdbError("offline", f"device {chosen} is {state!r}, not ready; reconnect the cable or run "
                           "`adb kill-server` and try again")
        return chosen

    def devices(self, adb: str) -> list[tuple[str, str]]:
        """``(serial, state)`` for every device ``adb devices`` lists."""
        listed = self._run(adb, None, ["devices"], timeout=30).stdout
        devices = []
        for line in listed.splitlines():
            parts = line.split()
            if len(parts) >= 2 and not line.startswith(("*", "List of devices")):
                devices.append((parts[0], parts[1]))
        return devices

    def _adb_executable(self) -> str:
        found = shutil.which(self.adb_path)
        if found is None:
            raise AdbError("adb-missing", f"adb ({self.adb_path!r}) is not installed or not on PATH; install the "
                           "Android SDK platform-tools (e.g. `apt install adb`) or pass adb_path=<path to adb>")
        return found

    def _check_binary(self, adb: str, serial: str) -> None:
        listing = self._shell(adb, serial, f"ls {shlex.quote(self.benchmark_binary)}", timeout=30, check=False)
        text = listing.stdout + listing.stderr
        if listing.returncode != 0 or "No such file" in text or "not found" in text:
            raise AdbError("binary-missing", f"benchmark_model is not on the device at {self.benchmark_binary}. "
                           f"Download the android_aarch64 benchmark_model ({BENCHMARK_MODEL_URL}) and push it: "
                           f"`adb push benchmark_model {self.benchmark_binary} && adb shell chmod +x "
                           f"{self.benchmark_binary}`, or pass benchmark_binary=<its path on the device>")

    def _check_mask(self, adb: str, serial: str) -> list[int] | None:
        """The device's CPUs, after checking the mask selects some; ``None`` if the device does not say."""
        reply = self._shell(adb, serial, "cat /sys/devices/system/cpu/present", timeout=30, check=False)
        cpus = _parse_cpu_list(reply.stdout.strip()) if reply.returncode == 0 else None
        if cpus is None:
            return None
        mask = int(self.taskset_mask, 16)
        if not any(mask >> cpu & 1 for cpu in cpus):
            selected = [bit for bit in range(mask.bit_length()) if mask >> bit & 1]
            raise AdbError("bad-mask", f"taskset mask {self.taskset_mask} selects cpus {selected} but the device "
                           f"has cpus {cpus}; pass taskset_mask for its big cores (Pixel 1: 'c' = cpu2-3)")
        return cpus

    def _shell(self, adb: str, serial: str, command: str, *, timeout: float,
               check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._run(adb, serial, ["shell", command], timeout=timeout, check=check)

    def _run(self, adb: str, serial: str | None, args: list[str], *, timeout: float,
             check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [adb, *(["-s", serial] if serial else []), *args]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        except FileNotFoundError:
            raise AdbError("adb-missing", f"could not execute adb at {adb}; install the Android SDK "
                           "platform-tools or pass adb_path=<path to adb>") from None
        except subprocess.TimeoutExpired:
            raise AdbError("timeout", f"`{shlex.join(argv[1:])}` did not finish within {timeout:g} s; raise "
                           "timeout_s for slow models, and check the phone (the benchmark may still be running: "
                           "`adb shell ps -A | grep benchmark_model`)") from None
        if check and done.returncode != 0:
            raise AdbError("command-failed", f"`{shlex.join(argv[1:])}` exited with status {done.returncode}; its "
                           f"output ended:\n{_tail(done.stdout + done.stderr)}")
        return done

    def _result(self, output: BenchmarkOutput, props: dict[str, str], serial: str, version: str | None,
                cpus: list[int] | None, command: str, model_bytes: int) -> LatencyResult:
        device_model = props.get("ro.product.model") or "unknown phone"
        codename = props.get("ro.product.device")
        threads = f"{self.num_threads} thread" + ("s" if self.num_threads > 1 else "")
        label = f"{device_model} ({codename})" if codename else device_model
        provenance = Provenance("measured", f"{label} over adb, benchmark_model, {threads}, "
                                f"taskset {self.taskset_mask}")
        median_us = output.median_us if output.median_us is not None else output.avg_us
        details = {
            "cv_method": "std / mean (benchmark_model prints no per-run times)",
            "median_source": ("benchmark_model median=" if output.median_us is not None else
                              "mean: this benchmark_model build prints no median, so median_ms is the mean"),
            "runtime": "TFLite benchmark_model",
            "benchmark_binary": self.benchmark_binary,
            "benchmark_version": version or "unknown (benchmark_model printed no version)",
            "summary_format": output.summary_format,
            "device_model": device_model,
            "device_codename": codename,
            "android_release": props.get("ro.build.version.release"),
            "serial": serial,
            "device_cpus": cpus,
            "taskset_mask": self.taskset_mask,
            "num_threads": self.num_threads,
            "num_threads_reported": output.num_threads,
            "batch_size": 1,
            "warmup_runs": self.warmup_runs,
            "num_runs_requested": self.num_runs,
            "command": command,
            "model_bytes": model_bytes,
            "model_size_mb_reported": output.model_size_mb,
            "init_ms": output.init_us / 1e3,
            "first_inference_ms": None if output.first_inference_us is None else output.first_inference_us / 1e3,
            "warmup_avg_ms": output.warmup_avg_us / 1e3,
            "min_ms": output.min_us / 1e3,
            "max_ms": output.max_us / 1e3,
            "p5_ms": None if output.p5_us is None else output.p5_us / 1e3,
            "p95_ms": None if output.p95_us is None else output.p95_us / 1e3,
        }
        return LatencyResult(median_ms=median_us / 1e3, p90_ms=None, mean_ms=output.avg_us / 1e3,
                             std_ms=output.std_us / 1e3, cv=output.std_us / output.avg_us if output.avg_us else 0.0,
                             runs=output.count, provenance=provenance, details=details)


def _parse_getprop(text: str) -> dict[str, str]:
    """Android's ``getprop`` listing (``[ro.product.model]: [Pixel]`` lines) as a dict of the non-empty values."""
    return {key: value for key, value in re.findall(r"^\[([^\]]+)\]: \[(.*)\]\s*$", text, re.MULTILINE) if value}


def _parse_cpu_list(text: str) -> list[int] | None:
    """Linux CPU list syntax (``0-3``, ``0-3,6``) to CPU numbers; ``None`` if it is not that syntax."""
    if not re.fullmatch(r"\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*", text):
        return None
    cpus: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        cpus.extend(range(int(first), int(last or first) + 1))
    return cpus


def _tail(text: str) -> str:
    """The last lines of a command's output (where benchmark_model and adb print their errors)."""
    lines = text.strip().splitlines()
    more = len(lines) - OUTPUT_LINES
    return (f"    ... ({more} lines before)\n" if more > 0 else "") + indent(lines[-OUTPUT_LINES:])
