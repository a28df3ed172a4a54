"""Does the Pixel-1 latency model order Accel-NASBench's networks as a real TFLite runtime does?

The Pixel-1 model (mnaslib.latency.pixel1) was fitted on MnasNet, MobileNet and NASNet points; this space adds
expansion 1 and 4, kernel-5 stacks, hard-sigmoid SE and 1280-wide heads on EfficientNet-B0's widths. Prints, for
``--networks`` seeded networks of the space at 224x224: the predicted Pixel-1 latency (analytic, no model built)
and the host LiteRT latency (``get_provider("host", clock="thread_cpu")``, 1 thread, pinned core, batch 1;
float32 flatbuffers from the frozen-graph converter of ``layer_table.fast_tflite``, the same operators as
``to_tflite`` in a sixth of the time), then Spearman and Kendall between the two, the same for plain mult-adds
(the FLOPs proxy), and the worst relative errors once the Pixel-1 predictions are multiplied by the single scale
factor that best fits the host (least squares on relative error): the host is not a Pixel 1, so only the ordering
and the shape of the errors carry over, not the milliseconds.

Every network is measured in ``--passes`` whole passes over all of them and keeps its quickest: on a shared
machine even thread-CPU time drifts, by tens of percent in a busy spell, with the load other processes put on the
caches and memory.

    python benchmarks/accel_nasbench_latency.py [--networks 30] [--seed 0] [--passes 2] [--csv out.csv]
                                                [--archive anb_dataset_jsons.tar.gz]
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from scipy.stats import kendalltau, spearmanr

from mnaslib.latency import get_provider
from mnaslib.latency.runtime import cpu_model
from mnaslib.latency.tflite import fast_tflite
from mnaslib.latency.tflite import check_flatbuffer
from mnaslib.tabular.accel_nasbench import load_results
from mnaslib.spaces.accel import AccelSpace
from mnaslib.tabular.accel_surrogate import table_tokens


def best_scale(predicted: np.ndarray, measured: np.ndarray) -> float:
    """The factor s minimising sum(((s * predicted - measured) / measured) ** 2)."""
    ratio = predicted / measured
    return float(ratio.sum() / (ratio ** 2).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--passes", type=int, default=2, help="measurements of every network (the quickest counts)")
    parser.add_argument("--csv", help="also write the per-network table here")
    parser.add_argument("--archive", help="Accel-NASBench's archive (or folder): also predict its 5,138 networks")
    args = parser.parse_args()
    if args.networks < 3 or args.passes < 1:
        parser.error("--networks must be at least 3 for a rank correlation, --passes at least 1")

    begin = time.perf_counter()
    load = os.getloadavg()[0]
    print(f"machine: {cpu_model()} ({platform.machine()}), {os.cpu_count()} CPUs, load average {load:.1f}")
    space, rng = AccelSpace(), np.random.default_rng(args.seed)
    archs = [space.decode(space.sample(rng)) for _ in range(args.networks)]
    pixel1, flops = get_provider("pixel1-model"), get_provider("flops")
    start = time.perf_counter()
    many = [space.decode(space.sample(rng)) for _ in range(2000)]
    for arch in many:
        pixel1.latency(arch)
    per_prediction_us = (time.perf_counter() - start) / len(many) * 1e6
    if args.archive:
        trained = load_results(args.archive)
        start = time.perf_counter()
        predicted = np.array([pixel1.latency(space.decode(list(tokens))).median_ms for tokens in table_tokens(trained)])
        print(f"Pixel-1 model over Accel-NASBench's {len(trained):,} trained networks at 224x224: min "
              f"{predicted.min():.1f}, median {np.median(predicted):.1f}, max {predicted.max():.1f} ms "
              f"({time.perf_counter() - start:.1f} s for all)")
    host = get_provider("host", clock="thread_cpu")
    rows, measured = [], None
    with tempfile.TemporaryDirectory(prefix="accel-latency-") as folder:
        files = []
        for index, arch in enumerate(archs):
            keras.utils.set_random_seed(index)
            model = arch.build()
            flatbuffer = fast_tflite(model)
            check_flatbuffer(flatbuffer, model.count_params())
            files.append(Path(folder) / f"{arch.arch_id}.tflite")
            files[-1].write_bytes(flatbuffer)
            rows.append({"arch_id": arch.arch_id, "layers": arch.num_layers,
                         "mult_adds_m": flops.latency(arch).mult_adds_m,
                         "pixel1_ms": pixel1.latency(arch).median_ms})
            keras.backend.clear_session()
        # Whole passes over all networks, so a slow spell of the shared machine hits one pass of a network, not
        # all of them; each network keeps its quickest pass.
        for sweep in range(args.passes):
            for row, path in zip(rows, files):
                measured = host.latency(path)
                row[f"host_ms_pass{sweep + 1}"] = measured.median_ms
            print(f"  pass {sweep + 1}/{args.passes} measured", flush=True)
    table = pd.DataFrame(rows)
    passes = table[[f"host_ms_pass{i + 1}" for i in range(args.passes)]]
    table["host_ms"] = passes.min(axis=1)
    spread = passes.max(axis=1) / passes.min(axis=1) - 1.0
    scale = best_scale(table["pixel1_ms"].to_numpy(), table["host_ms"].to_numpy())
    table["scaled_error"] = scale * table["pixel1_ms"] / table["host_ms"] - 1.0
    print(f"\n{len(table)} seeded networks (seed {args.seed}) at 224x224; host: {measured.provenance.label}, "
          f"quickest of {args.passes} passes (pass-to-pass spread: median {spread.median():.1%}, "
          f"max {spread.max():.1%})")
    print(f"Pixel-1 model: {pixel1.latency(archs[0]).provenance.label}; {per_prediction_us:.0f} us per prediction "
          f"(mean over {len(many):,} new networks)")
    print(f"{'predictor':22s} {'Spearman':>8s} {'Kendall':>8s}")
    for name, column in (("Pixel-1 model", "pixel1_ms"), ("mult-adds", "mult_adds_m")):
        print(f"{name:22s} {spearmanr(table[column], table['host_ms']).statistic:8.3f} "
              f"{kendalltau(table[column], table['host_ms']).statistic:8.3f}")
    errors = table["scaled_error"].abs()
    print(f"best single scale host / Pixel-1 = {scale:.4f}; after it: mean |error| {errors.mean():.1%}, "
          f"max {errors.max():.1%}; every network, worst first:")
    print(table.reindex(errors.sort_values(ascending=False).index).to_string(
        index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"total {time.perf_counter() - begin:.0f} s")
    if args.csv:
        table.to_csv(args.csv, index=False)
        print(f"table written to {args.csv}")


if __name__ == "__main__":
    main()
