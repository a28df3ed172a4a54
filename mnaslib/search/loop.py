"""The search loop: sample -> decode -> latency -> evaluate (in parallel) -> reward -> update; resumable.

``run_search`` is generic: any search space (``decision_sizes()``, ``decode(tokens)``), any ``Evaluator``
(``Job -> ChildMetrics``: trained children or a tabular benchmark), any latency function (``arch -> Labelled``
milliseconds) and any reward. ``search_from_profile`` (``mnaslib.search.wiring``) wires them from a ``Profile``.

Each sampled architecture is decoded once, in this process; its deployment latency is computed at sampling time and
stored with the pending trial, and the executor gets a frozen ``Job``. An architecture the search has already
evaluated is not evaluated again (unless ``reevaluate``): the new trial is recorded with the earlier result and
``extra.reused_from`` naming the trial it came from, so sample counts stay honest. That rule and how a step is told
to the strategy are ``strategies.reuse``'s, which ``strategies.optimize`` follows too.

Resuming: every trial is written to the store when it is sampled (``pending``) and again when it ends; the
strategy's state and the step's curves are saved together after every completed step. After a kill - even SIGKILL -
the search reloads the last state, re-asks the interrupted step (the seeded strategy returns the same samples, which
is checked) and evaluates only the trials that had not finished. A failure of one child (diverged, out of memory,
a latency or reward that cannot be computed) is recorded on that trial and never stops the search; a worker
process that dies fails only the trial it was running (a Dask worker's child is given to another worker by Dask); a
step whose every child failed stops the search with the first error, since the next step would fail the same way.
A lost Dask scheduler (``ClusterLost``) or a worker that cannot evaluate at all (``WorkerUnfit``: its data set
missing) stops the search like an interrupt, its unfinished trials kept for a resume.
"""
from __future__ import annotations

import concurrent.futures as cf
import math
import os
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mnaslib.errors import UserError
from mnaslib.search.executors import ClusterLost, dask_job_failure, data_variables, shutdown_executor, where_this_runs
from mnaslib.evaluation.jobs import ChildMetrics, Evaluator, Job
from mnaslib.labels import Labelled
from mnaslib.reward import Reward
from mnaslib.seeds import trial_seed
from mnaslib.search.store import TrialStore
from mnaslib.search.store_schema import damaged
from mnaslib.strategies import SearchStrategy
from mnaslib.strategies.reuse import ReuseCache, tell_step
from mnaslib.search.trial import UNFINISHED, TrialStatus, provenance_of
from mnaslib.quiet import progress_bar

FINISHED = TrialStatus.finished

WORKER_DIED = "worker died (oom?): the process evaluating this child ended abruptly"
ExecutorSpec = cf.Executor | Callable[[], "cf.Executor | None"] | None


class SearchSpace(Protocol):
    """What the loop needs of a space; ``decode`` returns a ``Buildable`` architecture."""

    def decision_sizes(self) -> list[tuple[str, int]]: ...
    def decode(self, tokens: Sequence[int]) -> Any: ...


class SearchFailed(UserError, RuntimeError):
    """Every child of a step failed: the cause is systematic (data, settings), and the next step would fail too."""


class SearchInterrupted(RuntimeError):
    """The search was stopped (Ctrl-C, SIGTERM); its finished trials are kept and a resume continues it."""


class WorkerUnfit(UserError, RuntimeError):
    """A worker cannot evaluate any child (the data set is missing on its machine): the search stops, naming the
    worker, and no trial is failed for it.

    Why stop rather than fail the trial and go on: such a worker fails each child in a second and takes the next,
    so it would fail most of the search while the healthy workers train; fixed, the same command resumes it.
    """


@dataclass
class SearchResult:
    run_dir: Path
    steps_done: int
    trials: int
    failed: int
    seconds: float
    reused: int = 0


def run_search(space: SearchSpace, strategy: SearchStrategy, evaluate: Evaluator, latency: Callable[[Any], Labelled],
               reward: Reward, store: TrialStore, *, steps: int, batch_size: int, executor: ExecutorSpec = None,
               reevaluate: bool = False, retry_failed: bool = False, tensorboard_dir: str | os.PathLike | None = None,
               progress: bool = True, stop_after_trials: int | None = None) -> SearchResult:
    """Run (or resume) a search whose trials live in ``store``; returns when ``steps`` steps are complete.

    ``executor`` is None (evaluate here), an executor (the caller owns it) or a zero-argument factory (the loop owns
    what it makes, and replaces a process pool whose worker died). ``retry_failed`` evaluates earlier failed trials
    again (their step's controller update is not redone). ``stop_after_trials`` ends the call early (used to test
    resuming); the store is consistent at every trial boundary.
    """
    start = time.perf_counter()
    saved = store.latest_strategy_state()
    first_step = 0
    if saved is not None:
        saved_step, blob = saved
        try:
            strategy = SearchStrategy.from_bytes(blob)
        except Exception as err:  # any failure to rebuild the saved bytes means they are not what a search wrote
            raise damaged(store.path, "strategy_state", f"step {saved_step}",
                          f"the controller state cannot be read ({type(err).__name__}: {err})") from None
        first_step = saved_step + 1
    stale = [t["id"] for t in store.trials("running")]  # running when an earlier search was killed
    if stale:
        store.requeue(stale, "its search was stopped while it ran; evaluated again on resume")
    if retry_failed:
        store.reset_failed()
    pool = _Pool(executor)
    loop = _Loop(space, evaluate, latency, reward, store, pool, reevaluate, stop_after_trials)
    writer = _tensorboard(tensorboard_dir)
    bar = progress_bar(total=steps * batch_size, initial=min(first_step, steps) * batch_size, desc="search",
               disable=not progress, unit="child")
    loop.bar = bar
    try:
        loop.evaluate([t for t in store.pending() if t["step"] < first_step])  # retried trials of earlier steps
        for step in range(first_step, steps):
            batch = strategy.ask(batch_size)
            trials = loop.trials_of_step(step, batch)
            bar.update(sum(1 for t in trials if t["status"] not in UNFINISHED))
            if loop.evaluate([t for t in trials if t["status"] in UNFINISHED]):
                return loop.result(step, start)
            rows = {t["id"]: t for t in store.trials(step=step)}
            if rows and all(t["status"] == TrialStatus.failed for t in rows.values()):
                first = next(iter(rows.values()))
                raise SearchFailed(f"every child of step {step} failed, so the next step would fail too; first "
                                   f"error: {first['error'].splitlines()[0]}. Fix the cause and run the same command "
                                   f"with --retry-failed (run directory {Path(store.path).parent})")
            rewards = [rows[t["id"]]["reward"] if rows[t["id"]]["status"] == FINISHED else None for t in trials]
            metrics = [{"accuracy": rows[t["id"]]["accuracy"], "latency": rows[t["id"]]["latency_ms"]}
                       for t in trials]
            stats = tell_step(strategy, batch, rewards, metrics)
            scalars = _step_scalars(rows.values(), stats)
            store.save_step(step, strategy.state_bytes(), scalars)
            _write_tensorboard(writer, step, scalars)
    except KeyboardInterrupt:
        finished = _stop(pool, store, "interrupted")
        raise SearchInterrupted(f"search interrupted: {finished} finished trials are kept in {store.path}; run the "
                                "same command again to resume") from None
    except ClusterLost as err:
        finished = _stop(pool, store, "its Dask scheduler was lost")
        raise ClusterLost(f"{err}. {finished} finished trials are kept in {store.path}; start a scheduler and its "
                          "workers, then run the same command again to resume (with --set "
                          "executor.address=tcp://HOST:PORT if the scheduler moved)") from None
    except WorkerUnfit as err:
        finished = _stop(pool, store, "a worker could not evaluate children")
        raise WorkerUnfit(f"{err}. Give that machine what this one has (or stop its worker), then run the same "
                          f"command again to resume; {finished} finished trials are kept in {store.path}") from None
    finally:
        bar.close()
        pool.shutdown()
        if writer is not None:
            writer.close()
    store.check_identity()
    return loop.result(steps, start)


def _stop(pool: "_Pool", store: TrialStore, why: str) -> int:
    """Stop evaluating now and mark the unfinished trials for a resume; returns how many trials are finished."""
    pool.shutdown(now=True)
    unfinished = [t["id"] for t in store.pending()]
    store.requeue(unfinished, f"{why} at {time.strftime('%Y-%m-%d %H:%M:%S')}; a resume evaluates it")
    return len(store.trials()) - len(unfinished)


class _Pool:
    """The executor the loop submits to; a factory-made process pool is replaced when one of its workers dies."""

    def __init__(self, spec: ExecutorSpec) -> None:
        self._factory = spec if callable(spec) and not isinstance(spec, cf.Executor) else None
        self.executor: cf.Executor | None = self._factory() if self._factory else spec  # type: ignore[assignment]

    def replace(self) -> bool:
        """A fresh pool after a crash (False when the caller owns the executor and it cannot be replaced)."""
        if self._factory is None:
            return False
        shutdown_executor(self.executor, now=True)
        self.executor = self._factory()
        return True

    def shutdown(self, now: bool = False) -> None:
        if self._factory is not None:
            shutdown_executor(self.executor, now=now)
            self._factory = None
            self.executor = None


class _Loop:
    """One search's evaluation machinery: sampling records, the evaluation cache, job dispatch, trial records."""

    def __init__(self, space, evaluate, latency, reward, store, pool: _Pool, reevaluate: bool,
                 stop_after_trials: int | None) -> None:
        self.space, self.evaluate_fn, self.latency, self.reward = space, evaluate, latency, reward
        self.store, self.pool, self.stop_after = store, pool, stop_after_trials
        self.finished_now = 0
        self.bar: Any = None
        self.seed = run_seed(store)
        # the first finished evaluation of each architecture, filled from the store so that a resume reuses too
        self.cache: ReuseCache[dict] = ReuseCache(enabled=not reevaluate)
        for row in store.trials(FINISHED):
            if not (row["extra"] or {}).get("reused_from"):
                self.cache.keep(row["arch_id"], row)

    def trials_of_step(self, step: int, batch: list[list[int]]) -> list[dict]:
        """The stored trials of ``step``, creating them (decoded once, latency now) if the step never started;
        checks that a resumed step asked the same samples as before (it must, for a seeded strategy)."""
        existing = self.store.trials(step=step)
        if existing:
            stored = [list(t["tokens"]) for t in existing]
            if stored != [list(map(int, tokens)) for tokens in batch]:
                raise RuntimeError(f"resuming step {step}: the strategy asked different samples than the ones "
                                   "stored; the run directory was written by a different configuration or code "
                                   "version")
            return existing
        for index, tokens in enumerate(batch):
            arch = self.space.decode(tokens)
            try:
                latency = self.latency(arch)
                value, label = float(latency.value), latency.label
                if not math.isfinite(value) or value <= 0:
                    raise ValueError(f"latency must be a positive number of ms, got {latency.value!r}")
            except Exception as err:  # recorded on the trial: one network the provider cannot handle
                trial_id = self.store.add_pending(step, index, [int(t) for t in tokens], arch.arch_id,
                                                  arch.block_strings())
                self.store.fail(trial_id, f"latency: {type(err).__name__}: {err}")
                continue
            self.store.add_pending(step, index, [int(t) for t in tokens], arch.arch_id, arch.block_strings(),
                                   value, label)
        return self.store.trials(step=step)

    def evaluate(self, trials: list[dict]) -> bool:
        """Evaluate unfinished trials (from the cache where possible); True when ``stop_after_trials`` is reached.

        Two trials of one architecture in the same batch are evaluated once: the second waits for the first and
        takes its result (or its failure)."""
        jobs: dict[int, tuple[Job, dict]] = {}
        waiting: list[tuple[dict, int]] = []
        dispatched: dict[str, int] = {}
        for trial in trials:
            earlier = self.cache.get(trial["arch_id"])
            if earlier is not None and earlier["id"] != trial["id"]:
                self._record(trial, _reused_metrics(earlier))
                if self._count():
                    return True
            elif trial["arch_id"] in dispatched and self.cache.enabled:
                waiting.append((trial, dispatched[trial["arch_id"]]))
            else:
                dispatched[trial["arch_id"]] = trial["id"]
                seed = trial_seed(self.seed, trial["step"], trial["index_in_step"])
                jobs[trial["id"]] = (Job(trial["id"], self.space.decode(trial["tokens"]), seed,
                                         str(self.store.path)), trial)
        for trial_id, outcome in self._dispatch({i: job for i, (job, _) in jobs.items()}):
            self._record(jobs[trial_id][1], outcome)
            if self._count():
                return True
        for trial, first_id in waiting:
            first = self.store.trial(first_id)
            self._record(trial, _reused_metrics(first) if first["status"] == FINISHED else
                         f"same architecture as trial {first_id}, which failed: {first['error']}")
            if self._count():
                return True
        return False

    def _count(self) -> bool:
        self.finished_now += 1
        if self.bar is not None:
            self.bar.update(1)
        return self.stop_after is not None and self.finished_now >= self.stop_after

    def _dispatch(self, jobs: dict[int, Job]) -> Iterator[tuple[int, ChildMetrics | str]]:
        """``(trial_id, metrics or error text)`` as children finish; a dead worker fails only its running trial and
        the others are evaluated on a fresh pool."""
        executor = self.pool.executor
        if executor is None:
            for trial_id, job in jobs.items():
                self.store.mark_running(trial_id)
                yield trial_id, _safe_call(self.evaluate_fn, job)
            return
        remaining = dict(jobs)
        while remaining:
            futures = {self.pool.executor.submit(_run_job, self.evaluate_fn, job): trial_id
                       for trial_id, job in remaining.items()}
            try:
                for future in cf.as_completed(futures):
                    trial_id = futures[future]
                    outcome = _outcome(future, self.pool.executor)
                    del remaining[trial_id]
                    yield trial_id, outcome
            except BrokenProcessPool:
                running = {t["id"] for t in self.store.trials("running")} & set(remaining)
                for trial_id in running:
                    del remaining[trial_id]
                    yield trial_id, WORKER_DIED
                if not self.pool.replace():
                    for trial_id in list(remaining):
                        del remaining[trial_id]
                        yield trial_id, WORKER_DIED

    def _record(self, trial: dict, outcome: ChildMetrics | str) -> None:
        """Reward and commit a trial (or record why it failed); metrics without a column go to ``extra``."""
        if isinstance(outcome, str):
            self.store.fail(trial["id"], outcome)
            return
        try:
            value = float(self.reward(outcome.accuracy, trial["latency_ms"]))
            if not math.isfinite(value):
                raise ValueError(f"reward is {value!r}")
        except Exception as err:
            self.store.fail(trial["id"], f"reward: {type(err).__name__}: {err}")
            return
        self.store.finish(trial["id"], accuracy=outcome.accuracy, reward=value, params=outcome.params,
                          trainable_params=outcome.trainable_params, mult_adds=outcome.mult_adds,
                          train_seconds=outcome.train_seconds, eval_seconds=outcome.eval_seconds,
                          accuracy_provenance=outcome.accuracy_provenance, extra=outcome.extra)
        if self.cache.enabled and self.cache.get(trial["arch_id"]) is None:
            self.cache.keep(trial["arch_id"], self.store.trial(trial["id"]))

    def result(self, steps_done: int, start: float) -> SearchResult:
        trials = self.store.trials()
        return SearchResult(Path(self.store.path).parent, steps_done, len(trials),
                            sum(1 for t in trials if t["status"] == TrialStatus.failed), time.perf_counter() - start,
                            sum(1 for t in trials if (t["extra"] or {}).get("reused_from")))


def _reused_metrics(earlier: dict) -> ChildMetrics:
    label = str(provenance_of(earlier, "accuracy") or "")
    return ChildMetrics(earlier["accuracy"], label, earlier["params"], earlier["trainable_params"],
                        earlier["mult_adds"], 0.0, 0.0, {**(earlier["extra"] or {}), "reused_from": earlier["id"]})


def _outcome(future: cf.Future, executor: cf.Executor | None) -> ChildMetrics | str:
    """A finished job's metrics or error text (``_run_job``'s result); a Dask cluster's own failure for it
    (``mnaslib.search.executors.dask_job_failure``) is the trial's error text, or raised when the cluster itself is
    gone."""
    try:
        return future.result()
    except (BrokenProcessPool, WorkerUnfit):
        raise
    except Exception as err:
        if getattr(executor, "mnas_owned", None) is None:
            raise
        return f"{WORKER_DIED}: {dask_job_failure(executor, err)}"


_CHECKED: set[str] = set()  # the evaluators this worker process has checked (their data loaded)


def _run_job(evaluate: Evaluator, job: Job) -> ChildMetrics | str:
    """What an executor runs: check once per process that this worker can evaluate at all (``WorkerUnfit``: on
    another machine the data set may be missing), note in the store that the job started (so that a worker that
    dies fails only the trial it was running, see ``WORKER_DIED``), then evaluate it."""
    if repr(evaluate) not in _CHECKED:
        try:
            evaluate.check()
        except Exception as err:
            first = (str(err).strip() or type(err).__name__).splitlines()[0]
            raise WorkerUnfit(f"{where_this_runs()} cannot evaluate children: {first} ({data_variables()})") from None
        _CHECKED.add(repr(evaluate))
    if job.store_path is not None and Path(job.store_path).exists():
        with TrialStore(job.store_path) as store:
            store.mark_running(job.trial_id)
    return _safe_call(evaluate, job)


def _safe_call(evaluate: Evaluator, job: Job) -> ChildMetrics | str:
    """One evaluation, any exception turned into the error text of a failed trial: one bad child never stops a
    search."""
    try:
        metrics = evaluate(job)
        if not isinstance(metrics, ChildMetrics):
            raise TypeError(f"an evaluator returns ChildMetrics, got {type(metrics).__name__}")
        return metrics
    except Exception as err:
        reason = str(err) if hasattr(err, "reason") else f"{type(err).__name__}: {err}"
        return reason + "\n" + traceback.format_exc(limit=5)


def run_seed(store: TrialStore) -> int:
    """The run's seed, stored once: its config's (``rundir.open_run`` records it, a resume cannot change it; 0 where
    the config names none, a profile's default); every trial's seed is derived from it (``mnaslib.seeds``)."""
    runs = store.runs()
    if not runs:
        raise ValueError(f"{store.path} records no run configuration (open it with rundir.open_run): no seed")
    return int(runs[-1]["config"].get("seed", 0))


def _step_scalars(trials, stats: Mapping[str, float]) -> dict[str, float]:
    done = [t for t in trials if t["status"] == FINISHED]
    scalars = {f"strategy/{k}": float(v) for k, v in stats.items() if isinstance(v, (int, float))}
    if done:
        scalars.update({"trial/mean_reward": sum(t["reward"] for t in done) / len(done),
                        "trial/mean_accuracy": sum(t["accuracy"] for t in done) / len(done),
                        "trial/mean_latency_ms": sum(t["latency_ms"] for t in done) / len(done)})
    scalars["trial/failed"] = float(sum(1 for t in trials if t["status"] == TrialStatus.failed))
    return {tag: value for tag, value in scalars.items() if math.isfinite(value)}


def _tensorboard(directory):
    if directory is None:
        return None
    import tensorflow as tf
    return tf.summary.create_file_writer(str(directory))


def _write_tensorboard(writer, step: int, scalars: Mapping[str, float]) -> None:
    if writer is None:
        return
    import tensorflow as tf
    with writer.as_default():
        for tag, value in scalars.items():
            tf.summary.scalar(tag, value, step=step)
    writer.flush()
