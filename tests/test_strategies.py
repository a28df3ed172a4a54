"""Search strategies: seeding, exact resume, learning a synthetic problem, failed trials, and input checks.

The synthetic problem is 8 decisions with 4 choices each and a hidden target sequence; the reward is the fraction of
positions that match, plus a little seeded noise. Random search averages 0.25 on it, so a strategy that learns is
easy to tell apart from one that does not.
"""
import doctest
import math

import numpy as np
import pytest

from mnaslib import strategies
from mnaslib.strategies import (PPOConfig, RandomSearch, RegularizedEvolution, RLController, SearchStrategy,
                                check_decisions, make_strategy, optimize)

DECISIONS = [(f"d{i}", 4) for i in range(8)]
TARGET = [3, 1, 0, 2, 2, 1, 3, 0]
MIXED = [("op", 4), ("kernel", 2), ("fixed", 1), ("skip", 3)]
# Small networks keep TensorFlow tracing cheap in tests that check bookkeeping, not learning.
SMALL_PPO = {"lstm_units": 16, "embedding_dim": 8}
CONFIGS = {"ppo": SMALL_PPO, "random": {}, "evolution": {"population_size": 6, "sample_size": 3}}


def match_fraction(tokens):
    return sum(t == g for t, g in zip(tokens, TARGET)) / len(TARGET)


def noisy_reward(seed):
    noise = np.random.default_rng(seed)
    return lambda tokens: match_fraction(tokens) + float(noise.normal(0.0, 0.05))


def run_rounds(strategy, rounds, n=8):
    """Ask/tell a few rounds with a deterministic reward; returns every batch and every stats dict."""
    batches, stats = [], []
    for _ in range(rounds):
        batch = strategy.ask(n)
        batches.append(batch)
        stats.append(strategy.tell(batch, [match_fraction(t) for t in batch]))
    return batches, stats


def same_stats(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert a[key] == b[key] or (math.isnan(a[key]) and math.isnan(b[key])), key


def last_mean(history, batches=5):
    return float(np.mean(history.mean_rewards()[-batches:]))


@pytest.mark.parametrize("name", ["ppo", "random", "evolution"])
def test_same_seed_same_samples_and_different_seed_differs(name):
    first, _ = run_rounds(make_strategy(name, DECISIONS, seed=3, **CONFIGS[name]), rounds=3)
    again, _ = run_rounds(make_strategy(name, DECISIONS, seed=3, **CONFIGS[name]), rounds=3)
    other = make_strategy(name, DECISIONS, seed=4, **CONFIGS[name]).ask(8)
    assert first == again
    assert first[0] != other
    assert all(0 <= t < 4 for batch in first for row in batch for t in row)


@pytest.mark.parametrize("name", ["ppo", "random", "evolution"])
def test_state_round_trip_resumes_exactly(name):
    original = make_strategy(name, DECISIONS, seed=5, **CONFIGS[name])
    run_rounds(original, rounds=3)
    restored = SearchStrategy.from_bytes(original.state_bytes())
    # load_state into an instance with another seed must overwrite weights, optimizer, RNG and baseline too.
    loaded = make_strategy(name, DECISIONS, seed=99, **CONFIGS[name])
    run_rounds(loaded, rounds=1)
    loaded.load_state(original.state())
    assert type(restored) is type(original) and restored.step == original.step == 3
    for copy in (restored, loaded):
        if name == "ppo":
            assert copy.baseline == original.baseline
    expected_batches, expected_stats = run_rounds(original, rounds=2)
    for copy in (restored, loaded):
        batches, stats = run_rounds(copy, rounds=2)
        assert batches == expected_batches
        for a, b in zip(stats, expected_stats):
            same_stats(a, b)
        if name == "ppo":
            # Equal weights after two more updates also proves the Adam moments and step count were restored.
            for w, v in zip(copy.weights(), original.weights()):
                np.testing.assert_array_equal(w, v)
        if name == "evolution":
            np.testing.assert_array_equal(copy.population_tokens, original.population_tokens)
            np.testing.assert_array_equal(copy.population_rewards, original.population_rewards)


def test_state_from_another_kind_or_space_is_rejected():
    blob = RandomSearch(DECISIONS, seed=0).state_bytes()
    with pytest.raises(ValueError, match="RegularizedEvolution.from_bytes cannot build"):
        RegularizedEvolution.from_bytes(blob)
    with pytest.raises(ValueError, match="cannot load it into 'evolution'"):
        RegularizedEvolution(DECISIONS).load_state(RandomSearch(DECISIONS).state())
    with pytest.raises(ValueError, match="saved for decisions"):
        RandomSearch(MIXED).load_state(RandomSearch(DECISIONS).state())
    with pytest.raises(ValueError, match="PPO config"):
        RLController(DECISIONS, **SMALL_PPO).load_state(RLController(DECISIONS, lstm_units=8, embedding_dim=8).state())
    ppo = RLController(DECISIONS, **SMALL_PPO)
    state, before = ppo.state(), ppo.weights()
    state["weight_000"] = np.ones((1, 9))          # a wrong shape must leave every weight untouched
    state["weight_001"] = np.ones_like(before[1])
    with pytest.raises(ValueError, match=r"weight_000 has shape \(1, 9\)"):
        ppo.load_state(state)
    for w, v in zip(ppo.weights(), before):
        np.testing.assert_array_equal(w, v)


def test_ppo_learns_and_beats_random_search():
    for seed in (0, 1):
        ppo = RLController(DECISIONS, seed=seed)
        learned = optimize(noisy_reward(seed), DECISIONS, ppo, steps=30, batch_size=16, reevaluate=True)
        random = optimize(noisy_reward(seed), DECISIONS, "random", steps=30, batch_size=16, seed=seed)
        # Random search's mean over 5 x 16 samples is 0.25 with a standard deviation of about 0.02.
        assert last_mean(random) < 0.35
        assert last_mean(learned) > 0.6
        assert last_mean(learned) > last_mean(random) + 0.3
        assert match_fraction(ppo.most_likely()) >= 0.75
        stats = learned.stats
        assert stats[-1]["entropy"] < stats[0]["entropy"]     # the policy has become more certain
        assert stats[0]["entropy_fraction"] == pytest.approx(1.0, abs=0.01)  # near uniform at the start


def test_evolution_beats_random_search():
    for seed in (0, 1):
        evolved = optimize(noisy_reward(seed), DECISIONS, "evolution", steps=30, batch_size=16, seed=seed,
                           reevaluate=True, population_size=32, sample_size=8)
        random = optimize(noisy_reward(seed), DECISIONS, "random", steps=30, batch_size=16, seed=seed)
        assert last_mean(evolved) > 0.55
        assert last_mean(evolved) > last_mean(random) + 0.25
        assert evolved.best().reward > 0.9


def test_failed_rewards_are_skipped_exactly():
    told = RLController(DECISIONS, seed=2, **SMALL_PPO)
    twin = RLController(DECISIONS, seed=2, **SMALL_PPO)
    batch = told.ask(8)
    assert twin.ask(8) == batch
    rewards = [0.5, None, 0.25, float("nan"), 1.0, float("inf"), -float("inf"), 0.75]
    valid = [i for i, r in enumerate(rewards) if r is not None and math.isfinite(r)]
    stats = told.tell(batch, rewards)
    twin_stats = twin.tell([batch[i] for i in valid], [rewards[i] for i in valid])
    assert stats["num_valid"] == 4.0
    assert stats["mean_reward"] == pytest.approx(0.625)
    assert all(np.isfinite(w).all() for w in told.weights())
    for w, v in zip(told.weights(), twin.weights()):
        np.testing.assert_array_equal(w, v)        # exactly the update of the valid trials alone
    same_stats({k: v for k, v in stats.items() if k != "num_valid"},
               {k: v for k, v in twin_stats.items() if k != "num_valid"})

    before, baseline = told.weights(), told.baseline
    stats = told.tell(told.ask(3), [None, float("nan"), None])
    assert stats["num_valid"] == 0.0 and math.isnan(stats["mean_reward"]) and stats["baseline"] == baseline
    assert told.baseline == baseline
    for w, v in zip(told.weights(), before):
        np.testing.assert_array_equal(w, v)


def test_evolution_ignores_failed_trials_and_ages_out_the_oldest():
    evolution = RegularizedEvolution(DECISIONS, seed=0, population_size=4, sample_size=4)
    batch = evolution.ask(6)
    evolution.tell(batch, [0.1, None, 0.2, 0.3, float("nan"), 0.4])
    assert evolution.population_tokens.tolist() == [batch[i] for i in (0, 2, 3, 5)]
    more = evolution.ask(2)
    evolution.tell(more, [0.0, 0.05])
    # The two oldest members leave even though the newcomers are worse: aging, not culling.
    assert evolution.population_tokens.tolist() == [batch[3], batch[5], *more]
    assert evolution.population_rewards.tolist() == [0.3, 0.4, 0.0, 0.05]


def test_evolution_mutates_exactly_one_choosable_decision_of_the_tournament_winner():
    evolution = RegularizedEvolution(MIXED, seed=1, population_size=5, sample_size=5)
    members = evolution.ask(5)
    rewards = [0.1, 0.9, 0.3, 0.2, 0.4]
    evolution.tell(members, rewards)
    best = np.array(members[1])
    children = np.array(evolution.ask(200))
    differences = children != best
    assert (differences.sum(axis=1) == 1).all()          # one decision changed, and to a different value
    assert not differences[:, 2].any()                   # the one-choice decision is never "mutated"
    assert differences[:, [0, 1, 3]].any(axis=0).all()   # every other decision does get mutated


@pytest.mark.parametrize("epsilon", [0.0, 0.3])
def test_controller_probabilities_agree_with_sampling_and_log_prob(epsilon):
    """``probabilities`` is the policy; samples and ``log_prob`` follow the policy mixed with the epsilon floor."""
    ppo = RLController(MIXED, seed=0, lstm_units=16, embedding_dim=8, init_range=1.0, epsilon=epsilon)
    twin = RLController(MIXED, seed=0, lstm_units=16, embedding_dim=8, init_range=1.0, epsilon=epsilon)
    greedy = ppo.most_likely()
    probabilities = ppo.probabilities()
    assert [len(p) for p in probabilities] == [4, 2, 1, 3]
    assert all(p.sum() == pytest.approx(1.0) for p in probabilities)
    assert greedy == [int(np.argmax(p)) for p in probabilities]
    assert ppo.entropy(greedy) == pytest.approx([-(p * np.log(p)).sum() for p in probabilities])
    expected_log_prob = sum(math.log((1 - epsilon) * p[t] + epsilon / len(p)) for p, t in zip(probabilities, greedy))
    assert ppo.log_prob([greedy])[0] == pytest.approx(expected_log_prob, abs=1e-5)
    # Plotting helpers draw no random numbers, so they leave the sample sequence alone.
    samples = np.array(ppo.ask(4000))
    assert samples.tolist() == twin.ask(4000)
    # The first decision does not depend on earlier tokens: its sample frequencies must match its softmax.
    frequencies = np.bincount(samples[:, 0], minlength=4) / len(samples)
    assert np.abs(frequencies - ((1 - epsilon) * probabilities[0] + epsilon / 4)).max() < 0.03
    assert probabilities[0].max() - probabilities[0].min() > 0.1     # a non-uniform policy, so the check has teeth


def test_docstring_example_runs():
    assert doctest.testmod(strategies).failed == 0


def test_optimize_records_every_trial_and_rejects_mismatches():
    calls = []

    def flaky(tokens):
        calls.append(tokens)
        return None if len(calls) % 3 == 0 else match_fraction(tokens)

    history = optimize(flaky, DECISIONS, "random", steps=4, batch_size=6, seed=1)
    assert [t.tokens for t in history.trials] == calls and len(calls) == 24
    assert [t.step for t in history.trials] == [s for s in range(4) for _ in range(6)]
    assert sum(t.reward is None for t in history.trials) == 8
    assert [s["num_valid"] for s in history.stats] == [4.0] * 4
    assert history.best().reward == max(t.reward for t in history.trials if t.reward is not None)
    with pytest.raises(ValueError, match="different decisions"):
        optimize(flaky, DECISIONS, RandomSearch(MIXED), steps=1, batch_size=2)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        optimize(flaky, DECISIONS, "random", steps=0, batch_size=2)
    with pytest.raises(ValueError, match="no trial has a finite reward"):
        optimize(lambda tokens: None, DECISIONS, "random", steps=1, batch_size=2).best()


def counting(fn):
    """``fn`` that records the tokens of every call it really gets."""
    calls = []

    def counted(tokens):
        calls.append(list(tokens))
        return fn(tokens)
    return counted, calls


def test_optimize_reuses_earlier_evaluations_and_records_it():
    """Evolution on a small problem (81 sequences) re-samples; each sequence is evaluated once, every sample is
    still a trial."""
    small = [(f"d{i}", 3) for i in range(4)]
    options = dict(steps=25, batch_size=8, seed=3, population_size=8, sample_size=4)
    fn, calls = counting(sum)
    history = optimize(fn, small, "evolution", **options)
    distinct = {tuple(t.tokens) for t in history.trials}
    assert len(history.trials) == 200 and history.evaluations == len(calls) == len(distinct) < 81
    first = {}
    for trial in history.trials:
        assert trial.reused == (tuple(trial.tokens) in first)
        assert trial.reward == first.setdefault(tuple(trial.tokens), trial.reward)
    # The strategy is told the same rewards either way, so with a deterministic fn the search is the same.
    fresh_fn, fresh_calls = counting(sum)
    fresh = optimize(fresh_fn, small, "evolution", reevaluate=True, **options)
    assert [(t.tokens, t.reward) for t in fresh.trials] == [(t.tokens, t.reward) for t in history.trials]
    assert len(fresh_calls) == fresh.evaluations == 200 and not any(t.reused for t in fresh.trials)


def test_optimize_caches_by_key_and_retries_failures():
    fn, calls = counting(match_fraction)
    history = optimize(fn, DECISIONS, "random", steps=6, batch_size=8, seed=0, key=lambda t: t[0])
    assert len(calls) == history.evaluations == 4 and len({c[0] for c in calls}) == 4
    assert all(t.reward == match_fraction(next(c for c in calls if c[0] == t.tokens[0])) for t in history.trials)
    flaky, flaky_calls = counting(lambda t: None if t[0] == 0 else 1.0)
    history = optimize(flaky, DECISIONS, "random", steps=6, batch_size=8, seed=0, key=lambda t: t[0])
    failed = [t for t in history.trials if t.tokens[0] == 0]
    assert failed and all(t.reward is None and not t.reused for t in failed)
    assert len(flaky_calls) == len(failed) + 3
    with pytest.raises(ValueError, match="key must be a function"):
        optimize(fn, DECISIONS, "random", steps=1, batch_size=2, key="arch_id")


def test_optimize_stops_at_max_evaluations():
    fn, calls = counting(match_fraction)
    history = optimize(fn, DECISIONS, "random", steps=100, batch_size=4, seed=1, max_evaluations=10)
    assert history.evaluations == len(calls) == 10 and len(history.trials) == 10
    assert [s["num_valid"] for s in history.stats] == [4.0, 4.0, 2.0]  # the last batch is told up to the budget
    few = optimize(fn, DECISIONS, "random", steps=2, batch_size=4, seed=1, max_evaluations=100)
    assert len(few.trials) == few.evaluations == 8  # steps bound the search as well
    # A strategy that keeps re-sampling what it has seen costs nothing more, and the steps still end the search.
    fn, calls = counting(match_fraction)
    narrow = [("a", 2), ("b", 1)]
    history = optimize(fn, narrow, "random", steps=20, batch_size=4, seed=0, max_evaluations=5)
    assert len(calls) == history.evaluations == 2 and len(history.trials) == 80


def test_optimize_takes_numpy_integers_and_refuses_floats_and_bools():
    plain = optimize(match_fraction, DECISIONS, "random", steps=3, batch_size=4, seed=5)
    numpy = optimize(match_fraction, DECISIONS, "random", steps=np.int64(3), batch_size=np.int32(4),
                     seed=np.int64(5), max_evaluations=np.int16(50))
    assert [t.tokens for t in numpy.trials] == [t.tokens for t in plain.trials]
    for name, bad in (("steps", 3.0), ("steps", True), ("batch_size", 4.0), ("batch_size", np.bool_(True)),
                      ("seed", 1.0), ("seed", -1), ("max_evaluations", 2.5), ("max_evaluations", 0)):
        arguments = {"steps": 3, "batch_size": 4, "seed": 0, name: bad}
        with pytest.raises(ValueError, match=f"{name} must be"):
            optimize(match_fraction, DECISIONS, "random", **arguments)


def test_ppo_update_ignores_the_scale_and_offset_of_rewards():
    """With the batch-mean baseline and normalised advantages (the defaults), rewards r and 10 r + 3 teach the same;
    the moving-average baseline on raw advantages does not, so the test tells the two mechanics apart."""
    def weights_after(ppo, rewards):
        start = ppo.state()
        batch = ppo.ask(6)
        ppo.tell(batch, list(rewards))
        weights = ppo.weights()
        ppo.load_state(start)
        return weights

    rewards = np.array([0.91, 0.93, 0.45, 0.92, 0.90, 0.93])
    ppo = RLController(DECISIONS, seed=4, **SMALL_PPO)
    for plain, shifted in zip(weights_after(ppo, rewards), weights_after(ppo, 10 * rewards + 3)):
        np.testing.assert_allclose(plain, shifted, rtol=1e-5, atol=1e-6)
    legacy = RLController(DECISIONS, seed=4, baseline="ema", normalize_advantages=False, **SMALL_PPO)
    assert not all(np.allclose(a, b, atol=1e-6) for a, b in zip(weights_after(legacy, rewards),
                                                                 weights_after(legacy, 10 * rewards + 3)))


def test_a_batch_of_one_uses_the_moving_average():
    """A single sample has no batch mean to be compared with: both baselines then make the same update."""
    batch_mean, moving = (RLController(DECISIONS, seed=6, baseline=kind, **SMALL_PPO) for kind in ("batch", "ema"))
    for reward in (0.2, 0.8, 0.5):
        tokens = batch_mean.ask(1)
        assert moving.ask(1) == tokens
        same_stats(batch_mean.tell(tokens, [reward]), moving.tell(tokens, [reward]))
    for a, b in zip(batch_mean.weights(), moving.weights()):
        np.testing.assert_array_equal(a, b)
    assert batch_mean.baseline == pytest.approx(0.95 * (0.95 * 0.2 + 0.05 * 0.8) + 0.05 * 0.5)


def test_make_strategy_and_config():
    assert isinstance(make_strategy("random", DECISIONS), RandomSearch)
    evolution = make_strategy("evolution", DECISIONS, population_size=10, sample_size=2)
    assert (evolution.population_size, evolution.sample_size) == (10, 2)
    ppo = make_strategy("ppo", DECISIONS, seed=1, lstm_units=12, embedding_dim=6, epochs=2)
    assert (ppo.config.lstm_units, ppo.config.epochs, ppo.config.clip_ratio) == (12, 2, 0.2)
    assert PPOConfig.from_dict(ppo.config.to_dict()) == ppo.config
    assert [tuple(w.shape) for w in ppo.weights()[:2]] == [(1, 6), (6, 48)]    # start embedding, LSTM kernel
    with pytest.raises(ValueError, match="choose one of ppo, reinforce, evolution, random, optuna"):
        make_strategy("bayesian", DECISIONS)
    with pytest.raises(ValueError, match="unknown PPOConfig keys"):
        make_strategy("ppo", DECISIONS, learning_rat=0.1)
    with pytest.raises(ValueError, match="unknown strategy settings .*tournament"):
        make_strategy("evolution", DECISIONS, tournament=3)
    with pytest.raises(ValueError, match="unknown strategy settings .*population_size.*; it takes none"):
        make_strategy("random", DECISIONS, population_size=3)
    with pytest.raises(ValueError, match="clip_ratio"):
        PPOConfig(clip_ratio=0.0)
    with pytest.raises(ValueError, match="baseline_decay"):
        PPOConfig.from_dict({"baseline_decay": 1.0})
    with pytest.raises(ValueError, match="baseline must be one of batch, ema"):
        PPOConfig(baseline="mean")
    with pytest.raises(ValueError, match="normalize_advantages must be true or false"):
        PPOConfig(normalize_advantages="yes")
    with pytest.raises(ValueError, match="sample_size"):
        RegularizedEvolution(DECISIONS, population_size=4, sample_size=5)


@pytest.mark.parametrize("decisions, message", [
    ([], "must not be empty"),
    ([("a", 0)], "choices >= 1"),
    ([("a", 2), ("b", -1)], "choices >= 1"),
    ([("a", 2), ("a", 3)], "appears twice"),
    ([("a", 2.0)], "integer number of choices"),
    ([("", 2)], "non-empty string name"),
    ([("a", 2, 3)], "pair"),
    ("ab", "sequence of"),
])
def test_bad_decisions_raise(decisions, message):
    with pytest.raises(ValueError, match=message):
        check_decisions(decisions)
    with pytest.raises(ValueError, match=message):
        RandomSearch(decisions)


@pytest.mark.parametrize("name", ["random", "evolution"])
@pytest.mark.parametrize("tokens, rewards, message", [
    ([[0, 1, 0, 2]], [0.1, 0.2], "1 token sequences but 2 rewards"),
    ([[0, 1, 0, 3]], [0.1], r"'skip': token 3 is out of range \[0, 3\)"),
    ([[0, 1, 1, 0]], [0.1], r"'fixed': token 1 is out of range"),
    ([[-1, 1, 0, 0]], [0.1], "out of range"),
    ([[0, 1, 0]], [0.1], "must have 4 tokens"),
    ([[0, 1.0, 0, 0]], [0.1], "token must be an int"),
    ([[0, 1, 0, 0]], ["good"], "reward 0 must be a number"),
])
def test_bad_tell_inputs_raise(name, tokens, rewards, message):
    strategy = make_strategy(name, MIXED, **CONFIGS[name])
    with pytest.raises(ValueError, match=message):
        strategy.tell(tokens, rewards)
    assert strategy.step == 0


def test_bad_ppo_tell_and_ask_inputs_raise():
    ppo = RLController(MIXED, **SMALL_PPO)
    before = ppo.weights()
    with pytest.raises(ValueError, match="out of range"):
        ppo.tell([[0, 1, 0, 0], [4, 0, 0, 0]], [0.5, 0.5])
    for w, v in zip(ppo.weights(), before):
        np.testing.assert_array_equal(w, v)
    for n in (0, -2, 1.5):
        with pytest.raises(ValueError, match="positive integer"):
            ppo.ask(n)
    with pytest.raises(ValueError, match="seed"):
        RandomSearch(MIXED, seed=-1)


def test_paper_profile_spells_out_every_ppo_setting_at_its_default():
    from dataclasses import asdict

    from mnaslib.search.profile import load_profile
    written = {k: v for k, v in load_profile("paper").strategy.items() if k != "name"}
    assert written == asdict(PPOConfig())
