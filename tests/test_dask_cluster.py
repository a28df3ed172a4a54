"""A Dask cluster as a user with several machines runs one, and loses parts of it mid-search.

``dask scheduler`` and ``dask worker`` run as separate processes started by the ``dask`` command (here all on
127.0.0.1; each worker with an environment of its own, as another machine has: its own cache and home, the data set
only where ``MNAS_DATA_DIR`` says, no downloads), and ``mnas search`` is pointed at the scheduler. What is tested:
a worker killed (SIGKILL) while it trains a child, the scheduler killed, a worker without the data set, and a
scheduler that is not there. The searches are the ci profile's with random sampling (2 steps x 2 trained children).

What the design guarantees is compared with an uninterrupted search: the same trials (ids, samples, architectures,
latencies, sizes), each finished once, and the controller's state. Not the accuracies: on a Dask worker a child's
training is not reproducible, because Keras draws the seeds of its initialisers from Python's global random
generator, which the worker's own threads draw from at the same time (a process pool's workers have no such
threads, and a search there resumes to identical accuracies: ``tests/test_reliability.py``).

Every process runs in a process group of its own and the group is killed at the end, however the test ended; every
wait has a deadline, so a test fails instead of hanging.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mnaslib.search.store import STORE_FILENAME, TrialStore

REPO = Path(__file__).resolve().parents[1]
DASK = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(DASK is None, reason="needs the dask command (installed with "
                                                                         "dask[distributed]) to start a cluster")]
START_S = 90    # a scheduler or worker starting on a loaded 2-core machine
SEARCH_S = 240  # a ci search of 4 children, including the workers' first TensorFlow import
DEADLINE_S = 120  # waiting for a trial to start


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {seconds} s waiting for {what}")
        time.sleep(0.2)


class Cluster:
    """Named scheduler and worker processes, each started in a process group of its own (a worker's nanny and the
    worker it starts die together, as a machine would)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.processes: dict[str, subprocess.Popen] = {}

    def _start(self, name: str, args: list[str], env: dict[str, str]) -> None:
        log = open(self.folder / f"{name}.log", "wb")
        self.processes[name] = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT,
                                                cwd=self.folder, start_new_session=True)
        log.close()

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def scheduler(self, name: str) -> str:
        port = _free_port()
        self._start(name, [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                    dict(os.environ))
        _wait(lambda: "Scheduler at:" in self.log(name), START_S, f"the scheduler {name}")
        return f"tcp://127.0.0.1:{port}"

    def worker(self, name: str, scheduler: str, address: str, *, data: bool = True) -> None:
        """A worker as a user starts one on another machine: mnaslib importable, MNAS_DATA_DIR and
        MNAS_BENCHMARK_DIR set where the data set is there (``data``), its own cache and home, no downloads."""
        home = self.folder / name
        home.mkdir()
        env = {"PATH": os.environ["PATH"], "HOME": str(home), "PYTHONPATH": str(REPO), "MNAS_OFFLINE": "1",
               "MNAS_CACHE_DIR": str(home / "cache"), "KERAS_HOME": str(home / "keras"),
               "MPLCONFIGDIR": str(home / "matplotlib")}
        if data:
            env.update({key: os.environ[key] for key in ("MNAS_DATA_DIR", "MNAS_BENCHMARK_DIR") if key in os.environ})
        self._start(name, [DASK, "worker", address, "--name", name, "--nthreads", "1", "--host", "127.0.0.1",
                           "--no-dashboard", "--local-directory", str(home), "--death-timeout", "30"], env)
        _wait(lambda: f"name: {name}" in self.log(scheduler), START_S, f"the worker {name} to join {scheduler}")

    def kill(self, name: str) -> None:
        process = self.processes[name]
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def close(self) -> None:
        for name, process in self.processes.items():
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=30)


@pytest.fixture
def cluster(tmp_path):
    cluster = Cluster(tmp_path)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory):
    """One scheduler with two workers, for the uninterrupted search and the resumes."""
    cluster = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        cluster.address = cluster.scheduler("scheduler")
        for name in ("w1", "w2"):
            cluster.worker(name, "scheduler", cluster.address)
        yield cluster
    finally:
        cluster.close()


def _command(run_dir: Path, address: str) -> list[str]:
    return [sys.executable, "-m", "mnaslib.cli", "search", "--profile", "ci", "--run-dir", str(run_dir), "--set",
            "executor.name=dask", "--set", f"executor.address={address}", "--set", "strategy.name=random"]


def _environment(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), **extra}


def _search(run_dir: Path, address: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(_command(run_dir, address), env=_environment(**extra), capture_output=True, text=True,
                          timeout=SEARCH_S)


class Background:
    """A search started in the background (its own process group, killed if the test ends first), its output in
    files."""

    def __init__(self, run_dir: Path, address: str) -> None:
        self.out, self.err = run_dir.with_suffix(".out"), run_dir.with_suffix(".err")
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.process = subprocess.Popen(_command(run_dir, address), env=_environment(), stdout=out, stderr=err,
                                            start_new_session=True)

    def finish(self) -> tuple[int, str, str]:
        try:
            code = self.process.wait(timeout=SEARCH_S)
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
        return code, self.out.read_text(), self.err.read_text()


def _statuses(run_dir: Path) -> list[str]:
    """The trials' statuses as the search has written them so far (read-only, never creating the store)."""
    path = run_dir / STORE_FILENAME
    if not path.is_file():
        return []
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
            return [row[0] for row in conn.execute("SELECT status FROM trials ORDER BY id")]
    except sqlite3.OperationalError:  # the search is creating its tables
        return []


DETERMINED = ("id", "step", "index_in_step", "tokens", "arch_id", "block_strings", "latency_ms", "latency_kind",
              "latency_detail", "accuracy_kind", "status", "params", "trainable_params", "mult_adds")


def _record(run_dir: Path) -> dict:
    """What the same search run anew must reproduce on a Dask cluster (see the module's docstring): the trials as
    sampled and their sizes, each finished, and the controller's state."""
    with TrialStore(run_dir / STORE_FILENAME) as store:
        trials = [{key: trial[key] for key in DETERMINED} for trial in store.trials()]
        assert all(0 <= trial["accuracy"] <= 1 for trial in store.trials())
        return {"trials": trials, "state": store.latest_strategy_state()}


@pytest.fixture(scope="module")
def reference(shared_cluster, tmp_path_factory):
    """The ci search run without interruption on the shared cluster."""
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    done = _search(run_dir, shared_cluster.address)
    assert done.returncode == 0, done.stderr
    record = _record(run_dir)
    assert [t["status"] for t in record["trials"]] == ["done"] * 4
    return record


def _wait_for(run_dir: Path, search: Background, condition, what: str) -> list[str]:
    """The statuses once ``condition(statuses)`` holds (the search must still be running)."""
    _wait(lambda: condition(_statuses(run_dir)) or search.process.poll() is not None, DEADLINE_S, what)
    assert search.process.poll() is None, f"the search ended before {what}: {search.finish()}"
    return _statuses(run_dir)


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.replace("\r", "\n").splitlines()
             if line.strip() and not line.startswith("search:")]  # but the progress bar
    assert len(lines) == 1, stderr
    return lines[0]


def test_a_worker_killed_while_it_trains_a_child_has_its_child_trained_by_another(shared_cluster, reference,
                                                                                   tmp_path):
    run_dir = tmp_path / "run"
    search = Background(run_dir, shared_cluster.address)
    try:
        statuses = _wait_for(run_dir, search, lambda s: s[:2] == ["running", "running"],
                             "both workers to train a child")
        shared_cluster.kill("w1")
    finally:
        code, out, err = search.finish()
    assert statuses[:2] == ["running", "running"]
    assert code == 0, err
    assert "search finished: 4 trials (0 failed, 0 reused results)" in out
    assert _record(run_dir) == reference


def test_a_lost_scheduler_stops_the_search_with_one_line_and_a_new_one_resumes_it(cluster, shared_cluster,
                                                                                  reference, tmp_path):
    address = cluster.scheduler("lost-scheduler")
    cluster.worker("w3", "lost-scheduler", address)
    run_dir = tmp_path / "run"
    search = Background(run_dir, address)
    try:
        _wait_for(run_dir, search, lambda s: "done" in s and "running" in s, "a finished trial and a running one")
        cluster.kill("lost-scheduler")
    finally:
        code, _, err = search.finish()
    line = _one_line(err)
    assert code == 2 and f"lost the Dask scheduler at {address}" in line and "run the same command again" in line
    assert "executor.address" in line
    statuses = _statuses(run_dir)
    assert "done" in statuses and set(statuses) == {"done", "pending"}  # nothing failed, nothing left running

    resumed = _search(run_dir, shared_cluster.address)  # the same run, another scheduler
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming the search" in resumed.stdout
    assert _record(run_dir) == reference


def test_a_worker_without_the_data_set_stops_the_search_naming_mnas_data_dir(cluster, shared_cluster, reference,
                                                                              tmp_path):
    address = cluster.scheduler("scheduler")
    cluster.worker("no-data", "scheduler", address, data=False)
    run_dir = tmp_path / "run"
    failed = _search(run_dir, address)
    line = _one_line(failed.stderr)
    assert failed.returncode == 2
    assert "Dask worker" in line and "(no-data)" in line and "no fashion_mnist_subset data found" in line
    assert "MNAS_DATA_DIR is not set" in line and "run the same command again to resume" in line
    assert set(_statuses(run_dir)) == {"pending"}  # no trial failed for the worker's sake

    resumed = _search(run_dir, shared_cluster.address)  # pointed at workers that have it, nothing was lost
    assert resumed.returncode == 0, resumed.stderr
    assert _record(run_dir) == reference


def test_a_scheduler_that_is_not_there_is_named_in_one_line(tmp_path):
    address = f"tcp://127.0.0.1:{_free_port()}"
    refused = _search(tmp_path / "run", address, DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT="3s")
    line = _one_line(refused.stderr)
    assert refused.returncode == 2 and f"cannot reach the Dask scheduler at {address}" in line
