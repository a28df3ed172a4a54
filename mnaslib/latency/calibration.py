"""Calibrating the host layer table against whole networks, and the held-out check of its error.

The sum of isolated layers is not the network's latency: every isolated run pays the interpreter's per-invoke
overhead and starts with caches warm with its own input. :func:`calibrate` fits a correction
``measured = a * sum + b`` on a calibration set of measured whole networks and reports the error on a separate
test set; the fit and its test error are stored with the table.
"""
from __future__ import annotations

import datetime as _dt
from typing import Any, Sequence

import numpy as np

from mnaslib.spaces.buildable import DEPLOYMENT, BuildOptions
from mnaslib.latency.layer_table import Calibration, HostLayerTable
from mnaslib.quiet import progress_bar
from mnaslib.spaces.arch import Arch
from mnaslib.spaces.mnasnet import MnasNetSpace
from mnaslib.spaces.zoo import CALIBRATION_REFERENCES, as_arch, references


# ---------------------------------------------------------------------------------------------------------------
def calibrate(table: HostLayerTable, calibration_set: Sequence[Arch | str], test_set: Sequence[Arch | str] = (), *,
              options: BuildOptions = DEPLOYMENT, progress=None) -> tuple[Calibration, list[dict[str, Any]]]:
    """Fit ``measured = a * layer_sum + b`` on ``calibration_set`` and report its errors on ``test_set``.

    The two sets must not share an architecture: the test error is only honest on networks the fit never saw.
    Every network is measured whole (cached in the table) and as a layer sum. ``progress`` (e.g. a tqdm bar) gets
    ``update(1)`` per network. Returns the stored calibration and one row per network (set, measured, layer sum,
    prediction, error, plain wall-clock median).
    """
    calibration_archs = [as_arch(a) for a in calibration_set]
    test_archs = [as_arch(a) for a in test_set]
    shared = {a.arch_id for a in calibration_archs} & {a.arch_id for a in test_archs}
    if shared:
        raise ValueError(f"calibration and test sets share architectures {sorted(shared)}; the test error would not "
                         "be held out")
    if len(calibration_archs) < 3:
        raise ValueError(f"need at least 3 calibration networks to fit a*sum+b, got {len(calibration_archs)}")
    rows = []
    for which, archs in (("calibration", calibration_archs), ("test", test_archs)):
        for arch in archs:
            layer_sum = table.arch_sum_ms(arch, options)
            network = table.network(arch, options)
            rows.append({"set": which, "arch_id": arch.arch_id, "name": arch.name, "layer_sum_ms": layer_sum,
                         "measured_ms": network["ms"], "wall_median_ms": network["wall_median_ms"],
                         "measure_seconds": network["seconds"]})
            if progress is not None:
                progress.update(1)
    fit_rows = [r for r in rows if r["set"] == "calibration"]
    sums = np.array([r["layer_sum_ms"] for r in fit_rows])
    measured = np.array([r["measured_ms"] for r in fit_rows])
    # Least squares on relative errors, the quantity reported.
    design = np.stack([sums, np.ones_like(sums)], axis=1) / measured[:, None]
    (a, b), *_ = np.linalg.lstsq(design, np.ones_like(sums), rcond=None)
    for row in rows:
        row["predicted_ms"] = float(a * row["layer_sum_ms"] + b)
        row["error"] = (row["predicted_ms"] - row["measured_ms"]) / row["measured_ms"]
    fit_errors = np.abs([r["error"] for r in fit_rows])
    test_errors = np.abs([r["error"] for r in rows if r["set"] == "test"])
    stats = {}
    if len(test_errors):
        stats = {"test_networks": len(test_errors), "test_mape": float(test_errors.mean()),
                 "test_max_error": float(test_errors.max()), "test_within_10": float((test_errors <= 0.10).mean()),
                 "test_within_5": float((test_errors <= 0.05).mean())}
    calibration = Calibration(float(a), float(b), len(fit_rows), float(fit_errors.mean()), **stats,
                              date=_dt.date.today().isoformat())
    table.set_calibration(calibration)
    return calibration, rows


def random_archs(count: int, seed: int, exclude: set[str] | None = None) -> list[Arch]:
    """``count`` distinct random architectures of the MnasNet space whose ids are not in ``exclude`` (which grows)."""
    space, rng, archs = MnasNetSpace(), np.random.default_rng(seed), []
    exclude = set() if exclude is None else exclude
    while len(archs) < count:
        arch = space.decode(space.sample(rng))
        if arch.arch_id not in exclude:
            exclude.add(arch.arch_id)
            archs.append(arch)
    return archs


def held_out_sets(n_test: int, seed: int = 0, calibration_random: int = 0) -> tuple[list[Arch], list[Arch]]:
    """The calibration set (the reference networks plus ``calibration_random`` random ones) and ``n_test`` other
    random architectures to test on; no architecture is in both."""
    starts = references(CALIBRATION_REFERENCES)
    seen = {a.arch_id for a in starts}
    return starts + random_archs(calibration_random, seed, seen), random_archs(n_test, seed + 1, seen)


def held_out_check(table: HostLayerTable, n_test: int, seed: int = 0, calibration_random: int = 0,
                   progress=None) -> tuple[Calibration, list[dict[str, Any]]]:
    """Calibrate ``table`` on ``held_out_sets``' calibration set and test it on the held-out architectures, each
    measured whole with the table's own protocol; returns the calibration and the test rows. This is the honest
    error of the host model, as benchmarks/latency_model.py reports it at a larger N."""
    calibration_set, test_set = held_out_sets(n_test, seed, calibration_random)
    calibration, rows = calibrate(table, calibration_set, test_set, progress=progress)
    return calibration, [r for r in rows if r["set"] == "test"]


def host_model_check(n_random: int, seed: int = 0, table: HostLayerTable | None = None
                     ) -> tuple[Calibration, list[dict[str, Any]]]:
    """``held_out_check`` of this machine's host layer table (``table``, default the cached one) with a progress
    bar: what ``mnas calibrate`` and notebook 02 run; the first run fills the table (minutes)."""
    with progress_bar(total=len(CALIBRATION_REFERENCES) + n_random, desc="networks (layers + whole)") as bar:
        return held_out_check(table or HostLayerTable(), n_random, seed, progress=bar)

