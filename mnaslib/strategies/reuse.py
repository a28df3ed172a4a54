"""What both search loops share: the evaluation-reuse cache and how a step's outcomes are told to the strategy.

``strategies.optimize`` (a plain function of tokens: every search-efficiency number) and ``search.loop.run_search`` (a
stored, resumable search: the notebooks) run the same ask -> evaluate-or-reuse -> tell loop; the rule for when a
sample is evaluated and when it takes an earlier result, and what the strategy is told, live here once so that the
two cannot drift apart. The cache is in memory: ``run_search`` fills it from its store when it (re)starts.
"""
from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Generic, TypeVar

from mnaslib.strategies.base import SearchStrategy

Value = TypeVar("Value")


class ReuseCache(Generic[Value]):
    """The first successful evaluation of each network, under its key (an architecture id, under which equivalent
    token sequences meet, or the tokens themselves).

    A later sample of a known key takes the kept result instead of a new evaluation; the strategy is told every
    sample all the same, so sample counts stay honest. Only successes are kept (a failure says nothing about the
    network, and sampling it again tries again), and the first one stays (a reused result is never re-kept).
    ``enabled=False`` (``reevaluate``) turns reuse off, for an evaluation whose repeats are the point (noise).
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._kept: dict[Hashable, Value] = {}

    def get(self, key: Hashable) -> Value | None:
        """The kept result for ``key``, or None where the network must be evaluated."""
        return self._kept.get(key) if self.enabled else None

    def keep(self, key: Hashable, value: Value) -> None:
        """Keep a successful evaluation of ``key`` unless one is kept already."""
        if self.enabled:
            self._kept.setdefault(key, value)

    def __len__(self) -> int:
        return len(self._kept)


def tell_step(strategy: SearchStrategy, tokens: Sequence[Sequence[int]], rewards: Sequence[float | None],
              metrics: Sequence[Mapping[str, float] | None] | None) -> dict[str, float]:
    """Tell ``strategy`` a step's rewards (None: failed) and, to a strategy that optimises more than the reward
    (``objectives``; an ask/tell object without the attribute optimises the reward alone), each sample's metrics
    (accuracy and latency: ``{}`` for a sample that has none)."""
    if metrics is None or not set(getattr(strategy, "objectives", ("reward",))) - {"reward"}:
        return strategy.tell(tokens, rewards)
    return strategy.tell(tokens, rewards, [dict(m or {}) for m in metrics])
