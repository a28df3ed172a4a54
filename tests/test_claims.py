"""The one verdict rule: a claim holds only when every seed agrees and every gap clears a stated noise floor."""
import numpy as np
import pandas as pd
import pytest

from mnaslib.report.claims import figure6_check
from mnaslib.labels import Provenance
from mnaslib.report.verdicts import Fidelity, NoiseFloor, bootstrap_floor, label_error_floor, seed_spread, verdict
from mnaslib.report.runs import latency_spread

PIXEL1 = "predicted (Pixel-1 model, grouped-CV MAPE 6.3% over 7 families)"


def _search(latencies, provenance=PIXEL1):
    label = Provenance.parse(provenance)
    return pd.DataFrame({"status": "done", "latency_ms": latencies, "latency_kind": label.kind,
                         "latency_detail": label.detail})


def _with_iqr(iqr, centre, n, seed):
    """``n`` latencies around ``centre`` whose interquartile range is exactly ``iqr`` ms."""
    x = np.random.default_rng(seed).normal(size=n)
    q1, q3 = np.percentile(x, [25, 75])
    return centre + (x - np.median(x)) * iqr / (q3 - q1)


def test_agreeing_seeds_hold_only_beyond_the_floor_and_the_verdict_names_it():
    floor = NoiseFloor(1.0, "seed-to-seed spread")
    held = verdict([2.0, 1.5, 3.0], floor, " ms", min_seeds=3)
    assert held.startswith("holds (3/3 seeds; min gap +1.5 ms > floor 1 ms, seed-to-seed spread)")
    assert verdict([2.0, 0.5, 3.0], floor, " ms") == (
        "within noise (3/3 seeds; min gap +0.5 ms <= floor 1 ms, seed-to-seed spread)")
    assert verdict([-2.0, -1.5, -3.0], floor).startswith("does not hold (0/3 seeds")
    assert verdict([2.0, -1.5, 3.0], floor).startswith("within noise (2/3 seeds; seeds disagree")
    assert verdict([2.0, None, 3.0], floor).startswith("within noise (2/3 seeds; seeds disagree")
    assert verdict([2.0, 3.0], floor, min_seeds=3).startswith("not enough seeds (2")
    # the largest floor is the one used
    assert "within noise" in verdict([2.0] * 3, [floor, NoiseFloor(2.5, "latency error")])
    assert "2.5, latency error" in verdict([2.0] * 3, [floor, NoiseFloor(2.5, "latency error"), None])


def test_notebook_03s_spread_claim_on_iqrs_of_34_8_and_32_9_ms_is_within_noise():
    hard = latency_spread(_search(_with_iqr(32.9, 110, 320, 0)), 75.0, "hard")
    soft = latency_spread(_search(_with_iqr(34.8, 110, 320, 1)), 75.0, "soft")
    assert (hard.iqr_ms, soft.iqr_ms) == pytest.approx((32.9, 34.8))
    row = figure6_check(hard, soft).set_index("claim (paper V)").loc["soft: wider spread (IQR, ms)"]
    assert row["verdict"].startswith("within noise (1/1 seed; min gap +1.9 ms <= floor")
    # the same samples with a truly wider soft spread hold, beyond a bootstrap floor the verdict states
    wide = latency_spread(_search(_with_iqr(70, 110, 320, 1)), 75.0, "soft")
    row = figure6_check(hard, wide).set_index("claim (paper V)").loc["soft: wider spread (IQR, ms)"]
    assert row["verdict"].startswith("holds (1/1 seed; min gap +37.1 ms > floor")
    assert row["verdict"].endswith("ms, 95% bootstrap)")


def test_accel_nasbench_holds_3_of_3_on_iqrs_of_2_1_and_0_11_ms_is_within_the_latency_models_error():
    from mnaslib.report.claims import figure6_gaps

    pairs = [figure6_gaps(latency_spread(_search(_with_iqr(0.11, 80, 3000, s)), 75.0, "hard"),
                          latency_spread(_search(_with_iqr(2.1, 80, 3000, 10 + s)), 75.0, "soft"))[2]
             for s in range(3)]
    gaps = [p.gap for p in pairs]
    assert all(g == pytest.approx(1.99) for g in gaps)
    bootstrap_only = verdict(gaps, [p.floors[0] for p in pairs], " ms", min_seeds=3)
    assert bootstrap_only.startswith("holds (3/3 seeds")  # the samples alone tell the spreads apart ...
    judged = verdict(gaps, [f for p in pairs for f in p.floors], " ms", min_seeds=3)
    # ... but the Pixel-1 model's own error (6.3% of 80 ms) is larger than the gap
    assert judged == ("within noise (3/3 seeds; min gap +1.99 ms <= floor 5.04 ms, "
                      "MAPE 6.3% of 80 ms)")


def test_floors_come_from_seeds_bootstrap_and_labels():
    assert seed_spread([1.0, 3.0, 2.0], [5.0, 5.5], [None, 7.0]).value == 1.0  # the largest SD over seeds
    rng = np.random.default_rng(0)
    narrow = bootstrap_floor(rng.normal(size=2000), rng.normal(size=2000), np.mean).value
    wide = bootstrap_floor(rng.normal(size=50), rng.normal(size=50), np.mean).value
    assert 0.03 < narrow < 0.1 < wide < 0.6  # ~1.96 * sqrt(2/n)
    assert label_error_floor(PIXEL1, 80).value == pytest.approx(5.04)
    assert label_error_floor("surrogate (gradient boosting; held-out Kendall 0.92, RMSE 0.44 points)").value == 0.44
    assert label_error_floor("measured (host LiteRT 2.3)", 80) is None


def test_evidence_at_chance_or_below_the_parameter_count_is_not_testable():
    assert verdict([5.0] * 3, NoiseFloor(0.1, "x"), fidelity=Fidelity(-0.28, 20, what="a one-epoch proxy")) == (
        "not testable here: a one-epoch proxy ranks at Kendall -0.28 on 20 trained networks, not above chance "
        "(chance band +-0.32)")
    naswot = Fidelity(0.25, 100, parameter_kendall=0.65, what="NASWOT")
    assert verdict([5.0] * 3, NoiseFloor(0.1, "x"), fidelity=naswot).endswith(
        "no better than the parameter count's 0.65")
    assert Fidelity(0.8, 100, parameter_kendall=0.65).untestable_reason is None
    assert verdict([5.0] * 3, NoiseFloor(0.1, "x"), fidelity=Fidelity(0.8, 100, 0.65)).startswith("holds")
