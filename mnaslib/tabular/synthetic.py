"""A synthetic table over the MnasNet space: cheap, deterministic (decisions -> accuracy), for demonstrations.

Training thousands of children to compare PPO with random search and evolution is out of reach on a laptop, so the
benchmark replaces the proxy accuracy with a seeded table: an additive effect per (block, decision, choice) plus
pairwise effects between neighbouring blocks' ops, squashed into [0.5, 0.8]. Latency stays real (the configured
provider on the deployment model). The result is labelled a surrogate everywhere; it measures search efficiency, not
accuracy.

The table alone is blind to model size, which real networks are not: a bigger, slower network is more accurate.
Where that matters (Figure 6 is about where in latency a search goes) ``capacity_slope`` adds the paper's own
trade-off, ``slope * log2(latency / reference)``; ``paper_capacity_slope`` fits it to Figure 5's MnasNet-A1 points.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from mnaslib import paper
from mnaslib.strategies import make_strategy
from mnaslib.reward import Reward, get_reward
from mnaslib.components import make_latency, make_space
from mnaslib.profile import Profile
from mnaslib.space import MnasNetSpace, PER_BLOCK


@dataclass
class SyntheticTable:
    space: MnasNetSpace
    latency_ms: Callable[[object], float]
    reward: Reward
    seed: int = 0
    capacity_slope: float = 0.0
    reference_ms: float = 75.0
    _unary: list[np.ndarray] = field(init=False, repr=False)
    _pair: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        self._unary = [rng.normal(0.0, 1.0, size) for _, size in self.space.decision_sizes()]
        ops = len(self.space.conv_ops)
        self._pair = rng.normal(0.0, 0.7, (self.space.num_blocks - 1, ops, ops))

    def evaluate(self, tokens: Sequence[int]) -> tuple[float, float]:
        """The surrogate accuracy and the real latency (ms) of a token sequence; deterministic for the seed."""
        tokens = self.space.check_tokens(tokens)
        score = sum(table[t] for table, t in zip(self._unary, tokens))
        op_tokens = tokens[0::len(PER_BLOCK)]
        score += sum(self._pair[b, op_tokens[b], op_tokens[b + 1]] for b in range(len(op_tokens) - 1))
        scale = np.sqrt(len(self._unary) + 0.49 * (len(op_tokens) - 1))
        accuracy = 0.5 + 0.3 / (1.0 + np.exp(-score / scale * 2.0))
        latency = float(self.latency_ms(self.space.decode(tokens)))
        if self.capacity_slope:
            accuracy += self.capacity_slope * np.log2(latency / self.reference_ms)
        return float(np.clip(accuracy, 0.0, 1.0)), latency

    def accuracy(self, tokens: Sequence[int]) -> float:
        """The surrogate accuracy of a token sequence (deterministic for the benchmark's seed)."""
        return self.evaluate(tokens)[0]

    def __call__(self, tokens: Sequence[int]) -> float:
        return float(self.reward(*self.evaluate(tokens)))

    def provenance(self) -> str:
        """The label of its accuracies: a seeded table, never a trained network."""
        capacity = f", +{100 * self.capacity_slope:.1f} points per latency doubling" if self.capacity_slope else ""
        return f"synthetic (seeded table, seed {self.seed}{capacity}; not trained)"

    def top_quantile(self, quantile: float = 0.999, samples: int = 100_000, seed: int = 12345) -> float:
        """The reward at ``quantile`` of the space, estimated from uniform samples."""
        rng = np.random.default_rng(seed)
        rewards = [self(self.space.sample(rng)) for _ in range(samples)]
        return float(np.quantile(rewards, quantile))


def paper_capacity_slope(table: str = "fig5_mnasnet_a1") -> float:
    """Accuracy gained per doubling of latency, least squares over the paper's scaled-model points (Figure 5).

    Computed from the paper's own numbers (top-1 against log2 Pixel-1 latency, all multipliers and input sizes), so
    the surrogate's size-accuracy trade-off is the paper's rather than one we picked.
    """
    points = paper.load_table(table)
    slope, _ = np.polyfit(np.log2(points["latency_ms"].to_numpy(float)), points["top1"].to_numpy(float) / 100.0, 1)
    return float(slope)


# Samples per search (steps, children per step) for the surrogate Figure 6 of notebook 03. At the paper's controller
# learning rate the hard/soft difference shows after a few hundred samples; ``paper`` draws the paper's 3,000.
SURROGATE_BUDGETS: dict[str, tuple[int, int]] = {"ci": (4, 4), "laptop": (100, 8), "paper": (375, 8)}


def surrogate_search(bench: SyntheticTable, steps: int, batch_size: int, seed: int = 0, strategy: str = "ppo",
                     **strategy_config: Any) -> pd.DataFrame:
    """Search the table with a real strategy, returning one row per sample in the columns of a stored search.

    Figure 6 is a claim about where the controller's samples go, which needs hundreds of samples per search: far
    beyond a trained search on 2 cores, seconds on the table. The rows carry ``status``, ``accuracy``,
    ``latency_ms`` and ``reward`` like ``analysis.load_run``'s, so ``latency_spread`` and the plots read both.
    """
    if steps < 1 or batch_size < 1:
        raise ValueError(f"a surrogate search needs steps >= 1 and batch_size >= 1, got {steps} and {batch_size}")
    search = make_strategy(strategy, bench.space.decision_sizes(), seed=seed, **strategy_config)
    rows = []
    for step in range(steps):
        batch = search.ask(batch_size)
        rewards = []
        for tokens in batch:
            accuracy, latency = bench.evaluate(tokens)
            rewards.append(float(bench.reward(accuracy, latency)))
            rows.append({"step": step, "status": "done", "arch_id": bench.space.decode(tokens).arch_id,
                         "accuracy": accuracy, "latency_ms": latency, "reward": rewards[-1]})
        search.tell(batch, rewards)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class SurrogateFigure6:
    """The hard- and soft-reward searches on the table, with the labels their axes must carry."""

    trials: dict[str, pd.DataFrame]
    accuracy_label: str
    latency_label: str


def hard_vs_soft_surrogate(config: Profile, steps: int, batch_size: int, seed: int = 0,
                           table_seed: int = 0) -> SurrogateFigure6:
    """Figure 6 on the table: the profile's space, controller and latency provider, searched once with the hard and
    once with the soft reward at the profile's target, both from the same seed.

    The table's accuracy gets the paper's size-accuracy slope (``paper_capacity_slope``): without it a smaller
    network loses nothing, so any latency term drives both searches to the smallest models and the comparison says
    nothing about the paper's rewards.
    """
    latency = make_latency(config.latency)
    target = float(config.reward["target_ms"])
    space = make_space(config.space)
    options = {k: v for k, v in config.strategy.items() if k != "name"}
    slope = paper_capacity_slope()
    trials = {}
    for label, reward in (("hard", "mnas_hard"), ("soft", "mnas_soft")):
        bench = SyntheticTable(space, lambda arch: latency(arch).value, get_reward(reward, target_ms=target),
                                 seed=table_seed, capacity_slope=slope, reference_ms=target)
        trials[label] = surrogate_search(bench, steps, batch_size, seed, config.strategy.get("name", "ppo"),
                                         **options)
    any_arch = space.decode(space.sample(np.random.default_rng(seed)))
    return SurrogateFigure6(trials, bench.provenance(), latency(any_arch).label)
