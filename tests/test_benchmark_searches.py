"""The accuracy-dependent search experiments on Accel-NASBench: seeds per arm, resume, claims over seeds, the space
without SE, and the search-again recipe.

Every search here is real (PPO controller, Pixel-1 latency model, the surrogate fitted on the published archive,
read in place from shared/ and skipped with the reason where it is absent), at the ci budget: 10 steps x 8 children,
three seeds per arm.
"""
import re

import pytest
from shared_data import require_shared

from mnaslib.search.wiring import search_space
from mnaslib.search.profile import load_profile
from mnaslib.report.recipes import benchmark_searches as bs
from mnaslib.search.trial import finished
from mnaslib.report.recipes import layer_diversity_accel as t6a
from mnaslib.seeds import arm_seed
from mnaslib.search.store import STORE_FILENAME, TrialStore
from mnaslib.spaces.accel import AccelSpace
from mnaslib.tabular.evaluator import benchmark_space

VERDICT_STARTS = ("holds (", "does not hold (", "within noise (")


@pytest.fixture(scope="module")
def profile():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MNAS_BENCHMARK_DIR", str(require_shared("benchmarks")))
        yield bs.benchmark_profile(load_profile("ci"))


@pytest.fixture(scope="module")
def figure6(profile, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("benchmark-searches")
    return run_dir, bs.figure6(profile, run_dir)


def _arm_seeds(offset, count):
    """The seeds an arm at ``offset`` of a comparison run from the profile's seed (0) takes."""
    return [arm_seed(0, offset, k) for k in range(count)]


def test_profile_budget_and_target(profile):
    assert (profile.steps, profile.batch_size, profile.notebooks.benchmark_seeds) == (10, 8, 3)
    assert profile.benchmark["name"] == "accel-nasbench"
    target, why = bs.target_ms(profile)
    assert target == 75.0 and "the paper's" in why  # the space spans 23-234 ms under the Pixel-1 model


def test_each_arm_has_its_own_seeds_and_every_search_is_complete(figure6):
    _, runs = figure6
    assert runs["hard"].seeds == _arm_seeds(0, 3) and runs["soft"].seeds == _arm_seeds(bs.SOFT_OFFSET, 3)
    for arm in runs.values():
        assert [len(trials) for trials in arm.trials] == [80, 80, 80]
        assert len(finished(arm.trials[0])) == len(arm.trials[0])
        first_tokens = [tuple(trials["tokens"].iloc[0]) for trials in arm.trials]
        assert len(set(first_tokens)) == 3, "three seeds must sample three different sequences"
    assert runs["hard"].accuracy_label.startswith("surrogate (gradient boosting")
    assert runs["hard"].latency_label.startswith("predicted (Pixel-1 model")


def test_rerunning_resumes_every_search_without_new_work(figure6, profile):
    run_dir, runs = figure6
    again = bs.figure6(profile, run_dir)
    for key in runs:
        for before, after in zip(runs[key].trials, again[key].trials):
            assert before["finished"].tolist() == after["finished"].tolist()


def test_figure6_claims_are_verdicts_over_the_seeds(figure6):
    _, runs = figure6
    claims = bs.figure6_claims(runs, 75.0)
    assert len(claims) == 5 and all(v.startswith(VERDICT_STARTS) and "/3 seeds; " in v for v in claims["verdict"])
    assert "median [IQR] of 3 seeds" in claims.iloc[0]["hard"]
    # the hard reward's whole point, on real accuracies: every seed crowds more samples at or below T than soft
    # (whether the gap also clears the noise floor at this budget of 80 samples depends on the controller's luck)
    assert re.match(r"(holds|within noise) \(3/3 seeds; min gap \+", claims.iloc[0]["verdict"])


def test_the_space_without_se_has_no_se_anywhere(profile):
    space = AccelSpace(se=False)
    sizes = dict(space.decision_sizes())
    assert all(sizes[f"block{b}_se"] == 1 for b in range(7)) and sizes["block0_k"] == 2
    assert space.log10_size() < AccelSpace().log10_size()
    arch = space.decode([0] * 28)
    assert all(block.se_ratio == 0 for block in arch.blocks)
    with pytest.raises(ValueError, match="block0_se"):
        space.encode(AccelSpace().efficientnet_b0())  # B0 has SE, which this space cannot express
    assert benchmark_space("accel-nasbench", {"se": False}) == space
    with pytest.raises(ValueError, match="bad options .* accel-nasbench"):
        benchmark_space("accel-nasbench", {"squeeze": False})
    assert search_space(profile.with_overrides({"benchmark": {"space": {"se": False}}})) == space


def test_se_study_and_reward_ablation_summarise_every_seed(profile, tmp_path):
    se = bs.se_study(profile, tmp_path)
    for trials in se["without_se"].trials:
        assert not trials["block_strings"].map(lambda blocks: any("_se" in b for b in blocks)).any()
    assert se["with_se"].trials[0]["block_strings"].map(lambda blocks: any("_se" in b for b in blocks)).any()
    table = bs.best_models(se)
    assert list(table["seeds"]) == ["3 of 3", "3 of 3"]
    claims = bs.se_claims(se)
    assert len(claims) == 2 and all(v.startswith(VERDICT_STARTS) for v in claims["verdict"])
    assert claims.iloc[0]["paper"] == "+0.7 [computed from paper (C, V)]"

    ablation = bs.reward_ablation(profile, tmp_path)
    single, multi = (ablation[k].best() for k in ("single_objective", "multi_objective"))
    assert all(trial["reward"] == trial["accuracy"] for trial in single)  # accuracy alone: the reward is accuracy
    # ignoring latency, the single-objective search's best models are slower than the multi-objective ones
    assert min(t["latency_ms"] for t in single) > max(t["latency_ms"] for t in multi)
    claims = bs.reward_claims(ablation)
    # every seed agrees (faster, as asserted above); whether the gap clears the seed spread depends on the budget
    assert claims.iloc[0]["verdict"].startswith(("holds (3/3 seeds; min gap", "within noise (3/3 seeds; min gap"))
    assert claims.iloc[0]["paper"].startswith("1.83x [computed")


def test_scaled_references_are_networks_of_the_space():
    space = AccelSpace()
    references = bs.scaled_references(space)
    depths = {label: sum(b.repeats for b in arch.blocks) for label, arch in references.items()}
    assert depths["EfficientNet-B0"] == 16 and depths["B0, depth x0.34"] == 7
    for arch in references.values():
        assert space.decode(space.encode(arch)).block_strings() == arch.block_strings()


def test_search_again_targets_the_smallest_reference_with_the_hard_reward(profile, tmp_path):
    runs, references, target = bs.search_again(profile, tmp_path)
    assert target == references["_ms"].min() and len(references) == 5
    with TrialStore(tmp_path / "search_again" / f"search_again_seed{arm_seed(0, 0, 0)}" / STORE_FILENAME) as store:
        reward = store.runs()[-1]["config"]["reward"]
    assert reward["name"] == "mnas_hard" and reward["target_ms"] == target
    claims = bs.search_again_claims(runs, references, target)
    assert len(claims) == 2 and all(v.startswith(VERDICT_STARTS) for v in claims["verdict"])
    assert "surrogate" in claims.iloc[0]["scaled-down reference"]
    with pytest.raises(ValueError, match="no scaled reference meets"):
        bs.search_again_claims(runs, references, target - 1.0)
    assert list(bs.references_table(references).columns) == ["model", "accuracy (top-1 %)", "latency (ms)"]


def test_the_reference_soft_search_is_shared_by_every_comparison(figure6, profile):
    """Figure 6's soft arm, Table 5's multi-objective arm and Table 2's with-SE arm are one search: same seeds, and a
    finished one in a sibling folder is copied, not searched again."""
    run_dir, runs = figure6
    ablation = bs.reward_ablation(profile, run_dir)
    se = bs.se_study(profile, run_dir, seeds=1)
    assert ablation["multi_objective"].seeds == se["with_se"].seeds[:1] + _arm_seeds(1, 3)[1:] == runs["soft"].seeds
    for copied, original in zip(ablation["multi_objective"].trials, runs["soft"].trials):
        assert copied["finished"].tolist() == original["finished"].tolist()  # copied: same timestamps
    assert se["with_se"].trials[0]["finished"].tolist() == runs["soft"].trials[0]["finished"].tolist()
    # a different search is not: the hard arm's seeds 0-2 are not reused for accuracy alone
    assert ablation["single_objective"].seeds == _arm_seeds(0, 3)
    assert (ablation["single_objective"].trials[0]["finished"].tolist()
            != runs["hard"].trials[0]["finished"].tolist())


def test_seed_offsets_keep_arms_apart():
    arms = [bs.Arm("a", "a", {}), bs.soft_arm("s", "s", 75.0), bs.Arm("b", "b", {})]
    assert bs.seed_offsets(arms) == [0, 1, 2]
    assert bs.seed_offsets([bs.soft_arm("s", "s", 75.0), bs.Arm("a", "a", {})]) == [1, 0]
    with pytest.raises(ValueError, match="share a seed offset"):
        bs.seed_offsets([bs.soft_arm("s", "s", 75.0), bs.Arm("t", "t", {}, seed_offset=1)])


def test_table6_on_accel_nasbench_sets_single_op_networks_beside_the_searched_ones(figure6, profile):
    _, runs = figure6
    raw = t6a.layer_diversity(profile, runs["soft"], 75.0)
    uniform = raw[raw["kind"] == "single op"]
    assert len(uniform) == 6 and (uniform["ops"] == 1).all()  # expansions 1, 4, 6 x kernels 3, 5
    assert list(raw["kind"].iloc[6:]) == ["mixed (designed)"] + ["mixed (searched)"] * 3
    assert (raw.loc[raw["kind"] != "single op", "ops"] > 1).all()
    # more expansion, more mult-adds and latency, everywhere
    e1, e6 = (uniform[uniform["network"] == f"MBConv{e} 5x5 everywhere"].iloc[0] for e in (1, 6))
    assert e6["mult_adds"] > e1["mult_adds"] and e6["latency_ms"] > e1["latency_ms"]
    assert raw["surrogate_label"].str.startswith("surrogate (gradient boosting").all()
    assert raw["predictor_label"].str.contains("verdict part").all()
    assert abs(raw["surrogate"] - raw["predictor"]).max() < 0.05  # two models of the same trainings agree
    shown = t6a.layer_diversity_table(raw)
    assert len(shown.columns) <= 8 and "held-out Kendall" in shown["top-1 (%), surrogate"].iloc[0]
    claims = t6a.layer_diversity_claims(raw, rmse_points=0.46)
    assert len(claims) == 2
    assert all(v.startswith(VERDICT_STARTS) for v in claims["verdict"])
    # a searched network ahead of the best single-op one by less than the surrogate's error is within noise
    best = uniform["reward"].max()
    close = raw.assign(reward=[r if k != "mixed (searched)" else best * 1.001 for r, k in zip(raw["reward"],
                                                                                               raw["kind"])])
    assert t6a.layer_diversity_claims(close, rmse_points=0.46)["verdict"].iloc[0].startswith("within noise")
    assert t6a.layer_diversity_claims(close, rmse_points=0.0)["verdict"].iloc[0].startswith("holds (3/3 seeds")
    from mnaslib.report.plots.figures import table6_accel_figure
    ax = table6_accel_figure(raw, rmse=0.46).axes[0]
    assert ax.get_ylabel() == "ImageNet top-1 (%)"
    named = {t.get_text() for t in ax.texts}
    assert named == {f"MBConv{e} {k}x{k}" for e in (1, 4, 6) for k in (3, 5)}  # every single-op network named
    assert any("surrogate, ±RMSE 0.46" in t.get_text() for t in ax.get_legend().get_texts())


def test_the_strategy_comparison_takes_its_own_budget(profile, tmp_path):
    from mnaslib.report.recipes.strategy_comparison import compare_strategies

    smaller = profile.with_overrides({"notebooks": {"strategy_steps": 2}})
    runs = compare_strategies(smaller, tmp_path, seeds=1, arms=["ppo", "random"])
    assert [len(r.trials[0]) for r in runs.values()] == [2 * profile.batch_size] * 2
    assert runs["ppo"].seeds == _arm_seeds(1, 1) and runs["random"].seeds == _arm_seeds(0, 1)
    assert load_profile("laptop").notebooks.strategy_steps == 60
    assert load_profile("paper").notebooks.strategy_steps is None
