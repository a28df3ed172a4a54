"""Figure 6's claim check: each row must flip with the data it reads."""
import numpy as np
import pandas as pd
import pytest

from mnaslib.report.claims import figure6_check
from mnaslib.report.runs import latency_spread


def _trials(latencies, failed=0):
    rows = [{"status": "done", "latency_ms": ms, "latency_kind": "computed", "latency_detail": ""} for ms in latencies]
    return pd.DataFrame(rows + [{"status": "failed", "latency_ms": None, "latency_kind": None}] * failed)


def test_latency_spread_reads_only_finished_trials():
    spread = latency_spread(_trials([30, 60, 70, 80, 120], failed=3), 75.0, "x")
    assert spread.samples == 5 and spread.median_ms == 70
    assert spread.iqr_ms == pytest.approx(80 - 60)
    assert spread.share_below_target == pytest.approx(3 / 5)
    assert spread.share_below_40ms == pytest.approx(1 / 5) and spread.share_above_110ms == pytest.approx(1 / 5)
    with pytest.raises(ValueError, match="no finished trials"):
        latency_spread(_trials([], failed=2), 75.0, "empty")


def test_figure6_check_follows_the_papers_picture_and_its_opposite():
    rng = np.random.default_rng(0)
    crowded = latency_spread(_trials(rng.uniform(50, 72, 300)), 75.0, "hard")
    spread = latency_spread(_trials(rng.uniform(30, 120, 300)), 75.0, "soft")
    verdicts = figure6_check(crowded, spread)["verdict"]
    assert len(verdicts) == 5 and all(v.startswith("holds (1/1 seed") for v in verdicts)
    assert all(v.startswith("does not hold (0/1 seed") for v in figure6_check(spread, crowded)["verdict"])
    # seven samples a side cannot tell the same pictures apart from noise
    few = figure6_check(latency_spread(_trials([50, 55, 60, 62, 65, 70, 72]), 75.0, "hard"),
                        latency_spread(_trials([35, 60, 70, 75, 80, 90, 115]), 75.0, "soft"))["verdict"]
    assert any(v.startswith("within noise") for v in few)
