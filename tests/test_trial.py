"""Typed trials and runs, and the store migration, tested on a schema-1 store written by the code of its time."""
import importlib.util
import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from mnaslib.labels import Labelled, Provenance
from mnaslib.report.runs import load_run
from mnaslib.search.store import STORE_FILENAME, StoreError, TrialStore
from mnaslib.search.store_schema import SCHEMA_VERSION
from mnaslib.search.trial import Run, Trial, TrialStatus, best_rows, finished

V1 = Path(__file__).parent / "data" / "store_v1"
TABLE = Provenance("synthetic", "seeded table, seed 3; not trained")
BLOCKS = ["r1_k3_s11_e1_i32_o16"]


@pytest.fixture
def v1(tmp_path):
    """A copy of the committed schema-1 run (so a writable open may migrate it)."""
    shutil.copytree(V1, tmp_path / "run")
    return tmp_path / "run"


def _version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA user_version").fetchone()[0]


def _check_v1_run(run: Run) -> None:
    assert [t.id for t in run.trials] == list(range(1, 13))
    assert [t.status for t in run.trials].count(TrialStatus.finished) == 9
    assert [t.id for t in run.failed()] == [5] and "kept on purpose" in run.failed()[0].error
    assert [t.status for t in run.trials[-2:]] == [TrialStatus.pending] * 2
    assert all(t.accuracy.provenance == TABLE for t in run.done())
    assert all(t.latency.provenance.kind == "predicted" for t in run.trials)
    assert all("accuracy_provenance" not in t.extra and t.extra["table_seed"] == 3 for t in run.done())
    assert run.accuracy_label == TABLE.label and run.latency_label.startswith("predicted (Pixel-1 model")
    assert (run.seed, run.steps_done, run.config["strategy"]) == (11, 2, "random")
    best = run.best()[0]
    assert best.id == 3 and best.reward.value == pytest.approx(0.678551521534153)
    assert best.accuracy.render() == f"0.721 [{TABLE.label}]"


def test_a_schema_1_store_reads_unchanged_when_opened_read_only(v1):
    with TrialStore(v1 / STORE_FILENAME, read_only=True) as store:
        _check_v1_run(store.read())
    assert _version(v1 / STORE_FILENAME) == 1  # reading never changes a file


def test_a_schema_1_store_is_migrated_on_a_writable_open(v1):
    with TrialStore(v1 / STORE_FILENAME) as store:
        _check_v1_run(store.read())
    assert _version(v1 / STORE_FILENAME) == SCHEMA_VERSION
    with sqlite3.connect(v1 / STORE_FILENAME) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(trials)")}
        extra = conn.execute("SELECT extra FROM trials WHERE id = 1").fetchone()[0]
    assert {"accuracy_kind", "accuracy_detail", "latency_kind", "latency_detail"} <= columns
    assert "latency_provenance" not in columns and "accuracy_provenance" not in extra
    _check_v1_run(load_run(v1))  # and reads the same again after


def test_a_search_resumes_onto_a_schema_1_store(v1):
    """The same search, resumed with today's code: the two pending trials are evaluated, nothing else changes."""
    spec = importlib.util.spec_from_file_location("make_store_v1", V1.parent / "make_store_v1.py")
    made = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(made)
    from mnaslib.search.rundir import open_run
    from mnaslib.search.loop import run_search
    from mnaslib.strategies import make_strategy

    before = {t.id: t for t in load_run(v1).trials}
    store = open_run(v1, {"strategy": "random", "seed": 11, "steps": 3, "batch_size": 4,
                          "reward": "mnas_soft, target 75 ms"})
    run_search(made.SPACE, make_strategy("random", made.SPACE.decision_sizes(), seed=11), made.TableEvaluator(),
               made.LATENCY, made.REWARD, store, steps=3, batch_size=4, progress=False)
    run = store.read()
    store.close()
    assert [t.status for t in run.trials].count(TrialStatus.finished) == 11
    assert [t.accuracy.provenance for t in run.done()] == [TABLE] * 11
    assert run.steps_done == 3
    assert all(run.trials[i - 1] == before[i] for i in range(1, 11))  # the trials already there are unchanged


def _row(trial_id, arch, reward, accuracy, latency, status="done"):
    return {"id": trial_id, "step": 0, "index_in_step": trial_id, "arch_id": arch, "tokens": [1],
            "block_strings": BLOCKS, "status": status, "accuracy": accuracy, "accuracy_kind": "proxy",
            "accuracy_detail": "toy", "latency_ms": latency, "latency_kind": "computed", "latency_detail": "",
            "reward": reward, "params": None, "trainable_params": None, "mult_adds": None, "train_seconds": None,
            "eval_seconds": None, "error": None, "extra": None, "created": "", "finished": None}


def _run(rows):
    return Run(tuple(Trial.from_row(r) for r in rows), pd.DataFrame(rows))


def test_best_is_by_reward_one_per_architecture_and_pareto_is_fastest_first():
    run = _run([_row(1, "a", 0.5, 0.6, 50.0), _row(2, "b", 0.7, 0.8, 90.0), _row(3, "b", 0.7, 0.8, 90.0),
                _row(4, "c", 0.9, 0.7, 40.0, status="failed"), _row(5, "d", 0.6, 0.5, 30.0)])
    assert [t.id for t in run.best(3)] == [2, 5, 1]  # the failed trial never counts; b sampled twice is one model
    assert [t.id for t in run.pareto()] == [5, 1, 2]
    assert [t.id for t in run.done()] == [1, 2, 3, 5]
    assert list(best_rows(run.frame, 1)["id"]) == [2] and len(finished(run.frame)) == 4
    assert run.accuracy_label == "proxy (toy)" and run.latency_label == "computed"
    assert run.trials[0].latency == Labelled(50.0, Provenance("computed"), "{:.1f}")
    assert run.trials[0].latency.render() == "50.0 [computed]"


def test_status_is_an_enum_stored_as_the_stores_word():
    assert TrialStatus("done") is TrialStatus.finished and TrialStatus.finished == "done"
    with pytest.raises(ValueError):
        TrialStatus("finished-ish")


def test_provenance_is_stored_as_kind_and_detail_and_a_bad_label_is_refused(tmp_path):
    with TrialStore(tmp_path / STORE_FILENAME) as store:
        trial_id = store.add_pending(0, 0, [1], "a", BLOCKS, 12.0, "measured (host, 1 thread)")
        store.finish(trial_id, accuracy=0.5, accuracy_provenance=Provenance("proxy", "CIFAR-10, 5 epochs"))
        trial = store.read().trials[0]
        assert trial.latency.provenance == Provenance("measured", "host, 1 thread")
        assert trial.accuracy.provenance == Provenance("proxy", "CIFAR-10, 5 epochs")
        other = store.add_pending(0, 1, [2], "b", BLOCKS)
        with pytest.raises(ValueError, match="unknown provenance kind 'guessed'"):
            store.finish(other, accuracy=0.5, accuracy_provenance="guessed (by eye)")
    with sqlite3.connect(tmp_path / STORE_FILENAME) as conn:
        conn.execute("UPDATE trials SET latency_kind = 'hearsay' WHERE id = 1")
    with pytest.raises(StoreError, match="latency_kind 'hearsay' is not one of"):
        TrialStore(tmp_path / STORE_FILENAME, read_only=True).read()


def test_provenance_parse_inverts_the_label():
    for provenance in (Provenance("predicted", "Pixel-1 model (x, y)"), Provenance("computed"),
                       Provenance("paper", "V; note")):
        assert Provenance.parse(provenance.label) == provenance
    with pytest.raises(ValueError, match="not a provenance label"):
        Provenance.parse("proxy CIFAR")
