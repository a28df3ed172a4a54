"""Tests for the reward functions, the beta rule, the Pareto tools and the figure helpers that draw them."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mnaslib.report import plots  # noqa: E402
from mnaslib.labels import Provenance  # noqa: E402
from mnaslib.reward import (  # noqa: E402
    REWARD_NAMES,
    Reward,
    beta_for_tradeoff,
    from_config,
    get_reward,
    hypervolume,
    pareto_front,
)

SEEDS = (0, 1, 2, 3, 4)


# ---------------------------------------------------------------- reward values


@pytest.mark.parametrize(
    ("name", "params", "acc", "lat", "expected"),
    [
        ("mnas_soft", {"target_ms": 80}, 0.5, 80.0, 0.5),
        ("mnas_soft", {"target_ms": 80}, 0.5, 160.0, 0.5 * 2**-0.07),
        ("mnas_soft", {"target_ms": 80}, 0.5, 40.0, 0.5 * 0.5**-0.07),
        ("mnas_hard", {"target_ms": 80}, 0.5, 40.0, 0.5),
        ("mnas_hard", {"target_ms": 80}, 0.5, 160.0, 0.25),
        ("mnas", {"alpha": -0.2, "beta": -0.5, "target_ms": 100}, 0.6, 50.0, 0.6 * 0.5**-0.2),
        ("mnas", {"alpha": -0.2, "beta": -0.5, "target_ms": 100}, 0.6, 400.0, 0.6 * 4**-0.5),
        ("tunas_mnas", {}, 0.7, 168.0, 0.7 * 2**-0.1),
        ("tunas_mnas", {}, 0.7, 42.0, 0.7 * 0.5**-0.1),
        ("tunas_mnas_hard", {}, 0.7, 42.0, 0.7),
        ("tunas_mnas_hard", {}, 0.7, 168.0, 0.7 * 2**-0.1),
        ("tunas_abs", {}, 0.7, 126.0, 0.7 - 0.1 * 0.5),
        ("tunas_abs", {}, 0.7, 42.0, 0.7 - 0.1 * 0.5),
        ("proxyless", {}, 0.7, 40.0, 0.7 * 2**0.1),
        ("proxyless", {}, 0.7, 160.0, 0.7 * 0.5**0.1),
        ("accuracy", {}, 0.7, 500.0, 0.7),
    ],
)
def test_reward_values_at_known_points(name: str, params: dict, acc: float, lat: float, expected: float) -> None:
    value = get_reward(name, **params)(acc, lat)
    assert isinstance(value, float)
    assert value == pytest.approx(expected, rel=1e-12)


def test_arrays_broadcast_and_match_scalar_calls() -> None:
    reward = get_reward("mnas_soft")
    acc = np.array([[0.6], [0.7]])
    lat = np.array([30.0, 75.0, 150.0])
    values = reward(acc, lat)
    assert isinstance(values, np.ndarray) and values.shape == (2, 3)
    for i, a in enumerate(acc[:, 0]):
        for j, lat_ms in enumerate(lat):
            assert values[i, j] == pytest.approx(reward(float(a), float(lat_ms)), rel=1e-12)


def test_hard_preset_is_flat_below_target_and_falls_as_inverse_ratio_above() -> None:
    target = 80.0
    reward = get_reward("mnas_hard", target_ms=target)
    below = np.linspace(1.0, target, 50)
    above = np.linspace(target + 1e-6, 4 * target, 50)
    np.testing.assert_allclose(reward(0.5, below), 0.5, rtol=0, atol=0)
    np.testing.assert_allclose(reward(0.5, above), 0.5 * target / above, rtol=1e-12)


def test_soft_preset_gives_m1_and_m2_about_equal_reward() -> None:
    soft = get_reward("mnas_soft", target_ms=75)
    for lat in (20.0, 50.0, 75.0, 120.0):
        for acc in (0.3, 0.6, 0.9 / 1.05):
            m1, m2 = soft(acc, lat), soft(1.05 * acc, 2 * lat)
            assert abs(m2 / m1 - 1) < 0.005, (lat, acc, m1, m2)


def test_soft_reward_ranks_networks_the_same_at_every_target_and_hard_does_not() -> None:
    """With alpha = beta, T only rescales every reward by T**-w: a soft search cannot aim at a latency (why the
    Table 4 search-again recipe uses the hard reward)."""
    rng = np.random.default_rng(0)
    acc, lat = rng.uniform(0.5, 0.8, 200), rng.uniform(20.0, 200.0, 200)
    at_75, at_22 = get_reward("mnas_soft", target_ms=75)(acc, lat), get_reward("mnas_soft", target_ms=22)(acc, lat)
    np.testing.assert_allclose(at_22 / at_75, (22 / 75) ** 0.07, rtol=1e-12)
    hard_75, hard_22 = get_reward("mnas_hard", target_ms=75)(acc, lat), get_reward("mnas_hard", target_ms=22)(acc, lat)
    assert np.argmax(hard_75) != np.argmax(hard_22)


def test_soft_reward_is_continuous_at_target_and_hard_is_not_smooth() -> None:
    soft, hard = get_reward("mnas_soft", target_ms=80), get_reward("mnas_hard", target_ms=80)
    eps = 1e-9
    assert soft(0.5, 80 - eps) == pytest.approx(soft(0.5, 80 + eps), abs=1e-9)
    assert hard(0.5, 80 - eps) == pytest.approx(hard(0.5, 80 + eps), abs=1e-9)
    # Slope just above T: hard drops as acc/T per ms, soft about 0.07 * acc/T.
    slope_hard = (hard(0.5, 81.0) - hard(0.5, 80.0)) / 1.0
    slope_soft = (soft(0.5, 81.0) - soft(0.5, 80.0)) / 1.0
    assert slope_hard == pytest.approx(-0.5 / 80, rel=0.02)
    assert slope_soft == pytest.approx(-0.07 * 0.5 / 80, rel=0.02)


def test_tunas_mnas_hard_equals_equation_2_with_alpha_zero() -> None:
    rng = np.random.default_rng(0)
    acc, lat = rng.uniform(0.1, 0.9, 200), rng.uniform(5, 300, 200)
    capped = get_reward("tunas_mnas_hard", beta=-0.3, target_ms=84)
    piecewise = get_reward("mnas", alpha=0.0, beta=-0.3, target_ms=84)
    np.testing.assert_allclose(capped(acc, lat), piecewise(acc, lat), rtol=1e-12)


def test_proxyless_matches_its_own_formula() -> None:
    lat = np.array([20.0, 80.0, 200.0])
    np.testing.assert_allclose(get_reward("proxyless")(0.74, lat), 0.74 * (80.0 / lat) ** 0.1, rtol=1e-12)


def test_tunas_mnas_beta_sets_both_exponents() -> None:
    reward = get_reward("tunas_mnas", beta=-0.2)
    assert reward.alpha == reward.beta == -0.2


# ---------------------------------------------------------------- beta rule


def test_beta_rule_reproduces_the_papers_value() -> None:
    assert beta_for_tradeoff(2, 0.05) == pytest.approx(-0.0704, abs=1e-3)
    assert beta_for_tradeoff(2, 0.05) == pytest.approx(-math.log(1.05) / math.log(2), rel=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_beta_rule_equalises_the_two_models(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ratio, gain = rng.uniform(1.2, 5), rng.uniform(0.01, 0.3)
    beta = beta_for_tradeoff(ratio, gain)
    reward = get_reward("mnas", alpha=beta, beta=beta, target_ms=75)
    acc, lat = 0.6, rng.uniform(10, 60)
    assert reward(acc * (1 + gain), ratio * lat) == pytest.approx(reward(acc, lat), rel=1e-12)


@pytest.mark.parametrize(
    ("ratio", "gain", "message"),
    [(1.0, 0.05, "not 1"), (0.0, 0.05, "positive"), (-2.0, 0.05, "positive"), (2.0, -1.0, "> -1"),
     (float("nan"), 0.05, "finite"), (2.0, float("inf"), "finite"), ("2", 0.05, "number")],
)
def test_beta_rule_rejects_bad_inputs(ratio: float, gain: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        beta_for_tradeoff(ratio, gain)


# ---------------------------------------------------------------- input checks


@pytest.mark.parametrize(
    ("acc", "lat", "message"),
    [
        (0.5, 0.0, "positive"),
        (0.5, -3.0, "positive"),
        (0.5, [10.0, -1.0], "positive"),
        (0.5, float("inf"), "finite"),
        (1.2, 50.0, r"\[0, 1\]"),
        (-0.1, 50.0, r"\[0, 1\]"),
        (75.2, 50.0, "divided by 100"),
        (float("nan"), 50.0, "NaN"),
        (0.5, [10.0, float("nan")], "NaN"),
        ("abc", 50.0, "numeric"),
        ([0.5, 0.6], [10.0, 20.0, 30.0], "broadcast"),
    ],
)
def test_reward_rejects_bad_inputs(acc: object, lat: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        get_reward("mnas_soft")(acc, lat)


@pytest.mark.parametrize("target", [0.0, -75.0, float("nan"), float("inf")])
def test_reward_rejects_bad_target(target: float) -> None:
    with pytest.raises(ValueError, match="target latency T"):
        get_reward("mnas_soft", target_ms=target)


def test_reward_rejects_nan_exponent_and_unknown_formula() -> None:
    with pytest.raises(ValueError, match="alpha must be finite"):
        get_reward("mnas", alpha=float("nan"))
    with pytest.raises(ValueError, match="unknown reward formula"):
        Reward(name="x", formula="sum")  # type: ignore[arg-type]


# ---------------------------------------------------------------- registry


def test_registry_builds_every_name_and_round_trips_through_config() -> None:
    assert set(REWARD_NAMES) == {"mnas_soft", "mnas_hard", "mnas", "tunas_mnas", "tunas_mnas_hard", "tunas_abs",
                                 "proxyless", "accuracy"}
    for name in REWARD_NAMES:
        reward = get_reward(name)
        assert reward.name == name
        assert from_config(reward.to_config()) == reward


def test_presets_have_the_papers_exponents() -> None:
    soft, hard = get_reward("mnas_soft"), get_reward("mnas_hard")
    assert (soft.alpha, soft.beta, soft.target_ms) == (-0.07, -0.07, 75.0)
    assert (hard.alpha, hard.beta) == (0.0, -1.0)
    abs_reward = get_reward("tunas_abs")
    assert (abs_reward.beta, abs_reward.target_ms) == (-0.1, 84.0)


def test_from_config_applies_parameters() -> None:
    reward = from_config({"name": "mnas", "alpha": 0.0, "beta": -1.0, "target_ms": 80})
    assert reward(0.5, 160.0) == pytest.approx(0.25)
    assert reward.label == "mnas (alpha=0, beta=-1, T=80 ms)"


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown reward 'mnasnet'.*mnas_soft.*proxyless.*accuracy"):
        get_reward("mnasnet")


def test_fixed_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="does not take parameter.*alpha.*use name 'mnas'"):
        get_reward("mnas_soft", alpha=-0.1)
    with pytest.raises(ValueError, match="does not take"):
        get_reward("accuracy", target_ms=80)


def test_unregistered_reward_cannot_be_written_to_a_config() -> None:
    custom = Reward(name="my_reward", formula="weighted_product", alpha=-0.1, beta=-0.2)
    assert custom(0.5, 150.0) == pytest.approx(0.5 * 2**-0.2)
    with pytest.raises(ValueError, match="not a registry name"):
        custom.to_config()


@pytest.mark.parametrize("config", [{"target_ms": 75}, ["mnas_soft"]])
def test_from_config_rejects_malformed_configs(config: object) -> None:
    with pytest.raises(ValueError, match="config"):
        from_config(config)  # type: ignore[arg-type]


# ---------------------------------------------------------------- Pareto tools


def _brute_force_front(acc: np.ndarray, lat: np.ndarray) -> set[int]:
    """O(n^2) definition: i is on the front unless some j is at least as good in both and better in one."""
    front = set()
    for i in range(acc.size):
        dominated = (acc >= acc[i]) & (lat <= lat[i]) & ((acc > acc[i]) | (lat < lat[i]))
        if not dominated.any():
            front.add(i)
    return front


def _brute_force_hypervolume(acc: np.ndarray, lat: np.ndarray, ref_acc: float, ref_lat: float) -> float:
    """Union of the rectangles [lat_i, ref_lat] x [ref_acc, acc_i], integrated strip by strip over latency."""
    xs = np.unique(np.concatenate([lat[lat < ref_lat], [ref_lat]]))
    area = 0.0
    for left, right in zip(xs[:-1], xs[1:]):
        covering = acc[lat <= left]
        height = max(0.0, covering.max() - ref_acc) if covering.size else 0.0
        area += height * (right - left)
    return area


def _random_models(seed: int, n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Random accuracies and latencies, rounded so ties and exact duplicates occur."""
    rng = np.random.default_rng(seed)
    lat = np.round(rng.uniform(10, 150, n), 0)
    acc = np.round(0.5 + 0.2 * np.log(lat) / np.log(150) + rng.normal(0, 0.03, n), 2)
    duplicates = rng.integers(0, n, 5)
    return np.append(acc, acc[duplicates]), np.append(lat, lat[duplicates])


@pytest.mark.parametrize("seed", SEEDS)
def test_pareto_front_matches_brute_force(seed: int) -> None:
    acc, lat = _random_models(seed)
    front = pareto_front(acc, lat)
    assert set(front.tolist()) == _brute_force_front(acc, lat)
    assert len(front) == len(set(front.tolist()))
    # Ordered by latency; along the front, accuracy never decreases.
    assert np.all(np.diff(lat[front]) >= 0) and np.all(np.diff(acc[front]) >= 0)


def test_pareto_front_ties_are_deterministic() -> None:
    acc = np.array([0.7, 0.7, 0.8, 0.7, 0.6, 0.8])
    lat = np.array([50.0, 50.0, 60.0, 40.0, 40.0, 60.0])
    # (0.7, 40) dominates both (0.7, 50) and (0.6, 40); the two (0.8, 60) copies are both kept, lower index first.
    assert pareto_front(acc, lat).tolist() == [3, 2, 5]
    assert pareto_front(acc[::-1], lat[::-1]).tolist() == [2, 0, 3]


def test_pareto_front_edge_cases() -> None:
    assert pareto_front([], []).tolist() == []
    assert pareto_front([0.5], [10.0]).tolist() == [0]


@pytest.mark.parametrize("seed", SEEDS)
def test_hypervolume_matches_brute_force(seed: int) -> None:
    acc, lat = _random_models(seed)
    for ref_acc, ref_lat in ((0.0, 200.0), (0.6, 100.0)):
        assert hypervolume(acc, lat, ref_acc, ref_lat) == pytest.approx(
            _brute_force_hypervolume(acc, lat, ref_acc, ref_lat), rel=1e-12
        )


def test_hypervolume_known_values() -> None:
    assert hypervolume([0.8], [50.0], 0.5, 100.0) == pytest.approx(0.3 * 50)
    # Two front points: strips [20, 60) at 0.6 - 0.5 and [60, 100) at 0.8 - 0.5.
    assert hypervolume([0.6, 0.8], [20.0, 60.0], 0.5, 100.0) == pytest.approx(0.1 * 40 + 0.3 * 40)
    # Points that do not dominate the reference add nothing.
    assert hypervolume([0.4, 0.9], [10.0, 120.0], 0.5, 100.0) == 0.0
    # Adding a dominated point leaves the area unchanged.
    assert hypervolume([0.6, 0.8, 0.55], [20.0, 60.0, 70.0], 0.5, 100.0) == pytest.approx(16.0)


@pytest.mark.parametrize(
    ("acc", "lat", "message"),
    [([0.5, 0.6], [10.0], "1-D arrays of one length"), ([[0.5]], [[10.0]], "1-D"),
     ([0.5, float("nan")], [10.0, 20.0], "NaN"), ([0.5, 0.6], [10.0, float("inf")], "finite")],
)
def test_pareto_tools_reject_bad_inputs(acc: object, lat: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pareto_front(acc, lat)
    with pytest.raises(ValueError, match=message):
        hypervolume(acc, lat, 0.0, 200.0)


def test_hypervolume_rejects_nan_reference() -> None:
    with pytest.raises(ValueError, match="ref_lat must be finite"):
        hypervolume([0.5], [10.0], 0.0, float("nan"))


# ---------------------------------------------------------------- figure helpers


def test_plot_pareto_draws_the_front_staircase() -> None:
    acc, lat = _random_models(0)
    fig, ax = plt.subplots()
    front = plots.plot_pareto(ax, acc, lat, label="random")
    np.testing.assert_array_equal(front, pareto_front(acc, lat))
    (staircase,) = ax.get_lines()
    np.testing.assert_array_equal(staircase.get_xdata(), lat[front])
    assert staircase.get_drawstyle() == "steps-post"
    plt.close(fig)


def test_plot_reward_curve_and_iso_lines_use_the_reward() -> None:
    soft = get_reward("mnas_soft", target_ms=80)
    fig, ax = plt.subplots()
    plots.plot_reward_curve(ax, soft, 0.5, (10.0, 160.0), num=16)
    curve, target_line = ax.get_lines()
    np.testing.assert_allclose(curve.get_ydata(), soft(0.5, curve.get_xdata()))
    assert list(target_line.get_xdata()) == [80.0, 80.0]
    contours = plots.plot_iso_reward(ax, soft, levels=[0.6, 0.7], num=50)
    np.testing.assert_allclose(contours.levels, [0.6, 0.7])
    with pytest.raises(ValueError, match="lat_range"):
        plots.plot_reward_curve(ax, soft, 0.5, (0.0, 100.0))
    with pytest.raises(ValueError, match="acc_range"):
        plots.plot_iso_reward(ax, soft, acc_range=(50.0, 80.0))
    plt.close(fig)


def test_save_figure_writes_a_png_and_creates_the_folder(tmp_path) -> None:
    fig, ax = plt.subplots(figsize=(2, 2))
    plots.label_provenance(ax, Provenance("computed"))
    path = plots.save_figure(fig, "demo", figures_dir=tmp_path / "new" / "figures")
    assert path == tmp_path / "new" / "figures" / "demo.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="plain file name"):
        plots.save_figure(fig, "../escape", figures_dir=tmp_path)
    plt.close(fig)


def test_notebook_00_fronts_take_one_published_value_per_network_and_score_both_rewards():
    from mnaslib import paper
    from mnaslib.report.recipes.reward import fig5_fronts, front_rewards, front_sources, fronts_figure, reward_spread

    fronts = fig5_fronts()
    assert len(fronts) == len(paper.load_table("fig5_mnasnet_a1")) + len(paper.load_table("fig5_mobilenetv2"))
    v2_14 = fronts.set_index("model").loc["mobilenetv2_1.4_224"]
    assert v2_14["latency_ms"] == 143 and v2_14["latency_value"].provenance.kind == "paper"
    assert front_sources(fronts) == "official (U, V), paper (C, V)"
    soft, hard = get_reward("mnas_soft", target_ms=75), get_reward("mnas_hard", target_ms=75)
    table = front_rewards(fronts, soft, hard)
    assert len(table) == 10  # 5 depth multipliers of each family at 224 px
    row = table.set_index("model").loc["MobileNetV2 1.4x"]
    assert row["latency (ms)"].startswith("143 [paper (C")
    assert row["hard reward"] == f"{0.747 * 75 / 143:.3f} [computed (mnaslib.reward)]"
    spread_soft, spread_hard = reward_spread(fronts, soft), reward_spread(fronts, hard)
    assert (spread_soft < spread_hard).all()  # the soft reward is the nearly flat one along a scaling front
    fig, summary = fronts_figure(fronts, soft, num_points=20)
    assert list(summary["family"]) == ["MnasNet-A1", "MobileNetV2"]
    assert (summary["on the Pareto front"] <= summary["points"]).all()
    plt.close(fig)


def test_talk_style_is_for_a_projector_and_the_paper_style_comes_back(tmp_path) -> None:
    from PIL import Image

    paper_font = plots.use_style("paper") and plt.rcParams["font.size"]
    with plots.figure_style("talk") as talk:
        assert talk.dpi >= 200 and plt.rcParams["font.size"] > paper_font
        fig, ax = plt.subplots(figsize=(2, 2))
        plots.label_provenance(ax, Provenance("computed"))
        assert not ax.texts  # no provenance footer on a slide
        path = plots.save_figure(fig, "slide", tmp_path)
        assert Image.open(path).info["dpi"][0] == pytest.approx(200, abs=1)
        plt.close(fig)
    assert plots.current_style().name == "paper" and plt.rcParams["font.size"] == paper_font
    with pytest.raises(ValueError, match="unknown figure style 'poster'"):
        plots.use_style("poster")


def test_reward_families_say_which_curves_coincide_and_keep_the_legend_off_the_data() -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    rewards = [get_reward("tunas_mnas", target_ms=75.0), get_reward("proxyless", target_ms=75.0),
               get_reward("mnas_hard", target_ms=75.0)]
    plots.plot_reward_families(ax, rewards, 0.5, (1.0, 200.0), num=50)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[1].endswith("(same curve as tunas_mnas)") and "\n" not in labels[0] + labels[2]
    legend = ax.get_legend().get_window_extent(fig.canvas.get_renderer())
    assert legend.x0 >= ax.get_window_extent().x1 and fig.get_figwidth() > 6  # beside the axes, figure widened
    plt.close(fig)


def test_annotate_apart_keeps_labels_from_overlapping() -> None:
    fig, ax = plt.subplots(figsize=(4, 3))
    x, y = np.repeat([1.0, 1.05], 4), np.tile([1.0, 1.01, 1.02, 1.03], 2)  # eight points in a tight cluster
    ax.scatter([*x, 2.0], [*y, 2.0])  # and one far away, so the cluster is small on the axes
    plots.annotate_apart(ax, x, y, [f"network {i}" for i in range(8)])
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    assert len(boxes) == 8
    overlapping = sum(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert overlapping <= 3  # a label with no free offset keeps the last; one offset for all overlaps all 28 pairs
    plt.close(fig)
