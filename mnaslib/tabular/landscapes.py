"""Landscapes made to be hard and understood: seeded NK landscapes and deceptive trap tables over categorical decisions.

A search strategy tuned on one benchmark can be tuned *to* it. These generators give landscapes whose difficulty is
a known knob, so a strategy's defaults can be judged on landscapes that played no part in choosing them:

* ``NKLandscape`` (Kauffman's NK model, generalised to an alphabet of A choices per decision): the fitness is the
  mean of N contributions; contribution i is a seeded uniform draw looked up by decision i's choice and the choices
  of K other decisions (drawn at random). K = 0 is a smooth, additive landscape that a greedy search solves; as K
  grows towards N - 1 the landscape grows rugged (many local optima, neighbours' fitnesses uncorrelated).
* ``TrapLandscape`` (Deb and Goldberg's deceptive trap functions, over an alphabet): the decisions form blocks of k;
  a block scores k when every decision in it holds the block's hidden target choice, and otherwise k - 1 - u, where
  u counts the decisions that do. Every single change towards the target *lowers* the reward until the block is
  complete, so the greedy direction leads away from the optimum.

Both are plain seeded functions of the tokens (no files); their values are labelled ``synthetic``: they measure
search mechanics, never accuracy. ``top_threshold(fraction)`` is the reward a top-``fraction`` network reaches:
exact where the space is small enough to enumerate (``exhaustive_limit`` networks) or, for a trap, from the exact
distribution of its score; otherwise estimated from a large seeded uniform sample, and ``threshold_method`` says
which. ``LANDSCAPES`` names the instances the search-efficiency benchmark and its tests use.
"""
from __future__ import annotations

import abc
import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

EXHAUSTIVE_LIMIT = 2 ** 21  # networks a threshold is computed over exactly (vectorised, a few seconds at most)
SAMPLED = 200_000  # uniform samples behind an estimated threshold


class Landscape(abc.ABC):
    """Shared parts: decisions, vectorised evaluation, thresholds and their method."""

    name: str
    sizes: tuple[int, ...]
    seed: int

    def decisions(self) -> list[tuple[str, int]]:
        """``(name, num_choices)`` pairs, the form every search strategy takes."""
        return [(f"x{i:02d}", size) for i, size in enumerate(self.sizes)]

    @property
    def num_networks(self) -> int:
        return math.prod(self.sizes)

    def __call__(self, tokens: Sequence[int]) -> float:
        return float(self.evaluate(np.asarray([tokens], dtype=np.int64))[0])

    @abc.abstractmethod
    def evaluate(self, tokens: np.ndarray) -> np.ndarray:
        """Rewards of an ``(n, num_decisions)`` array of token sequences."""

    def _all_tokens(self) -> np.ndarray:
        grids = np.meshgrid(*[np.arange(s) for s in self.sizes], indexing="ij")
        return np.stack([g.reshape(-1) for g in grids], axis=1)

    def _reward_sample(self) -> tuple[np.ndarray, str]:
        """Every network's reward if the space is small, else a seeded uniform sample's; and how it was got."""
        if self.num_networks <= EXHAUSTIVE_LIMIT:
            return self.evaluate(self._all_tokens()), f"exact: all {self.num_networks:,} networks"
        rng = np.random.default_rng(10_000 + self.seed)
        sample = np.stack([rng.integers(s, size=SAMPLED) for s in self.sizes], axis=1)
        return self.evaluate(sample), f"estimated from {SAMPLED:,} seeded uniform samples"

    def top_threshold(self, fraction: float) -> float:
        """The reward a top-``fraction`` network reaches (a reward >= it counts as reaching that share)."""
        rewards, _ = self._cached_rewards()
        return float(np.quantile(rewards, 1.0 - fraction, method="higher"))

    @property
    def threshold_method(self) -> str:
        return self._cached_rewards()[1]

    def share_at_or_above(self, value: float) -> float:
        """The share of the space (or of the sample) whose reward is at least ``value``; ties make it exceed the
        nominal fraction on a landscape with few distinct values."""
        rewards, _ = self._cached_rewards()
        return float(np.mean(rewards >= value))

    def _cached_rewards(self) -> tuple[np.ndarray, str]:
        if getattr(self, "_rewards", None) is None:
            self._rewards = self._reward_sample()
        return self._rewards

    def provenance(self) -> str:
        return f"synthetic ({self.describe()}; seeded landscape, not trained)"

    @abc.abstractmethod
    def describe(self) -> str:
        """What the landscape is, in words, with its seed."""


@dataclass
class NKLandscape(Landscape):
    """Kauffman's NK landscape over ``n`` decisions of ``alphabet`` choices, each interacting with ``k`` others."""

    n: int
    k: int
    alphabet: int
    seed: int = 0
    name: str = ""
    _neighbours: np.ndarray = field(init=False, repr=False)
    _tables: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not (self.n >= 2 and 0 <= self.k < self.n and self.alphabet >= 2):
            raise ValueError(f"an NK landscape needs n >= 2, 0 <= k < n and alphabet >= 2, got n={self.n}, "
                             f"k={self.k}, alphabet={self.alphabet}")
        rng = np.random.default_rng(self.seed)
        others = [rng.choice(np.delete(np.arange(self.n), i), size=self.k, replace=False) for i in range(self.n)]
        self._neighbours = np.array([[i, *o] for i, o in enumerate(others)], dtype=np.int64)
        self._tables = rng.uniform(size=(self.n, self.alphabet ** (self.k + 1)))
        self.sizes = (self.alphabet,) * self.n
        self.name = self.name or f"nk-n{self.n}-k{self.k}-a{self.alphabet}"
        self._rewards = None

    def evaluate(self, tokens: np.ndarray) -> np.ndarray:
        tokens = np.asarray(tokens, dtype=np.int64)
        powers = self.alphabet ** np.arange(self.k, -1, -1)
        index = (tokens[:, self._neighbours] * powers).sum(axis=2)  # (samples, n)
        return self._tables[np.arange(self.n), index].mean(axis=1)

    def describe(self) -> str:
        return f"NK landscape N={self.n}, K={self.k}, A={self.alphabet}, seed {self.seed}"


@dataclass
class TrapLandscape(Landscape):
    """Concatenated deceptive traps: ``blocks`` blocks of ``block_size`` decisions of ``alphabet`` choices."""

    blocks: int
    block_size: int
    alphabet: int = 2
    seed: int = 0
    name: str = ""
    _target: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not (self.blocks >= 1 and self.block_size >= 2 and self.alphabet >= 2):
            raise ValueError(f"a trap landscape needs blocks >= 1, block_size >= 2 and alphabet >= 2, got "
                             f"{self.blocks}, {self.block_size}, {self.alphabet}")
        rng = np.random.default_rng(self.seed)
        self._target = rng.integers(self.alphabet, size=self.blocks * self.block_size)
        self.sizes = (self.alphabet,) * (self.blocks * self.block_size)
        self.name = self.name or f"trap-{self.blocks}x{self.block_size}-a{self.alphabet}"
        self._rewards = None

    def _block_value(self, matches: np.ndarray) -> np.ndarray:
        k = self.block_size
        return np.where(matches == k, k, k - 1 - matches)

    def evaluate(self, tokens: np.ndarray) -> np.ndarray:
        matches = (np.asarray(tokens) == self._target).reshape(len(tokens), self.blocks, self.block_size).sum(axis=2)
        return self._block_value(matches).sum(axis=1) / (self.blocks * self.block_size)

    def _reward_sample(self) -> tuple[np.ndarray, str]:
        """The exact distribution of the score, as a weighted sample: a block's matches are binomial(k, 1/A) under
        uniform sampling and the blocks are independent, so the total's distribution is a convolution."""
        k, p = self.block_size, 1.0 / self.alphabet
        block = np.zeros(k + 1)
        for u in range(k + 1):
            block[self._block_value(np.array(u))] += math.comb(k, u) * p ** u * (1 - p) ** (k - u)
        total = np.array([1.0])
        for _ in range(self.blocks):
            total = np.convolve(total, block)
        self._distribution = total
        values = np.arange(len(total)) / (self.blocks * k)
        return values, f"exact: the score's distribution over all {self.num_networks:,} networks"

    def top_threshold(self, fraction: float) -> float:
        values, _ = self._cached_rewards()
        upper = np.cumsum(self._distribution[::-1])[::-1]  # P(score >= value)
        return float(values[np.flatnonzero(upper >= fraction).max()])

    def share_at_or_above(self, value: float) -> float:
        values, _ = self._cached_rewards()
        return float(self._distribution[values >= value - 1e-12].sum())

    def describe(self) -> str:
        return (f"deceptive trap, {self.blocks} blocks of {self.block_size} decisions, A={self.alphabet}, "
                f"seed {self.seed}")


def landscape(name: str) -> Landscape:
    """A named instance of ``LANDSCAPES``."""
    if name not in LANDSCAPES:
        raise ValueError(f"unknown landscape {name!r}; known: {', '.join(LANDSCAPES)}")
    return LANDSCAPES[name]()


# The instances the benchmark and the tests use: several alphabets, 6-30 decisions, K from smooth to rugged.
# The "tune" ones are where controller defaults are chosen; every other landscape (and every real benchmark) is
# held out.
LANDSCAPES = {
    "nk-tune-a": lambda: NKLandscape(12, 2, 4, seed=101, name="nk-tune-a"),
    "nk-tune-b": lambda: NKLandscape(20, 4, 2, seed=102, name="nk-tune-b"),
    "nk-6x8-k3": lambda: NKLandscape(6, 3, 8, seed=1, name="nk-6x8-k3"),
    "nk-10x4-k2": lambda: NKLandscape(10, 2, 4, seed=2, name="nk-10x4-k2"),
    "nk-20x2-k6": lambda: NKLandscape(20, 6, 2, seed=3, name="nk-20x2-k6"),
    "nk-30x3-k1": lambda: NKLandscape(30, 1, 3, seed=4, name="nk-30x3-k1"),
    "nk-16x5-k8": lambda: NKLandscape(16, 8, 5, seed=5, name="nk-16x5-k8"),
    "trap-5x4-a2": lambda: TrapLandscape(5, 4, 2, seed=6, name="trap-5x4-a2"),
    "trap-10x3-a3": lambda: TrapLandscape(10, 3, 3, seed=7, name="trap-10x3-a3"),
}
TUNING = ("nk-tune-a", "nk-tune-b")
