"""Ablation helpers: every search gets the profile's budget, tables label every number, Table 6 counts are exact."""
import math
import re
from dataclasses import replace

import pytest
from search_toys import toy_evaluate, toy_latency

from mnaslib import paper
from mnaslib.spaces.cell import CellSpace
from mnaslib.report.claims import table5_claims
from mnaslib.search.wiring import make_evaluator, make_space, reuse_identical_run, run_record
from mnaslib.search.profile import load_profile
from mnaslib.report.recipes.ablations import (ACC_COLUMN, SearchSummary, ablation_profile, ablation_searches,
                                              cell_space_reference, layer_diversity, run_ablation_search,
                                              searches_to_run, table2_se, table5, table6)
from mnaslib.reward import from_config as reward_from_config
from mnaslib.search.rundir import open_run
from mnaslib.report.runs import load_run
from mnaslib.search.loop import run_search
from mnaslib.strategies import make_strategy
from mnaslib.evaluation.train import ProxyTask
from mnaslib.spaces.zoo import TABLE6_MODELS


@pytest.mark.parametrize("profile", ["ci", "laptop"])
def test_searches_share_the_profile_budget_and_differ_only_in_space_or_reward(profile):
    base = load_profile(profile)
    searches = ablation_searches(profile)
    assert len({s.key for s in searches}) == 4
    for search in searches:
        config = ablation_profile(profile, search, seed=5)
        assert config.seed == 5
        for key in ("steps", "batch_size", "strategy", "latency", "proxy", "executor"):
            assert getattr(config, key) == getattr(base, key), key
        assert config.space == search.space
        reward_from_config(config.reward)  # a valid reward, not a merge of two
        make_space(config.space)
    single, multi_cells, mnasnet, no_se = searches
    assert ablation_profile(profile, single).reward == {"name": "accuracy"}
    assert ablation_profile(profile, multi_cells).reward == base.reward
    assert no_se.space == {"name": "mnasnet", "se": False}
    cells = make_space(single.space)
    assert (cells.blocks, cells.num_cells) == {"ci": (2, 1), "laptop": (5, 2)}.get(profile, (5, 4))
    # the laptop's accuracy predictor reads MBConv networks only: its cell-space searches are scored by NASWOT
    assert ablation_profile(profile, mnasnet).evaluator == base.evaluator
    assert ablation_profile(profile, multi_cells).evaluator == (
        {"name": "naswot"} if profile == "laptop" else base.evaluator)


def test_every_paper_row_exists():
    for search in ablation_searches("ci"):
        for table, row in search.paper_rows:
            assert paper.value(table, row, "top1").status in "VCU"
            assert paper.value(table, row, "latency_ms").value > 0


def _toy_summary(tmp_path, search):
    """A real (toy-evaluated) search of the ablation's space, stored and read back like the notebook does."""
    config = ablation_profile("ci", search, seed=1)
    space = make_space(config.space)
    store = open_run(tmp_path / search.key, config.to_dict())
    run_search(space, make_strategy("random", space.decision_sizes(), seed=1), toy_evaluate, toy_latency,
               reward_from_config(config.reward), store, steps=2, batch_size=3, progress=False)
    return SearchSummary(search, config, load_run(tmp_path / search.key).frame)


def test_tables_5_and_2_show_the_best_reward_model_with_provenance(tmp_path):
    summaries = [_toy_summary(tmp_path, s) for s in ablation_searches("ci")]
    for summary in summaries:
        best = summary.best
        assert best["reward"] == summary.done["reward"].max()
    five = table5(summaries)
    assert list(five["search"]) == [s.search.label for s in summaries[:3]]
    assert five["paper latency (ms)"].tolist() == ["183 [paper (V)]", "100 [paper (V)]", "78 [paper (V)]"]
    ci = load_profile("ci")
    assert all("[proxy (" in cell and f"search budget {ci.steps} steps x {ci.batch_size} children" in cell
               for cell in five[ACC_COLUMN])
    assert len(five.columns) <= 8 and len(table2_se(summaries).columns) <= 8
    assert all(cell.endswith("[computed (toy: layers)]") for cell in five["best model: latency (ms)"])
    two = table2_se(summaries)
    assert two["SE in space"].tolist() == ["yes", "no"]
    assert two["paper row"].tolist() == ["MnasNet-A1", "MnasNet-B1"]
    assert two["paper latency (ms)"].iloc[1] == "77 [paper (U, uncertain)]"


def test_a_search_without_finished_children_is_a_clear_error(tmp_path):
    summary = _toy_summary(tmp_path, ablation_searches("ci")[0])
    failed = SearchSummary(summary.search, summary.config, summary.trials.assign(status="failed"))
    with pytest.raises(ValueError, match="has no finished trial"):
        failed.best


def test_table6_counts_latency_and_untrained_rows():
    task = ProxyTask(dataset="fashion_mnist_subset", max_train=64, val_size=32, width_multiplier=0.35)
    raw = layer_diversity(task, train=[])
    assert list(raw["model"]) == [name for name, _ in TABLE6_MODELS]
    a1 = raw.iloc[0]
    assert a1["params"] == 3_887_038 and round(a1["mult_adds"] / 1e6, 1) == 311.6  # the official counts
    assert raw["latency_provenance"].str.startswith("predicted (Pixel-1 model").all()
    assert raw["latency_loo_ms"].notna().all()  # all five are calibration points of the Pixel-1 model
    # MBConv6 5x5 everywhere costs more than MBConv3 3x3 everywhere, in mult-adds and in predicted latency
    assert raw.iloc[4]["mult_adds"] > raw.iloc[1]["mult_adds"] and raw.iloc[4]["latency_ms"] > raw.iloc[1]["latency_ms"]
    shown = table6(raw, "not run at ci")
    assert (shown["accuracy"] == "- [not run at ci]").all()
    assert shown["paper top-1 (%)"].iloc[0] == "75.2 [paper (V)]"
    assert "fitted on this network" in shown["latency (ms)"].iloc[0]
    assert all(math.isnan(v) for v in raw["accuracy"])
    from mnaslib.report.plots.figures import table6_figure
    fig = table6_figure(raw, task.describe(), "not run at ci")
    assert len(fig.axes) == 2 and "not run at ci" in fig._suptitle.get_text()  # no empty proxy panel
    trained = raw.assign(trained=[True] + [False] * (len(raw) - 1), accuracy=[0.3] + [math.nan] * (len(raw) - 1))
    assert len(table6_figure(trained, task.describe(), "not run at ci").axes) == 3
    with pytest.raises(ValueError, match="not among the Table 6 models"):
        layer_diversity(task, train=["mnasnet-b1"])


def test_table5_claims_about_the_cell_space_are_not_testable_here(tmp_path):
    """No evaluator has a measured fidelity on cell-space networks: the paper's ratios are recomputed, ours shown
    where the searches ran, and every verdict says why it is missing, with the measured numbers."""
    summaries = [_toy_summary(tmp_path, s) for s in ablation_searches("ci")]
    claims = table5_claims(summaries)
    assert claims["paper"].tolist() == ["1.83x [computed from paper (V) latencies]",
                                        "1.28x [computed from paper (V) latencies]",
                                        "+3.2 points [computed from paper (V) ImageNet top-1]"]
    single, cells, mnas = summaries[:3]
    expected = single.best["latency_ms"] / cells.best["latency_ms"]
    assert claims["ours"].iloc[0].startswith(f"{expected:.2f}x")
    assert claims["verdict"].str.startswith("not testable here: no fidelity on cell networks").all()
    assert claims["verdict"].str.len().max() <= 90  # a table cell (labels.MAX_CELL)
    from mnaslib.report.plots.figures import table5_figure
    ax = table5_figure({s.search.key: s for s in summaries}, 75.0, "NASWOT (test)").axes[0]
    assert "children scored by: NASWOT (test)" in ax.get_title() and "proxy" not in ax.get_title()
    assert re.search(r"NASWOT ranks at 0\.\d\d, params 0\.\d\d$", claims["verdict"].iloc[0])  # Kendall, measured
    # scored by different measures (the laptop's predictor in the MnasNet space, NASWOT in the cell space): no gap
    other = cells.trials.copy()
    other["accuracy_kind"], other["accuracy_detail"] = "proxy", "NASWOT score at initialisation, ..."
    mixed = table5_claims([single, replace(cells, trials=other), mnas])
    assert mixed["ours"].iloc[2].startswith("- [the two spaces' children were scored by different measures")
    # the laptop runs no cell-space search: the rows stay, saying so
    skipped = table5_claims([mnas])
    assert skipped["ours"].iloc[0].startswith("- [cell-space searches not run")
    assert skipped["verdict"].str.startswith("not testable here").all()
    with pytest.raises(ValueError, match="needs the multi-objective MnasNet search"):
        table5_claims(summaries[:2])


def test_the_laptop_skips_the_cell_searches_and_table6_trainings_by_default(tmp_path):
    run, skipped = searches_to_run("laptop")
    assert [s.key for s in run] == ["multi_objective_mnasnet", "multi_objective_mnasnet_no_se"]
    assert [s.key for s in skipped] == ["single_objective_cells", "multi_objective_cells"]
    assert searches_to_run("ci")[1] == [] and searches_to_run("paper")[1] == []
    assert load_profile("laptop").notebooks.table6_train == ()  # opt-in
    assert load_profile("paper").notebooks.table6_train is None  # every network
    opted = load_profile("laptop", {"notebooks": {"table6_train": "all", "cell_searches": True}}).notebooks
    assert opted.table6_train is None and opted.cell_searches
    summaries = [_toy_summary(tmp_path, s) for s in ablation_searches("ci")]
    five = table5(summaries[2:], skipped=ablation_searches("ci")[:2], skipped_reason="not run at the laptop profile")
    assert five["search"].tolist() == [s.search.label for s in summaries[:3]]  # the paper's order
    assert five[ACC_COLUMN].iloc[0] == "- [not run at the laptop profile]"
    assert five["paper latency (ms)"].iloc[0] == "183 [paper (V)]"


def test_cell_space_reference_is_nasnet_a_sized():
    shown = cell_space_reference(CellSpace())
    assert shown["params (M)"].iloc[0] == "4.77 [computed]"
    assert "[predicted (Pixel-1 model" in shown["latency (ms)"].iloc[0]
    assert shown["latency (ms)"].iloc[1] == "183 [paper (V)]"


def _finished_toy_search(folder, config, steps=None):
    """A finished search of ``config`` recorded as ``search_from_profile`` records it (settings and data)."""
    space = make_space(config.space)
    with open_run(folder, run_record(config, make_evaluator(config))) as store:
        run_search(space, make_strategy("random", space.decision_sizes(), seed=config.seed), toy_evaluate,
                   toy_latency, reward_from_config(config.reward), store, steps=steps or config.steps,
                   batch_size=config.batch_size, progress=False)


def test_a_finished_identical_search_is_copied_not_searched_again(tmp_path):
    """Notebook 07 reuses notebook 03's soft search; only an identical, finished run may stand in for a search."""
    search = next(s for s in ablation_searches("ci") if s.key == "multi_objective_mnasnet")
    config = ablation_profile("ci", search, seed=1)
    source, partial = tmp_path / "search_soft", tmp_path / "unfinished"
    _finished_toy_search(source, config)
    _finished_toy_search(partial, config, steps=config.steps - 1)
    other_seed = ablation_profile("ci", search, seed=2)
    assert reuse_identical_run(other_seed, tmp_path / "a", [source]) is None
    assert reuse_identical_run(config, tmp_path / "b", [tmp_path / "missing", partial]) is None
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    summary = run_ablation_search("ci", search, tmp_path / "runs", seed=1, progress=False,
                                  reuse=[partial, source])
    assert summary.reused_from == source
    assert summary.trials["arch_id"].tolist() == [t.arch_id for t in load_run(source).trials]
    assert reuse_identical_run(config, tmp_path / "runs" / search.key, [source]) is None  # never over a store
