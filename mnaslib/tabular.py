"""A tabular benchmark built from the MnasNet space: cheap, deterministic (decisions -> accuracy) for comparing
search strategies.

Training thousands of children to compare PPO with random search and evolution is out of reach on a laptop, so the
benchmark replaces the proxy accuracy with a seeded table: an additive effect per (block, decision, choice) plus
pairwise effects between neighbouring blocks' ops, squashed into [0.5, 0.8]. Latency stays real (the configured
provider on the deployment model). The result is labelled a surrogate everywhere; it measures search efficiency, not
accuracy.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from mnaslib.reward import Reward
from mnaslib.space import MnasNetSpace, PER_BLOCK


@dataclass
class TabularBenchmark:
    space: MnasNetSpace
    latency_ms: Callable[[object], float]
    reward: Reward
    seed: int = 0
    _unary: list[np.ndarray] = field(init=False, repr=False)
    _pair: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        self._unary = [rng.normal(0.0, 1.0, size) for _, size in self.space.decision_sizes()]
        ops = len(self.space.conv_ops)
        self._pair = rng.normal(0.0, 0.7, (self.space.num_blocks - 1, ops, ops))

    def accuracy(self, tokens: Sequence[int]) -> float:
        """The surrogate accuracy of a token sequence (deterministic for the benchmark's seed)."""
        tokens = self.space.check_tokens(tokens)
        score = sum(table[t] for table, t in zip(self._unary, tokens))
        op_tokens = tokens[0::len(PER_BLOCK)]
        score += sum(self._pair[b, op_tokens[b], op_tokens[b + 1]] for b in range(len(op_tokens) - 1))
        scale = np.sqrt(len(self._unary) + 0.49 * (len(op_tokens) - 1))
        return float(0.5 + 0.3 / (1.0 + np.exp(-score / scale * 2.0)))

    def __call__(self, tokens: Sequence[int]) -> float:
        arch = self.space.decode(tokens)
        return float(self.reward(self.accuracy(tokens), self.latency_ms(arch)))

    def top_quantile(self, quantile: float = 0.999, samples: int = 100_000, seed: int = 12345) -> float:
        """The reward at ``quantile`` of the space, estimated from uniform samples."""
        rng = np.random.default_rng(seed)
        rewards = [self(self.space.sample(rng)) for _ in range(samples)]
        return float(np.quantile(rewards, quantile))
