"""The accuracy predictor learnt from Accel-NASBench: its fixed choosing/verdict split, the features both spaces
share, and ``evaluator: accel-predictor`` scoring a MnasNet-space search on the accuracy scale."""
import math
import numpy as np
import pytest

from mnaslib.search.wiring import make_evaluator, search_from_profile
from mnaslib.evaluation.jobs import Job
from mnaslib.search.profile import ProfileError, load_profile
from mnaslib.spaces.mnasnet import MnasNetSpace
from mnaslib.search.store import STORE_FILENAME, TrialStore
from mnaslib.tabular import accel_predictor as ap
from mnaslib.spaces.accel import AccelSpace
from mnaslib.spaces.zoo import resolve
from tests.shared_data import require_shared

PREDICTOR = {"evaluator": "accel-predictor"}


@pytest.fixture(scope="module")
def table():
    require_shared("benchmarks", "accel-nasbench")
    from mnaslib.tabular.accel_nasbench import load_results

    return load_results()


def test_the_verdict_part_is_every_fifth_result_and_nothing_else(table):
    choosing, verdict = ap.split(table)
    assert (verdict["result"] % 5 == 0).all() and (choosing["result"] % 5 != 0).all()
    assert len(choosing) + len(verdict) == len(table) and 1000 < len(verdict) < 1060


def test_features_read_both_spaces_alike():
    a1 = resolve("a1")
    features = dict(zip(ap.FEATURE_NAMES, ap.arch_features(a1)))
    assert features["block0_expansion"] == 1 and features["block2_kernel"] == 5 and features["block1_se"] == 0
    assert features["layers"] == a1.num_layers and 10 ** features["log10_params"] == pytest.approx(3_887_038)
    b0 = AccelSpace().efficientnet_b0()
    assert ap.arch_features(b0)[ap.FEATURE_NAMES.index("block5_layers")] == 4
    space = MnasNetSpace()
    conv = space.decode([0] * len(space.decisions))  # conv ops: read as expansion 1, as the label says
    assert ap.arch_features(conv)[ap.FEATURE_NAMES.index("block3_expansion")] == 1


def test_the_laptop_evaluator_predicts_top1_with_its_verdict_error_and_blind_spots(table):
    evaluator = make_evaluator(load_profile("laptop"))
    assert evaluator.in_process and evaluator.describe().startswith("surrogate (ImageNet top-1 (16 epochs) predicted")
    assert "verdict part (1,028 held-out trainings): Kendall" in evaluator.describe()
    assert "cannot see conv ops" in evaluator.describe()
    space = MnasNetSpace()
    arch = space.decode(space.sample(4))
    metrics = evaluator(Job(0, arch, seed=1))
    assert 0.4 < metrics.accuracy < 0.8 and metrics.accuracy == evaluator(Job(1, arch, seed=2)).accuracy
    assert metrics.trainable_params > 1e6 and metrics.mult_adds > 1e7
    # wider networks (more parameters and mult-adds, every block choice equal) never predict a lower top-1
    tokens = space.sample(4)
    narrow, wide = (space.decode([choice if i % 6 == 4 else t for i, t in enumerate(tokens)]) for choice in (0, 2))
    assert evaluator(Job(2, wide, seed=1)).accuracy >= evaluator(Job(3, narrow, seed=1)).accuracy
    # EfficientNet-B0 (a network of the verdict part's space) is predicted near what its relatives scored
    b0 = float(evaluator.predictor.predict([AccelSpace().efficientnet_b0()])[0])
    assert 60 < b0 < 75


def test_a_predictor_scored_search_runs_in_process_and_records_accuracies(tmp_path, table):
    result = search_from_profile(load_profile("ci", PREDICTOR), tmp_path / "run", progress=False)
    assert result.trials == 4 and result.failed == 0
    trials = TrialStore(tmp_path / "run" / STORE_FILENAME).trials("done")
    assert all(t["accuracy_kind"] == "surrogate" and t["accuracy_detail"].startswith("ImageNet top-1") for t in trials)
    assert all(0.4 < t["accuracy"] < 0.8 for t in trials)


@pytest.mark.parametrize("overrides, message", [
    ({"evaluator": {"name": "accel-predictor", "images": 16}}, "unknown evaluator settings .*images.*; it takes none"),
    ({**PREDICTOR, "space": {"name": "nasnet-cell"}}, "evaluator accel-predictor scores MnasNet-space networks"),
])
def test_bad_predictor_settings_are_refused(overrides, message):
    with pytest.raises(ProfileError, match=message):
        load_profile("ci", overrides)


def test_cross_validation_ranks_the_choosing_part_and_counts_need_no_fit(table):
    choosing, _ = ap.split(table)
    sample = choosing.sample(600, random_state=0)
    X, y = ap.feature_matrix(ap.table_archs(sample)), sample["val_top1"].to_numpy(float)
    params = ap.cross_validate("params", X, y)
    assert math.isnan(params["rmse"]) and params["n"] == 600
    ridge = ap.cross_validate("blocks_ridge", X, y)
    assert ridge["kendall"] > params["kendall"] and ridge["rmse"] < 2.0
    assert np.isfinite(ap.size_extrapolation("size_ridge", X, y)["kendall_outside_sizes"])


def test_a_run_recorded_with_naswot_resumes_under_its_own_evaluator_only(tmp_path, table):
    """Runs recorded before the laptop switched evaluators resume with ``--set evaluator=naswot``; the new default
    refuses them, naming the evaluator, instead of mixing two measures in one run."""
    naswot = load_profile("ci", {"evaluator": {"name": "naswot", "images": 16}})
    search_from_profile(naswot, tmp_path / "run", progress=False, stop_after_trials=2)
    with pytest.raises(ValueError, match="evaluator.name: stored 'naswot', now 'accel-predictor'"):
        search_from_profile(load_profile("ci", PREDICTOR), tmp_path / "run", progress=False)
    assert search_from_profile(naswot, tmp_path / "run", progress=False).trials == 4
