"""A search a user can kill, share, misconfigure and resume (issue 15's numbered defects, one test or more each).

The loop runs with the picklable toy evaluator of ``search_toys`` (real store, real process pools, real signals);
what needs real children trains them at the ci profile.
"""
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from search_toys import ToyEvaluator, toy_evaluate, toy_latency

from mnaslib.cli import main
from mnaslib.search.wiring import make_evaluator, run_record
from mnaslib.search.executors import make_executor
from mnaslib.evaluation.jobs import ChildMetrics, Job
from mnaslib.search.profile import load_profile
from mnaslib.reward import get_reward
from mnaslib.search.rundir import TENSORBOARD_DIR, open_run
from mnaslib.search.loop import WORKER_DIED, SearchFailed, run_search
from mnaslib.spaces.mnasnet import MnasNetSpace
from mnaslib.search.store import STORE_FILENAME, StoreError, TrialStore
from mnaslib.strategies import make_strategy

SPACE = MnasNetSpace()
TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent


def _search(run_dir, evaluate=toy_evaluate, latency=toy_latency, steps=2, batch=4, executor=None, **kwargs):
    store = open_run(run_dir, {"strategy": "random", "seed": 3})
    try:
        result = run_search(SPACE, make_strategy("random", SPACE.decision_sizes(), seed=3), evaluate, latency,
                            get_reward("mnas_soft", target_ms=60.0), store, steps=steps, batch_size=batch,
                            executor=executor, progress=False, **kwargs)
        return store.trials(), result
    finally:
        store.close()


# 1. a rejected config leaves no trace, so the corrected command runs ------------------------------------------
@pytest.mark.slow
def test_a_corrected_command_runs_where_a_rejected_one_was_refused(capsys, tmp_path):
    run_dir = tmp_path / "run"
    assert main(["search", "--profile", "ci", "--run-dir", str(run_dir), "--set", "seed=abc"]) == 2
    assert not run_dir.exists()
    assert main(["search", "--profile", "ci", "--run-dir", str(run_dir), "--set", "steps=1", "--set",
                 "batch_size=1"]) == 0
    out = capsys.readouterr().out
    assert "new search in" in out and "search finished: 1 trials" in out and "best 3 by reward" in out


# 2. errors that hit every child stop the search at once, exit non-zero, and can be retried -------------------
@dataclass(frozen=True)
class Broken(ToyEvaluator):
    def __call__(self, job: Job) -> ChildMetrics:
        raise FileNotFoundError("the data went away")


def test_a_step_whose_every_child_failed_stops_the_search_and_retry_failed_reruns_it(tmp_path):
    with pytest.raises(SearchFailed, match="every child of step 0 failed.*the data went away.*--retry-failed"):
        _search(tmp_path, evaluate=Broken())
    with TrialStore(tmp_path / STORE_FILENAME) as store:
        assert {t["status"] for t in store.trials()} == {"failed"} and store.latest_strategy_state() is None
    trials, result = _search(tmp_path, retry_failed=True)
    assert result.trials == 8 and {t["status"] for t in trials} <= {"done", "failed"}
    assert not any("the data went away" in (t["error"] or "") for t in trials)


def test_corrupt_data_is_found_before_the_run_directory_is_made(capsys, tmp_path):
    data = tmp_path / "cifar10"
    for split in ("train", "test"):
        for name in ("airplane", "automobile"):
            (data / split / name).mkdir(parents=True)
            (data / split / name / "0.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    run_dir = tmp_path / "run"
    code = main(["search", "--profile", "ci", "--run-dir", str(run_dir), "--set", "proxy.dataset=cifar10", "--set",
                 f"proxy.data_dir={data}"])
    err = capsys.readouterr().err
    assert code == 2 and "is not a readable image" in err and len(err.strip().splitlines()) == 1
    assert not run_dir.exists()


# 3. workers die with their parent; SIGTERM stops cleanly and says how to resume ------------------------------
KILLABLE = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, {tests!r})
    os.environ["TOY_DELAY"] = "30"
    from test_reliability import _search
    from mnaslib.search.executors import make_executor
    from mnaslib.search.loop import SearchInterrupted
    from mnaslib.cli import _terminate
    import signal
    signal.signal(signal.SIGTERM, _terminate)
    try:
        _search({run_dir!r}, executor=lambda: make_executor({{"name": "process", "workers": 2}}))
    except SearchInterrupted as stop:
        print(stop, file=sys.stderr)
        sys.exit(130)
""")


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.add(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def _start_killable(tmp_path):
    process = subprocess.Popen([sys.executable, "-c", KILLABLE.format(tests=str(TESTS), run_dir=str(tmp_path))],
                               env={**os.environ, "PYTHONPATH": str(REPO)}, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until both workers have started a child
        store_path = tmp_path / STORE_FILENAME
        if store_path.exists() and len(TrialStore(store_path).trials("running")) == 2:
            break
        time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("the workers never started")
    workers = {p for p in _children(process.pid) if "spawn" in Path(f"/proc/{p}/cmdline").read_text()}
    assert len(workers) >= 2
    return process, workers


def _gone(pids: set[int], within: float) -> bool:
    deadline = time.time() + within
    while time.time() < deadline:
        if not any(Path(f"/proc/{p}").exists() and "Z" not in Path(f"/proc/{p}/stat").read_text().split()[2]
                   for p in pids if Path(f"/proc/{p}").exists()):
            return True
        time.sleep(0.2)
    return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process trees from /proc (Linux)")
def test_sigkill_of_the_parent_takes_its_workers_with_it(tmp_path):
    process, workers = _start_killable(tmp_path)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert _gone(workers, within=15), "workers outlived their parent"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process trees from /proc (Linux)")
def test_sigterm_stops_cleanly_marks_running_trials_for_resume_and_says_how(tmp_path):
    process, workers = _start_killable(tmp_path)
    os.kill(process.pid, signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "Traceback" not in err and "run the same command again to resume" in err
    assert _gone(workers, within=15)
    with TrialStore(tmp_path / STORE_FILENAME) as store:
        statuses = {t["status"] for t in store.trials()}
        interrupted = [t for t in store.trials() if "interrupted" in (t["error"] or "")]
    assert statuses == {"pending"} and len(interrupted) >= 2  # stopped, not failed: a resume evaluates them


# 6. a store deleted mid-run, or emptied, is noticed ---------------------------------------------------------
@dataclass(frozen=True)
class DeletesTheStore(ToyEvaluator):
    def __call__(self, job: Job) -> ChildMetrics:
        if job.trial_id == 2:
            for suffix in ("", "-wal", "-shm"):
                Path(job.store_path + suffix).unlink(missing_ok=True)
        return super().__call__(job)


def test_a_store_deleted_while_the_search_runs_stops_it(tmp_path):
    with pytest.raises(StoreError, match="was deleted while the search was running"):
        _search(tmp_path, evaluate=DeletesTheStore())


def test_an_emptied_store_beside_tensorboard_logs_is_refused(tmp_path):
    (tmp_path / TENSORBOARD_DIR).mkdir()
    (tmp_path / TENSORBOARD_DIR / "events.out.tfevents.1").write_bytes(b"curves")
    (tmp_path / STORE_FILENAME).write_bytes(b"")
    with pytest.raises(StoreError, match="is empty but .* holds an earlier run's logs"):
        open_run(tmp_path, {"x": 1})
    assert (tmp_path / STORE_FILENAME).read_bytes() == b""


# 7. a worker killed by the OOM killer fails only its own trial ----------------------------------------------
@dataclass(frozen=True)
class DiesOnce(ToyEvaluator):
    marker: str = ""

    def __call__(self, job: Job) -> ChildMetrics:
        if job.trial_id == 3 and not Path(self.marker).exists():
            Path(self.marker).touch()
            os.kill(os.getpid(), signal.SIGKILL)  # what the OOM killer does
        return super().__call__(job)


def test_a_dead_worker_fails_its_trial_and_the_others_are_evaluated_on_a_new_pool(tmp_path):
    evaluate = DiesOnce(marker=str(tmp_path / "died"))
    trials, result = _search(tmp_path / "run", evaluate=evaluate,
                             executor=lambda: make_executor({"name": "process", "workers": 2}))
    assert result.trials == 8
    died = [t for t in trials if t["error"] and t["error"].startswith(WORKER_DIED)]
    assert [t["id"] for t in died] == [3]
    assert all(t["status"] in ("done", "failed") for t in trials)
    assert sum(t["status"] == "done" for t in trials) >= 4


# 8. latency and reward errors are one trial's failure, not the search's --------------------------------------
def _sometimes_unknown_latency(arch):
    if arch.blocks[2].kernel == 5:
        raise KeyError(f"no latency for {arch.arch_id}")
    return toy_latency(arch)


@dataclass(frozen=True)
class Percentages(ToyEvaluator):
    def __call__(self, job: Job) -> ChildMetrics:
        return ChildMetrics(75.2, "proxy (a percentage by mistake)")


def test_latency_errors_fail_the_trial_and_the_search_goes_on(tmp_path):
    trials, result = _search(tmp_path, latency=_sometimes_unknown_latency, steps=3)
    failed = [t for t in trials if (t["error"] or "").startswith("latency: KeyError")]
    assert failed and result.trials == 12 and any(t["status"] == "done" for t in trials)
    assert all(t["train_seconds"] is None for t in failed)  # never trained


def test_an_accuracy_that_is_a_percentage_fails_its_trials(tmp_path):
    with pytest.raises(SearchFailed, match="a fraction in \\[0, 1\\], got 75.2 \\(a percentage\\?\\)"):
        _search(tmp_path, evaluate=Percentages())


# 10. a step's state and curves are saved together ----------------------------------------------------------
def test_state_and_curves_are_one_transaction(tmp_path):
    with TrialStore(tmp_path / STORE_FILENAME) as store:
        with pytest.raises(TypeError):
            store.save_step(0, b"state", {"trial/mean_reward": 0.5, "strategy/entropy": object()})
        assert store.latest_strategy_state() is None and store.scalars().empty
        store.save_step(0, b"state", {"trial/mean_reward": 0.5})
        store.save_step(0, b"state2", {"trial/mean_reward": 0.6})  # a repeated step replaces, never doubles
        assert store.latest_strategy_state() == (0, b"state2") and store.scalars()["value"].tolist() == [0.6]


# 11. the data a search trained on is recorded; a resume on other data is refused -----------------------------
def _cifar_tree(root: Path, shade: int) -> Path:
    rng = np.random.default_rng(shade)
    for split in ("train", "test"):
        for index, name in enumerate(("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                      "ship", "truck")):
            folder = root / split / name
            folder.mkdir(parents=True)
            for k in range(3):
                pixels = np.clip(rng.normal(shade + 10 * index, 30, (32, 32, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{k}.png")
    return root


def test_a_resume_on_different_data_is_refused_and_the_same_data_elsewhere_is_accepted(tmp_path):
    first, other = _cifar_tree(tmp_path / "a", 60), _cifar_tree(tmp_path / "b", 160)
    moved = tmp_path / "moved"
    os.rename(_cifar_tree(tmp_path / "c", 60), moved)
    profile = load_profile("ci", {"proxy": {"dataset": "cifar10", "max_train": 10, "val_size": 10}})

    def record(data_dir):
        return run_record(profile.with_overrides({"proxy": {"data_dir": str(data_dir)}}),
                          make_evaluator(profile.with_overrides({"proxy": {"data_dir": str(data_dir)}})))

    keys = profile.RESUMABLE_KEYS + ("proxy.data_dir",)
    open_run(tmp_path / "run", record(first), keys).close()
    open_run(tmp_path / "run", record(moved), keys).close()  # the same pixels in another folder
    with pytest.raises(ValueError, match="data.fingerprint: stored 'sha256:"):
        open_run(tmp_path / "run", record(other), keys)
