"""The recipes behind notebooks 04 and 05: networks, budgets, held-out predictions, tables and claim verdicts.

Real TensorFlow throughout, but nothing is trained or timed: the tables are fed constructed results, so the verdict
logic is tested on numbers whose answer is known.
"""
import json
from dataclasses import replace
from types import SimpleNamespace

import pandas as pd
import pytest

from mnaslib.report import claims
from mnaslib import paper
from mnaslib.spaces import zoo
from mnaslib.report.verdicts import Fidelity
from mnaslib.spaces.buildable import BuildOptions
from mnaslib.spaces.counting import summarize
from mnaslib.labels import Labelled, Provenance
from mnaslib.latency.base import LatencyResult
from mnaslib.report.plots import figures
from mnaslib.search.profile import load_profile
from mnaslib.report.recipes import points as ex
from mnaslib.report.recipes import scaling, table1
from mnaslib.spaces.zoo import NetworkPoint, network
from tests.shared_data import require_shared


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    return ex.Context("ci", seed=0, run_dir=tmp_path_factory.mktemp("runs"), log=None)


def _host(ms: float) -> LatencyResult:
    return LatencyResult(median_ms=ms, p90_ms=None, mean_ms=ms, std_ms=0.0, cv=0.0, runs=1,
                         provenance=Provenance("measured", "test host"))


def _result(point: NetworkPoint, latency_ms: float | None = None, accuracy: float | None = None,
            heldout_ms: float = 50.0, mult_adds_m: float = 300.0) -> ex.PointResult:
    proxy = None if accuracy is None else ex.ProxyOutcome(accuracy, "proxy (test task)", 1.0, False)
    return ex.PointResult(point, 3.0, mult_adds_m, heldout_ms, heldout_ms, "predicted (test)",
                          host=None if latency_ms is None else _host(latency_ms), proxy=proxy)


def _paper(row: str, column: str) -> float:
    return paper.value("table1_imagenet", row, column).value


def _table1_like_paper(scale: float = 0.1) -> dict[str, ex.PointResult]:
    """Results whose host latencies are the paper's Pixel-1 ones times ``scale`` (same ratios as the paper)."""
    results = {}
    for point in zoo.TABLE1_MODELS:
        try:
            latency = scale * _paper(point.label, "latency_ms")
            macs = _paper(point.label, "mult_adds_m")
        except LookupError:
            latency, macs = 8.0, 314.0
        results[point.label] = _result(point, latency, heldout_ms=latency / scale, mult_adds_m=macs)
    return results


def test_keras_networks_validate_their_family():
    with pytest.raises(ValueError, match="unknown Keras application"):
        zoo.KerasNetwork("resnet")
    with pytest.raises(ValueError, match="neither a network name"):
        zoo.resolve("resnet50")


def test_keras_proxy_child_emulates_a_stride_1_stem_and_outputs_logits():
    model = zoo.KerasNetwork("keras-mobilenetv2").build(BuildOptions(input_size=32, num_classes=10,
                                                                     depth_multiplier=0.35, stem_stride=1, logits=True))
    assert model.input.shape[1:] == (32, 32, 3) and model.output.shape[1:] == (10,)
    assert model.get_layer("stem_stride_1").output.shape[1:3] == (64, 64)
    assert model.layers[-1].activation.__name__ == "linear"
    assert not any(isinstance(layer, type(model)) for layer in model.layers)  # flat: build_child sets BN momentum


def test_width_scaled_nasnet_child_keeps_filters_buildable():
    model = zoo.KerasNetwork("keras-nasnetmobile").build(BuildOptions(input_size=32, num_classes=10,
                                                                      depth_multiplier=0.35, stem_stride=1,
                                                                      logits=True))
    assert model.output.shape[1:] == (10,)
    assert summarize(model)["trainable_params"] < 0.5 * 5_289_978  # well below NASNetMobile's own size


def test_arch_points_are_counted_analytically_like_the_built_network(ctx):
    point = NetworkPoint("A1 0.5x 160", network("mnasnet-a1"), multiplier=0.5, input_size=160)
    result = ex.evaluate_point(point, ctx, host=False, proxy=False)
    counts = summarize(network("mnasnet-a1").build(BuildOptions(depth_multiplier=0.5, input_size=160)))
    assert result.params_m == counts["trainable_params"] / 1e6
    assert result.mult_adds_m == counts["mult_adds"] / 1e6
    assert result.host is None and result.proxy is None


def test_keras_deployment_networks_predict_exactly_as_their_calibration_point(ctx):
    point = NetworkPoint("MobileNetV2 0.35x", network("keras-mobilenetv2"), multiplier=0.35)
    result = ex.evaluate_point(point, ctx, host=False, proxy=False)
    calibration = next(p for p in ctx.pixel1.points if p["point"] == "mobilenetv2_0.35_224")
    assert result.pixel1_ms == pytest.approx(calibration["fit_ms"], rel=1e-9)
    assert result.pixel1_heldout_ms == pytest.approx(calibration["loo_ms"], rel=1e-12)


def test_heldout_prediction_only_for_calibration_points(ctx):
    a1 = NetworkPoint("A1", network("mnasnet-a1"))
    expected = next(p["loo_ms"] for p in ctx.pixel1.points if p["point"] == "mnasnet_a1_1.0_224")
    assert ex.heldout_prediction(ctx.pixel1, a1) == expected
    assert ex.heldout_prediction(ctx.pixel1, NetworkPoint("D1", network("mnasnet-d1"))) is None
    assert ex.heldout_prediction(ctx.pixel1, replace(a1, input_size=200)) is None
    result = _result(NetworkPoint("D1", network("mnasnet-d1")))
    assert replace(result, pixel1_heldout_ms=None).pixel1_out_of_sample_ms == result.pixel1_ms


@pytest.fixture(scope="module")
def scored_ctx(ctx):
    """``ctx`` with the Accel-NASBench predictor available (the archive from shared/)."""
    require_shared("benchmarks", "accel-nasbench")
    return ctx


def _predicted(top1: float) -> Labelled:
    return Labelled(top1, "surrogate (test)", "{:.1f}")


def test_budgets_name_only_known_networks():
    known = ({p.label for p in zoo.TABLE1_MODELS} | {p.label for p in zoo.fig5_points()}
             | {zoo.MNASNET_SMALL.label, ex.OUR_SEARCH})
    for profile in ("ci", "laptop", "paper"):
        budget = load_profile(profile).notebooks.models
        for selection in (budget.table1_host, budget.table1_proxy, budget.fig5_host, budget.fig5_proxy,
                          budget.table4_host, budget.table4_proxy):
            assert set(selection or ()) <= known
    ci = load_profile("ci").notebooks.models
    assert ci.table4_search == {}
    for profile in ("ci", "laptop"):  # proxy training of named networks is opt-in, off unless a profile names it
        models = load_profile(profile).notebooks.models
        assert models.table1_proxy == models.fig5_proxy == models.table4_proxy == ()
    assert load_profile("paper").notebooks.models.table1_proxy is None  # paper: every network
    with pytest.raises(ValueError, match="must be 'all' or a list of network labels"):
        load_profile("ci", {"notebooks": {"models": {"table1_host": 3}}})


def test_fig5_points_cover_every_paper_row():
    points = zoo.fig5_points()
    assert len(points) == len(paper.load_table("fig5_mnasnet_a1")) + len(paper.load_table("fig5_mobilenetv2"))
    assert len({p.label for p in points}) == len(points)
    assert zoo.fig5_label("MnasNet-A1", 0.35, 224) in {p.label for p in points}


def test_cached_proxy_result_is_reused_without_training(ctx):
    point = NetworkPoint("A1", network("mnasnet-a1"))
    width = ctx.task.width_multiplier * point.multiplier
    cache = {ex._proxy_key(point, ctx.task, width): {"accuracy": 0.42, "train_seconds": 3.0}}
    (ctx.run_dir / ex.PROXY_CACHE).write_text(json.dumps(cache))
    outcome = ex.proxy_train(point, ctx)
    assert outcome.cached and outcome.accuracy == 0.42 and outcome.provenance.startswith("proxy (")
    other = ex._proxy_key(point, replace(ctx.task, epochs=ctx.task.epochs + 1), width)
    assert other not in cache  # a different task is a different result


def test_host_provider_uses_the_thread_cpu_clock_and_the_run_folder_cache(ctx):
    provider = ctx.host_provider
    assert provider.clock == "thread_cpu" and provider.num_threads == 1
    assert str(provider.cache_dir).startswith(str(ctx.run_dir))


def test_table1_has_every_paper_row_and_labels_every_cell(ctx):
    results = {p.label: _result(p) for p in zoo.TABLE1_MODELS[:2]}
    table = table1.table(results)
    assert list(table["model"][:len(paper.load_table("table1_imagenet"))]) == list(
        paper.load_table("table1_imagenet").index)
    assert "never published" in table.set_index("model").loc["MnasNet-A2", "our network"]
    ours = table1.ours_table(results, ctx).set_index("model")
    mobilenet = ours.loc["MobileNetV1"]  # built, but not measured, and never proxy-trained unless opted in
    assert mobilenet["host latency (ms)"] == "- [not run at the ci profile]"
    assert "proxy accuracy" not in ours.columns
    for frame in (table, ours):
        assert len(frame.columns) <= 8
        for column in (c for c in frame.columns if c not in ("model", "type", "our network")):
            assert all(cell == "-" or "[" in cell for cell in frame[column]), column
    trained = {**results, "MobileNetV1": _result(zoo.TABLE1_MODELS[0], accuracy=0.4)}
    assert table1.ours_table(trained, ctx).set_index("model").loc["MobileNetV1", "proxy accuracy"].startswith(
        "0.400 [proxy")


def test_the_predictor_scores_named_networks_it_can_read_and_says_why_not_for_the_others(scored_ctx):
    ctx = scored_ctx
    by_label = {p.label: p for p in zoo.TABLE1_MODELS + tuple(zoo.fig5_points())}
    a1 = ex.predicted_top1(by_label["MnasNet-A1"], ctx)
    assert 50 < a1.value < 80  # ImageNet top-1 in percent: the accuracy scale the search's children get (/100)
    from mnaslib.search.wiring import make_evaluator
    from mnaslib.evaluation.jobs import Job

    search_evaluator = make_evaluator(load_profile("laptop"))  # what the laptop search scores its children with
    assert 100 * search_evaluator(Job(0, network("mnasnet-a1"), seed=0)).accuracy == pytest.approx(a1.value)
    assert a1.label.startswith("surrogate (") and "verdict part" in a1.label and "expansion 3" in a1.label
    mobilenetv2 = ex.predicted_top1(by_label["MobileNetV2"], ctx)  # Keras' network, read as the zoo's writing
    assert mobilenetv2.value == pytest.approx(ctx.predictor.predict([network("mobilenetv2")])[0])
    assert "scored as the zoo's mobilenetv2" in mobilenetv2.label
    untestable = {"MobileNetV1": "inverted residuals", "NASNet-A": "cell-based",
                  "MobileNetV2 (1.4x)": "1.0x networks at 224 px", "MnasNet-A1 (1x, 160)": "1.0x networks at 224 px"}
    for label, why in untestable.items():
        cell = ex.predicted_top1(by_label[label], ctx)
        assert cell.is_missing and cell.reason.startswith("not testable here: ") and why in cell.reason, label
    small = ex.predicted_top1(zoo.MNASNET_SMALL, ctx)  # 68M mult-adds: below every network it was fitted on
    assert small.is_missing and "outside its fitted sizes" in small.reason and "mult-adds 68.3M" in small.reason
    assert ex.evaluate_point(by_label["MnasNet-A1"], ctx, host=False, proxy=False).predicted == a1


def test_proxy_training_runs_only_when_opted_in(tmp_path):
    ctx = ex.Context("ci", seed=0, run_dir=tmp_path, log=None)  # an empty run folder: nothing cached
    a1 = next(p for p in zoo.TABLE1_MODELS if p.label == "MnasNet-A1")
    skipped = ex.evaluate_points([a1], ctx, host=(), proxy=ctx.budget.table1_proxy)
    assert skipped["MnasNet-A1"].proxy is None and not (ctx.run_dir / ex.PROXY_CACHE).exists()
    trained = ex.evaluate_points([a1], ctx, host=(), proxy=("MnasNet-A1",))["MnasNet-A1"].proxy
    assert not trained.cached and 0.0 <= trained.accuracy <= 1.0 and trained.provenance.startswith("proxy (")
    assert ex.proxy_train(a1, ctx).cached  # the run folder's cache answers the second time


def test_a_proxy_at_chance_or_unmeasured_decides_no_claim():
    from mnaslib.search.wiring import proxy_task
    from mnaslib.evaluation.fidelity import load_summary, measured_proxy

    laptop = proxy_task(load_profile("laptop").proxy, 0).to_dict()
    reason = claims.proxy_fidelity(laptop).untestable_reason
    assert "Kendall -0.28 on 20 trained networks, not above chance" in reason
    assert claims.proxy_fidelity(proxy_task(load_profile("ci").proxy, 0).to_dict()) is None  # never measured
    summary = json.loads(json.dumps(load_summary()))
    summary["proxies"]["trained@4000"]["kendall"] = 0.6  # were it above chance and the parameter count (0.25)
    better = measured_proxy(laptop, summary)
    assert Fidelity(better["kendall"], better["scored"], better["parameter_kendall"]).untestable_reason is None


def test_claims_hold_when_our_ratios_equal_the_papers(scored_ctx):
    results = _table1_like_paper()
    for name in ("MnasNet-A1", "MobileNetV2 (1.4x)", "NASNet-A"):  # predicted gaps twice the paper's
        results[name] = replace(results[name], predicted=_predicted(2 * _paper(name, "top1") - 100))
    checks = claims.table1_claims(results, scored_ctx)
    speedups = checks[checks["quantity"] == "speedup"]
    assert set(speedups["verdict"]) == {"holds"}
    gains = checks[checks["quantity"] == "top1_gain"]
    assert set(gains["ours from"]) == {"predicted top-1"}  # no proxy row: nothing was proxy-trained
    assert all(v.startswith("holds (1/1 seed") and "floor 0.49 points, RMSE 0.49" in v  # +1.0 and +2.4, beyond its RMSE
               for v in gains["verdict"])
    ratio = checks[checks["quantity"].str.startswith("latency ratio")]
    assert set(ratio["verdict"]) == {"holds"}
    assert len(checks.columns) <= 8


def test_accuracy_claims_are_not_testable_where_the_predictor_cannot_score_or_the_proxy_ranks_at_chance(ctx):
    results = _table1_like_paper()
    results["MnasNet-A1"] = replace(results["MnasNet-A1"], predicted=_predicted(66.0))
    results["NASNet-A"] = replace(results["NASNet-A"], predicted=Labelled.missing("not testable here: cell-based"))
    for name in ("MnasNet-A1", "MobileNetV2 (1.4x)", "NASNet-A"):
        results[name] = replace(results[name], proxy=ex.ProxyOutcome(
            _paper(name, "top1") / 100, "proxy (test)", 1.0, False))
    gains = claims.table1_claims(results, ctx)
    gains = gains[gains["quantity"] == "top1_gain"].set_index(["claim", "ours from"])
    nasnet = gains.loc[(paper.claims()[1].key, "predicted top-1")]
    assert nasnet["verdict"] == "not testable here: NASNet-A: cell-based"
    # the ci proxy's fidelity was never measured: its accuracies, though in the paper's order, decide nothing
    proxy = gains.xs("proxy accuracy", level="ours from")
    assert all(v.startswith("not testable here: the proxy's rank fidelity was not measured") for v in proxy["verdict"])


def test_fig5_claim_is_tested_only_where_both_networks_are_scored(scored_ctx):
    fig5 = {p.label: _result(p) for p in zoo.fig5_points()}
    for label, top1 in ((zoo.fig5_label("MnasNet-A1", 1.0, 224), 66.0), (zoo.fig5_label("MobileNetV2", 1.0, 224),
                                                                          63.0)):
        fig5[label] = replace(fig5[label], predicted=_predicted(top1))
    rows = claims.fig5_claims(fig5, scored_ctx).set_index("point")
    assert len(rows) == len(zoo.FIG5_SLICES) and len(rows.columns) <= 8
    assert rows.loc["1x, 224 px", "verdict"].startswith("holds (1/1 seed; min gap +3 points")
    assert rows.loc["1x, 224 px", "ours: predicted gap (points)"].startswith("+3.00 [computed from surrogate")
    assert rows.loc["0.35x, 224 px", "verdict"] == "not testable here: not scored"
    assert all(v.startswith("not testable here: ") for v in rows.drop("1x, 224 px")["verdict"])
    fig5[zoo.fig5_label("MobileNetV2", 1.0, 224)] = replace(fig5[zoo.fig5_label("MobileNetV2", 1.0, 224)],
                                                            predicted=_predicted(65.8))
    assert claims.fig5_claims(fig5, scored_ctx).set_index("point").loc["1x, 224 px", "verdict"].startswith(
        "within noise")


def test_claims_fail_when_the_ordering_flips_and_are_not_checked_when_missing(ctx):
    results = _table1_like_paper()
    a1 = results["MnasNet-A1"]
    results["MnasNet-A1"] = replace(a1, host=_host(10 * a1.host.median_ms))  # A1 now the slowest on the host
    results["NASNet-A"] = replace(results["NASNet-A"], host=None)
    checks = claims.table1_claims(results, ctx)
    host = checks[checks["ours from"] == "host latency"].set_index("claim")
    assert host.loc[paper.claims()[0].key, "verdict"] == "does not hold"
    assert host.loc[paper.claims()[1].key, "verdict"] == "not checked"
    assert "not run at the ci profile" in host.loc[paper.claims()[1].key, "ours"]


def test_claim_verdict_distinguishes_size_from_direction(ctx):
    results = _table1_like_paper()
    a1 = results["MnasNet-A1"]
    slower = _paper("MobileNetV2 (1.4x)", "latency_ms") / 1.5  # 1.5x faster than MobileNetV2 1.4x, not 1.8x
    results["MnasNet-A1"] = replace(a1, host=_host(0.1 * slower))
    checks = claims.table1_claims(results, ctx)
    row = checks[(checks["claim"] == paper.claims()[0].key) & (checks["ours from"] == "host latency")
                 & (checks["quantity"] == "speedup")].iloc[0]
    assert row["ours"].startswith("1.50 ") and row["verdict"] == "direction holds, size differs"


def test_table2_and_se_effect(scored_ctx):
    results = _table1_like_paper()
    table = table1.table2(results, scored_ctx).set_index("model")
    assert len(table.columns) <= 7  # and the model index
    assert table.loc["MnasNet-A1", "ours: SE blocks"].startswith("3 of 7")
    assert table.loc["MnasNet-B1", "ours: SE blocks"].startswith("0 of 7")
    assert "never published" in table.loc["MnasNet-A2", "ours: SE blocks"]
    effect = table1.se_effect(results, scored_ctx)
    assert effect.loc[0, "verdict"] == "not testable here: MnasNet-A1: not scored"
    assert effect.loc[0, "paper"].startswith("+0.7 points")
    for a1, verdict in ((65.0, "holds"), (64.2, "within noise")):
        results["MnasNet-A1"] = replace(results["MnasNet-A1"], predicted=_predicted(a1))
        results["MnasNet-B1"] = replace(results["MnasNet-B1"], predicted=_predicted(64.0))
        assert table1.se_effect(results, scored_ctx).loc[0, "verdict"].startswith(verdict)


def test_table4_rows_and_search_row(ctx):
    search_point = NetworkPoint(ex.OUR_SEARCH, network("mnasnet-small"), note="best of our search at T = 21.6 ms")
    search = scaling.SearchOutcome(search_point, 0.3, 80.5, 21.6, 5, 6, "2 steps x 3 children")
    results = {label: _result(NetworkPoint(label, network("mnasnet-a1")), accuracy=0.2)
               for label in scaling.TABLE4_OURS.values()}
    results[ex.OUR_SEARCH] = _result(search_point, accuracy=0.25)
    table = scaling.table4(results, search).set_index("model")
    assert list(table.index) == list(paper.load_table("table4_scaling").index) + [ex.OUR_SEARCH]
    assert "never published" in table.loc["MnasNet-search1", "our network"]
    # a search whose best model misses its target says so (80.5 ms against 21.6 ms)
    assert table.loc[ex.OUR_SEARCH, "meets the target"].startswith("NO [computed: 80.5 ms against T = 21.6")
    ours = scaling.table4_ours(results, ctx).set_index("model")
    assert ours.loc["MnasNet-search2", "proxy accuracy"].startswith("0.200 [proxy")  # opted in here
    assert len(table.columns) < 8 and len(ours.columns) < 8


def test_figures_draw_from_constructed_results(ctx):
    table1_fig = figures.table1_figure(_table1_like_paper(), ctx)
    assert len(table1_fig.axes) == 3
    fig5 = {p.label: _result(p, heldout_ms=10.0 + p.multiplier * p.input_size / 10,
                             accuracy=0.3 if p.multiplier == 0.35 and p.input_size == 224 else None)
            for p in zoo.fig5_points()}
    fig5_fig = figures.fig5_figure(fig5, ctx)
    assert len(fig5_fig.axes) == 3  # two panels; (a) holds the opted-in 0.35x proxy accuracies on a twin axis
    a1 = "MnasNet-A1 (1x, 224)"
    scored = {**fig5, a1: replace(fig5[a1], predicted=Labelled(64.4, "surrogate (test predictor)", "{:.1f}"))}
    no_proxy = {k: replace(r, proxy=None) for k, r in scored.items()}
    fig5_fig = figures.fig5_figure(no_proxy, ctx)
    assert len(fig5_fig.axes) == 2  # no proxy trained: no twin axis
    stars = [c for ax in fig5_fig.axes for c in ax.collections if 64.4 in c.get_offsets()[:, 1]]
    assert len(stars) == 2  # A1 at 1.0x/224 sits on both slices, on the ImageNet axis
    table1 = {k: replace(r, predicted=Labelled(64.0, "surrogate (test predictor)")) if k == "MnasNet-A1" else r
              for k, r in _table1_like_paper().items()}
    panel_b = figures.table1_figure(table1, ctx).axes[1]
    assert panel_b.get_ylabel() == "ImageNet top-1 (%) [surrogate]" and "not testable here" in panel_b.get_title()
    assert [list(c.get_offsets()[:, 1]) for c in panel_b.collections] == [[64.0]]
    table = scaling.fig5_table(fig5, ctx)
    assert len(table) == len(fig5) and not table.isna().any().any() and len(table.columns) <= 8
    assert set(table["network"]) == set(fig5)


def test_table1_figure_names_its_points_without_overlap(ctx):
    fig = figures.table1_figure(_table1_like_paper(), ctx)
    renderer = fig.canvas.get_renderer()
    named = 0
    for ax in fig.axes:
        boxes = [t.get_window_extent(renderer) for t in ax.texts if hasattr(t, "xy")]  # the networks' names
        named += len(boxes)
        overlapping = sum(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
        assert overlapping <= 1, f"{ax.get_title()}: {overlapping} overlapping labels"
    assert named >= len(paper.load_table("table1_imagenet").dropna(subset=["top1", "latency_ms"]))


def test_notebook_02_readings_follow_the_numbers():
    from mnaslib.latency.layer_table import Calibration
    from mnaslib.report.recipes import latency

    table = pd.DataFrame({"model": ["keras-mobilenet", "keras-nasnetmobile"], "host (ms)": [10.0, 25.0],
                          "Pixel-1 (ms)": [100.0, 150.0]})
    assert latency.nasnet_over_mobilenet(table, "host") == pytest.approx(2.5)
    lines = latency.mult_adds_reading(table)
    v1, nas = (paper.value("table1_imagenet", row, "latency_ms") for row in ("MobileNetV1", "NASNet-A"))
    assert lines == [f"paper: NASNet-A / MobileNetV1 latency = {nas.value / v1.value:.2f} [paper {v1.status}] at "
                     "~equal mult-adds", "host: NASNet-A / MobileNetV1 latency = 2.50 [measured]",
                     "Pixel-1: NASNet-A / MobileNetV1 latency = 1.50 [predicted]"]
    only_v1 = table.iloc[:1]
    assert latency.nasnet_over_mobilenet(only_v1, "host") is None and len(latency.mult_adds_reading(only_v1)) == 1
    assert latency.latency_checks(only_v1, SimpleNamespace(validation={"grouped_mape": 0.05}))[
        "verdict"].iloc[0] == "not run at this profile"
    calibration = Calibration(a=1.25, b=0.5, calibration_networks=7, calibration_mape=0.02)
    rows = [{"error": e} for e in (0.01, -0.04, 0.07, -0.2)]
    assert latency.host_model_reading(calibration, rows) == [
        "calibration: measured = 1.250 * layer sum + 0.500 ms on 7 reference networks",
        "held out: within +-10%: 75%, within +-5%: 50% of 4 random architectures [computed from measured and "
        "predicted]"]


def test_the_search_pareto_figure_draws_finished_children_against_t():
    import matplotlib.pyplot as plt

    trials = pd.DataFrame({"status": ["done", "done", "done", "failed"], "accuracy": [0.5, 0.6, 0.4, None],
                           "latency_ms": [50.0, 90.0, 70.0, None], "latency_kind": "predicted",
                           "latency_detail": "Pixel-1", "accuracy_kind": "surrogate", "accuracy_detail": "x"})
    fig = figures.search_pareto_figure(trials, 75.0)
    ax = fig.axes[0]
    assert len(ax.collections[0].get_offsets()) == 3  # the failed child is not drawn
    assert ax.get_ylabel() == "accuracy [surrogate]" and ax.get_xlabel() == "latency (ms) [predicted (Pixel-1)]"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["sampled models", "T = 75 ms"]
    plt.close(fig)
