"""The search loop: sample -> evaluate (in parallel) -> latency -> reward -> update; resumable from its store.

``run_search`` is generic: it takes any search space (anything with ``decision_sizes()`` and ``decode(tokens)``),
any evaluator (a picklable function ``job -> metrics``), any latency function and any reward. ``search_from_config``
wires the MnasNet pieces together from a YAML profile.

Resuming: every trial is written to the SQLite store as it is sampled (``pending``) and committed as it finishes;
the strategy's state is stored after every completed step. After a kill - even SIGKILL - the search reloads the last
state, re-asks the interrupted step (the seeded strategy returns the same samples, which is checked) and evaluates
only the trials that had not finished.
"""
from __future__ import annotations

import concurrent.futures as cf
import math
import multiprocessing
import os
import shutil
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

import yaml

from mnaslib.strategies import SearchStrategy, make_strategy
from mnaslib.reward import Reward, from_config as reward_from_config
from mnaslib.space import Arch, MnasNetSpace
from mnaslib.store import METRIC_COLUMNS, STORE_FILENAME, TrialStore, config_differences

PROFILES = ("ci", "laptop", "paper")
EXECUTORS = ("serial", "thread", "process", "dask")


class SearchSpace(Protocol):
    """What the loop needs of a space; ``decode`` returns an architecture with ``arch_id`` and ``block_strings()``
    (an ``Arch``, or another space's type that also has ``build_keras(input_size, num_classes, ...)``)."""

    def decision_sizes(self) -> list[tuple[str, int]]: ...
    def decode(self, tokens: Sequence[int]) -> Any: ...


@dataclass(frozen=True)
class LatencyValue:
    """A latency in ms with its provenance label (``predicted (Pixel-1 model ...)``, ``measured (...)``)."""

    ms: float
    provenance: str


@dataclass
class SearchConfig:
    """Everything that defines a search; loaded from ``mnaslib/configs/<profile>.yaml`` plus overrides."""

    profile: str = "laptop"
    seed: int = 0
    steps: int = 10
    batch_size: int = 8
    space: dict = field(default_factory=lambda: {"name": "mnasnet"})
    strategy: dict = field(default_factory=lambda: {"name": "ppo"})
    reward: dict = field(default_factory=lambda: {"name": "mnas_soft", "target_ms": 75.0})
    latency: dict = field(default_factory=lambda: {"provider": "pixel1-model"})
    proxy: dict = field(default_factory=dict)
    executor: dict = field(default_factory=lambda: {"name": "process", "workers": 2})

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "SearchConfig":
        known = set(cls.__dataclass_fields__)
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown search settings {sorted(unknown)}; known: {sorted(known)}")
        config = cls(**dict(values))
        if config.steps < 1 or config.batch_size < 1:
            raise ValueError(f"steps and batch_size must be >= 1, got {config.steps} and {config.batch_size}")
        if config.executor.get("name") not in EXECUTORS:
            raise ValueError(f"unknown executor {config.executor.get('name')!r}; choose one of {EXECUTORS}")
        return config

    def to_dict(self) -> dict:
        return asdict(self)


def load_config(profile_or_path: str | os.PathLike = "laptop", overrides: Mapping[str, Any] | None = None
                ) -> SearchConfig:
    """A profile name (``ci``, ``laptop``, ``paper``) or a YAML path, with nested ``overrides`` merged on top."""
    text_path = str(profile_or_path)
    if text_path in PROFILES:
        text = resources.files("mnaslib").joinpath("configs", f"{text_path}.yaml").read_text()
    else:
        path = Path(text_path)
        if not path.is_file():
            raise ValueError(f"no config file {path} and no profile of that name; profiles: {', '.join(PROFILES)}")
        text = path.read_text()
    values = yaml.safe_load(text) or {}
    if not isinstance(values, dict):
        raise ValueError(f"config {profile_or_path} must be a YAML mapping")
    return SearchConfig.from_dict(_merge(values, overrides or {}))


def _merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict:
    merged = dict(base)
    for key, value in overrides.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, Mapping) and isinstance(
            merged.get(key), Mapping) else value
    return merged


def make_space(config: Mapping[str, Any]):
    """The search space named in a config: ``mnasnet`` (``se: false`` gives the no-SE ablation of Table 2) or
    ``nasnet-cell`` (the cell-based space of Table 5; its other keys are passed to ``CellSpace``)."""
    options = {k: v for k, v in config.items() if k != "name"}
    name = config.get("name", "mnasnet")
    if name == "mnasnet":
        unknown = set(options) - {"se"}
        if unknown:
            raise ValueError(f"unknown mnasnet space options {sorted(unknown)}; known: ['se']")
        return MnasNetSpace(se_ratios=(0.0, 0.25) if options.get("se", True) else (0.0,))
    if name == "nasnet-cell":
        from mnaslib.cellspace import CellSpace
        return CellSpace(**options)
    raise ValueError(f"unknown search space {name!r}; known: mnasnet, nasnet-cell (or pass a space object to "
                     "run_search)")


WORKER_TASKS = 8  # children a process worker trains before it is replaced (a new one starts in about 10 s)


def make_executor(config: Mapping[str, Any]) -> cf.Executor | None:
    """``serial`` (None: evaluate in this process), ``thread``, ``process`` (spawned workers, one core each, each
    replaced after ``max_tasks_per_child`` children, default ``WORKER_TASKS``) or ``dask`` (a ``distributed``
    client: ``address`` for a cluster, else a ``LocalCluster``)."""
    name, workers = config.get("name", "process"), int(config.get("workers") or os.cpu_count() or 1)
    if name == "serial":
        return None
    if name == "thread":
        return cf.ThreadPoolExecutor(max_workers=workers)
    if name == "process":
        # A worker's memory grows with every child it trains and is not given back (about 370 MB per cell-space
        # child at the laptop profile, with or without keras.backend.clear_session; two workers reached 11 GB each
        # after 24 children), so each worker is replaced after a few children. Python 3.10 cannot do this.
        recycle = ({"max_tasks_per_child": int(config.get("max_tasks_per_child", WORKER_TASKS))}
                   if sys.version_info >= (3, 11) else {})
        return cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                      initializer=_worker_init, **recycle)
    if name == "dask":
        from distributed import Client, LocalCluster
        address = config.get("address")
        cluster = None if address else LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                    dashboard_address=None)
        client = Client(address or cluster)
        executor = client.get_executor()
        executor.mnas_owned = (client, cluster)  # closed by shutdown_executor; a remote cluster is left running
        return executor
    raise ValueError(f"unknown executor {name!r}; choose one of {EXECUTORS}")


def shutdown_executor(executor: cf.Executor | None) -> None:
    """Stop what ``make_executor`` started. Dask's executor takes no ``cancel_futures`` and leaves its client (and
    the LocalCluster we made) open, so those are closed here too."""
    if executor is None:
        return
    owned = getattr(executor, "mnas_owned", None)
    if owned is None:
        executor.shutdown(wait=True, cancel_futures=True)
        return
    client, cluster = owned
    executor.shutdown(wait=True)
    client.close()
    if cluster is not None:
        cluster.close()


def _worker_init() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from mnaslib.train import set_threads
    set_threads(1, 1)


@dataclass
class SearchResult:
    run_dir: Path
    steps_done: int
    trials: int
    failed: int
    seconds: float


def run_search(space: SearchSpace, strategy: SearchStrategy, evaluate: Callable[[dict], dict],
               latency: Callable[[Any], LatencyValue], reward: Reward, store, *, steps: int, batch_size: int,
               executor: cf.Executor | None = None, job_extra: Mapping[str, Any] | None = None,
               tensorboard_dir: str | os.PathLike | None = None, progress: bool = True,
               stop_after_trials: int | None = None) -> SearchResult:
    """Run (or resume) a search whose trials live in ``store``; returns when ``steps`` steps are complete.

    ``evaluate(job)`` gets ``{"tokens", "block_strings", "arch_id", "trial_seed", **job_extra}`` and returns the
    child's metrics (``accuracy`` ...) or raises; an exception or a non-finite accuracy makes the trial ``failed``
    with the error recorded, and the strategy is told ``None`` for it. ``stop_after_trials`` ends the call early
    (used to test resuming); the store is consistent at every trial boundary.
    """
    from tqdm.auto import tqdm

    start = time.perf_counter()
    saved = store.latest_strategy_state()
    first_step = 0
    if saved is not None:
        saved_step, blob = saved
        strategy = SearchStrategy.from_bytes(blob)
        first_step = saved_step + 1
    writer = _tensorboard(tensorboard_dir)
    finished_now = 0
    bar = tqdm(total=steps * batch_size, initial=min(first_step, steps) * batch_size, desc="search",
               disable=not progress, unit="child")
    try:
        for step in range(first_step, steps):
            batch = strategy.ask(batch_size)
            trials = _trials_of_step(store, step, batch, space)
            todo = [t for t in trials if t["status"] in ("pending", "running")]
            done_before = len(trials) - len(todo)
            bar.update(done_before)
            jobs = {t["id"]: {"tokens": t["tokens"], "block_strings": t["block_strings"], "arch_id": t["arch_id"],
                              "trial_seed": _trial_seed(store, step, t["index_in_step"]), **(job_extra or {})}
                    for t in todo}
            for trial_id, outcome in _evaluate_all(jobs, evaluate, executor):
                _record(store, trial_id, outcome, space, latency, reward, jobs[trial_id]["tokens"])
                bar.update(1)
                finished_now += 1
                if stop_after_trials is not None and finished_now >= stop_after_trials:
                    return SearchResult(Path(store.path).parent, step, finished_now, 0, time.perf_counter() - start)
            rows = {t["id"]: t for t in _step_trials(store, step)}
            rewards = [rows[t["id"]]["reward"] if rows[t["id"]]["status"] == "done" else None for t in trials]
            stats = strategy.tell(batch, rewards)
            store.save_strategy_state(step, strategy.state_bytes())
            _log_step(store, writer, step, rows.values(), stats)
    finally:
        bar.close()
        if writer is not None:
            writer.close()
    failed = sum(1 for t in store.trials() if t["status"] == "failed")
    return SearchResult(Path(store.path).parent, steps, len(store.trials()), failed, time.perf_counter() - start)


def _trials_of_step(store, step: int, batch: list[list[int]], space: SearchSpace) -> list[dict]:
    """The stored trials of ``step``, creating them if this step was never started; checks a resumed step asked
    the same samples as before (it must, for a seeded strategy restored from its saved state)."""
    existing = _step_trials(store, step)
    if existing:
        stored = [list(t["tokens"]) for t in sorted(existing, key=lambda t: t["index_in_step"])]
        if stored != [list(map(int, tokens)) for tokens in batch]:
            raise RuntimeError(f"resuming step {step}: the strategy asked different samples than the ones stored; "
                               "the run directory was written by a different configuration or code version")
        return sorted(existing, key=lambda t: t["index_in_step"])
    for index, tokens in enumerate(batch):
        arch = space.decode(tokens)
        store.add_pending(step, index, [int(t) for t in tokens], arch.arch_id, arch.block_strings())
    return _step_trials(store, step)


def _step_trials(store, step: int) -> list[dict]:
    return [t for t in store.trials() if t["step"] == step]


def _trial_seed(store, step: int, index: int) -> int:
    return int(store.get_meta("seed", 0)) * 1_000_003 + step * 1009 + index


def _evaluate_all(jobs: dict[int, dict], evaluate: Callable[[dict], dict], executor: cf.Executor | None):
    """Yield ``(trial_id, outcome)`` as trials finish; outcome is the metrics dict or an exception."""
    if executor is None:
        for trial_id, job in jobs.items():
            yield trial_id, _safe_call(evaluate, job)
        return
    futures = {executor.submit(_safe_call, evaluate, job): trial_id for trial_id, job in jobs.items()}
    for future in cf.as_completed(futures):
        try:
            outcome = future.result()
        except Exception as err:  # the worker process itself died (e.g. killed by the OOM killer)
            outcome = {"status": "failed", "error": f"worker failed: {type(err).__name__}: {err}"}
        yield futures[future], outcome


def _safe_call(evaluate: Callable[[dict], dict], job: dict) -> dict:
    """Run one evaluation, turning any exception into a failed outcome so one bad child never stops a search."""
    try:
        metrics = dict(evaluate(job))
    except Exception as err:
        reason = getattr(err, "reason", type(err).__name__)
        return {"status": "failed", "error": f"{reason}: {err}", "traceback": traceback.format_exc(limit=5)}
    accuracy = metrics.get("accuracy")
    if accuracy is None or not math.isfinite(float(accuracy)):
        return {"status": "failed", "error": f"diverged: accuracy is {accuracy!r}", **metrics}
    return {"status": "done", **metrics}


def _record(store, trial_id: int, outcome: dict, space: SearchSpace, latency, reward: Reward,
            tokens: list[int]) -> None:
    """Latency (of the deployment model, never the proxy child) and reward, then commit the trial; metrics the
    store has no column for go to its ``extra`` JSON."""
    if outcome["status"] != "done":
        error = outcome.get("error", "unknown error")
        store.fail(trial_id, error + ("\n" + outcome["traceback"] if outcome.get("traceback") else ""))
        return
    lat = latency(space.decode(tokens))
    metrics = {k: v for k, v in outcome.items() if k != "status"}
    columns = {k: metrics.pop(k) for k in list(metrics) if k in METRIC_COLUMNS and k != "extra"}
    columns.update(latency_ms=lat.ms, latency_provenance=lat.provenance,
                   reward=float(reward(columns["accuracy"], lat.ms)))
    if metrics:
        columns["extra"] = {**metrics.pop("extra", {}), **metrics}
    store.finish(trial_id, **columns)


def _tensorboard(directory):
    if directory is None:
        return None
    import tensorflow as tf
    return tf.summary.create_file_writer(str(directory))


def _log_step(store, writer, step: int, trials, stats: Mapping[str, float]) -> None:
    done = [t for t in trials if t["status"] == "done"]
    scalars = {f"strategy/{k}": float(v) for k, v in stats.items() if isinstance(v, (int, float))}
    if done:
        scalars.update({"trial/mean_reward": sum(t["reward"] for t in done) / len(done),
                        "trial/mean_accuracy": sum(t["accuracy"] for t in done) / len(done),
                        "trial/mean_latency_ms": sum(t["latency_ms"] for t in done) / len(done)})
    scalars["trial/failed"] = float(sum(1 for t in trials if t["status"] == "failed"))
    for tag, value in scalars.items():
        if math.isfinite(value):
            store.log_scalar(step, tag, value)
    if writer is not None:
        import tensorflow as tf
        with writer.as_default():
            for tag, value in scalars.items():
                tf.summary.scalar(tag, value, step=step)
        writer.flush()


def latency_function(config: Mapping[str, Any]) -> Callable[[Any], LatencyValue]:
    """The configured provider as ``arch -> LatencyValue`` for the deployment model (default 224x224, 1000
    classes), cached per architecture id because the search samples many duplicates."""
    from mnaslib.latency import get_provider

    options = dict(config)
    provider = get_provider(options.pop("provider", "pixel1-model"), **options)
    cache: dict[str, LatencyValue] = {}

    def latency(arch) -> LatencyValue:
        key = arch.arch_id
        if key not in cache:
            deployment = arch if isinstance(arch, Arch) else arch.build_keras(
                input_size=int(options.get("input_size", 224)), num_classes=int(options.get("num_classes", 1000)))
            result = provider.latency(deployment)
            cache[key] = LatencyValue(float(result.median_ms), str(result.provenance))
        return cache[key]

    return latency


def search_from_config(config: SearchConfig, run_dir: str | os.PathLike, *, progress: bool = True,
                       stop_after_trials: int | None = None) -> SearchResult:
    """Run or resume the MnasNet search described by ``config`` in ``run_dir`` (trials.sqlite, tensorboard/)."""
    from mnaslib.worker import evaluate_child
    from mnaslib.store import open_run

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    store = open_run(run_dir, config.to_dict(), resumable_keys=("steps", "executor"))
    store.set_meta("seed", config.seed)
    space = make_space(config.space)
    options = {k: v for k, v in config.strategy.items() if k != "name"}
    strategy = make_strategy(config.strategy.get("name", "ppo"), space.decision_sizes(), seed=config.seed, **options)
    executor = make_executor(config.executor)
    try:
        return run_search(space, strategy, evaluate_child, latency_function(config.latency),
                          reward_from_config(config.reward), store, steps=config.steps,
                          batch_size=config.batch_size, executor=executor,
                          job_extra={"space": config.space, "proxy": config.proxy},
                          tensorboard_dir=run_dir / "tensorboard", progress=progress,
                          stop_after_trials=stop_after_trials)
    finally:
        shutdown_executor(executor)


def reuse_identical_run(config: SearchConfig, run_dir: str | os.PathLike,
                        candidates: Sequence[str | os.PathLike]) -> Path | None:
    """Copy into an empty ``run_dir`` the first finished run among ``candidates`` searched with exactly ``config``.

    Two notebooks sometimes need the same search (notebook 07's multi-objective MnasNet search is notebook 03's soft
    search at the same profile and seed); a seeded search run twice only costs its time again. Reuse needs every
    setting equal (steps and executor included) and every trial finished, else nothing is copied and the search runs
    as usual. Returns the folder copied from, or None.
    """
    run_dir = Path(run_dir)
    if (run_dir / STORE_FILENAME).exists():
        return None
    wanted = config.to_dict()
    for candidate in map(Path, candidates):
        if not (candidate / STORE_FILENAME).is_file():
            continue
        with TrialStore(candidate / STORE_FILENAME) as store:
            runs, trials = store.runs(), store.trials()
        finished = [t for t in trials if t["status"] in ("done", "failed")]
        if (runs and not config_differences(runs[-1]["config"], wanted, ())
                and len(finished) == len(trials) == config.steps * config.batch_size):
            shutil.copytree(candidate, run_dir, dirs_exist_ok=True)
            return candidate
    return None
