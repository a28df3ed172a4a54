"""A synthetic table over the MnasNet space: cheap, deterministic (decisions -> accuracy), for demonstrations.

Training thousands of children to compare PPO with random search and evolution is out of reach on a laptop, so the
benchmark replaces the proxy accuracy with a seeded table: an additive effect per (block, decision, choice) plus
pairwise effects between neighbouring blocks' ops, squashed into [0.5, 0.8]. Latency stays real (the configured
provider on the deployment model). Its accuracies are labelled synthetic everywhere; the table is blind to model
size, as real networks are not, so it measures search efficiency (``benchmarks/search_efficiency.py``), never
accuracy: experiments about accuracy run on the real benchmarks (``mnaslib.tabular.nasbench_macro``,
``mnaslib.tabular.accel_nasbench``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from mnaslib.reward import Reward
from mnaslib.spaces.mnasnet import MnasNetSpace, PER_BLOCK


@dataclass
class SyntheticTable:
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

    def evaluate(self, tokens: Sequence[int]) -> tuple[float, float]:
        """The surrogate accuracy and the real latency (ms) of a token sequence; deterministic for the seed."""
        tokens = self.space.check_tokens(tokens)
        score = sum(table[t] for table, t in zip(self._unary, tokens))
        op_tokens = tokens[0::len(PER_BLOCK)]
        score += sum(self._pair[b, op_tokens[b], op_tokens[b + 1]] for b in range(len(op_tokens) - 1))
        scale = np.sqrt(len(self._unary) + 0.49 * (len(op_tokens) - 1))
        accuracy = 0.5 + 0.3 / (1.0 + np.exp(-score / scale * 2.0))
        return float(accuracy), float(self.latency_ms(self.space.decode(tokens)))

    def accuracy(self, tokens: Sequence[int]) -> float:
        """The surrogate accuracy of a token sequence (deterministic for the benchmark's seed)."""
        return self.evaluate(tokens)[0]

    def __call__(self, tokens: Sequence[int]) -> float:
        return float(self.reward(*self.evaluate(tokens)))

    def provenance(self) -> str:
        """The label of its accuracies: a seeded table, never a trained network."""
        return f"synthetic (seeded table, seed {self.seed}; not trained)"

    def top_quantile(self, quantile: float = 0.999, samples: int = 100_000, seed: int = 12345) -> float:
        """The reward at ``quantile`` of the space, estimated from uniform samples."""
        rng = np.random.default_rng(seed)
        rewards = [self(self.space.sample(rng)) for _ in range(samples)]
        return float(np.quantile(rewards, quantile))
