"""One evaluation path: ``strategies.optimize`` and ``search.loop.run_search`` reuse earlier evaluations by one rule
(``strategies.reuse.ReuseCache``) and tell their strategy the same, so on the same problem they sample alike."""
import hashlib
from dataclasses import dataclass

from search_toys import toy_evaluate, toy_latency

from mnaslib.evaluation.jobs import Job
from mnaslib.reward import get_reward
from mnaslib.search.rundir import open_run
from mnaslib.search.loop import run_search
from mnaslib.strategies import ReuseCache, make_strategy, optimize

REWARD = get_reward("mnas_soft", target_ms=60.0)


@dataclass(frozen=True)
class TinyNet:
    """A network named by its first token only, so that different token sequences are one network (as equivalent
    MnasNet-space samples are) and a short search meets repeats."""

    tokens: tuple[int, ...]
    num_layers: int = 1

    @property
    def arch_id(self) -> str:
        return hashlib.sha1(str(self.tokens[0]).encode()).hexdigest()

    def block_strings(self) -> list[str]:
        return [str(self.tokens[0])]


class TinySpace:
    def decision_sizes(self) -> list[tuple[str, int]]:
        return [("a", 4), ("b", 3)]

    def decode(self, tokens) -> TinyNet:
        return TinyNet(tuple(int(t) for t in tokens))


SPACE = TinySpace()


def _reward(tokens) -> float:
    arch = SPACE.decode(tokens)
    return REWARD(toy_evaluate(Job(0, arch, 0)).accuracy, toy_latency(arch).value)


def test_optimize_and_run_search_sample_and_reuse_alike(tmp_path):
    options = {"population_size": 4, "sample_size": 2}
    history = optimize(_reward, SPACE.decision_sizes(), "evolution", steps=5, batch_size=4, seed=5,
                       key=lambda tokens: SPACE.decode(tokens).arch_id, **options)
    with open_run(tmp_path, {"strategy": "evolution", "seed": 5}) as store:
        strategy = make_strategy("evolution", SPACE.decision_sizes(), seed=5, **options)
        result = run_search(SPACE, strategy, toy_evaluate, toy_latency, REWARD, store, steps=5, batch_size=4,
                            progress=False)
        rows = store.trials()
    assert [t.tokens for t in history.trials] == [list(r["tokens"]) for r in rows], "the same samples, step by step"
    reused = [bool((r["extra"] or {}).get("reused_from")) for r in rows]
    assert [t.reused for t in history.trials] == reused
    assert sum(reused) == result.reused == len(history.trials) - history.evaluations > 0
    assert [t.reward for t in history.trials] == [r["reward"] for r in rows]


def test_the_cache_keeps_the_first_success_and_nothing_when_reevaluating():
    cache = ReuseCache()
    assert cache.get("a") is None
    cache.keep("a", 1.0)
    cache.keep("a", 2.0)
    assert cache.get("a") == 1.0 and len(cache) == 1
    off = ReuseCache(enabled=False)
    off.keep("a", 1.0)
    assert off.get("a") is None and len(off) == 0
