"""From a ``Profile`` to running parts: the space, strategy, reward, deployment latency, evaluator and executor.

``check_profile`` builds each once (cheaply: no TensorFlow graph, no data) so that ``load_profile`` refuses a bad
profile before anything touches the disk; ``search_from_profile`` runs or resumes the search it describes.
"""
from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from mnaslib.buildable import DEPLOYMENT, BuildOptions, Buildable, as_int
from mnaslib.errors import UserError, shown
from mnaslib.labels import Labelled

if TYPE_CHECKING:
    from mnaslib.jobs import Evaluator
    from mnaslib.latency.base import LatencyProvider
    from mnaslib.profile import Profile
    from mnaslib.search import SearchResult
    from mnaslib.strategies import SearchStrategy
    from mnaslib.train import ProxyTask

SPACES = ("mnasnet", "nasnet-cell")
PREDICTOR = "accel-predictor"  # the evaluator name of mnaslib.tabular.evaluator.PredictorEvaluator
PROXY_LIMITS = {"image_size": 1024, "epochs": 1000, "batch_size": 65_536, "val_size": 10_000_000,
                "max_train": 100_000_000, "width_multiplier": 16}
PROXY_FRACTIONS = {"warmup_fraction": (0.0, 1.0, True), "label_smoothing": (0.0, 1.0, False),
                   "bn_momentum": (0.0, 1.0, False)}  # (lowest, highest, highest allowed)


def make_space(config: Mapping[str, Any]):
    """The search space a ``space`` section names: ``mnasnet`` (``se: false`` gives the no-SE ablation of Table 2)
    or ``nasnet-cell`` (the cell-based space of Table 5; its other keys are ``CellSpace``'s)."""
    options = {k: v for k, v in config.items() if k != "name"}
    name = config.get("name", "mnasnet")
    if name == "mnasnet":
        unknown = set(options) - {"se"}
        if unknown:
            raise UserError(f"unknown mnasnet space options {sorted(unknown)}; known: ['se']")
        if not isinstance(options.get("se", True), bool):
            raise UserError(f"space.se must be true or false, got {options['se']!r}")
        from mnaslib.space import MnasNetSpace

        return MnasNetSpace(se_ratios=(0.0, 0.25) if options.get("se", True) else (0.0,))
    if name == "nasnet-cell":
        from mnaslib.cellspace import CellSpace

        try:
            return CellSpace(**options)
        except TypeError as err:
            raise UserError(f"bad nasnet-cell space options {options}: {err}") from None
    raise UserError(f"unknown search space {name!r}; known: {', '.join(SPACES)} (or set benchmark: to search a "
                    "tabular benchmark's own space)")


def check_strategy(config: Mapping[str, Any]) -> None:
    """The strategy section, validated without building the controller (which would load TensorFlow)."""
    from mnaslib.strategies import check_strategy_options

    name, options = config.get("name", "ppo"), {k: v for k, v in config.items() if k != "name"}
    check_strategy_options(name, options)
    if name == "evolution":
        population = as_int(options.get("population_size", 64), "strategy.population_size")
        sample = as_int(options.get("sample_size", 16), "strategy.sample_size")
        if population < 2 or not 1 <= sample <= population:
            raise UserError(f"evolution needs population_size >= 2 and 1 <= sample_size <= population_size, got "
                            f"{population} and {sample}")


def make_strategy(config: Mapping[str, Any], space, seed: int) -> "SearchStrategy":
    from mnaslib.strategies import make_strategy as build

    options = {k: v for k, v in config.items() if k != "name"}
    return build(config.get("name", "ppo"), space.decision_sizes(), seed=seed, **options)


def make_reward(config: Mapping[str, Any]):
    from mnaslib.reward import from_config

    return from_config(config)


@dataclass
class DeploymentLatency:
    """``arch -> Labelled`` milliseconds of the deployment network (never the proxy child) under a provider,
    cached per architecture id because a search samples many duplicates."""

    provider: "LatencyProvider"
    options: BuildOptions = DEPLOYMENT
    _cache: dict[str, Labelled] = field(default_factory=dict, repr=False)

    def __call__(self, arch: Buildable) -> Labelled:
        if arch.arch_id not in self._cache:
            result = self.provider.latency_of(arch, self.options)
            self._cache[arch.arch_id] = Labelled(float(result.median_ms), str(result.provenance), "{:.1f}")
        return self._cache[arch.arch_id]


def make_latency(config: Mapping[str, Any], deployment: BuildOptions = DEPLOYMENT) -> DeploymentLatency:
    """The ``latency`` section as a ``DeploymentLatency``; ``input_size``/``num_classes`` there override the
    space's deployment network (224x224, 1000 classes for the MnasNet and cell spaces)."""
    from mnaslib.latency import get_provider

    options = dict(config)
    name = options.pop("provider", "pixel1-model")
    build = {key: as_int(options.pop(key), f"latency.{key}") for key in ("input_size", "num_classes")
             if key in options}
    return DeploymentLatency(get_provider(name, **options), deployment.replace(**build))


def proxy_task(config: Mapping[str, Any], seed: int = 0) -> "ProxyTask":
    """The ``proxy`` section as a ``ProxyTask``, every value checked against the type the task declares."""
    from mnaslib.data import DATASETS
    from mnaslib.train import ProxyTask

    values = dict(config)
    known = {f.name: f for f in fields(ProxyTask)}
    unknown = set(values) - set(known)
    if unknown:
        raise UserError(f"unknown proxy settings {sorted(unknown)}; known: {sorted(known)}")
    for key, value in values.items():
        values[key] = _typed(value, str(known[key].type), f"proxy.{key}")
    task = ProxyTask(**{**values, "seed": seed})
    if task.dataset not in DATASETS:
        raise UserError(f"unknown proxy.dataset {task.dataset!r}; known: {', '.join(DATASETS)}")
    for key in ("image_size", "epochs", "batch_size", "val_size"):
        if getattr(task, key) < 1:
            raise UserError(f"proxy.{key} must be >= 1, got {getattr(task, key)}")
    for key, high in PROXY_LIMITS.items():
        if getattr(task, key) is not None and getattr(task, key) > high:
            raise UserError(f"proxy.{key} must be at most {high:,}, got {getattr(task, key):,}")
    if task.max_train is not None and task.max_train < 1:
        raise UserError(f"proxy.max_train must be >= 1 (or null: all of it), got {task.max_train}")
    for key in ("width_multiplier", "learning_rate"):
        if not 0 < getattr(task, key) < math.inf:
            raise UserError(f"proxy.{key} must be a positive number, got {getattr(task, key)}")
    for key, (low, high, closed) in PROXY_FRACTIONS.items():
        value = getattr(task, key)
        if not (low <= value <= high if closed else low <= value < high):
            raise UserError(f"proxy.{key} must be in [{low}, {high}{']' if closed else ')'}, got {value}")
    if task.stem_stride not in (None, 1, 2):
        raise UserError(f"proxy.stem_stride must be 1, 2 or null (chosen from image_size), got {task.stem_stride}")
    return task


def _typed(value: Any, annotation: str, what: str) -> Any:
    """``value`` checked against a dataclass field's annotation (``int``, ``float``, ``str``, ``bool``, ``| None``)."""
    if value is None and "None" in annotation:
        return None
    base = annotation.split("|")[0].strip()
    if base == "int":
        return as_int(value, what)
    if base == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"{what} must be a number, got {shown(value)}")
        return float(value)
    if base == "bool" and not isinstance(value, bool):
        raise UserError(f"{what} must be true or false, got {shown(value)}")
    if base == "str" and not isinstance(value, str):
        raise UserError(f"{what} must be text, got {shown(value)}")
    return value


def make_evaluator(profile: "Profile") -> "Evaluator":
    """Trained children on the proxy task, children scored at initialisation (``evaluator: naswot``), children
    scored by the accuracy predictor learnt from Accel-NASBench (``evaluator: accel-predictor``), or the profile's
    tabular benchmark."""
    if profile.benchmark is not None:
        from mnaslib.tabular.evaluator import BenchmarkEvaluator

        return BenchmarkEvaluator(**_evaluator_options(profile.benchmark))
    from mnaslib.worker import ProxyEvaluator, ZeroCostEvaluator

    task = proxy_task(profile.proxy, profile.seed)
    options = dict(profile.evaluator or {"name": "trained"})
    name = options.pop("name")
    if name in ("trained", PREDICTOR) and options:
        raise UserError(f"evaluator {name} takes no options, got {sorted(options)}")
    if name == "trained":
        return ProxyEvaluator(task)
    if name == PREDICTOR:
        if profile.space.get("name", "mnasnet") != "mnasnet":
            raise UserError(f"evaluator {PREDICTOR} scores MnasNet-space networks, not {profile.space['name']}; "
                            "use evaluator naswot or trained for this space")
        from mnaslib.tabular.evaluator import PredictorEvaluator

        return PredictorEvaluator()
    images = as_int(options.get("images", 64), "evaluator.images")
    width = _typed(options.get("width_multiplier", 1.0), "float", "evaluator.width_multiplier")
    return ZeroCostEvaluator(task, images=images, width_multiplier=width)


def _evaluator_options(benchmark: Mapping[str, Any]) -> dict:
    return {key: value for key, value in benchmark.items() if key != "space"}


def search_space(profile: "Profile"):
    """The profile's search space: its ``space`` section, or its benchmark's own space."""
    if profile.benchmark is None:
        return make_space(profile.space)
    from mnaslib.tabular.evaluator import benchmark_space

    name = profile.benchmark["name"]
    if profile.space.get("name", "mnasnet") not in ("mnasnet", name) or len(profile.space) > 1:
        raise UserError(f"benchmark {name} searches its own space; remove the space section {profile.space} (or "
                        f"set space.name: {name})")
    return benchmark_space(name, profile.benchmark.get("space"))


def deployment_options(profile: "Profile") -> BuildOptions:
    """The network whose latency the reward uses: the benchmark's own, else 224x224 with 1000 classes."""
    if profile.benchmark is None:
        return DEPLOYMENT
    from mnaslib.tabular.evaluator import benchmark_deployment

    return benchmark_deployment(profile.benchmark["name"])


def check_profile(profile: "Profile") -> None:
    """Build every part of a profile once (raises ValueError naming the bad setting)."""
    search_space(profile)
    check_strategy(profile.strategy)
    make_reward(profile.reward)
    make_latency(profile.latency, deployment_options(profile))
    if profile.benchmark is None:
        make_evaluator(profile)
        _check_proxy_child(profile)
    else:
        from mnaslib.tabular.evaluator import BenchmarkEvaluator

        BenchmarkEvaluator(**_evaluator_options(profile.benchmark))


def _check_proxy_child(profile: "Profile") -> None:
    """Build one child of the space analytically at the proxy's settings, so a proxy that no child could be built
    at (maps below one pixel, a width too large for memory) is refused now, not by every child of the search."""
    from mnaslib.netsize import check_network_size
    from mnaslib.space import MnasNetSpace

    space = make_space(profile.space)
    if not isinstance(space, MnasNetSpace):
        return  # the cell space checks its input size itself
    task = proxy_task(profile.proxy, profile.seed)
    child = space.decode([0] * len(space.decision_sizes()))
    options = BuildOptions(depth_multiplier=task.width_multiplier, input_size=task.image_size, num_classes=10,
                           stem_stride=task.resolved_stem_stride)
    try:
        check_network_size(child, options)
    except UserError as err:
        raise UserError(f"proxy: {err}") from None


# Where the same data lies may change between a run and its resume (a moved folder); what it is may not: the data's
# name and content fingerprint are checked, its path and the files' listing are not.
RECORD_RESUMABLE = ("reevaluate", "data.source", "data.kind", "data.location", "data.files", "data.fingerprint_of")


def run_record(profile: "Profile", evaluator: "Evaluator", reevaluate: bool = False) -> dict:
    """What a run directory records about its search: the profile's search sections, where the accuracies come
    from (the data set and its fingerprint, or the benchmark file), and whether repeats are re-evaluated. A resume
    must match all of it but the resumable keys."""
    return {**profile.to_dict(), "data": evaluator.data_source(), "reevaluate": bool(reevaluate)}


def search_from_profile(profile: "Profile", run_dir: str | os.PathLike, *, progress: bool = True,
                        stop_after_trials: int | None = None, reevaluate: bool = False, retry_failed: bool = False,
                        log: Callable[[str], None] | None = None) -> "SearchResult":
    """Run or resume the search ``profile`` describes in ``run_dir`` (trials.sqlite, tensorboard/).

    Order matters for a user's mistakes: the profile is already validated, then the evaluator checks its data
    (every child would fail otherwise), and only then is the run directory locked and opened. A profile with
    ``stored_runs`` (``class``) only reads a finished search there, writing nothing; a missing one is a
    ``StoredRunMissing`` naming the command that makes it.
    """
    from mnaslib.executors import check_executor, make_executor
    from mnaslib.rundir import TENSORBOARD_DIR, check_run_dir, open_run
    from mnaslib.search import run_search

    run_dir = check_run_dir(run_dir)
    if profile.stored_runs is not None:  # teaching from stored runs: read the finished search, never extend it
        from mnaslib.search import SearchResult
        from mnaslib.stored import require_finished_search

        children = require_finished_search(profile, run_dir)
        if log is not None:
            log(f"reading the stored search in {run_dir}: {children} finished children")
        return SearchResult(run_dir, profile.steps, children, 0, 0.0)
    check_executor(profile.executor)
    space = search_space(profile)
    evaluator = make_evaluator(profile)
    evaluator.check()
    latency = make_latency(profile.latency, deployment_options(profile))
    reward = make_reward(profile.reward)
    store = open_run(run_dir, run_record(profile, evaluator, reevaluate),
                     resumable_keys=profile.RESUMABLE_KEYS + RECORD_RESUMABLE)
    try:
        store.set_meta("seed", profile.seed)
        finished = sum(1 for t in store.trials() if t["status"] in ("done", "failed"))
        if log is not None:
            log(f"resuming the search in {run_dir}: {finished} finished trials kept" if finished else
                f"new search in {run_dir}: {profile.steps} steps x {profile.batch_size} children, "
                f"{evaluator.describe()}")
        strategy = make_strategy(profile.strategy, space, profile.seed)
        # a benchmark lookup or a prediction takes microseconds: worker processes would only add their start-up
        in_process = profile.benchmark is not None or getattr(evaluator, "in_process", False)
        executor = None if in_process else (lambda: make_executor(profile.executor))
        return run_search(space, strategy, evaluator, latency, reward, store, steps=profile.steps,
                          batch_size=profile.batch_size, executor=executor,
                          reevaluate=reevaluate, retry_failed=retry_failed, tensorboard_dir=run_dir / TENSORBOARD_DIR,
                          progress=progress, stop_after_trials=stop_after_trials)
    finally:
        store.close()


def reuse_identical_run(profile: "Profile", run_dir: str | os.PathLike,
                        candidates: Sequence[str | os.PathLike]) -> Path | None:
    """Copy into an empty ``run_dir`` the first finished run among ``candidates`` searched with exactly ``profile``.

    Two notebooks sometimes need the same search (notebook 07's multi-objective MnasNet search is notebook 03's soft
    search at the same profile and seed); a seeded search run twice only costs its time again. Reuse needs every
    search setting equal (steps and executor included) and every trial finished, else nothing is copied and the
    search runs as usual. Returns the folder copied from, or None.
    """
    from mnaslib.rundir import PID_FILENAME, config_differences
    from mnaslib.store import STORE_FILENAME, TrialStore

    run_dir = Path(run_dir)
    if (run_dir / STORE_FILENAME).exists():
        return None
    wanted = profile.to_dict()
    for candidate in map(Path, candidates):
        if not (candidate / STORE_FILENAME).is_file():
            continue
        with TrialStore(candidate / STORE_FILENAME, read_only=True) as store:
            runs, trials = store.runs(), store.trials()
        finished = [t for t in trials if t["status"] in ("done", "failed")]
        stored = {k: v for k, v in (runs[-1]["config"] if runs else {}).items() if k in wanted}
        if (runs and not config_differences(stored, wanted, ("profile",))
                and len(finished) == len(trials) == profile.steps * profile.batch_size):
            shutil.copytree(candidate, run_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(PID_FILENAME))
            return candidate
    return None
