"""The ask/tell interface every search strategy implements, with input checks and exact, pickle-free state.

Nothing here knows about networks: a strategy sees only an ordered list of ``(name, num_choices)`` decisions and
integer token sequences (see the package docstring). Subclasses register themselves by their ``kind`` so that
``SearchStrategy.from_bytes`` can rebuild any stored strategy.
"""
from __future__ import annotations

import abc
import dataclasses
import io
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from mnaslib.registry import did_you_mean

Decisions = Sequence[tuple[str, int]]
State = dict[str, Any]
# kind -> class; filled by SearchStrategy.__init_subclass__ as the strategy modules are imported
STRATEGIES: dict[str, type["SearchStrategy"]] = {}

def check_decisions(decisions: Decisions) -> list[tuple[str, int]]:
    """Validate ``(name, num_choices)`` pairs and return them as a plain list.

    Names must be unique so a stored state can be matched to the space it was made for; every decision needs at
    least one choice (a single choice is allowed: it is a fixed part of the space, not an error).
    """
    if isinstance(decisions, (str, bytes)) or not isinstance(decisions, Sequence):
        raise ValueError(f"decisions must be a sequence of (name, num_choices) pairs, got {type(decisions).__name__}")
    if len(decisions) == 0:
        raise ValueError("decisions must not be empty: a search needs at least one decision")
    checked: list[tuple[str, int]] = []
    seen: set[str] = set()
    for position, pair in enumerate(decisions):
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise ValueError(f"decision {position} must be a (name, num_choices) pair, got {pair!r}")
        name, size = pair
        if not isinstance(name, str) or not name:
            raise ValueError(f"decision {position} needs a non-empty string name, got {name!r}")
        if name in seen:
            raise ValueError(f"decision name {name!r} appears twice; names must be unique")
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"decision {name!r} must have an integer number of choices >= 1, got {size!r}")
        seen.add(name)
        checked.append((name, int(size)))
    return checked


class SearchStrategy(abc.ABC):
    """The ask/tell interface shared by all strategies, with input checks and byte serialisation.

    Subclasses implement ``_ask``, ``_tell``, ``_extra_state`` and ``_load_extra_state``; this class owns the
    decisions, the seeded numpy generator (the only source of randomness, so one saved generator state makes
    resumes exact) and the number of ``tell`` calls.
    """

    kind: ClassVar[str]
    objectives: tuple[str, ...] = ("reward",)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            STRATEGIES[cls.kind] = cls

    def __init__(self, decisions: Decisions, seed: int = 0) -> None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.decisions = check_decisions(decisions)
        self.sizes = [size for _, size in self.decisions]
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.step = 0

    @property
    def num_decisions(self) -> int:
        """How many tokens each sample has."""
        return len(self.decisions)

    def ask(self, n: int) -> list[list[int]]:
        """Return ``n`` token sequences to evaluate next."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"ask needs a positive integer number of samples, got {n!r}")
        return [[int(t) for t in row] for row in self._ask(int(n))]

    def tell(self, tokens: Sequence[Sequence[int]], rewards: Sequence[float | None],
             metrics: Sequence[Mapping[str, float]] | None = None) -> dict[str, float]:
        """Report rewards for token sequences and update the strategy; returns statistics for logging.

        ``metrics`` (per sample, e.g. ``{"accuracy": ..., "latency": ...}``) is for strategies that optimise more
        than the scalar reward (``objectives`` names what they need); the others ignore it.

        A reward of ``None``, NaN or inf marks a failed trial. Failed trials are dropped before the update because
        a training crash says nothing about how good an architecture is, and a non-finite value would turn every
        weight into NaN. The statistics always include ``num_valid`` and ``step`` (tells so far).
        """
        array = self.check_tokens(tokens)
        if isinstance(rewards, (str, bytes)) or not isinstance(rewards, Sequence):
            raise ValueError(f"rewards must be a sequence of floats or None, got {type(rewards).__name__}")
        if len(rewards) != len(array):
            raise ValueError(f"got {len(array)} token sequences but {len(rewards)} rewards; they must pair up")
        values = np.array([_reward_value(r, i) for i, r in enumerate(rewards)], dtype=np.float64)
        valid = np.isfinite(values)
        stats = self._tell(array[valid], values[valid])
        self.step += 1
        return {**stats, "num_valid": float(valid.sum()), "step": float(self.step)}

    def check_tokens(self, tokens: Sequence[Sequence[int]]) -> np.ndarray:
        """Return ``tokens`` as an ``(n, num_decisions)`` int64 array, or raise ValueError naming the bad entry."""
        if isinstance(tokens, np.ndarray):
            tokens = tokens.tolist()
        if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Sequence):
            raise ValueError(f"tokens must be a list of token sequences, got {type(tokens).__name__}")
        array = np.zeros((len(tokens), self.num_decisions), dtype=np.int64)
        for row, sequence in enumerate(tokens):
            if isinstance(sequence, np.ndarray):
                sequence = sequence.tolist()
            if not isinstance(sequence, Sequence) or len(sequence) != self.num_decisions:
                raise ValueError(f"token sequence {row} must have {self.num_decisions} tokens, got {sequence!r}")
            for column, (token, (name, size)) in enumerate(zip(sequence, self.decisions)):
                if isinstance(token, bool) or not isinstance(token, (int, np.integer)):
                    raise ValueError(f"token sequence {row}, decision {name!r}: token must be an int, got {token!r}")
                if not 0 <= token < size:
                    raise ValueError(f"token sequence {row}, decision {name!r}: token {token} is out of range "
                                     f"[0, {size})")
                array[row, column] = token
        return array

    def state(self) -> State:
        """Everything needed to resume exactly: numpy arrays and plain scalars/strings only."""
        return {
            "kind": self.kind,
            "decisions": json.dumps(self.decisions),
            "seed": self.seed,
            "step": self.step,
            "rng": json.dumps(self.rng.bit_generator.state),
            **self._extra_state(),
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore a ``state()`` taken from a strategy of the same kind over the same decisions."""
        kind = _as_str(_require(state, "kind"))
        if kind != self.kind:
            raise ValueError(f"state is for a {kind!r} strategy, cannot load it into {self.kind!r}")
        decisions = [tuple(pair) for pair in json.loads(_as_str(_require(state, "decisions")))]
        if decisions != self.decisions:
            raise ValueError(f"state was saved for decisions {decisions}, this strategy has {self.decisions}")
        self._load_extra_state(state)
        self.seed = int(_require(state, "seed"))
        self.step = int(_require(state, "step"))
        self.rng.bit_generator.state = json.loads(_as_str(_require(state, "rng")))

    def state_bytes(self) -> bytes:
        """``state()`` as an ``.npz`` blob, loadable without pickle (safe to keep in a database)."""
        buffer = io.BytesIO()
        np.savez(buffer, **{key: np.asarray(value) for key, value in self.state().items()})
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "SearchStrategy":
        """Rebuild a strategy from ``state_bytes()``; the blob names its kind, decisions and configuration."""
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            state = {key: archive[key] for key in archive.files}
        kind = _as_str(_require(state, "kind"))
        if kind not in STRATEGIES:
            raise ValueError(f"unknown strategy kind {kind!r} in state; known: {sorted(STRATEGIES)}")
        target = STRATEGIES[kind]
        if cls is not SearchStrategy and not issubclass(target, cls):
            raise ValueError(f"state holds a {kind!r} strategy, which {cls.__name__}.from_bytes cannot build")
        decisions = json.loads(_as_str(_require(state, "decisions")))
        config = target.saved_config(json.loads(_as_str(state.get("config", "{}"))))
        strategy = target(decisions, seed=int(_require(state, "seed")), **config)
        strategy.load_state(state)
        return strategy

    @classmethod
    def saved_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """A configuration read from a saved state, completed with the values of any option the state predates (the
        behaviour of the version that saved it), so an older search resumes as it started."""
        return config

    @abc.abstractmethod
    def _ask(self, n: int) -> np.ndarray:
        """Return an ``(n, num_decisions)`` integer array of samples."""

    @abc.abstractmethod
    def _tell(self, tokens: np.ndarray, rewards: np.ndarray) -> dict[str, float]:
        """Update from valid (finite-reward) samples only; ``tokens`` may be empty."""

    @abc.abstractmethod
    def _extra_state(self) -> State:
        """Subclass state beyond decisions, seed, step and RNG; include ``config`` (JSON) if the class has any."""

    @abc.abstractmethod
    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        """Restore what ``_extra_state`` returned."""


def _reward_value(reward: Any, index: int) -> float:
    """A reward as float (NaN for None), rejecting things that are not numbers at all."""
    if reward is None:
        return math.nan
    if not _is_real(reward):
        raise ValueError(f"reward {index} must be a number or None, got {reward!r}")
    return float(reward)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else math.nan


def _require(state: Mapping[str, Any], key: str) -> Any:
    if key not in state:
        raise ValueError(f"state is missing {key!r}; was it produced by SearchStrategy.state()?")
    return state[key]


def _as_str(value: Any) -> str:
    """Strings come back from ``np.load`` as 0-d unicode arrays; accept both forms."""
    return str(value.item()) if isinstance(value, np.ndarray) else str(value)


def config_from_dict(cls: type, values: Mapping[str, Any], what: str, extra: str = "") -> Any:
    """A configuration dataclass from a mapping, refusing unknown keys so a typo in a YAML file fails loudly."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        hint = did_you_mean(unknown[0], known)
        raise ValueError(f"unknown {what} {unknown}{hint}; known keys: {sorted(known)}{extra}")
    return cls(**values)


def uniform_overrides(rng: np.random.Generator, n: int, sizes: Sequence[int], epsilon: float) -> np.ndarray | None:
    """An exploration floor: an ``(n, num_decisions)`` array holding a uniform token where a decision is to be
    sampled uniformly (each with probability ``epsilon``) and -1 elsewhere; None when ``epsilon`` is 0, so a
    strategy without the floor draws nothing extra and keeps its seeded sequences."""
    if epsilon <= 0:
        return None
    explore = rng.uniform(size=(n, len(sizes))) < epsilon
    tokens = np.stack([rng.integers(size, size=n) for size in sizes], axis=1)
    return np.where(explore, tokens, -1)


def best_distinct(tokens: np.ndarray, rewards: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``size`` best distinct token rows and their rewards, best first; of equal rewards the earlier row wins
    (a stable order, so a resumed search keeps the same elite)."""
    best: dict[tuple[int, ...], float] = {}
    for row, reward in zip(tokens, rewards):
        key = tuple(int(t) for t in row)
        best[key] = max(best.get(key, -np.inf), float(reward))
    ranked = sorted(best.items(), key=lambda item: -item[1])[:size]
    return (np.array([key for key, _ in ranked], dtype=np.int64).reshape(-1, tokens.shape[1]),
            np.array([reward for _, reward in ranked], dtype=np.float64))
