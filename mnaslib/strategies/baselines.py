"""The baselines every strategy has to beat: uniform random search and regularized evolution (Real et al. 2019).

Section 4.2 of the paper says "other methods like evolution should also work"; both use the same ask/tell
interface as the RL controller, so a search switches strategy by name.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from mnaslib.strategies.base import Decisions, SearchStrategy, State, _as_str, _mean, _require

class RandomSearch(SearchStrategy):
    """Uniform sampling of every decision: the baseline any search strategy has to beat."""

    kind = "random"

    def _ask(self, n: int) -> np.ndarray:
        return np.stack([self.rng.integers(size, size=n) for size in self.sizes], axis=1)

    def _tell(self, tokens: np.ndarray, rewards: np.ndarray) -> dict[str, float]:
        return {"mean_reward": _mean(rewards)}

    def _extra_state(self) -> State:
        return {}

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        return None


class RegularizedEvolution(SearchStrategy):
    """Regularized ("aging") evolution, Real et al. 2019, Algorithm 1, in ask/tell form.

    The population holds the last ``population_size`` evaluated samples in the order they were told. Until it is
    full, ``ask`` returns uniform random samples (the paper's random initial population). Afterwards each asked
    sample is a mutation of a tournament winner: ``sample_size`` members are drawn (without replacement, as in the
    NAS-Bench-101 reference code), the best is copied, and one random decision is changed to a different value.
    ``tell`` appends the new samples and removes the *oldest* members, not the worst, which is what regularizes the
    search: an architecture survives only by being re-discovered through its children.
    """

    kind = "evolution"

    def __init__(self, decisions: Decisions, seed: int = 0, population_size: int = 64, sample_size: int = 16) -> None:
        super().__init__(decisions, seed)
        if isinstance(population_size, bool) or not isinstance(population_size, (int, np.integer)) \
                or population_size < 2:
            raise ValueError(f"population_size must be an integer >= 2, got {population_size!r}")
        if isinstance(sample_size, bool) or not isinstance(sample_size, (int, np.integer)) \
                or not 1 <= sample_size <= population_size:
            raise ValueError(f"sample_size must be an integer in [1, population_size={population_size}], "
                             f"got {sample_size!r}")
        self.population_size = int(population_size)
        self.sample_size = int(sample_size)
        self.population_tokens = np.zeros((0, self.num_decisions), dtype=np.int64)
        self.population_rewards = np.zeros((0,), dtype=np.float64)
        self._mutable = np.array([size > 1 for size in self.sizes])

    def _ask(self, n: int) -> np.ndarray:
        if len(self.population_rewards) < self.population_size:
            return np.stack([self.rng.integers(size, size=n) for size in self.sizes], axis=1)
        return np.stack([self._mutate(self._tournament()) for _ in range(n)])

    def _tournament(self) -> np.ndarray:
        picked = self.rng.choice(len(self.population_rewards), size=self.sample_size, replace=False)
        return self.population_tokens[picked[np.argmax(self.population_rewards[picked])]]

    def _mutate(self, parent: np.ndarray) -> np.ndarray:
        """Change one decision (among those with a real choice) to a different value."""
        child = parent.copy()
        if not self._mutable.any():
            return child
        position = int(self.rng.choice(np.flatnonzero(self._mutable)))
        offset = int(self.rng.integers(1, self.sizes[position]))
        child[position] = (child[position] + offset) % self.sizes[position]
        return child

    def _tell(self, tokens: np.ndarray, rewards: np.ndarray) -> dict[str, float]:
        self.population_tokens = np.concatenate([self.population_tokens, tokens])[-self.population_size:]
        self.population_rewards = np.concatenate([self.population_rewards, rewards])[-self.population_size:]
        return {
            "mean_reward": _mean(rewards),
            "population_size": float(len(self.population_rewards)),
            "population_best": float(self.population_rewards.max()) if len(self.population_rewards) else math.nan,
            "population_mean": _mean(self.population_rewards),
        }

    def _extra_state(self) -> State:
        return {
            "config": json.dumps({"population_size": self.population_size, "sample_size": self.sample_size}),
            "population_tokens": self.population_tokens.copy(),
            "population_rewards": self.population_rewards.copy(),
        }

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        config = json.loads(_as_str(_require(state, "config")))
        if config != {"population_size": self.population_size, "sample_size": self.sample_size}:
            raise ValueError(f"state was saved with evolution config {config}, this strategy has "
                             f"population_size={self.population_size}, sample_size={self.sample_size}")
        tokens = np.asarray(_require(state, "population_tokens"), dtype=np.int64).reshape(-1, self.num_decisions)
        rewards = np.asarray(_require(state, "population_rewards"), dtype=np.float64).reshape(-1)
        if len(tokens) != len(rewards):
            raise ValueError(f"state has {len(tokens)} population members but {len(rewards)} rewards")
        self.population_tokens = self.check_tokens(tokens)
        self.population_rewards = rewards
