"""Proxy labels carry the rank fidelity measured for exactly their settings, and never another budget's."""
from dataclasses import replace

import pytest

from mnaslib.evaluation.fidelity import fidelity_note, load_summary, zero_cost_note
from mnaslib.search.profile import load_profile
from mnaslib.evaluation.train import ProxyTask

LAPTOP = ProxyTask.from_dict(load_profile("laptop").proxy)
ZERO_COST = {"dataset": "cifar10", "image_size": 32, "width_multiplier": 1.0, "images": 64}
SUMMARY = {"task": LAPTOP.to_dict(), "zero_cost": ZERO_COST,
           "proxies": {"trained@4000": {"kendall": 0.4321, "scored": 20},
                       "naswot_normalised": {"kendall": 0.6789, "scored": 20}}}


def test_a_measured_task_is_labelled_with_its_tau():
    assert fidelity_note(LAPTOP.to_dict(), SUMMARY) == ("Kendall 0.43 vs NAS-Bench-Macro at this budget (20 networks, "
                                                        "benchmarks/proxy_fidelity.py)")
    assert "Kendall 0.43" in fidelity_note(replace(LAPTOP, seed=5).to_dict(), SUMMARY)  # the seed does not matter


@pytest.mark.parametrize("change", [{"max_train": 8000}, {"width_multiplier": 1.0}, {"epochs": 3},
                                    {"dataset": "fashion_mnist"}])
def test_other_settings_say_they_were_not_measured(change):
    assert fidelity_note(replace(LAPTOP, **change).to_dict(), SUMMARY) == \
        "rank fidelity not measured for these settings"


def test_a_training_free_score_is_labelled_only_at_its_measured_settings():
    assert zero_cost_note("naswot_normalised", ZERO_COST, SUMMARY).startswith(
        "Kendall 0.68 vs NAS-Bench-Macro with these settings (20 networks")
    assert zero_cost_note("naswot_normalised", {**ZERO_COST, "images": 32}, SUMMARY) == \
        "rank fidelity not measured for these settings"
    assert zero_cost_note("synflow", ZERO_COST, SUMMARY) == "rank fidelity not measured for these settings"


def test_the_committed_summary_labels_the_laptop_child():
    summary = load_summary()
    if summary is None:
        pytest.skip("data/fidelity/nas-bench-macro.json is not in this checkout")
    entry = summary["proxies"]["trained@4000"]
    assert f"Kendall {entry['kendall']:.2f} vs NAS-Bench-Macro" in LAPTOP.describe()
    assert "rank fidelity not measured" in ProxyTask.from_dict(load_profile("ci").proxy).describe()
