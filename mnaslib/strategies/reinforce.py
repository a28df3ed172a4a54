"""TuNAS-style REINFORCE: independent per-decision logits, a moving-average baseline and Adam (Bender et al. 2020).

TuNAS searches a MnasNet-like space with a far simpler controller than NASNet's LSTM: one vector of logits per
decision, sampled independently, trained with plain REINFORCE against an exponential moving average of the reward.
It costs microseconds per sample (numpy only, no TensorFlow), and its only coupling between decisions is through the
reward, which makes it the natural second controller to set beside PPO.
"""
from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import softmax

from mnaslib.strategies.base import (Decisions, SearchStrategy, State, _as_str, _is_real, _require,
                                     config_from_dict, uniform_overrides)
from mnaslib.strategies.ppo import BASELINES


@dataclass(frozen=True)
class ReinforceConfig:
    """Hyper-parameters of the REINFORCE controller (``from_dict`` rejects unknown keys).

    ``baseline``/``normalize_advantages`` work as in ``PPOConfig``; ``entropy_coef`` multiplies the sum over decisions
    of each decision's entropy divided by log(choices), so the pull towards uniform is the same for a 2-way and an
    8-way decision; ``epsilon`` samples each decision uniformly with that probability (an exploration floor: every
    choice keeps a probability of at least epsilon / choices, and the gradient is that of the mixture). The defaults
    were chosen with PPO's by the leave-landscapes-out protocol (README, "A controller that keeps searching").
    """

    learning_rate: float = 0.1
    baseline: str = "batch"
    baseline_decay: float = 0.95
    normalize_advantages: bool = True
    entropy_coef: float = 0.0
    epsilon: float = 0.05

    def __post_init__(self) -> None:
        if not _is_real(self.learning_rate) or not self.learning_rate > 0:
            raise ValueError(f"ReinforceConfig.learning_rate must be a positive number, got {self.learning_rate!r}")
        if self.baseline not in BASELINES:
            raise ValueError(f"ReinforceConfig.baseline must be one of {', '.join(BASELINES)}, got {self.baseline!r}")
        if not _is_real(self.baseline_decay) or not 0 <= self.baseline_decay < 1:
            raise ValueError(f"ReinforceConfig.baseline_decay must be in [0, 1), got {self.baseline_decay!r}")
        if not isinstance(self.normalize_advantages, (bool, np.bool_)):
            raise ValueError(f"ReinforceConfig.normalize_advantages must be true or false, got "
                             f"{self.normalize_advantages!r}")
        if not _is_real(self.entropy_coef) or self.entropy_coef < 0:
            raise ValueError(f"ReinforceConfig.entropy_coef must be >= 0, got {self.entropy_coef!r}")
        if not _is_real(self.epsilon) or not 0 <= self.epsilon < 1:
            raise ValueError(f"ReinforceConfig.epsilon must be in [0, 1), got {self.epsilon!r}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "ReinforceConfig":
        return config_from_dict(cls, values, "reinforce options")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Reinforce(SearchStrategy):
    """Independent categorical distributions, one per decision, trained by REINFORCE with Adam."""

    kind = "reinforce"

    def __init__(self, decisions: Decisions, seed: int = 0, config: ReinforceConfig | Mapping[str, Any] | None = None,
                 **overrides: Any) -> None:
        super().__init__(decisions, seed)
        values = config.to_dict() if isinstance(config, ReinforceConfig) else dict(config or {})
        self.config = ReinforceConfig.from_dict({**values, **overrides})
        self.logits = [np.zeros(size) for size in self.sizes]
        self.moments = [np.zeros((2, size)) for size in self.sizes]
        self.baseline: float | None = None

    def probabilities(self) -> list[np.ndarray]:
        """Each decision's sampling distribution, the exploration floor included."""
        eps = self.config.epsilon
        return [(1 - eps) * softmax(logits) + eps / len(logits) for logits in self.logits]

    def entropy(self) -> np.ndarray:
        """Per-decision entropy (nats) of the sampling distributions."""
        return np.array([-(p * np.log(np.maximum(p, 1e-30))).sum() for p in self.probabilities()])

    def _ask(self, n: int) -> np.ndarray:
        policy = [softmax(logits) for logits in self.logits]
        tokens = np.stack([self.rng.choice(len(p), size=n, p=p) for p in policy], axis=1)
        overrides = uniform_overrides(self.rng, n, self.sizes, self.config.epsilon)
        return tokens if overrides is None else np.where(overrides >= 0, overrides, tokens)

    def _tell(self, tokens: np.ndarray, rewards: np.ndarray) -> dict[str, float]:
        entropies = self.entropy()
        fraction = float(np.mean([h / math.log(s) for h, s in zip(entropies, self.sizes) if s > 1] or [0.0]))
        entropy = {"entropy": float(entropies.sum()), "entropy_fraction": fraction}
        if len(rewards) == 0:
            return {"mean_reward": math.nan, **entropy}
        cfg = self.config
        mean = float(rewards.mean())
        moving = mean if self.baseline is None else self.baseline
        self.baseline = cfg.baseline_decay * moving + (1 - cfg.baseline_decay) * mean
        several = len(rewards) > 1
        advantages = rewards - (mean if cfg.baseline == "batch" and several else moving)
        if cfg.normalize_advantages and several and rewards.std() > 0:
            advantages = advantages / rewards.std()
        for t, (logits, moments) in enumerate(zip(self.logits, self.moments)):
            policy = softmax(logits)
            size = len(logits)
            if size == 1:
                continue
            mixture = (1 - cfg.epsilon) * policy + cfg.epsilon / size
            onehot = np.eye(size)[tokens[:, t]]
            # d log mixture(a) / d logits = (1 - eps) p_a (onehot - p) / mixture(a)
            weight = (1 - cfg.epsilon) * policy[tokens[:, t]] / mixture[tokens[:, t]]
            gradient = ((advantages * weight)[:, None] * (onehot - policy)).mean(axis=0)
            log_policy = np.log(np.maximum(policy, 1e-30))
            entropy_t = -(policy * log_policy).sum()
            gradient += cfg.entropy_coef / math.log(size) * -policy * (log_policy + entropy_t)
            _adam_ascent(logits, moments, gradient, cfg.learning_rate, self.step + 1)
        return {"mean_reward": mean, **entropy, "baseline": self.baseline}

    def _extra_state(self) -> State:
        return {"config": json.dumps(self.config.to_dict()),
                "baseline": math.nan if self.baseline is None else self.baseline,
                "logits": np.concatenate(self.logits), "moments": np.concatenate(self.moments, axis=1)}

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        config = json.loads(_as_str(_require(state, "config")))
        if config != self.config.to_dict():
            raise ValueError(f"state was saved with reinforce config {config}, this one has {self.config.to_dict()}")
        logits = np.asarray(_require(state, "logits"), dtype=np.float64)
        moments = np.asarray(_require(state, "moments"), dtype=np.float64)
        if logits.shape != (sum(self.sizes),) or moments.shape != (2, sum(self.sizes)):
            raise ValueError(f"state holds logits {logits.shape} and moments {moments.shape}, the decisions need "
                             f"({sum(self.sizes)},) and (2, {sum(self.sizes)})")
        cuts = np.cumsum(self.sizes)[:-1]
        self.logits = list(np.split(logits, cuts))
        self.moments = list(np.split(moments, cuts, axis=1))
        baseline = float(_require(state, "baseline"))
        self.baseline = None if math.isnan(baseline) else baseline


def _adam_ascent(params: np.ndarray, moments: np.ndarray, gradient: np.ndarray, learning_rate: float, step: int,
                 beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
    """One in-place Adam step up ``gradient`` (``moments`` holds the first and second moment estimates)."""
    moments[0] = beta1 * moments[0] + (1 - beta1) * gradient
    moments[1] = beta2 * moments[1] + (1 - beta2) * gradient ** 2
    first, second = moments[0] / (1 - beta1 ** step), moments[1] / (1 - beta2 ** step)
    params += learning_rate * first / (np.sqrt(second) + eps)
