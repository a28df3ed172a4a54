"""``evaluator: naswot``: a search whose children are scored at initialisation, labelled a score, and its settings
validated like every other section."""
import pytest

from mnaslib.search.wiring import make_evaluator, search_from_profile
from mnaslib.evaluation.jobs import Job
from mnaslib.search.profile import ProfileError, load_profile
from mnaslib.spaces.mnasnet import MnasNetSpace
from mnaslib.search.store import STORE_FILENAME, TrialStore
from mnaslib.evaluation.worker import ProxyEvaluator, ZeroCostEvaluator

NASWOT = {"evaluator": {"name": "naswot", "images": 16}}


def test_the_default_evaluator_trains_and_naswot_scores_without_training():
    assert type(make_evaluator(load_profile("ci"))) is ProxyEvaluator
    evaluator = make_evaluator(load_profile("ci", NASWOT))
    assert isinstance(evaluator, ZeroCostEvaluator) and evaluator.images == 16
    assert evaluator.describe().startswith("proxy (NASWOT score at initialisation, not an accuracy: "
                                           "fashion_mnist_subset 32px, 16 training images, width x1; ")
    space = MnasNetSpace()
    arch = space.decode(space.sample(3))
    first, again = evaluator(Job(0, arch, seed=5)), evaluator(Job(1, arch, seed=5))
    assert 0 < first.accuracy < 1 and first.accuracy == again.accuracy  # the seed fixes weights and images
    assert first.train_seconds == 0.0 and first.mult_adds > 0
    assert evaluator(Job(2, arch, seed=6)).extra["naswot_logdet"] != first.extra["naswot_logdet"]


def test_a_search_scored_by_naswot_records_every_child_with_its_label(tmp_path):
    result = search_from_profile(load_profile("ci", NASWOT), tmp_path / "run", progress=False)
    assert result.trials == 4 and result.failed == 0
    trials = TrialStore(tmp_path / "run" / STORE_FILENAME).trials("done")
    assert all(t["accuracy_kind"] == "proxy" and t["accuracy_detail"].startswith("NASWOT score") for t in trials)
    assert all(0 < t["accuracy"] <= 1 and t["reward"] > 0 for t in trials)


@pytest.mark.parametrize("evaluator, message", [
    ("zen-nas", "unknown evaluator 'zen-nas'; choose one of trained, naswot"),
    ({"name": "naswot", "images": 1}, "evaluator.images must be >= 2"),
    ({"name": "naswot", "width_multiplier": 0}, "evaluator.width_multiplier must be a positive number"),
    ({"name": "naswot", "batch": 8}, "batch"),
    ({"name": "trained", "images": 8}, "unknown evaluator settings .*images.*; it takes none"),
])
def test_bad_evaluator_settings_are_one_clear_error(evaluator, message):
    with pytest.raises(ProfileError, match=message.replace("(", r"\(")):
        load_profile("ci", {"evaluator": evaluator})


def test_a_batch_larger_than_the_training_split_is_refused_before_the_search():
    with pytest.raises(ValueError, match="evaluator.images is 500 but the proxy's training split holds 128"):
        make_evaluator(load_profile("ci", {"evaluator": {"name": "naswot", "images": 500}})).check()


def test_a_benchmark_replaces_the_evaluator():
    """`mnas search --profile laptop --set benchmark=accel-nasbench` searches the benchmark, and its run record
    names no evaluator whose scores it does not hold."""
    profile = load_profile("laptop", {"benchmark": "nasbench-macro"})
    assert load_profile("laptop").evaluator == {"name": "accel-predictor"} and profile.evaluator is None
    assert "evaluator" not in profile.to_dict()
    assert type(make_evaluator(profile)).__name__ == "BenchmarkEvaluator"
