"""Writes ``store_v1/trials.sqlite``: a tiny real search on the synthetic table, as mnaslib's schema-1 code wrote it.

Run once at commit 97835a5 (schema version 1) with ``PYTHONPATH=. python tests/data/make_store_v1.py``; the store is
kept so that every later schema is tested on a run written by the code of its time (``tests/test_trial.py``).
Nothing here comes from /work/shared: the accuracies are the seeded ``SyntheticTable``'s, the latencies the
committed Pixel-1 model's. Run again with newer code it writes that code's schema, not version 1.
"""
from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from mnaslib.search.wiring import make_latency
from mnaslib.evaluation.jobs import ChildMetrics, Job
from mnaslib.reward import get_reward
from mnaslib.search.rundir import open_run
from mnaslib.search.loop import run_search
from mnaslib.spaces.mnasnet import MnasNetSpace
from mnaslib.strategies import make_strategy
from mnaslib.tabular.synthetic import SyntheticTable

SPACE = MnasNetSpace()
LATENCY = make_latency({"provider": "pixel1-model"})
REWARD = get_reward("mnas_soft", target_ms=75.0)
TABLE = SyntheticTable(SPACE, lambda arch: LATENCY(arch).value, REWARD, seed=3)


@dataclass(frozen=True)
class TableEvaluator:
    """Each child's accuracy looked up in the seeded table; trial 5 fails, so the store holds a failed trial too
    (and the search stops after 10 trials, leaving two pending ones for a resume)."""

    def describe(self) -> str:
        return TABLE.provenance()

    def check(self) -> None:
        return None

    def data_source(self) -> dict:
        return {"table": "synthetic", "seed": TABLE.seed}

    def __call__(self, job: Job) -> ChildMetrics:
        if job.trial_id == 5:
            raise RuntimeError("a failure kept on purpose (make_store_v1.py)")
        return ChildMetrics(TABLE.accuracy(SPACE.encode(job.arch)), self.describe(), params=1000 + job.trial_id,
                            mult_adds=300_000_000 + job.trial_id, extra={"table_seed": TABLE.seed})


def main(out: Path = Path(__file__).parent / "store_v1") -> None:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    config = {"strategy": "random", "seed": 11, "steps": 3, "batch_size": 4, "reward": "mnas_soft, target 75 ms"}
    store = open_run(out, config)
    store.set_meta("seed", 11)
    run_search(SPACE, make_strategy("random", SPACE.decision_sizes(), seed=11), TableEvaluator(), LATENCY, REWARD,
               store, steps=3, batch_size=4, progress=False, stop_after_trials=10)
    store.close()
    with sqlite3.connect(out / "trials.sqlite") as conn:
        conn.execute("VACUUM")
    for side in out.glob("trials.sqlite-*"):
        side.unlink()


if __name__ == "__main__":
    main()
