"""From a ``Profile`` to its search: run or resume it, record it, or reuse an identical finished run.

The parts a search needs (space, strategy, reward, deployment latency, evaluator, executor) are built once, when
the profile is loaded (``Profile.parts``, ``mnaslib.search.parts``); this module wires them to the run directory and the
search loop. ``make_space``, ``make_evaluator``, ``make_latency``, ``proxy_task``, ``search_space`` and
``deployment_options`` are ``mnaslib.search.parts``' builders under the names the notebooks use.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from mnaslib.search.executors import check_executor
from mnaslib.search.parts import (PREDICTOR, deployment_options, make_evaluator, make_latency, make_space, proxy_task,
                                  search_space)
from mnaslib.search.profile import Profile
from mnaslib.search.rundir import PID_FILENAME, TENSORBOARD_DIR, check_run_dir, config_differences, open_run
from mnaslib.search.loop import SearchResult, run_search
from mnaslib.search.store import STORE_FILENAME, TrialStore
from mnaslib.search.stored import require_finished_search

if TYPE_CHECKING:
    from mnaslib.evaluation.jobs import Evaluator

__all__ = ["PREDICTOR", "deployment_options", "make_evaluator", "make_latency",
           "make_space", "proxy_task", "reuse_identical_run", "run_record", "search_from_profile", "search_space"]


def run_record(profile: Profile, evaluator: "Evaluator", reevaluate: bool = False) -> dict:
    """What a run directory records about its search: the profile's search sections, where the accuracies come
    from (the data set and its fingerprint, or the benchmark file), and whether repeats are re-evaluated. A resume
    must match all of it but the resumable keys."""
    return {**profile.to_dict(), "data": evaluator.data_source(), "reevaluate": bool(reevaluate)}


def search_from_profile(profile: Profile, run_dir: str | os.PathLike, *, progress: bool = True,
                        stop_after_trials: int | None = None, reevaluate: bool = False, retry_failed: bool = False,
                        log: Callable[[str], None] | None = None) -> SearchResult:
    """Run or resume the search ``profile`` describes in ``run_dir`` (trials.sqlite, tensorboard/).

    Order matters for a user's mistakes: the profile is already validated, then the evaluator checks its data
    (every child would fail otherwise), and only then is the run directory locked and opened. A profile with
    ``stored_runs`` (``class``) only reads a finished search there, writing nothing; a missing one is a
    ``StoredRunMissing`` naming the command that makes it.
    """
    run_dir = check_run_dir(run_dir)
    if profile.stored_runs is not None:  # teaching from stored runs: read the finished search, never extend it
        children = require_finished_search(profile, run_dir)
        if log is not None:
            log(f"reading the stored search in {run_dir}: {children} finished children")
        return SearchResult(run_dir, profile.steps, children, 0, 0.0)
    parts = profile.parts
    check_executor(parts.executor, parts.executor_options)
    evaluator = parts.evaluator
    evaluator.check()
    store = open_run(run_dir, run_record(profile, evaluator, reevaluate), resumable_keys=profile.RESUMABLE_KEYS)
    try:
        finished = sum(not t.unfinished for t in store.read().trials)
        if log is not None:
            log(f"resuming the search in {run_dir}: {finished} finished trials kept" if finished else
                f"new search in {run_dir}: {profile.steps} steps x {profile.batch_size} children, "
                f"{evaluator.describe()}")
        strategy = parts.make_strategy(profile.seed)
        # a benchmark lookup or a prediction takes microseconds: worker processes would only add their start-up
        in_process = profile.benchmark is not None or getattr(evaluator, "in_process", False)
        executor = None if in_process else parts.make_executor
        return run_search(parts.space, strategy, evaluator, parts.latency.fresh(), parts.reward, store,
                          steps=profile.steps, batch_size=profile.batch_size, executor=executor,
                          reevaluate=reevaluate, retry_failed=retry_failed, tensorboard_dir=run_dir / TENSORBOARD_DIR,
                          progress=progress, stop_after_trials=stop_after_trials)
    finally:
        store.close()


def reuse_identical_run(profile: Profile, run_dir: str | os.PathLike,
                        candidates: Sequence[str | os.PathLike]) -> Path | None:
    """Copy into an empty ``run_dir`` the first finished run among ``candidates`` searched with exactly ``profile``.

    Two notebooks sometimes need the same search (notebook 07's multi-objective MnasNet search is notebook 03's soft
    search at the same profile and seed); a seeded search run twice only costs its time again. Reuse needs every
    search setting equal (steps and executor included) and every trial finished, else nothing is copied and the
    search runs as usual. Returns the folder copied from, or None.
    """
    run_dir = Path(run_dir)
    if (run_dir / STORE_FILENAME).exists():
        return None
    wanted = profile.to_dict()
    for candidate in map(Path, candidates):
        if not (candidate / STORE_FILENAME).is_file():
            continue
        with TrialStore(candidate / STORE_FILENAME, read_only=True) as store:
            run = store.read()
        finished = [t for t in run.trials if not t.unfinished]
        stored = {k: v for k, v in run.config.items() if k in wanted}
        if (run.config and not config_differences(stored, wanted, ("profile",))
                and len(finished) == len(run.trials) == profile.steps * profile.batch_size):
            shutil.copytree(candidate, run_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(PID_FILENAME))
            return candidate
    return None
