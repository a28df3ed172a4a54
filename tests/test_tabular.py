"""The tabular benchmark: deterministic, bounded, and hard enough that random search rarely hits the top."""
import numpy as np

from mnaslib.strategies import make_strategy
from mnaslib.reward import get_reward
from mnaslib.spaces.mnasnet import MnasNetSpace
from mnaslib.tabular.synthetic import SyntheticTable


def _bench(seed=0):
    return SyntheticTable(MnasNetSpace(), lambda arch: 40.0 + 2.0 * arch.num_layers, get_reward("mnas_soft"), seed)


def test_deterministic_and_bounded():
    bench, again, other = _bench(), _bench(), _bench(1)
    rng = np.random.default_rng(0)
    samples = [MnasNetSpace().sample(rng) for _ in range(300)]
    acc = [bench.accuracy(t) for t in samples]
    assert acc == [again.accuracy(t) for t in samples]
    assert acc != [other.accuracy(t) for t in samples]
    assert 0.5 < min(acc) and max(acc) < 0.8 and np.std(acc) > 0.01


def test_top_quantile_is_above_almost_all_samples():
    bench = _bench()
    threshold = bench.top_quantile(0.99, samples=3000)
    rng = np.random.default_rng(99)
    rewards = [bench(MnasNetSpace().sample(rng)) for _ in range(1000)]
    assert np.mean(np.array(rewards) >= threshold) < 0.03


def test_evolution_climbs_the_table():
    bench = _bench()
    search = make_strategy("evolution", bench.space.decision_sizes(), seed=0, population_size=32, sample_size=8)
    first = last = None
    for step in range(40):
        batch = search.ask(16)
        rewards = [bench(t) for t in batch]
        search.tell(batch, rewards)
        first = np.mean(rewards) if step == 0 else first
        last = np.mean(rewards)
    assert last > first + 0.02


def test_accuracies_are_labelled_synthetic():
    assert _bench(3).provenance() == "synthetic (seeded table, seed 3; not trained)"
