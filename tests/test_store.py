"""The trial store: round trips, status transitions, a real SIGKILL mid-transaction, resume checks, corrupt files."""
import signal
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from mnaslib.labels import Provenance
from mnaslib.search.rundir import config_differences, open_run
from mnaslib.search.store import STORE_FILENAME, StoreError, TrialStore
from mnaslib.search.store_schema import SCHEMA_VERSION

BLOCKS = ["r1_k3_s11_e1_i32_o16", "r2_k3_s22_e6_i16_o24"]


@pytest.fixture
def store(tmp_path):
    with TrialStore(tmp_path / STORE_FILENAME) as opened:
        yield opened


def test_trial_round_trip(store):
    trial_id = store.add_pending(3, 1, np.array([0, 5, 2]), "arch-abc", BLOCKS)
    assert store.trial(trial_id)["status"] == "pending"
    store.finish(trial_id, accuracy=0.712, latency_ms=77.5, latency_provenance="predicted (lut)", reward=0.70,
                 params=3_887_038, trainable_params=3_848_222, mult_adds=315_200_000, train_seconds=12.5,
                 eval_seconds=0.75, extra={"epochs": 5, "curve": [0.1, 0.2]})
    trial = store.trial(trial_id)
    assert (trial["step"], trial["index_in_step"], trial["arch_id"]) == (3, 1, "arch-abc")
    assert trial["tokens"] == [0, 5, 2]
    assert trial["block_strings"] == BLOCKS
    assert trial["status"] == "done"
    assert (trial["accuracy"], trial["latency_ms"], trial["reward"]) == (0.712, 77.5, 0.70)
    assert (trial["params"], trial["trainable_params"], trial["mult_adds"]) == (3_887_038, 3_848_222, 315_200_000)
    assert (trial["latency_kind"], trial["latency_detail"]) == ("predicted", "lut")
    assert trial["extra"] == {"epochs": 5, "curve": [0.1, 0.2]}
    assert trial["created"] <= trial["finished"]


def test_numpy_scalars_and_provenance_objects_are_stored_as_plain_values(store):
    trial_id = store.add_pending(0, 0, [1], "a", BLOCKS)
    with pytest.raises(ValueError, match="params must be an integer"):
        store.finish(trial_id, params=3.5)
    store.finish(trial_id, accuracy=np.float32(0.5), params=np.int64(12), mult_adds=np.int32(7),
                 latency_provenance=Provenance("predicted", "lookup table"))
    trial = store.trial(trial_id)
    assert (trial["accuracy"], trial["params"], trial["mult_adds"]) == (0.5, 12, 7)
    assert type(trial["params"]) is int
    assert (trial["latency_kind"], trial["latency_detail"]) == ("predicted", "lookup table")


def test_status_transitions(store):
    first = store.add_pending(0, 0, [1], "a", BLOCKS)
    second = store.add_pending(0, 1, [2], "b", BLOCKS)
    third = store.add_pending(0, 2, [3], "c", BLOCKS)
    store.mark_running(second)
    store.mark_running(second)  # a Dask scheduler gave the child of a worker that died to another
    assert [t["id"] for t in store.pending()] == [first, second, third]   # running still counts as unfinished
    store.finish(first, accuracy=0.5)
    store.fail(second, "OOM while training")
    assert [t["id"] for t in store.pending()] == [third]
    assert [t["id"] for t in store.trials("done")] == [first]
    failed = store.trials("failed")
    assert [t["id"] for t in failed] == [second] and failed[0]["error"] == "OOM while training"
    assert len(store.trials()) == 3
    with pytest.raises(ValueError, match="trial 1 is done"):
        store.finish(first, accuracy=0.9)
    with pytest.raises(ValueError, match="is failed"):
        store.fail(second, "again")
    with pytest.raises(ValueError, match="only a pending or running trial"):
        store.mark_running(first)
    assert store.trial(first)["accuracy"] == 0.5                            # a refused rewrite changed nothing


def test_bad_inputs_are_refused(store):
    trial_id = store.add_pending(0, 0, [1], "a", BLOCKS)
    with pytest.raises(ValueError, match="already in"):
        store.add_pending(0, 0, [2], "b", BLOCKS)
    with pytest.raises(ValueError, match="unknown trial metrics \\['acuracy'\\]"):
        store.finish(trial_id, acuracy=0.5)
    with pytest.raises(KeyError, match="no trial 99"):
        store.finish(99, accuracy=0.5)
    with pytest.raises(ValueError, match="unknown trial status"):
        store.trials("finished")
    with pytest.raises(ValueError, match="JSON"):
        store.finish(trial_id, extra={"model": object()})
    assert store.trial(trial_id)["status"] == "pending"


def test_dataframe_has_stable_columns_and_numeric_dtypes(store):
    empty = store.read().frame
    assert empty.empty and "accuracy" in empty.columns and empty["accuracy"].dtype == "float64"
    done = store.add_pending(0, 0, [1], "a", BLOCKS)
    store.add_pending(0, 1, [2], "b", BLOCKS)
    store.finish(done, accuracy=0.5, params=10, reward=float("nan"))
    df = store.read().frame
    assert list(df["status"]) == ["done", "pending"]
    assert df["accuracy"].dtype == "float64" and df["params"].dtype == "Int64"
    assert df["accuracy"].iloc[0] == 0.5 and pd.isna(df["accuracy"].iloc[1])
    assert pd.isna(df["reward"].iloc[0])                                    # SQLite stores NaN as NULL


CRASH_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    from mnaslib.search.store import TrialStore

    store = TrialStore(sys.argv[1])
    n, where = int(sys.argv[2]), sys.argv[3]
    for i in range(n):
        trial_id = store.add_pending(0, i, [i, 1], f"a{i}", ["r1_k3_s11_e1_i32_o16"])
        store.finish(trial_id, accuracy=i / 10, reward=i / 100)
    store.log_scalar(0, "reward_mean", 0.5)
    store.save_strategy_state(0, b"state-0")
    last = store.add_pending(1, 0, [9], "last", []) if where == "finish" else None

    def kill_before_commit(sql):
        if sql == "COMMIT":
            os.kill(os.getpid(), signal.SIGKILL)

    store._conn.set_trace_callback(kill_before_commit)
    big = {"blob": "x" * 8_000_000}   # larger than the page cache: uncommitted pages spill into the WAL file
    if where == "finish":
        store.finish(last, accuracy=0.99, extra=big)
    else:
        store.add_pending(1, 0, [9], "x" * 8_000_000, [])
    print("not killed")
""")


@pytest.mark.parametrize("where", ["finish", "add_pending"])
def test_sigkill_mid_transaction_keeps_exactly_the_committed_trials(tmp_path, where):
    path = tmp_path / STORE_FILENAME
    n = 7
    proc = subprocess.run([sys.executable, "-c", CRASH_SCRIPT, str(path), str(n), where],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
    assert (tmp_path / f"{STORE_FILENAME}-wal").exists()                   # the crash left a WAL to recover from

    with TrialStore(path) as reopened:
        done = reopened.trials("done")
        assert [t["index_in_step"] for t in done] == list(range(n))
        assert [t["accuracy"] for t in done] == [i / 10 for i in range(n)]
        pending = reopened.pending()
        if where == "finish":   # its add_pending committed, its finish did not
            assert [(t["step"], t["arch_id"], t["accuracy"], t["extra"]) for t in pending] == [(1, "last", None, None)]
        else:                   # the interrupted insert left no trace
            assert pending == []
        assert len(reopened.trials()) == n + len(pending)
        assert reopened.latest_strategy_state() == (0, b"state-0")
        assert reopened.scalars()["value"].tolist() == [0.5]
        assert reopened._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # the store keeps working: the resumed run re-evaluates the pending trial
        if pending:
            reopened.finish(pending[0]["id"], accuracy=0.98)
        assert reopened.pending() == []


def test_strategy_state_blob_round_trip(store):
    assert store.latest_strategy_state() is None
    blob = bytes(range(256)) * 100
    store.save_strategy_state(0, b"step zero")
    store.save_strategy_state(1, blob)
    assert store.latest_strategy_state() == (1, blob)
    store.save_strategy_state(1, b"redone")
    assert store.latest_strategy_state() == (1, b"redone")
    with pytest.raises(TypeError, match="bytes"):
        store.save_strategy_state(2, "not bytes")


def test_scalars_and_meta(store):
    store.log_scalar(0, "reward_mean", 0.25)
    store.log_scalar(1, "reward_mean", 0.5)
    store.log_scalar(1, "entropy", 3.0)
    assert store.scalars().to_dict("records") == [{"step": 0, "tag": "reward_mean", "value": 0.25},
                                                  {"step": 1, "tag": "reward_mean", "value": 0.5},
                                                  {"step": 1, "tag": "entropy", "value": 3.0}]
    assert store.get_meta("best", default="none") == "none"
    store.set_meta("best", {"arch_id": "a", "reward": 0.7})
    store.set_meta("best", {"arch_id": "b", "reward": 0.8})
    assert store.get_meta("best") == {"arch_id": "b", "reward": 0.8}


CONFIG = {"seed": 0, "steps": 10, "executor": {"name": "process", "workers": 2},
          "strategy": {"name": "ppo", "batch": 8},
          "reward": {"target_ms": 75.0, "alpha": -0.07, "beta": -0.07}}


def test_open_run_resumes_when_only_resumable_keys_change(tmp_path):
    with open_run(tmp_path / "run", CONFIG) as first:
        first.add_pending(0, 0, [1], "a", BLOCKS)
    extended = {**CONFIG, "steps": 20, "executor": {"name": "dask", "workers": 4},
                "strategy": {"batch": 8, "name": "ppo"}}
    with open_run(tmp_path / "run", extended) as resumed:
        assert len(resumed.pending()) == 1
        runs = resumed.runs()
        assert [run["config"]["steps"] for run in runs] == [10, 20]
        assert runs[0]["seed"] == 0 and runs[0]["schema_version"] == SCHEMA_VERSION and runs[0]["mnaslib_version"]


def test_open_run_refuses_a_different_search(tmp_path):
    open_run(tmp_path / "run", CONFIG).close()
    changed = {**CONFIG, "reward": {"target_ms": 80.0, "alpha": -0.07}}
    with pytest.raises(ValueError) as error:
        open_run(tmp_path / "run", changed)
    message = str(error.value)
    assert "reward.target_ms: stored 75.0, now 80.0" in message
    assert "reward.beta: stored -0.07, now '<missing>'" in message
    assert "new run directory" in message and "steps" not in message.split("(")[1].split(")")[0]
    with TrialStore(tmp_path / "run" / STORE_FILENAME) as unchanged:
        assert [run["config"] for run in unchanged.runs()] == [CONFIG]


def test_config_differences_normalises_and_honours_resumable_keys():
    assert config_differences({"a": (1, 2), "b": {"c": 1}}, {"a": [1, 2], "b": {"c": 1}}) == {}
    assert config_differences({"b": {"c": 1}}, {"b": {"c": 2}}) == {"b.c": (1, 2)}
    assert config_differences({"b": {"c": 1}}, {"b": {"c": 2}}, resumable_keys=["b"]) == {}


def test_not_a_sqlite_file_is_an_error_that_deletes_nothing(tmp_path):
    path = tmp_path / STORE_FILENAME
    path.write_bytes(b"these are my notes, not a database" * 100)
    with pytest.raises(StoreError, match="not a readable SQLite database") as error:
        TrialStore(path)
    assert str(path) in str(error.value) and "mv" in str(error.value)
    assert path.read_bytes() == b"these are my notes, not a database" * 100


def test_foreign_sqlite_and_wrong_schema_version_are_errors(tmp_path):
    foreign = tmp_path / "other.sqlite"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE songs (title TEXT)")
    before = foreign.read_bytes()
    with pytest.raises(StoreError, match="not a mnaslib trial store"):
        TrialStore(foreign)
    assert foreign.read_bytes() == before                                   # not even its journal mode changed

    future = tmp_path / STORE_FILENAME
    TrialStore(future).close()
    with sqlite3.connect(future) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match=f"schema version 99.*reads versions up to {SCHEMA_VERSION}"):
        TrialStore(future)


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        TrialStore(tmp_path / "nowhere" / STORE_FILENAME)
