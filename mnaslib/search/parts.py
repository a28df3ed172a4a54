"""A profile's parts, built once: its space, strategy options, reward, deployment latency, evaluator and executor.

Each search section is parsed through its kind's registry (``mnaslib.registry``): ``spaces.mnasnet.SPACES``,
``strategies.STRATEGY_REGISTRY``, ``latency.base.PROVIDERS``, ``search.executors.EXECUTORS``,
``tabular.evaluator.BENCHMARK_REGISTRY`` and ``EVALUATORS`` here. ``build_parts`` builds every part once, cheaply (no
TensorFlow graph, no data, no controller), so that loading a profile refuses a bad one by building it, and the search
reuses what was built. The strategy is the exception that proves the rule: it is stateful and seeded, so its options
are built here and the strategy itself by the search that runs it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Protocol

from mnaslib.spaces.buildable import DEPLOYMENT, BuildOptions, Buildable
from mnaslib.errors import UserError, as_int
from mnaslib.search.executors import EXECUTORS, ExecutorOptions, executor_options
from mnaslib.labels import Labelled
from mnaslib.latency.base import PROVIDERS
from mnaslib.spaces.netsize import check_network_size
from mnaslib.registry import NoOptions, Registry, parse_options
from mnaslib.reward import Reward, from_config
from mnaslib.spaces.mnasnet import SPACES, MnasNetSpace
from mnaslib.strategies import STRATEGY_REGISTRY, strategy_options
from mnaslib.tabular.evaluator import BENCHMARK_REGISTRY, PredictorEvaluator, benchmark_deployment, benchmark_space
from mnaslib.evaluation.data import DATASETS

if TYPE_CHECKING:
    import concurrent.futures as cf

    from mnaslib.evaluation.jobs import Evaluator
    from mnaslib.latency.base import LatencyProvider
    from mnaslib.strategies import SearchStrategy
    from mnaslib.evaluation.train import ProxyTask

PREDICTOR = "accel-predictor"  # the evaluator name of mnaslib.tabular.evaluator.PredictorEvaluator
PROXY_LIMITS = {"image_size": 1024, "epochs": 1000, "batch_size": 65_536, "val_size": 10_000_000,
                "max_train": 100_000_000, "width_multiplier": 16}
PROXY_FRACTIONS = {"warmup_fraction": (0.0, 1.0, True), "label_smoothing": (0.0, 1.0, False),
                   "bn_momentum": (0.0, 1.0, False)}  # (lowest, highest, highest allowed)


class Sections(Protocol):
    """What ``build_parts`` reads of a profile (``mnaslib.search.profile.Profile``)."""

    seed: int
    space: dict
    strategy: dict
    reward: dict
    latency: dict
    proxy: dict
    executor: dict
    benchmark: dict | None
    evaluator: dict | None


def _rest(section: Mapping[str, Any], key: str = "name") -> dict[str, Any]:
    return {k: v for k, v in section.items() if k != key}


def make_space(config: Mapping[str, Any]):
    """The search space a ``space`` section names: ``mnasnet`` (``se: false`` gives the no-SE ablation of Table 2)
    or ``nasnet-cell`` (the cell-based space of Table 5; its other keys are ``CellSpace``'s)."""
    return SPACES.make(config.get("name", "mnasnet"), _rest(config), what="space")


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

    def fresh(self) -> "DeploymentLatency":
        """The same provider and network with an empty cache (a search measures its own children)."""
        return DeploymentLatency(self.provider, self.options)


def make_latency(config: Mapping[str, Any], deployment: BuildOptions = DEPLOYMENT) -> DeploymentLatency:
    """The ``latency`` section as a ``DeploymentLatency``; ``input_size``/``num_classes`` there override the
    space's deployment network (224x224, 1000 classes for the MnasNet and cell spaces)."""
    options = _rest(config, "provider")
    build = {key: as_int(options.pop(key), f"latency.{key}") for key in ("input_size", "num_classes")
             if key in options}
    provider = PROVIDERS.make(config.get("provider", "pixel1-model"), options)
    return DeploymentLatency(provider, deployment.replace(**build))


def proxy_task(config: Mapping[str, Any], seed: int = 0) -> "ProxyTask":
    """The ``proxy`` section as a ``ProxyTask``, every value checked against the type the task declares."""
    from mnaslib.evaluation.train import ProxyTask  # lazy: keeps TensorFlow out of this module's import

    task = parse_options(ProxyTask, {**config, "seed": seed}, "proxy")
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


@dataclass(frozen=True)
class NaswotOptions:
    """``evaluator: {name: naswot, images: 64, width_multiplier: 1.0}`` (checked by ``ZeroCostEvaluator``)."""

    images: int = 64
    width_multiplier: float = 1.0


def _trained(options: NoOptions, task: "ProxyTask", space_name: str) -> "Evaluator":
    from mnaslib.evaluation.worker import ProxyEvaluator  # the trainer imports TensorFlow

    return ProxyEvaluator(task)


def _naswot(options: NaswotOptions, task: "ProxyTask", space_name: str) -> "Evaluator":
    from mnaslib.evaluation.worker import ZeroCostEvaluator  # the trainer imports TensorFlow

    return ZeroCostEvaluator(task, images=options.images, width_multiplier=options.width_multiplier)


def _predictor(options: NoOptions, task: "ProxyTask", space_name: str) -> "Evaluator":
    if space_name != "mnasnet":
        raise UserError(f"evaluator {PREDICTOR} scores MnasNet-space networks, not {space_name}; use evaluator "
                        "naswot or trained for this space")
    return PredictorEvaluator()


# How a child is scored when no benchmark is set: trained on the proxy task, scored at initialisation (NASWOT),
# or scored by the accuracy predictor learnt from Accel-NASBench; factory(options, proxy task, space name)
EVALUATORS: Registry["Evaluator"] = Registry("evaluator")
EVALUATORS.add("trained", _trained)
EVALUATORS.add("naswot", _naswot, NaswotOptions)
EVALUATORS.add(PREDICTOR, _predictor)


@dataclass(frozen=True)
class Parts:
    """A profile's plug-ins, built once (validated by building) and reused by its search."""

    space: Any
    strategy: str
    strategy_options: Any
    reward: Reward
    latency: DeploymentLatency
    evaluator: "Evaluator"
    executor: str
    executor_options: ExecutorOptions

    def make_strategy(self, seed: int) -> "SearchStrategy":
        """The search strategy, new and seeded (a strategy learns: each search builds its own)."""
        return STRATEGY_REGISTRY.build(self.strategy, self.strategy_options, self.space.decision_sizes(), seed)

    def make_executor(self) -> "cf.Executor | None":
        """The executor, started (None: ``serial``, children evaluated in this process)."""
        return EXECUTORS.build(self.executor, self.executor_options)


def build_parts(profile: Sections) -> Parts:
    """Every part of a profile, each built once; a bad setting is a UserError naming it."""
    executor, executor_settings = executor_options(profile.executor)
    space = search_space(profile)
    strategy = profile.strategy.get("name", "ppo")
    options = strategy_options(strategy, _rest(profile.strategy))
    reward = from_config(profile.reward)
    latency = make_latency(profile.latency, deployment_options(profile))
    task = None if profile.benchmark is not None else proxy_task(profile.proxy, profile.seed)
    evaluator = _evaluator(profile, task)
    if task is not None:
        _check_proxy_child(space, task)
    return Parts(space, strategy, options, reward, latency, evaluator, executor, executor_settings)


def make_evaluator(profile: Sections) -> "Evaluator":
    """Trained children on the proxy task, children scored at initialisation (``evaluator: naswot``), children
    scored by the accuracy predictor learnt from Accel-NASBench (``evaluator: accel-predictor``), or the profile's
    tabular benchmark."""
    return _evaluator(profile, None if profile.benchmark is not None else proxy_task(profile.proxy, profile.seed))


def _evaluator(profile: Sections, task: "ProxyTask | None") -> "Evaluator":
    if profile.benchmark is not None:
        return BENCHMARK_REGISTRY.make(profile.benchmark.get("name"), _rest(profile.benchmark), what="benchmark")
    section = profile.evaluator or {"name": "trained"}
    return EVALUATORS.make(section.get("name"), _rest(section), task, profile.space.get("name", "mnasnet"),
                           what="evaluator")


def search_space(profile: Sections):
    """The profile's search space: its ``space`` section, or its benchmark's own space."""
    if profile.benchmark is None:
        return make_space(profile.space)
    name = profile.benchmark.get("name")
    BENCHMARK_REGISTRY.get(name)
    if profile.space.get("name", "mnasnet") not in ("mnasnet", name) or len(profile.space) > 1:
        raise UserError(f"benchmark {name} searches its own space; remove the space section {profile.space} (or "
                        f"set space.name: {name})")
    return benchmark_space(name, profile.benchmark.get("space"))


def deployment_options(profile: Sections) -> BuildOptions:
    """The network whose latency the reward uses: the benchmark's own, else 224x224 with 1000 classes."""
    if profile.benchmark is None:
        return DEPLOYMENT
    return benchmark_deployment(profile.benchmark["name"])


def _check_proxy_child(space: Any, task: "ProxyTask") -> None:
    """Build one child of the space analytically at the proxy's settings, so a proxy that no child could be built
    at (maps below one pixel, a width too large for memory) is refused now, not by every child of the search."""
    if not isinstance(space, MnasNetSpace):
        return  # the cell space checks its input size itself
    child = space.decode([0] * len(space.decision_sizes()))
    options = BuildOptions(depth_multiplier=task.width_multiplier, input_size=task.image_size, num_classes=10,
                           stem_stride=task.resolved_stem_stride)
    try:
        check_network_size(child, options)
    except UserError as err:
        raise UserError(f"proxy: {err}") from None
