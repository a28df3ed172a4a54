"""Course material: the class profile reads stored runs (and says which command makes a missing one), the
"reproduces here / does not" summary follows a notebook's verdicts, and exercise cells check predictions."""
import json
import re

import pandas as pd
import pytest

from mnaslib.search.wiring import search_from_profile
from mnaslib.errors import UserError
from mnaslib.search.profile import ProfileError, load_profile
from mnaslib.search.store import STORE_FILENAME, TrialStore
from mnaslib.search.stored import StoredRunMissing
from mnaslib.report.teaching import (DIRECTIONS, check_prediction, direction, outcome, reproduction_summary,
                                     summary_counts)
from tests.shared_data import require_shared

PREDICTOR = {"evaluator": "accel-predictor"}  # children scored in microseconds: a ci search takes seconds
NOTEBOOKS_TAUGHT = ("00_reward", "01_search_space", "02_latency", "03_search", "04_imagenet_models", "05_scaling",
                    "06_detection", "07_ablations")


# ---------------------------------------------------------------------------------------------------------------
# The class profile
# ---------------------------------------------------------------------------------------------------------------
def test_the_class_profile_is_the_laptop_search_so_laptop_runs_are_its_runs():
    lecture, laptop = load_profile("class"), load_profile("laptop")
    assert lecture.stored_runs == "laptop" and laptop.stored_runs is None
    # what a run directory records (and a resume compares) is the laptop's, bar the profile's name (resumable)
    assert lecture.to_dict() == {**laptop.to_dict(), "profile": "class"}
    assert lecture.notebooks == laptop.notebooks
    assert lecture.with_overrides({"seed": 4}).stored_runs == "laptop"  # overrides (notebooks, arms) keep it
    with pytest.raises(ProfileError, match="stored_runs must name the profile"):
        load_profile("ci", {"stored_runs": ["laptop"]})


def test_a_stored_runs_profile_reads_a_finished_search_without_writing_and_refuses_the_rest(tmp_path):
    require_shared("benchmarks", "accel-nasbench")
    run = tmp_path / "run"
    reading = load_profile("ci", {**PREDICTOR, "stored_runs": "ci"})
    with pytest.raises(StoredRunMissing) as missing:  # nothing stored yet: one line, the command, nothing created
        search_from_profile(reading, run, progress=False)
    message = str(missing.value)
    assert "\n" not in message and "`make reproduce PROFILE=ci`" in message and "no search" in message
    assert not run.exists()

    search_from_profile(load_profile("ci", PREDICTOR), run, progress=False, stop_after_trials=2)
    with pytest.raises(StoredRunMissing, match="2 of its 4 children"):  # an unfinished search is not finished here
        search_from_profile(reading, run, progress=False)

    search_from_profile(load_profile("ci", PREDICTOR), run, progress=False)  # the lecturer's run, finished
    with TrialStore(run / STORE_FILENAME, read_only=True) as store:
        before = (store.runs(), store.trials())
    result = search_from_profile(reading, run, progress=False)
    assert result.trials == 4 and result.seconds == 0.0
    with pytest.raises(StoredRunMissing, match="stored one differs in reward.target_ms"):  # never another search
        search_from_profile(reading.with_overrides({"reward": {"target_ms": 60.0}}), run, progress=False)
    with TrialStore(run / STORE_FILENAME, read_only=True) as store:
        assert (store.runs(), store.trials()) == before  # read, not resumed: no run record added


def test_a_stored_runs_profile_never_starts_a_proxy_training(tmp_path):
    from mnaslib.report.recipes.points import PROXY_CACHE, Context, proxy_train
    from mnaslib.spaces.zoo import fig5_points

    point = fig5_points()[0]
    ctx = Context("class", run_dir=tmp_path, log=None)
    with pytest.raises(StoredRunMissing, match=rf"proxy training of {re.escape(point.label)}.*PROFILE=laptop"):
        proxy_train(point, ctx)
    assert not (tmp_path / PROXY_CACHE).exists()


def test_reproduce_at_class_reads_the_laptop_runs_and_checks_them_before_any_notebook(tmp_path):
    from mnaslib.reproduce import notebook_paths, reproduce, stored_runs_dir

    with pytest.raises(StoredRunMissing, match=r"needed by 03_search.ipynb.*make reproduce PROFILE=laptop"):
        reproduce("class", tmp_path, notebooks=["03_search.ipynb"])
    assert not (tmp_path / "class" / "03_search.ipynb").exists()  # refused before the notebook ran
    lecture = load_profile("class")
    reads_no_runs = notebook_paths(names=["00_reward.ipynb", "06_detection.ipynb"])
    assert stored_runs_dir(lecture, tmp_path, reads_no_runs) == tmp_path / "laptop" / "runs"
    (tmp_path / "laptop" / "runs").mkdir(parents=True)
    assert stored_runs_dir(lecture, tmp_path, notebook_paths()) == tmp_path / "laptop" / "runs"


# ---------------------------------------------------------------------------------------------------------------
# The closing summary
# ---------------------------------------------------------------------------------------------------------------
def test_the_summary_groups_a_notebooks_own_verdicts_by_outcome():
    checks = pd.DataFrame({"claim": ["a", "b", "c", "d", "e"],
                           "verdict": ["does not hold", "holds (3/3 seeds)", "not testable here: no phone",
                                       "direction holds, size differs", "within noise (gap 0.3 < floor 1.2)"],
                           "ours": ["1", "2", "3", "4", "5"]})
    summary = reproduction_summary(checks, evidence="ours")
    assert list(summary["claim"]) == ["b", "d", "a", "e", "c"]
    assert list(summary["outcome"]) == ["reproduces here", "partly (direction only)", "does not reproduce here",
                                        "within noise: not decided", "not testable here"]
    assert list(summary["evidence"]) == ["2", "4", "1", "5", "3"]
    assert summary_counts(summary) == ("1 of 5 reproduce here; partly (direction only): 1; does not reproduce "
                                       "here: 1; within noise: not decided: 1; not testable here: 1")


def test_the_summary_joins_several_verdict_tables():
    first = pd.DataFrame({"claim": ["a"], "verdict": ["holds"], "extra": [1]})
    second = pd.DataFrame({"claim": ["b"], "verdict": ["not testable here: no phone"]})
    assert list(reproduction_summary([second, first])["claim"]) == ["a", "b"]


def test_the_summary_refuses_what_it_cannot_place():
    with pytest.raises(ValueError, match="no summary outcome"):
        outcome("probably fine")
    with pytest.raises(ValueError, match="no column"):
        reproduction_summary([{"claim": "a", "result": "holds"}])
    with pytest.raises(ValueError, match="empty"):
        reproduction_summary(pd.DataFrame(columns=["claim", "verdict"]))


def test_notebook_00_summary_is_computed_from_the_reward():
    from mnaslib.report.recipes.reward import fig5_fronts, reward_checks, setup

    checks = reward_checks(fig5_fronts(), 0.5, 80.0, setup("target_latency_ms"))
    summary = reproduction_summary(checks)
    assert summary_counts(summary) == "4 of 5 reproduce here; not testable here: 1"
    figure6 = checks.set_index("claim").filter(like="Figure 6", axis=0).iloc[0]
    assert "1.0497 to 1.0497" in figure6["ours"]  # 2^0.07: T scales every soft reward by one constant


def test_notebook_01_counts_hold_within_the_tolerance_and_say_the_gap():
    from mnaslib.report.recipes.space import space_checks
    from mnaslib.spaces.mnasnet import MnasNetSpace

    checks = space_checks(MnasNetSpace(), models=(("MnasNet-A1", "mnasnet-a1", "MnasNet-A1"),
                                                  ("MobileNetV2 (1.4x)", "keras-mobilenetv2-1.4",
                                                   "MobileNetV2 (1.4x)")))
    verdicts = dict(zip(checks["claim"], checks["verdict"]))
    assert verdicts["Table 1: MnasNet-A1 params (M)"] == "holds (-0.3%)"
    assert verdicts["Table 1: MobileNetV2 (1.4x) params (M)"].startswith("does not hold (-11.5%")  # 6.9M is U
    assert next(iter(verdicts.values())) == "holds"  # 10^13.2 vs 10^39.5: the paper's ~10^13 vs ~10^39


# ---------------------------------------------------------------------------------------------------------------
# Exercise checks
# ---------------------------------------------------------------------------------------------------------------
def test_a_placeholder_answer_passes_headless_and_gives_nothing_away():
    result = check_prediction(None, "falls", choices=DIRECTIONS, why="because")
    assert result.verdict == "no answer yet"
    shown = repr(result)  # what the check cell displays
    assert shown == str(result) and "set `answer`" in shown and "'rises', 'falls'," in shown  # the choices, listed
    assert "because" not in shown and "recomputation" not in shown
    assert "No prediction yet" in repr(check_prediction(None, -0.1375)) and "0.1375" not in repr(
        check_prediction(None, -0.1375))


def test_choice_answers_are_judged_and_explained():
    assert check_prediction(" Falls ", "falls", choices=DIRECTIONS, why="smaller |beta|").verdict == "right"
    wrong = check_prediction("rises", "falls", choices=DIRECTIONS, why="smaller |beta|")
    assert wrong.verdict == "wrong" and "recomputation gives 'falls'" in repr(wrong)
    assert repr(wrong).endswith("smaller |beta|")
    with pytest.raises(UserError, match="not one of"):
        check_prediction("up", "falls", choices=DIRECTIONS)
    with pytest.raises(ValueError, match="not among the choices"):
        check_prediction("falls", "sideways", choices=DIRECTIONS)


def test_number_answers_are_right_within_the_tolerance():
    assert check_prediction(-0.14, -0.1375).verdict == "right"
    assert check_prediction(-0.07, -0.1375).verdict == "wrong"
    assert check_prediction("17", 17.09, rel_tol=0.05).verdict == "right"
    with pytest.raises(UserError, match="must be a number"):
        check_prediction("a lot", 17.09)


def test_direction_reads_a_recomputed_change():
    assert [direction(1.0, 2.0), direction(2.0, 1.0), direction(1.0, 1.0 + 1e-9)] == list(DIRECTIONS)


@pytest.mark.parametrize("stem", NOTEBOOKS_TAUGHT)
def test_taught_notebooks_open_with_goals_and_close_with_a_computed_summary_and_checked_exercises(stem):
    from mnaslib.reproduce import REPO

    cells = json.loads((REPO / "notebooks" / f"{stem}.ipynb").read_text())["cells"]
    text = ["".join(c["source"]) for c in cells]
    assert text[1].startswith("**What you learn here.**") and "**Paper:**" in text[1]
    summary = next(i for i, t in enumerate(text) if t.startswith("## What reproduces here"))
    assert "reproduction_summary(" in text[summary + 1]
    answers = [i for i, t in enumerate(text) if t.startswith("answer = None")]
    assert 2 <= len(answers) <= 3
    assert all("check_prediction(answer" in text[i + 1] for i in answers)
