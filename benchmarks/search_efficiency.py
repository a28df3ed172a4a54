"""PPO vs random search vs regularised evolution: samples to a top network, on real or on synthetic accuracies.

Two tables, each a plain function of tokens searched with ``mnaslib.strategies.optimize``:

* ``--table nas-bench-macro`` (the default): NAS-Bench-Macro's real CIFAR-10 accuracies (benchmark provenance:
  mean of 3 trainings). Reward = the benchmark's ``mean_acc``, no latency term. Per strategy: the median and IQR
  over seeds of the samples needed to reach a top-0.1% and a top-1% network (of the 3,969 distinct networks; a
  seed that never gets there counts as the budget, and the number of such seeds is printed), the best accuracy
  after 50/100/200/500 samples, and the distinct networks evaluated (the cache in ``optimize`` is keyed by the
  canonical arch id, so equivalent keys are one evaluation). Needs the data file (``--path`` or
  ``$MNAS_NASBENCH_MACRO``, see ``mnaslib.tabular.nasbench_macro``).
* ``--table accel-nasbench``: Accel-NASBench's space, reward mnas_soft (T = 75 ms) of the surrogate's ImageNet
  top-1 (fitted on the benchmark's trainings, held-out Kendall 0.92) and the Pixel-1 model's latency, the search
  the notebooks run; the threshold is the top 0.1% reward of 50,000 uniform samples.
* ``--table synthetic``: the seeded table over the MnasNet space (``mnaslib.tabular.synthetic``). Its accuracies
  are made up, labelled synthetic, never evidence: it measures search mechanics on a 42-decision space. Latency is
  the Pixel-1 model's prediction for the 224x224 deployment model; reward mnas_soft, T = 75 ms; the threshold is
  the top 0.1% reward of 50,000 uniform samples.

    python benchmarks/search_efficiency.py --table nas-bench-macro --seeds 20 --budget 1000
    python benchmarks/search_efficiency.py --table accel-nasbench --seeds 20 --budget 2000
    python benchmarks/search_efficiency.py --table synthetic --seeds 5 --budget 2000
    python benchmarks/search_efficiency.py --strategies ppo --first-seed 20   # held-out seeds 20-39

``--ppo NAME=VALUE`` overrides a PPOConfig option; the defaults before they were set on this benchmark were
``--ppo baseline=ema --ppo normalize_advantages=false --ppo learning_rate=0.0005 --ppo entropy_coef=0.001``.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from typing import Any, Callable, Hashable

import numpy as np
from tqdm import tqdm

from mnaslib.strategies import optimize

STRATEGIES = ("random", "evolution", "ppo")
CHECKPOINTS = (50, 100, 200, 500)


def search_rewards(fn: Callable[[list[int]], float], decisions: list[tuple[str, int]], strategy: str, seed: int,
                   budget: int, batch_size: int, key: Callable[[list[int]], Hashable] | None,
                   config: dict[str, Any]) -> tuple[np.ndarray, int]:
    """The rewards of a search's first ``budget`` samples, in sampling order, and how many were real evaluations."""
    history = optimize(fn, decisions, strategy, steps=math.ceil(budget / batch_size), batch_size=batch_size,
                       seed=seed, key=key, **config)
    trials = history.trials[:budget]
    return np.array([t.reward for t in trials], dtype=float), sum(not t.reused for t in trials)


def samples_to(rewards: np.ndarray, threshold: float) -> int | None:
    """1-based index of the first sample at or above ``threshold``; None if none is."""
    hits = np.flatnonzero(rewards >= threshold)
    return int(hits[0]) + 1 if hits.size else None


def median_iqr(counts: list[int | None], budget: int) -> str:
    """``median [q1-q3] (k not reached)``, a seed that never reached the threshold counted as the budget."""
    values = np.array([budget if c is None else c for c in counts], dtype=float)
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    missed = sum(c is None for c in counts)
    return f"{median:5.0f} [{q1:4.0f}-{q3:4.0f}]" + (f" ({missed} not reached)" if missed else "")


def seed_range(args: argparse.Namespace) -> str:
    return f"seeds {args.first_seed}-{args.first_seed + args.seeds - 1}"


def run_strategies(fn, decisions, args, key=None) -> dict[str, list[tuple[np.ndarray, int]]]:
    results = {}
    for strategy in args.strategies:
        config = args.ppo if strategy == "ppo" else {}
        start = time.perf_counter()
        seeds = range(args.first_seed, args.first_seed + args.seeds)
        results[strategy] = [search_rewards(fn, decisions, strategy, seed, args.budget, args.batch_size, key, config)
                             for seed in tqdm(seeds, desc=strategy, leave=False)]
        print(f"  {strategy}: {args.seeds} seeds in {time.perf_counter() - start:.0f} s", flush=True)
    return results


def nas_bench_macro(args: argparse.Namespace) -> None:
    from mnaslib.tabular.nasbench_macro import NASBenchMacro

    bench = NASBenchMacro.load(args.path)
    space = bench.space
    thresholds = {"top 0.1%": bench.top_threshold(0.001), "top 1%": bench.top_threshold(0.01)}
    print(f"NAS-Bench-Macro ({bench.source}); reward = accuracy [{bench.provenance}], no latency term")
    accuracies = np.array([record.accuracy for _, record in bench.distinct()])
    for name, value in thresholds.items():
        print(f"  {name} threshold: {100 * value:.2f}% ({np.count_nonzero(accuracies >= value)} of the "
              f"{bench.num_distinct:,} distinct networks reach it)")
    results = run_strategies(bench.accuracy, space.decision_sizes(), args, key=lambda t: space.decode(t).arch_id)
    print(f"\nmedian [IQR] over {seed_range(args)}, budget {args.budget} samples, batch {args.batch_size}"
          f"{'; PPO ' + json.dumps(args.ppo) if args.ppo and 'ppo' in args.strategies else ''}")
    for strategy, runs in results.items():
        print(f"  {strategy}")
        for name, value in thresholds.items():
            found = [samples_to(rewards, value) for rewards, _ in runs]
            print(f"    samples to a {name:8s} network: {median_iqr(found, args.budget)}")
        best = "  ".join(f"@{n}: {100 * np.median([r[:n].max() for r, _ in runs]):.2f}%"
                         for n in CHECKPOINTS if n <= args.budget)
        print(f"    best accuracy (median) {best}")
        print(f"    distinct networks evaluated: median {np.median([e for _, e in runs]):.0f} of "
              f"{args.budget} samples")


def reward_table(fn: Callable[[list[int]], float], space, args: argparse.Namespace,
                 uniform_rewards: Callable[[list[list[int]]], np.ndarray]) -> None:
    """Samples to a top-``quantile`` reward (estimated from 50,000 uniform samples) per strategy."""
    start = time.perf_counter()
    rng = np.random.default_rng(12345)
    threshold = float(np.quantile(uniform_rewards([space.sample(rng) for _ in range(50_000)]), args.quantile))
    share = f"top {100 * (1 - args.quantile):.1f}%"
    print(f"  {share} reward threshold: {threshold:.4f} (50,000 uniform samples, {time.perf_counter() - start:.0f} s)")
    results = run_strategies(fn, space.decision_sizes(), args, key=lambda t: space.decode(t).arch_id)
    counts = {strategy: [samples_to(r, threshold) for r, _ in runs] for strategy, runs in results.items()}
    print(f"\nsamples to a {share} reward, median [IQR] over {seed_range(args)}, budget {args.budget}, batch "
          f"{args.batch_size}{'; PPO ' + json.dumps(args.ppo) if args.ppo and 'ppo' in args.strategies else ''}")
    random = np.median([args.budget if c is None else c for c in counts.get("random", [None])])
    for strategy, found in counts.items():
        median = np.median([args.budget if c is None else c for c in found])
        ratio = f"   random/this = {random / median:5.2f}x" if "random" in counts else ""
        print(f"  {strategy:10s} {median_iqr(found, args.budget)}{ratio}   runs: "
              f"{[args.budget if c is None else c for c in found]}")
        best = "  ".join(f"@{n}: {np.median([r[:n].max() for r, _ in results[strategy]]):.4f}"
                         for n in CHECKPOINTS if n <= args.budget)
        print(f"             best reward (median) {best}")
        print(f"             distinct networks evaluated: median {np.median([e for _, e in results[strategy]]):.0f}"
              f" of {args.budget} samples")


def synthetic(args: argparse.Namespace) -> None:
    from mnaslib.latency import get_provider
    from mnaslib.reward import get_reward
    from mnaslib.space import MnasNetSpace
    from mnaslib.tabular.synthetic import SyntheticTable

    provider = get_provider("pixel1-model")
    bench = SyntheticTable(MnasNetSpace(), lambda arch: provider.latency(arch).median_ms,
                           get_reward("mnas_soft", target_ms=75.0), seed=0)
    print(f"synthetic table over the MnasNet space: accuracy [{bench.provenance()}], latency [predicted "
          "(Pixel-1 model)], reward mnas_soft T = 75 ms. Made-up accuracies: search mechanics, not evidence.")
    reward_table(bench, bench.space, args, lambda samples: np.array([bench(t) for t in samples]))


def accel_nasbench(args: argparse.Namespace) -> None:
    from mnaslib.components import deployment_options, make_evaluator, make_latency, search_space
    from mnaslib.profile import load_profile
    from mnaslib.recipes.benchmark_searches import benchmark_profile
    from mnaslib.reward import get_reward

    profile = benchmark_profile(load_profile("laptop"), path=args.path)
    space, bench = search_space(profile), make_evaluator(profile).benchmark
    latency = make_latency(profile.latency, deployment_options(profile))
    reward = get_reward("mnas_soft", target_ms=75.0)

    def rewards(samples: list[list[int]]) -> np.ndarray:
        archs = [space.decode(t) for t in samples]
        accuracy = np.array([r.accuracy for r in bench.records(archs)])
        return np.asarray(reward(accuracy, np.array([latency(a).value for a in archs])), dtype=float)

    arch = space.efficientnet_b0()
    print(f"Accel-NASBench: accuracy [{bench.record(arch).provenance.label}], latency "
          f"[{latency(arch).label}], reward mnas_soft T = 75 ms")
    reward_table(lambda tokens: float(rewards([tokens])[0]), space, args, rewards)


TABLES = {"nas-bench-macro": nas_bench_macro, "accel-nasbench": accel_nasbench, "synthetic": synthetic}


def parse_override(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. learning_rate=0.005), got {text!r}")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", choices=TABLES, default="nas-bench-macro")
    parser.add_argument("--path", help="the benchmark's file or its folder (default: $MNAS_NASBENCH_MACRO or "
                                       "$MNAS_ACCEL_NASBENCH, $MNAS_BENCHMARK_DIR, the cache or a checked download)")
    parser.add_argument("--seeds", type=int, default=None, help="default 20 (nas-bench-macro, accel-nasbench), 5 "
                                                                "(synthetic)")
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    parser.add_argument("--budget", type=int, default=None, help="samples per search; default 1000 "
                                                                 "(nas-bench-macro), 2000 (the others)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--quantile", type=float, default=0.999, help="synthetic and accel-nasbench: the reward "
                                                                     "quantile to reach")
    parser.add_argument("--strategies", nargs="+", choices=STRATEGIES, default=list(STRATEGIES))
    parser.add_argument("--ppo", type=parse_override, action="append", default=[], metavar="NAME=VALUE",
                        help="a PPOConfig option for the PPO runs (repeatable)")
    args = parser.parse_args()
    args.seeds = args.seeds or (5 if args.table == "synthetic" else 20)
    args.budget = args.budget or (1000 if args.table == "nas-bench-macro" else 2000)
    args.ppo = dict(args.ppo)
    TABLES[args.table](args)


if __name__ == "__main__":
    main()
