"""Landscapes made to be hard, REINFORCE, PPO's exploration mechanisms, and Optuna's samplers as strategies.

The collapse test runs the default PPO controller on a seeded NK landscape it was not tuned on: a controller that
locks onto a few networks early (as the earlier defaults did on held-out landscapes) fails it.
"""
import importlib.util
import io
import json
import math

import numpy as np
import pytest
from search_toys import toy_evaluate, toy_latency

from mnaslib.reward import get_reward
from mnaslib.search.rundir import open_run
from mnaslib.search.loop import run_search
from mnaslib.spaces.mnasnet import MnasNetSpace
from mnaslib.strategies import PPOConfig, SearchStrategy, make_strategy, optimize, strategy_options
from mnaslib.tabular.landscapes import LANDSCAPES, NKLandscape, TrapLandscape, landscape

DECISIONS = [(f"d{i}", 4) for i in range(8)]
TARGET = [3, 1, 0, 2, 2, 1, 3, 0]


def match_fraction(tokens):
    return sum(t == g for t, g in zip(tokens, TARGET)) / len(TARGET)


# ------------------------------------------------------------------------------------------------ landscapes
def test_nk_threshold_is_exact_on_a_small_space_and_seeded():
    nk = NKLandscape(6, 2, 3, seed=5)
    every = np.array([nk(t) for t in nk._all_tokens()])  # 729 networks, one by one (not vectorised)
    assert nk.threshold_method.startswith("exact")
    assert nk.top_threshold(0.01) == pytest.approx(np.quantile(every, 0.99, method="higher"))
    assert np.mean(every >= nk.top_threshold(0.01)) == pytest.approx(nk.share_at_or_above(nk.top_threshold(0.01)))
    assert NKLandscape(6, 2, 3, seed=5)([0, 1, 2, 0, 1, 2]) == nk([0, 1, 2, 0, 1, 2])
    assert NKLandscape(6, 2, 3, seed=6)([0, 1, 2, 0, 1, 2]) != nk([0, 1, 2, 0, 1, 2])


def test_k_zero_is_additive_and_large_k_is_rugged():
    """K = 0: one decision's best choice does not depend on the others; K = N - 1: it does (epistasis)."""
    def best_first_choices(nk):
        rng = np.random.default_rng(0)
        best = set()
        for _ in range(30):
            options = np.repeat(rng.integers(nk.alphabet, size=(1, nk.n)), nk.alphabet, axis=0)
            options[:, 0] = np.arange(nk.alphabet)
            best.add(int(np.argmax(nk.evaluate(options))))
        return best
    assert len(best_first_choices(NKLandscape(8, 0, 4, seed=1))) == 1
    assert len(best_first_choices(NKLandscape(8, 7, 4, seed=1))) > 1


def test_trap_is_deceptive_and_its_threshold_exact():
    trap = TrapLandscape(3, 4, alphabet=2, seed=0)
    target = trap._target.tolist()
    assert trap(target) == 1.0
    opposite = [1 - t for t in target]
    assert trap(opposite) == pytest.approx(3 / 4)  # the deceptive attractor: every block one short of the top
    one_right = list(opposite)
    one_right[0] = target[0]
    assert trap(one_right) < trap(opposite)  # a step towards the optimum is punished
    every = trap.evaluate(trap._all_tokens())
    for fraction in (0.01, 0.001):
        threshold = trap.top_threshold(fraction)
        assert np.mean(every >= threshold) == pytest.approx(trap.share_at_or_above(threshold))
        assert np.mean(every >= threshold) >= fraction > np.mean(every > threshold + 1e-9)


def test_named_landscapes_cover_the_promised_range_and_bad_ones_fail():
    sizes = [len(landscape(name).sizes) for name in LANDSCAPES]
    assert min(sizes) >= 6 and max(sizes) <= 30
    assert len({landscape(name).sizes[0] for name in LANDSCAPES}) >= 3  # several alphabet sizes
    with pytest.raises(ValueError, match="unknown landscape"):
        landscape("nk-nope")
    with pytest.raises(ValueError, match="0 <= k < n"):
        NKLandscape(4, 4, 2)
    with pytest.raises(ValueError, match="block_size >= 2"):
        TrapLandscape(2, 1)


# ------------------------------------------------------------------------------------------------ REINFORCE
def test_reinforce_learns_resumes_exactly_and_checks_its_config():
    history = optimize(match_fraction, DECISIONS, "reinforce", steps=60, batch_size=8, seed=0)
    assert np.mean(history.mean_rewards()[-5:]) > 0.6
    strategy = make_strategy("reinforce", DECISIONS, seed=3, epsilon=0.1, entropy_coef=0.01)
    for _ in range(3):
        batch = strategy.ask(8)
        strategy.tell(batch, [match_fraction(t) for t in batch])
    blob = strategy.state_bytes()
    expected = strategy.ask(8)
    again = SearchStrategy.from_bytes(blob)
    assert again.ask(8) == expected
    assert all(p.min() >= 0.1 / 4 - 1e-12 for p in again.probabilities())  # the exploration floor
    with pytest.raises(ValueError, match="unknown reinforce options"):
        make_strategy("reinforce", DECISIONS, lr=0.1)
    with pytest.raises(ValueError, match="epsilon"):
        make_strategy("reinforce", DECISIONS, epsilon=1.0)


# ------------------------------------------------------------------------------------------------ PPO
def test_ppo_presets_and_new_options_are_validated():
    paper = PPOConfig.from_dict({"preset": "paper"})
    assert paper.learning_rate == 3.5e-4 and paper.baseline == "ema" and not paper.normalize_advantages
    assert PPOConfig.from_dict({"preset": "paper", "epochs": 2}).epochs == 2
    assert PPOConfig.from_dict({"preset": "ours"}) == PPOConfig()
    assert paper.elite_size == 0 and PPOConfig().elite_size > 0  # NASNet's controller had no elite replay
    for bad, match in [({"preset": "nasnet"}, "unknown PPO preset"), ({"epsilon": -0.1}, "epsilon"),
                       ({"target_kl": -1}, "target_kl"), ({"entropy_decay": 0}, "entropy_decay")]:
        with pytest.raises(ValueError, match=match):
            strategy_options("ppo", bad)


def test_ppo_exploration_floor_and_kl_stop():
    # without elite replay: its imitation term can raise the batch's log-probabilities, and the usual KL estimate
    # (mean old - new log-probability) then reads low, so the stop is tested on the PPO step alone
    config = {"lstm_units": 16, "embedding_dim": 8, "epsilon": 0.5, "target_kl": 1e-6, "learning_rate": 0.05,
              "elite_size": 0}
    strategy = make_strategy("ppo", DECISIONS, seed=0, **config)
    stats = [strategy.tell(b, [match_fraction(t) for t in b]) for b in [strategy.ask(16) for _ in range(3)]]
    assert all(s["epochs"] < 5 for s in stats[1:])  # stopped once the KL passed the target
    samples = np.array(strategy.ask(400))
    # half the tokens are uniform: every choice of every decision is sampled at least 0.5 / 4 of the time, less noise
    shares = np.array([[np.mean(samples[:, d] == c) for c in range(4)] for d in range(len(DECISIONS))])
    assert shares.min() > 0.08


def test_default_ppo_keeps_searching_on_a_landscape_it_was_not_tuned_on():
    """Held-out NK landscape (N=10, K=2, A=4), 3 seeds x 600 samples: every seed reaches the top 0.1% and still
    samples many distinct networks at the end (when written: first top-0.1% network after 362, 23 and 90 samples;
    50-75 distinct networks in the last 200). A controller that collapses fails: the defaults before this issue
    (entropy 0.01 on nats, no floor, no KL stop) reach the top 1% here too but keep 3-4 distinct networks in the
    last 200 samples of each seed."""
    nk = landscape("nk-10x4-k2")
    threshold = nk.top_threshold(0.001)
    for seed in range(3):
        history = optimize(nk, nk.decisions(), "ppo", steps=75, batch_size=8, seed=seed)
        rewards = [t.reward for t in history.trials]
        assert max(rewards) >= threshold - 1e-12, f"seed {seed} never reached the top 0.1%"
        distinct = len({tuple(t.tokens) for t in history.trials[-200:]})
        assert distinct >= DISTINCT_FLOOR, f"seed {seed}: {distinct} distinct networks in the last 200 samples"


DISTINCT_FLOOR = 25


def test_ppo_elite_replay_keeps_the_best_distinct_networks_and_resumes_them():
    config = {"lstm_units": 16, "embedding_dim": 8, "elite_size": 3, "elite_coef": 0.3}
    strategy = make_strategy("ppo", DECISIONS, seed=0, **config)
    first, second = [[0] * 8, [1] * 8, [2] * 8], [[1] * 8, [3] * 8, [0, 1, 2, 3, 0, 1, 2, 3]]
    strategy.tell(first, [0.5, 0.9, 0.1])
    strategy.tell(second, [0.9, 0.7, 0.5])  # [1]*8 again (kept once); [0]*8 and the mixed one tie at 0.5
    assert strategy.elite_tokens.tolist() == [[1] * 8, [3] * 8, [0] * 8]  # the tie keeps the one told first
    assert strategy.elite_rewards.tolist() == [0.9, 0.7, 0.5]
    restored = SearchStrategy.from_bytes(strategy.state_bytes())
    assert restored.elite_tokens.tolist() == strategy.elite_tokens.tolist()
    batch = strategy.ask(8)
    assert restored.ask(8) == batch
    strategy.tell(batch, [0.0] * 8)
    restored.tell(batch, [0.0] * 8)
    assert all(np.array_equal(a, b) for a, b in zip(strategy.weights(), restored.weights()))
    # a state saved before elite replay existed (no elite keys, config without them) loads into a controller
    # without it, and not into one with it
    old = make_strategy("ppo", DECISIONS, seed=0, lstm_units=16, embedding_dim=8, elite_size=0, elite_coef=0.0)
    state = dict(old.state())
    state["config"] = json.dumps({k: v for k, v in old.config.to_dict().items() if not k.startswith("elite")})
    del state["elite_tokens"], state["elite_rewards"]
    twin = make_strategy("ppo", DECISIONS, seed=1, lstm_units=16, embedding_dim=8, elite_size=0, elite_coef=0.0)
    twin.load_state(state)
    # a stored search is rebuilt from its blob alone (as run_search resumes it): it continues without elite replay
    buffer = io.BytesIO()
    np.savez(buffer, **{key: np.asarray(value) for key, value in state.items()})
    rebuilt = SearchStrategy.from_bytes(buffer.getvalue())
    assert rebuilt.config.elite_size == 0
    assert twin.ask(4) == old.ask(4) == rebuilt.ask(4)
    with pytest.raises(ValueError, match="PPO config"):
        make_strategy("ppo", DECISIONS, seed=0, lstm_units=16, embedding_dim=8).load_state(state)
    corrupt = dict(strategy.state())
    corrupt["elite_tokens"] = np.full((2, 8), 9)
    with pytest.raises(ValueError, match="out of range"):
        make_strategy("ppo", DECISIONS, seed=0, **config).load_state(corrupt)
    for bad, match in [({"elite_size": -1}, "elite_size"), ({"elite_size": 2.5}, "elite_size"),
                       ({"elite_coef": -0.1}, "elite_coef")]:
        with pytest.raises(ValueError, match=match):
            strategy_options("ppo", bad)


def test_elite_replay_raises_the_probability_of_the_best_networks_found():
    """The same controller told the same batches: with the elite term, the best network told so far (a rare one,
    once per batch) becomes much more likely than without it. A missing, mis-signed or disconnected term fails."""
    best = [3, 1, 0, 2, 2, 1, 3, 0]
    rng = np.random.default_rng(0)
    batches = [[best] + rng.integers(4, size=(7, 8)).tolist() for _ in range(6)]

    def best_log_prob(elite_coef: float) -> float:
        strategy = make_strategy("ppo", DECISIONS, seed=0, lstm_units=16, embedding_dim=8, elite_size=2,
                                 elite_coef=elite_coef, epsilon=0.0)
        for batch in batches:
            strategy.tell(batch, [1.0 if t == best else 0.5 for t in batch])
        return float(strategy.log_prob([best])[0])

    assert best_log_prob(0.3) > best_log_prob(0.0) + 0.6  # 1.24 nats apart when written


# ------------------------------------------------------------------------------------------------ Optuna
@pytest.mark.parametrize("sampler", ["tpe", "nsga2", "random"])
def test_optuna_ask_tell_and_exact_resume(sampler):
    strategy = make_strategy("optuna", DECISIONS, seed=2, sampler=sampler)
    reference = make_strategy("optuna", DECISIONS, seed=2, sampler=sampler)
    for step in range(4):
        batch = strategy.ask(6)
        assert batch == reference.ask(6)
        # a failed sample and a batch cut short (the last sample never evaluated) are both told as failed
        rewards = [None if i == 0 else match_fraction(t) for i, t in enumerate(batch)]
        strategy.tell(batch[:5], rewards[:5])
        reference.tell(batch[:5], rewards[:5])
        if step == 1:
            strategy = SearchStrategy.from_bytes(strategy.state_bytes())  # "killed" and resumed
    assert strategy.ask(6) == reference.ask(6)
    assert strategy.step == 4


def test_optuna_tpe_beats_random_and_rejects_bad_config():
    tpe = optimize(match_fraction, DECISIONS, "optuna", steps=25, batch_size=8, seed=0, sampler="tpe")
    assert tpe.best().reward >= 0.75
    with pytest.raises(ValueError, match="unknown optuna sampler"):
        strategy_options("optuna", {"sampler": "cma"})
    if importlib.util.find_spec("torch") is None:
        with pytest.raises(ValueError, match="gp sampler needs PyTorch"):
            strategy_options("optuna", {"sampler": "gp"})
    else:
        with pytest.raises(ValueError, match="optimises one objective"):
            strategy_options("optuna", {"sampler": "gp", "objectives": ["accuracy", "latency"]})
    with pytest.raises(ValueError, match="unknown strategy settings .*samplr.* .did you mean .sampler."):
        strategy_options("optuna", {"samplr": "tpe"})
    with pytest.raises(ValueError, match="told 3 samples but only 2"):
        strategy = make_strategy("optuna", DECISIONS)
        strategy.tell(strategy.ask(2) + [[0] * 8], [0.1, 0.2, 0.3])


def test_nsga2_searches_accuracy_and_latency_as_two_objectives():
    """A toy with a real trade-off: accuracy grows with the token sum, latency faster still. NSGA-II keeps a front
    of several trade-offs instead of one scalarised optimum."""
    def accuracy(tokens):
        return sum(tokens) / 24

    def latency(tokens):
        return 1.0 + sum(t * t for t in tokens)

    history = optimize(lambda t: accuracy(t) / latency(t) ** 0.1, DECISIONS, "optuna", steps=20, batch_size=10,
                       seed=0, sampler="nsga2", objectives=["accuracy", "latency"],
                       metrics=lambda t: {"accuracy": accuracy(t), "latency": latency(t)})
    assert history.stats[-1]["best_accuracy"] == max(accuracy(t.tokens) for t in history.trials)
    assert history.stats[-1]["best_latency"] == min(latency(t.tokens) for t in history.trials)
    with pytest.raises(ValueError, match="needs metrics"):
        optimize(match_fraction, DECISIONS, "optuna", steps=1, batch_size=2, sampler="nsga2",
                 objectives=["accuracy", "latency"])


def test_optuna_search_resumes_in_the_search_loop_with_the_same_sequence(tmp_path):
    space = MnasNetSpace()

    def run(folder, stop=None, objectives=("reward",)):
        store = open_run(folder, {"strategy": "optuna", "seed": 7})
        strategy = make_strategy("optuna", space.decision_sizes(), seed=7, sampler="nsga2",
                                 objectives=list(objectives))
        run_search(space, strategy, toy_evaluate, toy_latency, get_reward("mnas_soft", target_ms=60.0), store,
                   steps=3, batch_size=4, progress=False, stop_after_trials=stop)
        tokens = [tuple(t["tokens"]) for t in store.trials()]
        store.close()  # the "killed" search has ended, so the resume may open its folder
        return tokens

    run(tmp_path / "killed", stop=6)
    resumed = run(tmp_path / "killed")
    assert resumed == run(tmp_path / "whole")
    assert len(resumed) == 12
    assert len(run(tmp_path / "pareto", objectives=("accuracy", "latency"))) == 12


def test_stats_report_entropy_as_a_share_of_uniform():
    strategy = make_strategy("reinforce", DECISIONS)
    stats = strategy.tell(strategy.ask(4), [0.1, 0.2, 0.3, 0.4])
    assert math.isclose(stats["entropy_fraction"], 1.0, rel_tol=1e-6)


# ------------------------------------------------------------------------------------------------ reports
def _arm_runs(key, centre, width, distinct, seeds=(0, 1, 2)):
    """An arm's searches as trial tables: 100 samples whose latencies spread over ``width`` ms around ``centre``
    and whose last 20 cycle through ``distinct`` networks."""
    import pandas as pd

    from mnaslib.report.recipes.benchmark_searches import Arm, ArmRuns

    runs = ArmRuns(Arm(key, key, {}), list(seeds))
    for seed in seeds:
        rng = np.random.default_rng(seed)
        latency = centre + width * (rng.uniform(size=100) - 0.5)
        ids = [f"n{i}" for i in range(80)] + [f"m{i % distinct}" for i in range(20)]
        runs.trials.append(pd.DataFrame({"status": "done", "latency_ms": latency, "arch_id": ids,
                                         "reward": rng.uniform(size=100), "accuracy": 0.7,
                                         "latency_kind": "predicted", "latency_detail": ""}))
    return runs


def test_figure6_reading_is_generated_from_the_spreads():
    from mnaslib.report.recipes.figure6_spread import figure6_reading, latency_spreads

    wide_soft = latency_spreads({"hard": _arm_runs("hard", 70, 5, 20), "soft": _arm_runs("soft", 80, 40, 20)})
    assert len(wide_soft) == 6 and (wide_soft["last 20%: distinct networks"] == 20).all()
    text = figure6_reading(wide_soft)
    assert "wider than the hard one's: holds (3/3 seeds; min gap" in text and "still exploring" in text
    narrow_soft = latency_spreads({"hard": _arm_runs("hard", 70, 40, 1), "soft": _arm_runs("soft", 80, 5, 1)})
    text = figure6_reading(narrow_soft)
    assert "does not hold (0/3 seeds;" in text and "had collapsed" in text



def test_the_latency_spread_table_reads_on_one_screen():
    from mnaslib.labels import layout_problems
    from mnaslib.report.recipes.figure6_spread import latency_spread_table, latency_spreads

    runs = {"hard": _arm_runs("hard", 70, 5, 20), "soft": _arm_runs("soft", 80, 40, 20)}
    for arm in runs.values():
        arm.trials[:] = [t.assign(latency_detail="test model") for t in arm.trials]
    spreads = latency_spreads(runs)
    shown = latency_spread_table(spreads)
    assert not layout_problems(shown) and len(shown.columns) == 7
    assert "all: p10-p90 (ms) [predicted (test model)]" in shown.columns
    assert not any(c.startswith("_") or c.endswith("p90/p10") for c in shown.columns)


def test_strategy_table_counts_seeds_that_never_reach_the_threshold():
    from mnaslib.report.recipes.strategy_comparison import strategy_table

    random, stuck = _arm_runs("random", 70, 10, 20), _arm_runs("stuck", 70, 10, 1)
    for trials in stuck.trials:
        trials["reward"] = 0.0  # never reaches a top reward
    table = strategy_table({"random": random, "stuck": stuck})
    assert "random search's 300 samples" in table.attrs["threshold"]
    assert list(table["seeds that got there"]) == ["1 of 3", "0 of 3"]  # the top 0.1% of 300: one sample
    assert str(table.iloc[1, 1]).startswith("101 [101-101]")
