"""What each latency provider can say about NAS-Bench-Macro's 32x32 CIFAR-10 networks.

The Pixel-1 cost model was fitted on 224x224 ImageNet networks (5-180 ms); NAS-Bench-Macro's networks are 32x32
CIFAR-10 networks, far outside that range. This script builds seeded distinct networks of the benchmark at its own
options (``MACRO_OPTIONS``), measures each with LiteRT on this host (1 thread, thread-CPU clock, which a busy
machine inflates least) and compares the measurement with the Pixel-1 model's prediction and with mult-adds:
Spearman and Kendall rank correlations, and the median absolute relative error after the best single scale factor
(the Pixel-1 model's milliseconds are another device's, and mult-adds are no milliseconds at all, so only a
scaled agreement means anything). It needs no data file: the networks come from the space.

    python benchmarks/nasbench_macro_latency.py --networks 40 --seed 0
"""
from __future__ import annotations

import argparse
import itertools
import os
import time

import keras
import numpy as np
import pandas as pd
from scipy import stats

from mnaslib.spaces.counting import summarize
from mnaslib.latency import get_provider
from mnaslib.latency.host import cpu_model
from mnaslib.spaces.macro import MACRO_OPTIONS, MacroArch, distinct_keys
from mnaslib.tabular.nasbench_macro import latency_caveat


def best_scale_error(predicted: np.ndarray, measured: np.ndarray) -> tuple[float, float]:
    """The scale ``s`` minimising median |s * predicted / measured - 1|, and that median.

    With ratios ``r = measured / predicted`` the objective is the median of ``|s / r_i - 1|``, piecewise linear in
    ``s``; its minimum lies at a breakpoint, either some ``r_i`` or a crossing ``2 r_i r_j / (r_i + r_j)`` of two
    terms, so trying them all finds the exact optimum.
    """
    ratios = measured / predicted
    candidates = list(ratios) + [2 * a * b / (a + b) for a, b in itertools.combinations(ratios, 2)]
    errors = [float(np.median(np.abs(s / ratios - 1))) for s in candidates]
    best = int(np.argmin(errors))
    return float(candidates[best]), errors[best]


def measure(keys: list[str], runs: int) -> pd.DataFrame:
    host = get_provider("host", clock="thread_cpu", num_threads=1, runs=runs)
    pixel1 = get_provider("pixel1-model")
    rows = []
    for index, key in enumerate(keys, start=1):
        model = MacroArch(key).build(MACRO_OPTIONS)
        counts = summarize(model)
        measured = host.latency(model)
        rows.append({"key": key, "params": counts["trainable_params"], "mult_adds_m": counts["mult_adds"] / 1e6,
                     "host_ms": measured.median_ms, "host_cv": measured.cv,
                     "pixel1_model_ms": pixel1.latency(model).median_ms})
        print(f"  [{index}/{len(keys)}] {key}: host {measured.median_ms:.3f} ms, "
              f"Pixel-1 model {rows[-1]['pixel1_model_ms']:.2f} ms, {rows[-1]['mult_adds_m']:.1f} M mult-adds",
              flush=True)
        keras.backend.clear_session()
    return pd.DataFrame(rows)


def agreement(table: pd.DataFrame) -> pd.DataFrame:
    """Rank correlations with the host measurement and the scaled median relative error, per provider."""
    measured = table["host_ms"].to_numpy()
    rows = []
    for provider, column in (("pixel1-model", "pixel1_model_ms"), ("flops", "mult_adds_m")):
        values = table[column].to_numpy()
        scale, error = best_scale_error(values, measured)
        rows.append({"provider": provider, "spearman": stats.spearmanr(values, measured).statistic,
                     "kendall": stats.kendalltau(values, measured).statistic,
                     "best scale": scale, "median abs rel error after scale": error})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=40, help="seeded distinct networks to measure (>= 30)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=int, default=100, help="timed invocations per round")
    args = parser.parse_args()
    if args.networks < 3:
        parser.error("--networks must be at least 3 for a rank correlation (the benchmark uses >= 30)")

    keys = sorted(np.random.default_rng(args.seed).choice(distinct_keys(), args.networks, replace=False).tolist())
    print(f"machine: {cpu_model()} ({os.cpu_count()} cores visible); LiteRT, 1 thread, thread-CPU clock")
    print(f"{len(keys)} distinct NAS-Bench-Macro networks (seed {args.seed}) at 32x32, 10 classes, stride-1 stem")
    start = time.perf_counter()
    table = measure(keys, args.runs)
    print(f"\nmeasured in {time.perf_counter() - start:.0f} s")
    with pd.option_context("display.width", 160, "display.max_rows", 200):
        print(table.round({"mult_adds_m": 2, "host_ms": 3, "host_cv": 3, "pixel1_model_ms": 2}).to_string(index=False))
        print("\nagreement with the host measurement (host_ms):")
        print(agreement(table).round(3).to_string(index=False))
    print(f"\nhost ms range {table['host_ms'].min():.3f}-{table['host_ms'].max():.3f}; Pixel-1 model ms range "
          f"{table['pixel1_model_ms'].min():.2f}-{table['pixel1_model_ms'].max():.2f}")
    for provider in ("host", "pixel1-model", "flops"):
        print(f"caveat [{provider}]: {latency_caveat(provider)}")


if __name__ == "__main__":
    main()
