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
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mnaslib.errors import UserError, user_input
from mnaslib.registry import Registry
from mnaslib.strategies.base import Decisions, SearchStrategy, check_decisions
from mnaslib.strategies.baselines import RandomSearch, RegularizedEvolution
from mnaslib.strategies.ppo import PPO_PRESETS, PPOConfig, RLController
from mnaslib.strategies.reinforce import Reinforce, ReinforceConfig
from mnaslib.strategies.reuse import ReuseCache, tell_step
from mnaslib.strategies.samplers import OptunaStrategy, check_optuna_options

__all__ = ["PPO_PRESETS", "History", "OptunaStrategy", "PPOConfig", "RLController", "RandomSearch",
           "RegularizedEvolution", "Reinforce", "ReinforceConfig", "ReuseCache", "SearchStrategy", "Trial",
           "check_decisions", "EvolutionOptions", "OptunaOptions", "STRATEGY_REGISTRY", "make_strategy", "optimize",
           "strategy_options"]

@dataclass(frozen=True)
class EvolutionOptions:
    """Regularized evolution's population and tournament sizes (Real et al. 2019)."""

    population_size: int = 64
    sample_size: int = 16

    def __post_init__(self) -> None:
        if self.population_size < 2 or not 1 <= self.sample_size <= self.population_size:
            raise UserError(f"evolution needs population_size >= 2 and 1 <= sample_size <= population_size, got "
                            f"{self.population_size} and {self.sample_size}")


@dataclass(frozen=True)
class OptunaOptions:
    """An Optuna sampler, the objectives it optimises, and the sampler's own options."""

    sampler: str = "tpe"
    objectives: tuple[str, ...] | list[str] = ("reward",)
    sampler_options: dict | None = None

    def __post_init__(self) -> None:
        check_optuna_options(self.sampler, self.objectives, self.sampler_options)


# name -> factory(options, decisions, seed) and its options; configuration is validated without building (building
# the controller loads TensorFlow, an Optuna study starts one)
STRATEGY_REGISTRY: Registry[SearchStrategy] = Registry("search strategy")
STRATEGY_REGISTRY.add("ppo", lambda options, decisions, seed: RLController(decisions, seed=seed, config=options),
                      PPOConfig)
STRATEGY_REGISTRY.add("reinforce", lambda options, decisions, seed: Reinforce(decisions, seed=seed, config=options),
                      ReinforceConfig)
STRATEGY_REGISTRY.add("evolution", lambda options, decisions, seed: RegularizedEvolution(
    decisions, seed=seed, population_size=options.population_size, sample_size=options.sample_size),
    EvolutionOptions)
STRATEGY_REGISTRY.add("random", lambda options, decisions, seed: RandomSearch(decisions, seed=seed))
STRATEGY_REGISTRY.add("optuna", lambda options, decisions, seed: OptunaStrategy(
    decisions, seed=seed, sampler=options.sampler, objectives=options.objectives,
    sampler_options=options.sampler_options), OptunaOptions)


def strategy_options(name: str, config: Mapping[str, Any]) -> Any:
    """A strategy's typed options from its configuration, validated without building it; UserError if wrong."""
    with user_input():  # the configurations' own checks (PPOConfig, Optuna's) speak ValueError
        return STRATEGY_REGISTRY.options(name, config, "strategy")


def make_strategy(name: str, decisions: Decisions, seed: int = 0, **config: Any) -> SearchStrategy:
    """Build a strategy by name with its configuration as keywords.

    ``ppo`` takes ``PPOConfig`` fields (and ``preset``), ``reinforce`` ``ReinforceConfig`` fields, ``optuna``
    ``sampler``, ``objectives`` and ``sampler_options``, ``evolution`` ``population_size`` and ``sample_size``,
    ``random`` none; anything else is a UserError so a mistyped YAML key fails loudly.
    """
    return STRATEGY_REGISTRY.build(name, strategy_options(name, config), decisions, seed)


@dataclass(frozen=True)
class Trial:
    """One sample: the ask/tell step it belonged to, its tokens and reward (None if it failed), and whether the
    reward was reused from an earlier evaluation of the same network instead of evaluated again."""

    step: int
    tokens: list[int]
    reward: float | None
    reused: bool = False
    metrics: dict[str, float] | None = None


@dataclass
class History:
    """What ``optimize`` saw: every trial (reused ones included) and the statistics ``tell`` returned each step."""

    trials: list[Trial] = field(default_factory=list)
    stats: list[dict[str, float]] = field(default_factory=list)

    @property
    def evaluations(self) -> int:
        """How many trials were really evaluated (``len(trials)`` counts every sample)."""
        return sum(not trial.reused for trial in self.trials)

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
             steps: int, batch_size: int, seed: int = 0, *, key: Callable[[list[int]], Hashable] | None = None,
             reevaluate: bool = False, max_evaluations: int | None = None,
             metrics: Callable[[list[int]], dict[str, float]] | None = None, **config: Any) -> History:
    """Run up to ``steps`` ask/tell rounds of ``batch_size`` samples on a plain function of tokens -> reward.

    ``strategy`` is a name for ``make_strategy`` (then ``seed`` and ``config`` apply) or a ready strategy over the
    same decisions. ``fn`` may return None for a failed evaluation; exceptions propagate, because hiding them would
    hide bugs in ``fn``.

    Evaluations are cached by the rule ``search.loop.run_search`` follows too (``strategies.reuse.ReuseCache``): a
    sample whose tokens (or ``key(tokens)``, e.g. an architecture id under which equivalent token sequences meet)
    were already evaluated gets the earlier reward, and its trial is marked ``reused``; the strategy is told every
    sample all the same, so sample counts stay honest and ``History.evaluations`` says how many evaluations were
    real. A failed evaluation is not cached, so sampling it again tries again. ``reevaluate=True`` turns the cache
    off, for a noisy ``fn`` whose repeats are the point.

    ``metrics`` (tokens -> e.g. ``{"accuracy": ..., "latency": ...}``) gives what a multi-objective strategy
    optimises besides the reward (``make_strategy("optuna", ..., objectives=["accuracy", "latency"])``); it is
    evaluated, cached and told with the reward.

    ``max_evaluations`` caps the real evaluations: the search stops at the first sample that would need one more,
    and the batch up to that sample is told. ``steps`` bounds the rounds either way, because a strategy that only
    re-samples cached networks would otherwise never reach the evaluation budget.
    """
    steps = _count(steps, "steps")
    batch_size = _count(batch_size, "batch_size")
    seed = _count(seed, "seed", minimum=0)
    budget = math.inf if max_evaluations is None else _count(max_evaluations, "max_evaluations")
    if key is not None and not callable(key):
        raise ValueError(f"key must be a function of the tokens (e.g. lambda t: space.decode(t).arch_id), got {key!r}")
    if isinstance(strategy, str):
        search = make_strategy(strategy, decisions, seed=seed, **config)
    else:
        if config:
            raise ValueError(f"configuration {sorted(config)} only applies when strategy is given by name")
        search = strategy
        if search.decisions != check_decisions(decisions):
            raise ValueError("the strategy was built for different decisions than the ones passed to optimize")
    history, evaluated = History(), 0
    cache: ReuseCache[tuple[float, dict[str, float] | None]] = ReuseCache(enabled=not reevaluate)
    for step in range(steps):
        trials = []
        for tokens in search.ask(batch_size):
            cache_key = (key or tuple)(tokens)
            known = cache.get(cache_key)
            if known is not None:
                trials.append(Trial(step, tokens, known[0], reused=True, metrics=known[1]))
                continue
            if evaluated >= budget:
                break
            reward, evaluated = fn(tokens), evaluated + 1
            reward = None if reward is None else float(reward)
            values = None if metrics is None else dict(metrics(tokens))
            if reward is not None and math.isfinite(reward):
                cache.keep(cache_key, (reward, values))
            trials.append(Trial(step, tokens, reward, metrics=values))
        if trials:
            told = None if metrics is None else [t.metrics for t in trials]
            history.stats.append(tell_step(search, [t.tokens for t in trials], [t.reward for t in trials], told))
            history.trials.extend(trials)
        if len(trials) < batch_size:
            break
    return history


def _count(value: Any, what: str, minimum: int = 1) -> int:
    """An integer (Python or numpy) of at least ``minimum``; floats and booleans are refused, not rounded."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        bound = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{what} must be {bound}, got {value!r}")
    return int(value)
