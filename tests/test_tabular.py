"""The tabular benchmark: deterministic, bounded, and hard enough that random search rarely hits the top."""
import numpy as np
import pandas as pd
import pytest

from mnaslib.claims import figure6_check
from mnaslib.runs import latency_spread
from mnaslib.strategies import make_strategy
from mnaslib.reward import get_reward
from mnaslib.profile import load_profile
from mnaslib.space import MnasNetSpace
from mnaslib.tabular.synthetic import SyntheticTable, hard_vs_soft_surrogate, paper_capacity_slope, surrogate_search


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


def test_capacity_slope_adds_the_papers_trade_off():
    """With a slope, accuracy gains ``slope`` per doubling of latency over the table's own score."""
    plain, sized = _bench(), SyntheticTable(MnasNetSpace(), lambda arch: 40.0 + 2.0 * arch.num_layers,
                                              get_reward("mnas_soft"), 0, capacity_slope=0.06, reference_ms=75.0)
    tokens = MnasNetSpace().sample(np.random.default_rng(3))
    accuracy, latency = sized.evaluate(tokens)
    assert accuracy == pytest.approx(plain.accuracy(tokens) + 0.06 * np.log2(latency / 75.0))
    assert sized(tokens) == pytest.approx(float(get_reward("mnas_soft")(accuracy, latency)))
    assert "+6.0 points per latency doubling" in sized.provenance() and "not trained" in sized.provenance()


def test_paper_capacity_slope_is_fitted_to_figure5():
    """A1's scaled models gain about 6 points of top-1 per doubling of Pixel-1 latency; MobileNetV2's about 5."""
    assert paper_capacity_slope() == pytest.approx(0.0605, abs=5e-4)
    assert paper_capacity_slope("fig5_mobilenetv2") == pytest.approx(0.0514, abs=5e-4)


def test_surrogate_search_rows_and_determinism():
    bench = _bench()
    trials = surrogate_search(bench, steps=3, batch_size=4, seed=1)
    assert list(trials["step"]) == [0] * 4 + [1] * 4 + [2] * 4
    assert set(trials["status"]) == {"done"}
    assert trials["reward"].tolist() == pytest.approx([float(bench.reward(a, lat)) for a, lat in
                                                       zip(trials["accuracy"], trials["latency_ms"])])
    pd.testing.assert_frame_equal(trials, surrogate_search(bench, steps=3, batch_size=4, seed=1))
    assert not trials.equals(surrogate_search(bench, steps=3, batch_size=4, seed=2))
    with pytest.raises(ValueError, match="steps >= 1"):
        surrogate_search(bench, steps=0, batch_size=4)


def test_hard_reward_pushes_the_surrogate_search_faster_than_soft():
    """Figure 6's first claim on the table: after 320 samples the hard search's median latency is below the soft one."""
    result = hard_vs_soft_surrogate(load_profile("laptop"), steps=40, batch_size=8, seed=0)
    hard = latency_spread(result.trials["hard"], 75.0, "hard")
    soft = latency_spread(result.trials["soft"], 75.0, "soft")
    check = figure6_check(hard, soft).set_index("claim (paper V)")["holds here"]
    assert hard.samples == soft.samples == 320
    assert check["hard: lower median latency"] and check["hard: larger share at or below T"]
    assert result.latency_label.startswith("predicted (Pixel-1 model")
    assert result.accuracy_label.startswith("synthetic (seeded table")
