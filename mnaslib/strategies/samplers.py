"""Optuna's samplers as search strategies, through Optuna's ask-and-tell interface.

``strategy: {name: optuna, sampler: tpe}`` (or ``nsga2``, ``nsga3``, ``gp``, ``random``) searches the same
categorical decisions as every other strategy: each decision is one ``CategoricalDistribution`` over its choice
indices, ``ask`` is ``study.ask`` with those fixed distributions, and ``tell`` is ``study.tell``. ``objectives``
chooses what the study optimises: ``[reward]`` (the default: the scalar reward, maximised) or, for a multi-objective
sampler, e.g. ``[accuracy, latency]`` (accuracy maximised, latency minimised: a Pareto search in place of the
paper's scalar reward). Those values come with ``tell(..., metrics=[{"accuracy": ..., "latency": ...}, ...])``,
which the search loop and ``optimize(metrics=...)`` pass.

Resuming replays the tells: the state holds every asked sample with the values it was told, grouped by tell; loading
it builds a fresh study with the same seeded sampler and asks and tells the same sequence again (checking that each
ask returns the recorded sample), which leaves the sampler exactly where the killed search left it. No Optuna
object is pickled, and replaying costs about what the original asks cost.
"""
from __future__ import annotations

import importlib.util
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mnaslib.strategies.base import Decisions, SearchStrategy, State, _as_str, _reward_value, _require

SAMPLERS = ("tpe", "nsga2", "nsga3", "gp", "random")
MULTI_OBJECTIVE = ("nsga2", "nsga3", "tpe", "random")
OBJECTIVES = {"reward": "maximize", "accuracy": "maximize", "latency": "minimize"}


def check_optuna_options(sampler: str = "tpe", objectives: Sequence[str] = ("reward",),
                         sampler_options: Mapping[str, Any] | None = None) -> tuple[str, tuple[str, ...], dict]:
    """Validate the configuration without building a study (so a profile is checked before anything runs)."""
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown optuna sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    if isinstance(objectives, str) or not isinstance(objectives, Sequence) or not objectives:
        raise ValueError(f"optuna objectives must be a non-empty list of {sorted(OBJECTIVES)}, got {objectives!r}")
    unknown = [o for o in objectives if o not in OBJECTIVES]
    if unknown or len(set(objectives)) != len(objectives):
        raise ValueError(f"optuna objectives must be distinct names from {sorted(OBJECTIVES)}, got {list(objectives)}")
    if sampler == "gp" and importlib.util.find_spec("torch") is None:
        # Optuna's GP sampler imports PyTorch only once its random start-up trials are done: fail before the search
        raise ValueError("the gp sampler needs PyTorch, which is not installed (pip install torch), or choose tpe")
    if len(objectives) > 1 and sampler not in MULTI_OBJECTIVE:
        raise ValueError(f"the {sampler} sampler optimises one objective; for {list(objectives)} use one of "
                         f"{', '.join(MULTI_OBJECTIVE)}")
    if sampler_options is not None and not isinstance(sampler_options, Mapping):
        raise ValueError(f"optuna sampler_options must be a mapping of the sampler's keyword arguments, got "
                         f"{sampler_options!r}")
    return sampler, tuple(objectives), dict(sampler_options or {})


class OptunaStrategy(SearchStrategy):
    """An Optuna study over the decisions, driven by ask/tell; resumable by replaying its tells."""

    kind = "optuna"

    def __init__(self, decisions: Decisions, seed: int = 0, sampler: str = "tpe",
                 objectives: Sequence[str] = ("reward",), sampler_options: Mapping[str, Any] | None = None) -> None:
        super().__init__(decisions, seed)
        self.sampler, self.objectives, self.sampler_options = check_optuna_options(sampler, objectives,
                                                                                   sampler_options)
        self._study = self._new_study()
        self._pending: list[Any] = []
        # every asked (or added) sample with its told values (NaN: failed), and which tell it belonged to
        self._tokens = np.zeros((0, self.num_decisions), dtype=np.int64)
        self._values = np.zeros((0, len(self.objectives)))
        self._tell_index = np.zeros((0,), dtype=np.int64)
        self._asked = np.zeros((0,), dtype=bool)

    def _new_study(self) -> Any:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        samplers = {"tpe": optuna.samplers.TPESampler, "nsga2": optuna.samplers.NSGAIISampler,
                    "nsga3": optuna.samplers.NSGAIIISampler, "gp": optuna.samplers.GPSampler,
                    "random": optuna.samplers.RandomSampler}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            try:
                sampler = samplers[self.sampler](seed=self.seed, **self.sampler_options)
            except TypeError as err:
                raise ValueError(f"bad options for the {self.sampler} sampler {self.sampler_options}: {err}") from None
            except ImportError as err:
                raise ValueError(f"the {self.sampler} sampler needs a package that is not installed: {err}") from None
        self._distributions = {name: optuna.distributions.CategoricalDistribution(list(range(size)))
                               for name, size in self.decisions}
        return optuna.create_study(directions=[OBJECTIVES[o] for o in self.objectives], sampler=sampler)

    def _ask(self, n: int) -> np.ndarray:
        import optuna

        rows = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            for _ in range(n):
                trial = self._study.ask(self._distributions)
                self._pending.append(trial)
                rows.append([trial.params[name] for name, _ in self.decisions])
        return np.array(rows, dtype=np.int64).reshape(n, self.num_decisions)

    def tell(self, tokens: Sequence[Sequence[int]], rewards: Sequence[float | None],
             metrics: Sequence[Mapping[str, float]] | None = None) -> dict[str, float]:
        """Tell the study each sample's objective values (a failed sample is told as failed).

        The samples must be the ones ``ask`` returned, in order (a shorter list is allowed: the samples left over
        were never evaluated and are told as failed); with nothing asked, the samples are added to the study as
        finished trials (a warm start). ``metrics`` gives each sample's ``accuracy`` and ``latency`` when those are
        objectives.
        """
        array = self.check_tokens(tokens)
        if isinstance(rewards, (str, bytes)) or not isinstance(rewards, Sequence) or len(rewards) != len(array):
            raise ValueError(f"got {len(array)} token sequences; rewards must be a sequence of as many values")
        values = np.array([self._objective_values(i, r, metrics) for i, r in enumerate(rewards)], dtype=float)
        values = values.reshape(len(array), len(self.objectives))
        asked = bool(self._pending)
        if asked and len(array) > len(self._pending):
            raise ValueError(f"told {len(array)} samples but only {len(self._pending)} were asked")
        if asked:
            for row, trial in zip(array, self._pending):
                if [trial.params[name] for name, _ in self.decisions] != row.tolist():
                    raise ValueError("tell must report the samples ask returned, in the same order")
            leftover = self._pending[len(array):]
            rest = np.array([[t.params[n] for n, _ in self.decisions] for t in leftover], dtype=np.int64)
            array = np.concatenate([array, rest.reshape(-1, self.num_decisions)])
            values = np.concatenate([values, np.full((len(leftover), len(self.objectives)), np.nan)])
        self._record(array, values, asked)
        valid = np.isfinite(values).all(axis=1)
        self.step += 1
        finite = self._values[np.isfinite(self._values).all(axis=1)]  # every trial so far
        told = np.array([_reward_value(r, i) for i, r in enumerate(rewards)], dtype=float)
        told = told[np.isfinite(told)]
        stats = {"mean_reward": float(told.mean()) if len(told) else math.nan,
                 "num_valid": float(valid[:len(rewards)].sum()), "step": float(self.step),
                 "trials": float(len(self._values))}
        for k, name in enumerate(self.objectives):
            stats[f"best_{name}"] = float(np.nan if not len(finite) else (finite[:, k].max()
                                          if OBJECTIVES[name] == "maximize" else finite[:, k].min()))
        return stats

    def _objective_values(self, index: int, reward: Any, metrics: Sequence[Mapping[str, float]] | None) -> list:
        values = []
        for name in self.objectives:
            if name == "reward":
                value = _reward_value(reward, index)
            else:
                if metrics is None or len(metrics) <= index:
                    raise ValueError(f"the {name} objective needs metrics=[{{'{name}': ...}}, ...] for every sample")
                value = metrics[index].get(name)
                value = math.nan if value is None else _reward_value(value, index)
            values.append(value if math.isfinite(value) else math.nan)
        if reward is None or not math.isfinite(_reward_value(reward, index)):
            return [math.nan] * len(self.objectives)  # a failed evaluation is failed for every objective
        return values

    def _record(self, tokens: np.ndarray, values: np.ndarray, asked: bool) -> None:
        """Tell the study (or add finished trials when nothing was asked) and keep the replayable history."""
        import optuna

        if asked:
            for trial, row in zip(self._pending, values):
                if np.isfinite(row).all():
                    self._study.tell(trial, row.tolist() if len(row) > 1 else float(row[0]))
                else:
                    self._study.tell(trial, state=optuna.trial.TrialState.FAIL)
            self._pending = []
        else:
            for sequence, row in zip(tokens, values):
                params = {name: int(t) for (name, _), t in zip(self.decisions, sequence)}
                finished = np.isfinite(row).all()
                self._study.add_trial(optuna.trial.create_trial(
                    params=params, distributions=self._distributions,
                    values=row.tolist() if finished else None,
                    state=optuna.trial.TrialState.COMPLETE if finished else optuna.trial.TrialState.FAIL))
        self._tokens = np.concatenate([self._tokens, tokens])
        self._values = np.concatenate([self._values, values])
        self._tell_index = np.concatenate([self._tell_index, np.full(len(tokens), self.step)])
        self._asked = np.concatenate([self._asked, np.full(len(tokens), asked)])

    def _tell(self, tokens: np.ndarray, rewards: np.ndarray) -> dict[str, float]:
        raise AssertionError("OptunaStrategy.tell handles its own samples")  # pragma: no cover - tell is overridden

    def _config(self) -> dict[str, Any]:
        return {"sampler": self.sampler, "objectives": list(self.objectives), "sampler_options": self.sampler_options}

    def _extra_state(self) -> State:
        return {"config": json.dumps(self._config()), "history_tokens": self._tokens.copy(),
                "history_values": self._values.copy(), "history_tell": self._tell_index.copy(),
                "history_asked": self._asked.copy(),
                "pending_tokens": np.array([[t.params[n] for n, _ in self.decisions] for t in self._pending],
                                           dtype=np.int64).reshape(-1, self.num_decisions)}

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        config = json.loads(_as_str(_require(state, "config")))
        if config != self._config():
            raise ValueError(f"state was saved with optuna config {config}, this strategy has {self._config()}")
        tokens = np.asarray(_require(state, "history_tokens"), dtype=np.int64).reshape(-1, self.num_decisions)
        values = np.asarray(_require(state, "history_values"), dtype=float).reshape(len(tokens), -1)
        tells = np.asarray(_require(state, "history_tell"), dtype=np.int64).reshape(-1)
        asked = np.asarray(_require(state, "history_asked"), dtype=bool).reshape(-1)
        pending = np.asarray(_require(state, "pending_tokens"), dtype=np.int64).reshape(-1, self.num_decisions)
        self.check_tokens(np.concatenate([tokens, pending]))
        self._study, self._pending = self._new_study(), []
        self._tokens, self._values = tokens[:0], values[:0]
        self._tell_index, self._asked = tells[:0], asked[:0]
        for step in np.unique(tells):
            rows = tells == step
            self.step = int(step)
            if asked[rows].all():
                self._replay_ask(tokens[rows])
            self._record(tokens[rows], values[rows], bool(asked[rows].all()))
        if len(pending):
            self._replay_ask(pending)

    def _replay_ask(self, expected: np.ndarray) -> None:
        if not np.array_equal(self._ask(len(expected)), expected):
            raise ValueError("replaying the stored tells asked different samples: the state was written by another "
                             "Optuna version or sampler configuration")
