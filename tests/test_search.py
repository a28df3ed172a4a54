"""The search loop: seeded sequences, failed children, resume after SIGKILL, and the process/Dask executors."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from search_toys import toy_evaluate, toy_latency

from mnaslib.strategies import make_strategy
from mnaslib.reward import get_reward
from mnaslib.search.executors import make_executor, shutdown_executor
from mnaslib.search.profile import load_profile
from mnaslib.search.loop import run_search
from mnaslib.spaces.mnasnet import MnasNetSpace
from mnaslib.search.rundir import open_run
from mnaslib.search.store import TrialStore

SPACE = MnasNetSpace()
STEPS, BATCH = 3, 4


def _run(run_dir, strategy="random", executor=None, **kwargs):
    store = open_run(run_dir, {"strategy": strategy, "seed": 7})
    result = run_search(SPACE, make_strategy(strategy, SPACE.decision_sizes(), seed=7), toy_evaluate, toy_latency,
                        get_reward("mnas_soft", target_ms=60.0), store, steps=STEPS, batch_size=BATCH,
                        executor=executor, progress=False, **kwargs)
    return store, result


def _tokens(store):
    return [(t["step"], t["index_in_step"], tuple(t["tokens"])) for t in store.trials()]


def test_same_seed_same_sequence_and_rewards(tmp_path):
    first, result = _run(tmp_path / "a", strategy="ppo")
    second, _ = _run(tmp_path / "b", strategy="ppo")
    assert result.trials == STEPS * BATCH
    assert _tokens(first) == _tokens(second)
    assert [t["reward"] for t in first.trials()] == [t["reward"] for t in second.trials()]
    assert first.latest_strategy_state()[0] == STEPS - 1


def test_rewards_latency_and_provenance_are_stored(tmp_path):
    store, _ = _run(tmp_path)
    done = store.trials("done")
    assert done
    reward = get_reward("mnas_soft", target_ms=60.0)
    for trial in done:
        assert (trial["latency_kind"], trial["latency_detail"]) == ("computed", "toy: layers")
        assert (trial["accuracy_kind"], trial["accuracy_detail"]) == ("proxy", "toy: tokens")
        assert trial["reward"] == pytest.approx(reward(trial["accuracy"], trial["latency_ms"]))
        assert trial["extra"]["seed_seen"] >= 0
    assert set(store.scalars()["tag"]) >= {"trial/mean_reward", "trial/failed"}


def test_failed_children_are_recorded_and_do_not_poison_the_controller(tmp_path, monkeypatch):
    space_tokens = [[0, 0] + [1] * 40, [1, 0, 0, 0, 0, 0, 1, 1] + [0] * 34, [1] * 6 + [0] * 36]

    class Scripted:
        """Asks fixed samples so that both failure kinds certainly occur."""
        def __init__(self):
            self.inner = make_strategy("ppo", SPACE.decision_sizes(), seed=0)
        def ask(self, n):
            return [list(t) for t in space_tokens[:n]]
        def tell(self, tokens, rewards):
            self.told = rewards
            return self.inner.tell(tokens, rewards)
        def state_bytes(self):
            return self.inner.state_bytes()

    store = open_run(tmp_path, {"x": 1})
    strategy = Scripted()
    run_search(SPACE, strategy, toy_evaluate, toy_latency, get_reward("mnas_soft"), store, steps=1, batch_size=3,
               progress=False)
    statuses = [t["status"] for t in store.trials()]
    assert statuses == ["failed", "failed", "done"]
    errors = [t["error"] for t in store.trials()]
    assert errors[0].startswith("diverged: ") and "non-finite" in errors[0]
    assert "accuracy is nan" in errors[1]
    assert strategy.told[:2] == [None, None] and strategy.told[2] > 0
    import numpy as np
    assert all(np.isfinite(w).all() for w in strategy.inner.weights())


KILL_SCRIPT = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, {tests!r})
    os.environ["TOY_DELAY"] = "0.15"
    from test_search import _run
    _run({run_dir!r}, strategy="ppo")
""")


def test_resume_after_sigkill_loses_nothing(tmp_path):
    run_dir = tmp_path / "killed"
    script = KILL_SCRIPT.format(tests=str(Path(__file__).parent), run_dir=str(run_dir))
    process = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": os.getcwd()})
    store_path = run_dir / "trials.sqlite"
    deadline = time.time() + 120
    while time.time() < deadline:
        if store_path.exists() and len(TrialStore(store_path).trials("done")) + \
                len(TrialStore(store_path).trials("failed")) >= 6:
            break
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = {t["id"]: t for t in TrialStore(store_path).trials() if t["status"] in ("done", "failed")}
    assert 6 <= len(before) < STEPS * BATCH, "the kill must land mid-search"

    store, _ = _run(run_dir, strategy="ppo")
    after = store.trials()
    assert len(after) == STEPS * BATCH
    for trial_id, trial in before.items():  # finished trials were neither lost nor evaluated again
        assert store.trial(trial_id)["finished"] == trial["finished"]
    reference, _ = _run(tmp_path / "uninterrupted", strategy="ppo")
    assert _tokens(store) == _tokens(reference)


def test_resume_refuses_a_changed_search(tmp_path):
    store, _ = _run(tmp_path, strategy="random")
    store.close()  # the first search has ended; a second open in this process must not be told it is locked
    with pytest.raises(ValueError, match="strategy"):
        open_run(tmp_path, {"strategy": "ppo", "seed": 7})


@pytest.mark.skipif(sys.version_info < (3, 11), reason="ProcessPoolExecutor(max_tasks_per_child) needs Python 3.11")
def test_process_workers_are_replaced_after_a_few_children():
    """A worker's memory grows with every child, so a long search must not keep one worker for all of them."""
    executor = make_executor({"name": "process", "workers": 1, "max_tasks_per_child": 2})
    try:
        pids = [executor.submit(os.getpid).result() for _ in range(4)]
    finally:
        shutdown_executor(executor)
    assert pids[0] == pids[1] != pids[2] == pids[3]


@pytest.mark.parametrize("name", ["process", "dask"])
def test_parallel_executors(tmp_path, name):
    executor = make_executor({"name": name, "workers": 2})
    try:
        store, result = _run(tmp_path, executor=executor)
    finally:
        shutdown_executor(executor)
    if name == "dask":
        client, cluster = executor.mnas_owned
        assert client.status == "closed" and cluster.status.name == "closed"
    serial, _ = _run(tmp_path / "serial")
    assert result.trials == STEPS * BATCH
    assert [(t["tokens"], t["status"], t["accuracy"]) for t in store.trials()] == \
        [(t["tokens"], t["status"], t["accuracy"]) for t in serial.trials()]


def test_profiles_load_and_bad_settings_raise(tmp_path):
    for profile in ("ci", "laptop", "paper"):
        config = load_profile(profile)
        assert config.name == profile and config.reward["target_ms"] == 75.0
    assert load_profile("ci", {"reward": {"name": "mnas_hard"}}).reward == {"name": "mnas_hard", "target_ms": 75.0}
    with pytest.raises(ValueError, match="unknown profile settings"):
        load_profile("ci", {"stepz": 3})
    with pytest.raises(ValueError, match="no profile named .* and no such file"):
        load_profile(str(tmp_path / "missing.yaml"))
    with pytest.raises(ValueError, match="unknown executor"):
        load_profile("ci", {"executor": {"name": "slurm"}})


def test_tensorboard_gets_the_curves_the_store_gets(tmp_path):
    import tensorflow as tf
    store, _ = _run(tmp_path / "run", strategy="ppo", tensorboard_dir=tmp_path / "tb")
    logged = {}
    for event_file in (tmp_path / "tb").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            for value in event.summary.value:
                logged[(value.tag, event.step)] = float(tf.make_ndarray(value.tensor))
    tags = {tag for tag, _ in logged}
    assert {"trial/mean_reward", "trial/mean_accuracy", "trial/mean_latency_ms", "strategy/entropy"} <= tags
    assert {step for _, step in logged} == set(range(STEPS))
    stored = {(row.tag, row.step): row.value for row in store.scalars().itertuples()}
    assert logged.keys() <= stored.keys()
    for key, value in logged.items():
        assert value == pytest.approx(stored[key], rel=1e-6)
