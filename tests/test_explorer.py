"""The run explorer: the Pixel-1 latency breakdown, a run read back with the components it was searched with, the
trial picture and the widget's choices."""
import matplotlib
import pytest
from search_toys import toy_evaluate, toy_latency

from mnaslib import strategies
from mnaslib.search.wiring import deployment_options, search_space
from mnaslib.search.trial import TrialStatus
from mnaslib.report.explorer import load_view, trial_figure
from mnaslib.latency.pixel1 import load_pixel1_model
from mnaslib.search.profile import load_profile
from mnaslib.reward import get_reward
from mnaslib.search.rundir import open_run
from mnaslib.search.loop import run_search
from mnaslib.spaces.zoo import as_arch

matplotlib.use("Agg")


def _record(profile):
    return {**profile.to_dict(), "data": toy_evaluate.data_source(), "reevaluate": False}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    profile = load_profile("ci")
    run_dir = tmp_path_factory.mktemp("explorer") / "run"
    space = search_space(profile)
    store = open_run(run_dir, _record(profile))
    try:
        run_search(space, profile.parts.make_strategy(3), toy_evaluate, toy_latency,
                   profile.parts.reward, store, steps=3, batch_size=4, progress=False)
    finally:
        store.close()
    return run_dir


def test_breakdown_adds_up_to_the_prediction():
    model = load_pixel1_model()
    arch = as_arch("mnasnet-a1")
    parts = model.breakdown_ms(arch)
    assert list(parts)[0] == "stem" and list(parts)[-1] == "head" and len(parts) == len(arch.blocks) + 2
    assert sum(parts.values()) == pytest.approx(model.predict_arch(arch), rel=1e-9)
    assert all(ms > 0 for ms in parts.values())


def test_view_ranks_distinct_finished_trials_best_first(run_dir):
    view = load_view(run_dir, "toy")
    rewards = [t.reward.value for t in view.trials]
    assert rewards == sorted(rewards, reverse=True)
    assert len({t.arch_id for t in view.trials}) == len(view.trials)
    assert {t.status for t in view.trials} == {TrialStatus.finished} and len(view.all_done) >= len(view.trials)
    choices = view.choices(top=3)
    assert [rank for _, rank in choices] == [0, 1, 2]
    assert choices[0][0].startswith(f"#1: reward {rewards[0]:.4f}")
    assert view.options == deployment_options(load_profile("ci"))


def test_trial_figure_names_the_trial_and_its_labels(run_dir):
    view = load_view(run_dir)
    trial = view.trials[1]
    fig = trial_figure(view, 1)
    title = fig._suptitle.get_text()
    assert f"{trial.accuracy.value:.4f} [proxy (toy: tokens)]" in title
    assert "[computed (toy: layers)]" in title and "reward" in title
    assert f"trial {trial.id}" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="outside this run's"):
        trial_figure(view, len(view.trials))


def test_runs_it_cannot_draw_are_refused_with_the_reason(tmp_path):
    profile = load_profile("ci")
    open_run(tmp_path / "empty", _record(profile)).close()
    with pytest.raises(ValueError, match="no finished trials"):
        load_view(tmp_path / "empty")
    cells = profile.with_overrides({"space": {"name": "nasnet-cell", "num_cells": 2}})
    open_run(tmp_path / "cells", _record(cells)).close()
    with pytest.raises(ValueError, match="not block lists"):
        load_view(tmp_path / "cells")


def test_the_explorer_uses_the_runs_own_latency_provider(run_dir, tmp_path):
    """The latency panel is the provider's the run searched with (its stored config), never the Pixel-1 model's
    whatever the run used; a provider without parts shows the trial's whole latency."""
    pixel1 = load_view(run_dir)
    assert pixel1.provider.name == "pixel1-model"
    arch = pixel1.space.decode(list(pixel1.trials[0].tokens))
    parts = pixel1.provider.breakdown_ms(arch, pixel1.latency_options)
    assert sum(parts.values()) == pytest.approx(load_pixel1_model().predict_arch(arch, pixel1.latency_options))
    profile = load_profile("ci").with_overrides({"latency": {"provider": "flops"}})
    space = search_space(profile)
    with open_run(tmp_path / "flops", _record(profile)) as store:
        run_search(space, strategies.make_strategy("random", space.decision_sizes(), seed=3), toy_evaluate,
                   toy_latency, get_reward("mnas_soft", target_ms=60.0), store, steps=1, batch_size=2, progress=False)
    flops = load_view(tmp_path / "flops")
    assert flops.provider.name == "flops"
    assert flops.provider.breakdown_ms(arch, flops.latency_options) is None
    bars = trial_figure(flops).axes[1]
    assert [t.get_text() for t in bars.get_yticklabels()] == ["whole network"]
    assert bars.patches[0].get_width() == pytest.approx(flops.trials[0].latency.value)
