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

>>> from mnaslib.controller import make_strategy
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

import abc
import dataclasses
import io
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

Decisions = Sequence[tuple[str, int]]
State = dict[str, Any]


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

    def tell(self, tokens: Sequence[Sequence[int]], rewards: Sequence[float | None]) -> dict[str, float]:
        """Report rewards for token sequences and update the strategy; returns statistics for logging.

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
        config = json.loads(_as_str(state.get("config", "{}")))
        strategy = target(decisions, seed=int(_require(state, "seed")), **config)
        strategy.load_state(state)
        return strategy

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


@dataclass(frozen=True)
class PPOConfig:
    """Hyper-parameters of the RL controller; ``from_dict`` builds it from a YAML mapping.

    The LSTM size (100) and the uniform +-0.1 initialisation follow the NASNet controller that MnasNet reuses. The
    PPO values are the usual ones (clip 0.2, a few epochs per batch, EMA baseline decay 0.95). Learning rate and
    entropy bonus were tried on synthetic problems: on a 42-decision problem shaped like the MnasNet space (noisy
    reward, 100 batches of 32) learning rates from 5e-4 to 5e-3 all converge, and 5e-4 keeps the policy's entropy
    up longest, which matters when rewards are expensive and noisy. The entropy bonus multiplies the entropy
    *summed over decisions* (about 42 nats at the start), so it must stay small next to reward differences of a
    few percent: 1e-3 works, 1e-2 stalls learning. ``max_grad_norm`` clips the global gradient norm.
    """

    lstm_units: int = 100
    embedding_dim: int = 100
    learning_rate: float = 5e-4
    clip_ratio: float = 0.2
    epochs: int = 5
    baseline_decay: float = 0.95
    entropy_coef: float = 1e-3
    max_grad_norm: float = 1.0
    init_range: float = 0.1

    def __post_init__(self) -> None:
        for name in ("lstm_units", "embedding_dim", "epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"PPOConfig.{name} must be an integer >= 1, got {value!r}")
        for name in ("learning_rate", "clip_ratio", "max_grad_norm", "init_range"):
            value = getattr(self, name)
            if not _is_real(value) or not value > 0:
                raise ValueError(f"PPOConfig.{name} must be a positive number, got {value!r}")
        if not _is_real(self.baseline_decay) or not 0 <= self.baseline_decay < 1:
            raise ValueError(f"PPOConfig.baseline_decay must be in [0, 1), got {self.baseline_decay!r}")
        if not _is_real(self.entropy_coef) or self.entropy_coef < 0:
            raise ValueError(f"PPOConfig.entropy_coef must be >= 0, got {self.entropy_coef!r}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "PPOConfig":
        """Build from a mapping, rejecting unknown keys so a typo in a YAML config is not silently ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown PPOConfig keys {unknown}; known keys: {sorted(known)}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the values, for YAML/JSON."""
        return dataclasses.asdict(self)


class RLController(SearchStrategy):
    """The NASNet/MnasNet RNN controller trained with PPO.

    A one-layer LSTM runs one step per decision. Its input at step 0 is a learned start embedding; at step t it
    is the embedding of the token chosen at step t-1, looked up in that decision's own table. Decision t has its
    own softmax head (an affine map to one logit per choice), so decisions of different sizes coexist.

    For speed the per-decision tables are stored as disjoint row ranges of one ``keras.layers.Embedding`` and the
    per-decision heads as disjoint column ranges of one ``keras.layers.Dense``; a decision only ever reads its own
    range, so the parameters and the math are those of separate tables and heads. This lets the teacher-forced pass
    that PPO differentiates run as a single ``keras.layers.RNN`` over the sequence instead of a 42-step unrolled
    graph (which took ~30 s to trace on a 2-core machine).

    Sampling draws all ``n`` sequences together, step by step, with the Gumbel-max trick: adding Gumbel noise from
    the numpy generator to the logits and taking the argmax is an exact categorical sample, and keeping numpy as the
    only noise source makes seeding and resuming exact.

    ``tell`` performs a PPO update: the advantage is the reward minus an exponential moving average baseline; the
    probability ratio is taken over whole sequences (sum of per-decision log-probabilities) and clipped; ``epochs``
    Adam steps are taken over the batch, with an entropy bonus against premature collapse. The "old" policy of the
    ratio is the controller as it is when ``tell`` is called, which is the policy that sampled the batch in the
    usual ask-then-tell loop.
    """

    kind = "ppo"

    def __init__(self, decisions: Decisions, seed: int = 0, config: PPOConfig | Mapping[str, Any] | None = None,
                 **overrides: Any) -> None:
        super().__init__(decisions, seed)
        if config is None:
            config = {}
        if isinstance(config, Mapping):
            config = PPOConfig.from_dict({**config, **overrides})
        elif overrides:
            config = PPOConfig.from_dict({**config.to_dict(), **overrides})
        self.config = config
        self.baseline: float | None = None
        self._build()

    def _build(self) -> None:
        # Imported here so that random search and evolution work without loading TensorFlow.
        import keras
        import tensorflow as tf

        self._tf = tf
        cfg = self.config
        sizes = np.array(self.sizes)
        self.total_choices = int(sizes.sum())
        head_offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self._head_offsets = tf.constant(head_offsets, tf.int32)
        # Decision t's table feeds step t + 1, so the last decision needs none; its offsets are those of the heads.
        self._embedding_offsets = tf.constant(head_offsets[:-1], tf.int32)
        columns = np.arange(self.total_choices)
        ends = head_offsets + sizes
        self._choice_mask = tf.constant((columns >= head_offsets[:, None]) & (columns < ends[:, None]))
        self._start = keras.Variable(np.zeros((1, cfg.embedding_dim), dtype=np.float32), name="start_embedding")
        self._cell = keras.layers.LSTMCell(cfg.lstm_units)
        self._rnn = keras.layers.RNN(self._cell, return_sequences=True)
        self._embedding = keras.layers.Embedding(max(1, int(sizes[:-1].sum())), cfg.embedding_dim)
        self._head = keras.layers.Dense(self.total_choices)
        self._rnn.build((None, self.num_decisions, cfg.embedding_dim))
        self._embedding.build((None,))
        self._head.build((None, cfg.lstm_units))
        self._variables = [self._start, *self._cell.trainable_variables, *self._embedding.trainable_variables,
                           *self._head.trainable_variables]
        for variable in self._variables:
            shape = tuple(variable.shape)
            variable.assign(self.rng.uniform(-cfg.init_range, cfg.init_range, size=shape).astype(np.float32))
        self._optimizer = keras.optimizers.Adam(learning_rate=cfg.learning_rate, global_clipnorm=cfg.max_grad_norm)
        self._optimizer.build(self._variables)
        tokens_spec = tf.TensorSpec((None, self.num_decisions), tf.int32)
        self._sample_fn = tf.function(self._sample_graph, input_signature=[
            tf.TensorSpec((None, self.num_decisions, self.total_choices), tf.float32)])
        self._log_softmax_fn = tf.function(self._log_softmax, input_signature=[tokens_spec])
        self._evaluate_fn = tf.function(self._sequence_terms, input_signature=[tokens_spec])
        self._train_fn = tf.function(self._train_graph, input_signature=[
            tokens_spec, tf.TensorSpec((None,), tf.float32), tf.TensorSpec((None,), tf.float32),
            tf.TensorSpec((), tf.bool)])

    def _sample_graph(self, noise: Any) -> Any:
        """Tokens (n, T) from per-step argmax(logits + noise); zero noise gives the greedy sequence.

        ``noise`` has one column per choice of every decision, (n, T, total choices), so each step can take the
        argmax over the whole head masked to its own decision; that keeps the step loop a graph loop (``tf.range``)
        whose trace cost does not grow with the number of decisions.
        """
        tf = self._tf
        n = tf.shape(noise)[0]
        inputs = tf.tile(self._start, [n, 1])
        zeros = tf.zeros((n, self.config.lstm_units))
        states = [zeros, zeros]
        tokens = tf.TensorArray(tf.int32, size=self.num_decisions)
        last_row = self._embedding.input_dim - 1
        for t in tf.range(self.num_decisions):
            output, states = self._cell(inputs, states)
            scores = tf.where(self._choice_mask[t], self._head(output) + noise[:, t], -np.inf)
            column = tf.argmax(scores, axis=-1, output_type=tf.int32)
            tokens = tokens.write(t, column - self._head_offsets[t])
            # Embedding rows use the head's column layout; the last decision has no table, and its (unused)
            # input for a step that never runs is clamped to a valid row.
            inputs = self._embedding(tf.minimum(column, last_row))
        return tf.transpose(tokens.stack())

    def _log_softmax(self, tokens: Any) -> Any:
        """Teacher-forced log-softmax of every decision, shape (n, T, total choices); -inf-like off a decision."""
        tf = self._tf
        start = tf.tile(self._start[None], [tf.shape(tokens)[0], 1, 1])
        previous = self._embedding(tokens[:, :-1] + self._embedding_offsets)
        outputs = self._rnn(tf.concat([start, previous], axis=1))
        logits = tf.where(self._choice_mask, self._head(outputs), -1e9)
        return tf.nn.log_softmax(logits, axis=-1)

    def _sequence_terms(self, tokens: Any) -> tuple[Any, Any]:
        """Sequence log-probabilities (n,) and entropies summed over decisions (n,)."""
        tf = self._tf
        log_softmax = self._log_softmax(tokens)
        chosen = tf.gather(log_softmax, tokens + self._head_offsets, axis=2, batch_dims=2)
        entropy = -tf.reduce_sum(tf.where(self._choice_mask, tf.exp(log_softmax) * log_softmax, 0.0), axis=[1, 2])
        return tf.reduce_sum(chosen, axis=1), entropy

    def _train_graph(self, tokens: Any, advantages: Any, old_log_prob: Any, first_epoch: Any) -> tuple[Any, ...]:
        """One PPO gradient step; returns the surrogate loss, mean entropy, approximate KL and old log-probabilities.

        In the first epoch the policy is still the one that sampled the batch, so its own log-probabilities (without
        gradient) are the "old" ones and ``old_log_prob`` is ignored; the caller passes the returned values to the
        later epochs. This saves tracing a separate forward graph per controller.
        """
        tf = self._tf
        clip = self.config.clip_ratio
        with tf.GradientTape() as tape:
            log_prob, entropy = self._sequence_terms(tokens)
            old_log_prob = tf.where(first_epoch, tf.stop_gradient(log_prob), old_log_prob)
            ratio = tf.exp(log_prob - old_log_prob)
            surrogate = tf.minimum(ratio * advantages, tf.clip_by_value(ratio, 1 - clip, 1 + clip) * advantages)
            policy_loss = -tf.reduce_mean(surrogate)
            mean_entropy = tf.reduce_mean(entropy)
            loss = policy_loss - self.config.entropy_coef * mean_entropy
        gradients = tape.gradient(loss, self._variables)
        self._optimizer.apply_gradients(zip(gradients, self._variables))
        return policy_loss, mean_entropy, tf.reduce_mean(old_log_prob - log_prob), old_log_prob

    def _ask(self, n: int) -> np.ndarray:
        uniform = self.rng.uniform(size=(n, self.num_decisions, self.total_choices))
        gumbel = -np.log(-np.log(np.clip(uniform, 1e-12, 1 - 1e-12)))
        return self._sample_fn(gumbel.astype(np.float32)).numpy().astype(np.int64)

    def _tell(self, tokens: np.ndarray, rewards: np.ndarray) -> dict[str, float]:
        if len(rewards) == 0:
            return {"mean_reward": math.nan, "policy_loss": math.nan, "entropy": math.nan, "approx_kl": math.nan,
                    "baseline": math.nan if self.baseline is None else self.baseline}
        mean_reward = float(rewards.mean())
        if self.baseline is None:
            # Starting from the first batch's mean (not 0) avoids a first update that pushes up every sample.
            self.baseline = mean_reward
        advantages = (rewards - self.baseline).astype(np.float32)
        self.baseline = self.config.baseline_decay * self.baseline + (1 - self.config.baseline_decay) * mean_reward
        tokens32 = tokens.astype(np.int32)
        old_log_prob = np.zeros(len(rewards), dtype=np.float32)
        losses, entropies, kl = [], [], math.nan
        for epoch in range(self.config.epochs):
            loss, entropy, kl_tensor, old_log_prob = self._train_fn(tokens32, advantages, old_log_prob, epoch == 0)
            losses.append(float(loss))
            entropies.append(float(entropy))
            kl = float(kl_tensor)
        return {"mean_reward": mean_reward, "policy_loss": float(np.mean(losses)), "entropy": entropies[0],
                "approx_kl": kl, "baseline": self.baseline}

    def most_likely(self) -> list[int]:
        """The greedy sequence (argmax at every step given the previous argmaxes); uses no randomness."""
        noise = np.zeros((1, self.num_decisions, self.total_choices), dtype=np.float32)
        return [int(t) for t in self._sample_fn(noise).numpy()[0]]

    def probabilities(self, tokens: Sequence[int] | None = None) -> list[np.ndarray]:
        """Per-decision choice probabilities along ``tokens`` (default: the most likely sequence).

        The controller is autoregressive, so a decision's distribution depends on the earlier tokens; conditioning
        on one concrete sequence is what makes these numbers well defined for plotting.
        """
        sequence = self.check_tokens([self.most_likely() if tokens is None else list(tokens)]).astype(np.int32)
        log_softmax = self._log_softmax_fn(sequence).numpy()[0].astype(np.float64)
        offsets = self._head_offsets.numpy()
        return [np.exp(log_softmax[t, start:start + size]) for t, (start, size) in enumerate(zip(offsets, self.sizes))]

    def entropy(self, tokens: Sequence[int] | None = None) -> np.ndarray:
        """Per-decision entropy in nats along ``tokens`` (default: the most likely sequence)."""
        return np.array([-(p * np.log(np.maximum(p, 1e-30))).sum() for p in self.probabilities(tokens)])

    def log_prob(self, tokens: Sequence[Sequence[int]]) -> np.ndarray:
        """Log-probability of each full token sequence under the current policy."""
        log_prob, _ = self._evaluate_fn(self.check_tokens(tokens).astype(np.int32))
        return log_prob.numpy().astype(np.float64)

    def weights(self) -> list[np.ndarray]:
        """Copies of all trainable weights, in a fixed order."""
        return [np.array(v.numpy()) for v in self._variables]

    def _extra_state(self) -> State:
        state: State = {"config": json.dumps(self.config.to_dict()),
                        "baseline": math.nan if self.baseline is None else self.baseline}
        state.update({f"weight_{i:03d}": w for i, w in enumerate(self.weights())})
        state.update({f"optimizer_{i:03d}": np.array(v.numpy()) for i, v in enumerate(self._optimizer.variables)})
        return state

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        config = json.loads(_as_str(_require(state, "config")))
        if config != self.config.to_dict():
            raise ValueError(f"state was saved with PPO config {config}, this controller has {self.config.to_dict()}")
        # Check every array before assigning any, so a bad state cannot leave the controller half loaded.
        assignments = []
        for prefix, variables in (("weight", self._variables), ("optimizer", self._optimizer.variables)):
            count = sum(1 for key in state if key.startswith(prefix + "_"))
            if count != len(variables):
                raise ValueError(f"state has {count} {prefix} arrays, the controller needs {len(variables)}")
            for i, variable in enumerate(variables):
                value = np.asarray(_require(state, f"{prefix}_{i:03d}"))
                if value.shape != tuple(variable.shape):
                    raise ValueError(f"state {prefix}_{i:03d} has shape {value.shape}, "
                                     f"expected {tuple(variable.shape)}")
                assignments.append((variable, value))
        for variable, value in assignments:
            variable.assign(value.astype(variable.dtype))
        baseline = float(_require(state, "baseline"))
        self.baseline = None if math.isnan(baseline) else baseline


STRATEGIES: dict[str, type[SearchStrategy]] = {"ppo": RLController, "random": RandomSearch,
                                                "evolution": RegularizedEvolution}


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
