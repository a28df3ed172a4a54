"""Search strategies over a list of categorical decisions: the MnasNet RL controller, random search, evolution.

The MnasNet paper (section 4.2) searches with "the same RNN controller as NASNet": an LSTM emits one token per
decision, the tokens are turned into a model, the model's reward is measured, and the controller is updated with
Proximal Policy Optimization (PPO). Section 4.2 also says "other methods like evolution should also work", so the
same ask/tell interface offers uniform random search and regularized evolution (Real et al. 2019) as baselines.

Nothing here knows about networks: a strategy sees only an ordered list of ``(name, num_choices)`` decisions
(``MnasNetSpace().decision_sizes()`` gives the 42 decisions of the MnasNet space) and integer token sequences. That
keeps every strategy testable on cheap synthetic problems and lets the search driver store any of them in one
place.

Every strategy follows one ask/tell loop:

* ``ask(n)`` returns ``n`` token sequences to evaluate;
* ``tell(tokens, rewards)`` reports their rewards (``None``, NaN or inf for a failed trial, which is skipped) and
  returns statistics for logging;
* ``state()`` / ``load_state()`` and ``state_bytes()`` / ``SearchStrategy.from_bytes()`` capture everything needed
  for an exact resume (weights, optimizer slots, RNG state, baseline, population) as numpy arrays in an ``.npz``
  blob, without pickling any Python object, so a SQLite BLOB can hold it safely.

Searching a plain Python function takes a few lines; the strategy name can be ``"ppo"``, ``"evolution"`` or
``"random"``:

>>> from mnaslib.strategies import make_strategy
>>> decisions = [(f"d{i}", 4) for i in range(8)]
>>> target = [3, 1, 0, 2, 2, 1, 3, 0]
>>> def reward(tokens):
...     return sum(t == g for t, g in zip(tokens, target)) / len(target)
>>> search = make_strategy("evolution", decisions, seed=0, population_size=32, sample_size=8)
>>> best = (-1.0, [])
>>> for step in range(40):
...     batch = search.ask(16)
...     rewards = [reward(tokens) for tokens in batch]
...     stats = search.tell(batch, rewards)
...     best = max([best, *zip(rewards, batch)])
>>> best
(1.0, [3, 1, 0, 2, 2, 1, 3, 0])

``optimize`` runs the same loop and keeps the history:

>>> history = optimize(reward, decisions, "evolution", steps=40, batch_size=16, seed=0)
>>> history.best().tokens == target
True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mnaslib.strategies.base import STRATEGIES, Decisions, SearchStrategy, check_decisions
from mnaslib.strategies.baselines import RandomSearch, RegularizedEvolution
from mnaslib.strategies.ppo import PPOConfig, RLController

__all__ = ["STRATEGIES", "History", "PPOConfig", "RLController", "RandomSearch", "RegularizedEvolution",
           "SearchStrategy", "Trial", "check_decisions", "make_strategy", "optimize"]

def make_strategy(name: str, decisions: Decisions, seed: int = 0, **config: Any) -> SearchStrategy:
    """Build a strategy by name (``ppo``, ``random`` or ``evolution``) with its configuration as keywords.

    ``ppo`` takes ``PPOConfig`` fields, ``evolution`` takes ``population_size`` and ``sample_size``, ``random``
    takes none; anything else is a ValueError so a mistyped YAML key fails loudly.
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown search strategy {name!r}; choose one of {sorted(STRATEGIES)}")
    if name == "ppo":
        return RLController(decisions, seed=seed, config=PPOConfig.from_dict(config))
    if name == "random":
        if config:
            raise ValueError(f"random search takes no configuration, got {sorted(config)}")
        return RandomSearch(decisions, seed=seed)
    allowed = {"population_size", "sample_size"}
    if set(config) - allowed:
        raise ValueError(f"unknown evolution options {sorted(set(config) - allowed)}; known: {sorted(allowed)}")
    return RegularizedEvolution(decisions, seed=seed, **config)


@dataclass(frozen=True)
class Trial:
    """One evaluated sample: the ask/tell step it belonged to, its tokens and reward (None if it failed)."""

    step: int
    tokens: list[int]
    reward: float | None


@dataclass
class History:
    """What ``optimize`` saw: every trial and the statistics ``tell`` returned at each step."""

    trials: list[Trial] = field(default_factory=list)
    stats: list[dict[str, float]] = field(default_factory=list)

    def best(self) -> Trial:
        """The trial with the highest finite reward (the earliest one on ties)."""
        scored = [t for t in self.trials if t.reward is not None and math.isfinite(t.reward)]
        if not scored:
            raise ValueError("no trial has a finite reward")
        return max(scored, key=lambda t: t.reward)

    def mean_rewards(self) -> list[float]:
        """Mean finite reward of each step, NaN for a step where every trial failed."""
        return [s["mean_reward"] for s in self.stats]


def optimize(fn: Callable[[list[int]], float | None], decisions: Decisions, strategy: str | SearchStrategy,
             steps: int, batch_size: int, seed: int = 0, **config: Any) -> History:
    """Run ``steps`` ask/tell rounds of ``batch_size`` samples on a plain function of tokens -> reward.

    ``strategy`` is a name for ``make_strategy`` (then ``seed`` and ``config`` apply) or a ready strategy over the
    same decisions. ``fn`` may return None for a failed evaluation; exceptions propagate, because hiding them would
    hide bugs in ``fn``.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if isinstance(strategy, str):
        search = make_strategy(strategy, decisions, seed=seed, **config)
    else:
        if config:
            raise ValueError(f"configuration {sorted(config)} only applies when strategy is given by name")
        search = strategy
        if search.decisions != check_decisions(decisions):
            raise ValueError("the strategy was built for different decisions than the ones passed to optimize")
    history = History()
    for step in range(steps):
        batch = search.ask(batch_size)
        rewards = [fn(tokens) for tokens in batch]
        history.stats.append(search.tell(batch, rewards))
        history.trials.extend(Trial(step, tokens, None if r is None else float(r)) for tokens, r in zip(batch, rewards))
    return history
