"""What TFLite's ``benchmark_model`` prints, parsed: the timings of one run on a phone.

``benchmark_model`` has printed three summary formats over the years, all parsed here: TF 1.x
(``Average inference timings in us: Warmup: .., Init: .., no stats: ..``), TF 2.x
(``Inference timings in us: Init: .., First inference: .., Warmup (avg): .., Inference (avg): ..``), with or
without the ``INFO:`` prefix newer builds put on every line, and newer builds append ``p5= median= p95=`` to the
``count=`` statistics line. Tested against the real output format (tests/fixtures), not on a phone.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from mnaslib.errors import UserError

REASONS: dict[str, str] = {
    "adb-missing": "the adb executable is not installed or not on PATH",
    "no-device": "no device is connected",
    "unauthorized": "the device has not authorised this computer for USB debugging",
    "offline": "the device is connected but not ready (offline, recovery, bootloader...)",
    "several-devices": "several devices are connected and no serial was given",
    "device-not-found": "the requested serial is not connected",
    "binary-missing": "benchmark_model is not on the device",
    "bad-mask": "the taskset mask selects no CPU the device has",
    "timeout": "an adb command ran past its time limit",
    "command-failed": "an adb command or benchmark_model exited with an error",
    "unparseable-output": "benchmark_model's output has no recognisable timing summary",
}
_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_SUMMARY_TF2 = re.compile(rf"Inference timings in us: Init: (?P<init>{_NUM}), First inference: (?P<first>{_NUM}), "
                          rf"Warmup \(avg\): (?P<warmup>{_NUM}), Inference \(avg\): (?P<inference>{_NUM})")
_SUMMARY_TF1 = re.compile(rf"Average inference timings in us: Warmup: (?P<warmup>{_NUM}), Init: (?P<init>{_NUM}), "
                          rf"(?:no stats|Inference): (?P<inference>{_NUM})")
_STAT_LINE = re.compile(r"\bcount=\d+")
_KEY_VALUE = re.compile(rf"\b(\w+)=({_NUM})")
_THREADS = re.compile(r"(?:^|\s)Num threads: \[(-?\d+)\]", re.MULTILINE)
_GRAPH = re.compile(r"(?:^|\s)Graph: \[(.*)\]", re.MULTILINE)
_MODEL_SIZE = re.compile(rf"The input model file size \(MB\): ({_NUM})")
_VERSION = re.compile(r"\bversion\b\D{0,20}?(\d+\.\d+(?:\.\d+)?(?:[-+.][\w.]+)?)", re.IGNORECASE)
OUTPUT_LINES = 15


class AdbError(UserError, RuntimeError):
    """A failure talking to the phone; ``reason`` is one key of ``REASONS`` so callers can react to each case."""

    def __init__(self, reason: str, message: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown AdbError reason {reason!r}; expected one of {', '.join(REASONS)}")
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class BenchmarkOutput:
    """The numbers one ``benchmark_model`` run printed, in microseconds as printed.

    The statistics (``count`` ... ``p95_us``) come from the ``count=`` line of the timed runs; ``p5_us``,
    ``median_us`` and ``p95_us`` are ``None`` for builds that do not print them. ``first_inference_us`` is ``None``
    for TF 1.x builds. ``summary_format`` says which summary line was found: ``'tf1'`` or ``'tf2'``.
    """

    count: int
    avg_us: float
    std_us: float
    min_us: float
    max_us: float
    p5_us: float | None
    median_us: float | None
    p95_us: float | None
    init_us: float
    first_inference_us: float | None
    warmup_avg_us: float
    inference_avg_us: float
    num_threads: int | None
    graph: str | None
    model_size_mb: float | None
    version: str | None
    summary_format: str


def parse_benchmark_output(text: str) -> BenchmarkOutput:
    """Parse ``benchmark_model``'s stdout (any of the formats in the module docstring).

    Raises ``AdbError('unparseable-output')`` quoting the first lines when there is no summary line or no
    statistics line before it.
    """
    lines = text.splitlines()
    summary_index, summary, summary_format = None, None, ""
    for index, line in enumerate(lines):
        for pattern, name in ((_SUMMARY_TF2, "tf2"), (_SUMMARY_TF1, "tf1")):
            match = pattern.search(line)
            if match:
                summary_index, summary, summary_format = index, match, name
    if summary is None:
        raise AdbError("unparseable-output", "benchmark_model printed no 'Inference timings in us' summary; "
                       f"is it a TFLite benchmark_model binary? Its output began:\n{_head(text)}")
    stat_lines = [line for line in lines[:summary_index] if _STAT_LINE.search(line)]
    if not stat_lines:
        raise AdbError("unparseable-output", "benchmark_model printed a summary but no 'count=... avg=... std=...' "
                       f"statistics line before it; its output began:\n{_head(text)}")
    stats = {key: float(value) for key, value in _KEY_VALUE.findall(stat_lines[-1])}
    if "(all same)" in stat_lines[-1] or ("avg" not in stats and "curr" in stats):
        # Every run took the same time: the tool prints only count and curr.
        for key in ("avg", "min", "max"):
            stats.setdefault(key, stats["curr"])
        stats.setdefault("std", 0.0)
    missing = [key for key in ("count", "avg", "std", "min", "max") if key not in stats]
    if missing or stats["count"] < 1:
        raise AdbError("unparseable-output", f"the statistics line {stat_lines[-1].strip()!r} lacks "
                       f"{', '.join(missing) or 'a positive count'}; the output began:\n{_head(text)}")
    groups = summary.groupdict()
    return BenchmarkOutput(
        count=int(stats["count"]), avg_us=stats["avg"], std_us=stats["std"], min_us=stats["min"],
        max_us=stats["max"], p5_us=stats.get("p5"), median_us=stats.get("median"), p95_us=stats.get("p95"),
        init_us=float(groups["init"]), first_inference_us=float(groups["first"]) if "first" in groups else None,
        warmup_avg_us=float(groups["warmup"]), inference_avg_us=float(groups["inference"]),
        num_threads=_first_int(_THREADS, text), graph=_first_str(_GRAPH, text),
        model_size_mb=_first_float(_MODEL_SIZE, text), version=find_version(text), summary_format=summary_format)


def find_version(text: str) -> str | None:
    """A version number printed next to the word 'version', if any (``benchmark_model`` builds rarely print one)."""
    match = _VERSION.search(text)
    return match.group(1) if match else None


def _head(text: str) -> str:
    """The first lines of a command's output, indented for an error message."""
    lines = text.strip().splitlines()
    more = len(lines) - OUTPUT_LINES
    return indent(lines[:OUTPUT_LINES]) + (f"\n    ... ({more} more lines)" if more > 0 else "")


def indent(lines: list[str]) -> str:
    return "\n".join(f"    {line}" for line in lines) or "    (no output)"


def _first_int(pattern: re.Pattern[str], text: str) -> int | None:
    match = pattern.search(text)
    return int(match.group(1)) if match else None


def _first_float(pattern: re.Pattern[str], text: str) -> float | None:
    match = pattern.search(text)
    return float(match.group(1)) if match else None


def _first_str(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    return match.group(1) if match else None
