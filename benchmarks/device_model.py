"""How many measurements does a device model need? The host CPU (LiteRT) as the "device", fitted on N networks.

``mnas calibrate --device adb --count N`` measures the reference networks and random architectures at widths and
input sizes drawn from a grid, and fits the feature model. This benchmark does the same with the host LiteRT runner
as the device (one thread, thread CPU time), at small input sizes so it stays fast, and tests each fit on networks
it never saw: ``--test`` other random architectures of the space, at widths and sizes drawn from the same grid.
For N below the pool size, ``--draws`` seeded random subsets of the pool are fitted (median and range printed).

Printed per N: the held-out MAPE, the share within 10%, the worst width/size band's mean error, and the model's own
grouped-CV estimate (what ``mnas calibrate`` prints) beside the held-out truth. Measurements go to a resumable store
(``--models-dir``, default ``~/.cache/mnaslib/device-benchmark``): a run stopped mid-way (``timeout``) loses
nothing, and a rerun measures only what is missing.

    timeout 280 python benchmarks/device_model.py   # repeat until it prints the table
"""
from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mnaslib.latency.device_calibration import (MeasurementStore, calibration_networks, host_measure,
                                                measure_all)
from mnaslib.latency.device_model import Measurement, fit_device_model
from mnaslib.latency.runtime import cpu_model


def test_networks(count: int, seed: int, widths, sizes, exclude: set[str]) -> list[Measurement]:
    """``count`` random architectures (not references, not in ``exclude``) at seeded grid points."""
    drawn = [m for m in calibration_networks(count + 20, seed, widths, sizes) if m.family == m.architecture
             and len(m.architecture.split()) > 1]
    return [m for m in drawn if m.architecture not in exclude][:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="10,20,40", help="training set sizes (the last is the pool measured)")
    parser.add_argument("--test", type=int, default=20, help="held-out random architectures")
    parser.add_argument("--draws", type=int, default=3, help="seeded subsets per N below the pool size")
    parser.add_argument("--sizes", default="64,96,128", help="input sizes of the grid (small: fast to measure)")
    parser.add_argument("--widths", default="0.35,0.5,0.75,1.0,1.4")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models-dir", default=str(Path.home() / ".cache" / "mnaslib" / "device-benchmark"))
    args = parser.parse_args()
    sizes = tuple(int(s) for s in args.sizes.split(","))
    widths = tuple(float(w) for w in args.widths.split(","))
    ns = [int(n) for n in args.n.split(",")]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {cpu_model()} ({platform.machine()}), {os.cpu_count()} CPUs, load average {load:.1f}; device: "
          f"host LiteRT, 1 thread, thread CPU time; sizes {sizes}, widths {widths}")
    pool = calibration_networks(max(ns), args.seed, widths, sizes)
    test = test_networks(args.test, args.seed + 1, widths, sizes, {m.architecture for m in pool})
    store = MeasurementStore(f"host-benchmark-{args.seed}", args.models_dir)
    measure = host_measure()
    with tqdm(total=len(pool) + len(test), desc="measuring on host") as bar:
        pool = measure_all(pool, measure, store, progress=bar)
        test = measure_all(test, measure, store, progress=bar)
    print(f"measured: {len(pool)} calibration networks, {len(test)} held-out; {test[0].provenance}")
    truth = np.array([m.ms for m in test])
    print("N   draws  held-out MAPE (median, range)  within 10%  worst band (mean error)   grouped-CV estimate")
    for n in ns:
        draws = [list(range(n))] if n >= len(pool) else \
            [sorted(np.random.default_rng(args.seed + d).choice(len(pool), n, replace=False)) for d in
             range(args.draws)]
        rows = []
        for chosen in draws:
            model = fit_device_model("host-benchmark", [pool[i] for i in chosen], save=False)
            predicted = np.array([model.predict_arch(m.network(), m.options()) for m in test])
            errors = predicted / truth - 1
            bands = {f"{k} {v}": float(np.mean(errors[[getattr(m, k) == v for m in test]]))
                     for k in ("multiplier", "input_size") for v in {getattr(m, k) for m in test}}
            band = max(bands.items(), key=lambda b: abs(b[1]))
            rows.append((np.mean(np.abs(errors)), np.mean(np.abs(errors) <= 0.10), band, model.grouped_mape))
        mape = [r[0] for r in rows]
        worst = max((r[2] for r in rows), key=lambda b: abs(b[1]))
        print(f"{n:<3} {len(rows):<6} {100 * np.median(mape):5.1f}% ({100 * min(mape):.1f}-{100 * max(mape):.1f}%)"
              f"{'':13}{100 * np.median([r[1] for r in rows]):5.0f}%     {worst[0]:<16} {100 * worst[1]:+5.1f}%"
              f"      {100 * np.median([r[3] for r in rows]):5.1f}%")


if __name__ == "__main__":
    main()
