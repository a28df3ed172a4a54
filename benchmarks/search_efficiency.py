"""PPO vs random search vs regularised evolution on a tabular benchmark built from the MnasNet space.

Prints, for each strategy, the number of samples needed to reach the space's top 0.1% reward (median over seeds;
capped at the budget) and the ratio to random search. Accuracy is a seeded surrogate table (mnaslib.tabular);
latency is the Pixel-1 cost model's prediction for the 224x224 deployment model; reward mnas_soft, T = 75 ms.

    python benchmarks/search_efficiency.py --seeds 5 --budget 2000
"""
from __future__ import annotations

import argparse
import statistics
import time

from tqdm import tqdm

from mnaslib.strategies import make_strategy
from mnaslib.latency import get_provider
from mnaslib.reward import get_reward
from mnaslib.space import MnasNetSpace
from mnaslib.tabular.synthetic import SyntheticTable


def samples_to_threshold(bench: SyntheticTable, strategy: str, seed: int, threshold: float, budget: int,
                         batch_size: int) -> int:
    search = make_strategy(strategy, bench.space.decision_sizes(), seed=seed)
    seen = 0
    while seen < budget:
        batch = search.ask(batch_size)
        rewards = [bench(tokens) for tokens in batch]
        for reward in rewards:
            seen += 1
            if reward >= threshold:
                return seen
        search.tell(batch, rewards)
    return budget


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--quantile", type=float, default=0.999)
    args = parser.parse_args()

    provider = get_provider("pixel1-model")
    bench = SyntheticTable(MnasNetSpace(), lambda arch: provider.latency(arch).median_ms,
                             get_reward("mnas_soft", target_ms=75.0), seed=0)
    start = time.perf_counter()
    threshold = bench.top_quantile(args.quantile, samples=50_000)
    print(f"top {100 * (1 - args.quantile):.1f}% reward threshold: {threshold:.4f} "
          f"(50,000 uniform samples, {time.perf_counter() - start:.0f} s)")
    results: dict[str, list[int]] = {}
    for strategy in ("random", "evolution", "ppo"):
        results[strategy] = [samples_to_threshold(bench, strategy, seed, threshold, args.budget, args.batch_size)
                             for seed in tqdm(range(args.seeds), desc=strategy)]
    base = statistics.median(results["random"])
    print(f"\nsamples to reach the top {100 * (1 - args.quantile):.1f}% (median of {args.seeds} seeds, "
          f"budget {args.budget}; a value equal to the budget means 'not reached')")
    for strategy, counts in results.items():
        median = statistics.median(counts)
        print(f"  {strategy:10s} median {median:7.0f}   random/this = {base / median:5.2f}x   runs: {counts}")


if __name__ == "__main__":
    main()
