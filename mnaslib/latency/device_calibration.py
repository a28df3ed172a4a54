"""Measuring a user's device for its latency model: a seeded, diverse set of networks, resumable, with progress.

The set (:func:`calibration_networks`) is the reference networks plus random architectures of the MnasNet space,
each at a width multiplier and input size drawn from the space's scaling grid, so the fitted model has seen the
range it will be asked about, and grouped cross-validation can hold out a width or a resolution. Each measurement
is appended to ``<name>.measurements.jsonl`` beside the model as soon as it is taken: a rerun of the same command
skips what is already there, so a phone that disappears mid-way loses nothing but the network in flight.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from mnaslib.spaces.buildable import BuildOptions
from mnaslib.errors import UserError
from mnaslib.latency.device_model import Measurement, check_name, models_dir
from mnaslib.latency.calibration import random_archs
from mnaslib.quiet import progress_bar
from mnaslib.spaces.zoo import CALIBRATION_REFERENCES
from mnaslib.latency.adb import AdbPixelProvider
from mnaslib.latency.host import HostTFLiteProvider
from mnaslib.latency.device_model import fit_device_model, model_path, read_measurements_csv
from mnaslib.latency.pixel1 import describe_validation

WIDTHS = (0.35, 0.5, 0.75, 1.0, 1.4)
SIZES = (96, 128, 160, 192, 224)
Measure = Callable[[Measurement], tuple[float, str]]


def calibration_networks(count: int, seed: int = 0, widths: Sequence[float] = WIDTHS,
                         sizes: Sequence[int] = SIZES) -> list[Measurement]:
    """``count`` networks to measure (``ms`` not yet known): the reference networks first (as many as fit), then
    random architectures; every one at a seeded (width, input size) of the grid, cycling through both so that every
    width and every size is present once ``count`` reaches the grid's sides."""
    if count < 1:
        raise UserError(f"the number of networks to measure must be at least 1, got {count}")
    rng = np.random.default_rng(seed)
    names = list(CALIBRATION_REFERENCES[:count])
    specs = names + [" ".join(a.block_strings()) for a in random_archs(count - len(names), seed, set())]
    width_order = [widths[i % len(widths)] for i in rng.permutation(max(count, len(widths)))]
    size_order = [sizes[i % len(sizes)] for i in rng.permutation(max(count, len(sizes)))]
    return [Measurement(spec, float(w), int(s), float("nan")) for spec, w, s in zip(specs, width_order, size_order)]


class MeasurementStore:
    """The measurements of one named device model, one JSON line each, appended (and flushed) as they are taken."""

    def __init__(self, name: str, directory: str | Path | None = None) -> None:
        self.path = models_dir(directory) / f"{check_name(name)}.measurements.jsonl"

    def load(self) -> dict[str, Measurement]:
        if not self.path.is_file():
            return {}
        taken = {}
        for number, line in enumerate(self.path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                measurement = Measurement(**json.loads(line))
            except (json.JSONDecodeError, TypeError) as err:
                raise UserError(f"{self.path}, line {number}: not a measurement ({err}); remove the line to "
                                "measure that network again") from None
            taken[measurement.key] = measurement
        return taken

    def add(self, measurement: Measurement) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(vars(measurement)) + "\n")
            handle.flush()


def measure_all(wanted: Iterable[Measurement], measure: Measure, store: MeasurementStore,
                progress=None) -> list[Measurement]:
    """Every wanted network's measurement: from the store when taken before, else measured now and stored at once.
    ``progress`` (a tqdm bar) gets ``update(1)`` per network. A failure (a lost phone) is re-raised with how many
    measurements are kept and how to resume."""
    wanted = list(wanted)
    taken = store.load()
    result = []
    for item in wanted:
        if item.key not in taken:
            try:
                ms, provenance = measure(item)
            except RuntimeError as err:
                kept = sum(1 for w in wanted if w.key in taken)
                raise type(err)(*_resume_args(err, kept, len(wanted), store.path)) from None
            taken[item.key] = Measurement(item.architecture, item.multiplier, item.input_size, float(ms), provenance)
            store.add(taken[item.key])
        result.append(taken[item.key])
        if progress is not None:
            progress.update(1)
    return result


def _resume_args(err: RuntimeError, kept: int, total: int, path: Path) -> tuple:
    """The error's constructor arguments with a resume hint added to its message (AdbError takes a reason)."""
    hint = (f" ({kept} of {total} measurements are kept in {path}; rerun the same command to measure the "
            f"remaining {total - kept})")
    reason = getattr(err, "reason", None)
    message = str(getattr(err, "message", None) or err).rstrip(".") + hint
    return (reason, message) if reason is not None else (message,)


def adb_measure(**provider_options) -> Measure:
    """Measure with the phone runner (``mnaslib.latency.adb``): checks the phone first, once."""
    provider = AdbPixelProvider(**provider_options)
    provider.check()

    def measure(item: Measurement) -> tuple[float, str]:
        result = provider.latency_of(item.network(), item.options())
        return result.median_ms, result.provenance.label

    return measure


def host_measure(runs: int = 30) -> Measure:
    """Measure with LiteRT on this CPU (one thread, thread CPU time): the host as the "device", for trying the
    workflow and for measuring how many networks a model needs."""
    provider = HostTFLiteProvider(clock="thread_cpu", runs=runs, warmup=5)

    def measure(item: Measurement) -> tuple[float, str]:
        result = provider.latency_of(item.network(), BuildOptions(depth_multiplier=item.multiplier,
                                                                  input_size=item.input_size))
        return result.median_ms, result.provenance.label

    return measure


def _numbers(text: str, kind: type, option: str) -> tuple:
    try:
        values = tuple(kind(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise UserError(f"{option} takes comma-separated numbers, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise UserError(f"{option} takes positive numbers, got {text!r}")
    return values


def calibrate_device_command(args) -> int:
    """``mnas calibrate --device adb|host --name NAME`` or ``--from-csv FILE --name NAME``: measure (resumably) or
    read the networks, fit the device model, print its grouped-CV error, save it."""
    if not args.name:
        raise UserError("name the device model: --name my-pixel7 (a profile then selects it with latency: "
                        "{provider: device-model, name: my-pixel7})")
    check_name(args.name)
    if bool(args.device) == bool(args.from_csv):
        raise UserError("give either --device adb|host (measure now) or --from-csv FILE (measurements made "
                        "elsewhere), not both and not neither")
    if args.from_csv:
        measurements, device = read_measurements_csv(args.from_csv), f"CSV {args.from_csv}"
    else:
        wanted = calibration_networks(args.count, args.seed, _numbers(args.widths, float, "--widths"),
                                      _numbers(args.sizes, int, "--sizes"))
        if args.device == "adb":
            options = {k: v for k, v in {"serial": args.serial, "taskset_mask": args.taskset_mask}.items() if v}
            measure = adb_measure(**options)
        else:
            measure = host_measure()
        store = MeasurementStore(args.name, args.models_dir)
        with progress_bar(total=len(wanted), desc=f"measuring on {args.device}") as bar:
            measurements = measure_all(wanted, measure, store, progress=bar)
        device = measurements[0].provenance
    model = fit_device_model(args.name, measurements, device, args.models_dir)
    print("\n".join(describe_validation(model)))
    print(f"saved {model_path(args.name, args.models_dir)}; use it with `mnas latency --provider device-model "
          f"--name {args.name} a1` or a profile's latency: {{provider: device-model, name: {args.name}}}")
    return 0
