"""Networks evaluated for the paper's tables: the shared context, each network's numbers, and their cells.

Notebooks 04 and 05 compare fixed networks (MobileNetV1/V2, NASNet-A, MnasNet-A1/B1/small, and A1 and MobileNetV2 at
several depth multipliers and input sizes) with the paper's numbers. For each network we can build we obtain up
to five numbers, each with its own provenance, and never mix them up:

* params and mult-adds of the 224x224 / 1000-class network: **computed** exactly;
* Pixel-1 latency: **predicted** by the Pixel-1 cost model (:mod:`mnaslib.latency.pixel1`). Almost every network
  here is one of the model's *calibration points* (it was fitted on the paper's latencies of these very networks),
  so its in-sample prediction mostly repeats the paper. The honest comparison is the **held-out** prediction, the
  model refitted without that network (leave-one-out); claims are recomputed from held-out predictions only;
* host latency: **measured** with LiteRT on this machine's CPU, one thread, on the thread-CPU clock (a shared
  machine's other load does not inflate it), the stand-in for a phone we do not have;
* accuracy: the ImageNet top-1 **predicted** by the laptop search's evaluator (``evaluator: accel-predictor``,
  learnt from Accel-NASBench's trained networks; labelled ``surrogate`` with its verdict-part error and what it
  cannot see of this network), where it can score the network at all (``predicted_top1``); optionally a **proxy**
  accuracy, every network trained on the profile's proxy task (opt-in: a short training ranks networks at chance).

How much of this runs is set by the profile's ``notebooks.models`` budget: ``ci`` checks the plumbing in minutes,
``laptop`` gives every Table 1 model a host latency, ``paper`` measures and trains every point.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from mnaslib.spaces.buildable import BuildOptions
from mnaslib.labels import Labelled, Provenance
from mnaslib.latency.base import LatencyResult
from mnaslib.search.profile import ModelsBudget, Profile, load_profile
from mnaslib.spaces.arch import Arch
from mnaslib.spaces.zoo import NetworkPoint, as_arch, reference
from mnaslib.search.wiring import proxy_task
from mnaslib.latency import get_provider
from mnaslib.tabular.evaluator import load_predictor
from mnaslib.report.verdicts import not_testable
from mnaslib.evaluation.jobs import Job
from mnaslib.search.stored import missing

if TYPE_CHECKING:
    from mnaslib.latency.cost_model import Pixel1ModelProvider
    from mnaslib.latency.host import HostTFLiteProvider
    from mnaslib.latency.pixel1 import Pixel1Model
    from mnaslib.tabular.accel_predictor import AccelPredictor
    from mnaslib.evaluation.train import ProxyTask

PROXY_CACHE = "proxy_results.json"
TFLITE_CACHE = "tflite_cache"
OUR_SEARCH = "our search (best reward)"
# Networks the predictor reads as a MnasNet-space network of the zoo, and why the others cannot be read at all
AS_MNASNET_SPACE = {"keras-mobilenetv2": "mobilenetv2"}
NOT_EXPRESSIBLE = {
    "keras-mobilenet": "MobileNetV1 is no MnasNet-space network (no inverted residuals)",
    "keras-nasnetmobile": "NASNet-A is cell-based, outside both spaces",
}


@dataclass
class Context:
    """The profile's settings, providers and caches, shared by every experiment of a notebook.

    Proxy results are cached in ``run_dir/proxy_results.json`` keyed by the network and the full proxy task, and
    TFLite conversions in ``run_dir/tflite_cache``, so notebook 05 reuses what notebook 04 trained or converted in
    the same run folder, and a re-run notebook does not repeat an hour of work. ``profile`` is a name, a YAML path
    or a ``Profile``. ``seed`` replaces the profile's seed where given; None (the default) keeps it, and
    ``seed`` then reads the profile's.
    """

    profile: str | os.PathLike | Profile
    seed: int | None = None
    run_dir: str | os.PathLike = "runs"
    log: Callable[[str], None] | None = print

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir)
        self.config = load_profile(self.profile, {} if self.seed is None else {"seed": self.seed})
        self.seed = self.config.seed
        self.budget: ModelsBudget = self.config.notebooks.models

    @cached_property
    def task(self) -> "ProxyTask":
        return proxy_task(self.config.proxy, self.seed)

    @property
    def proxy_provenance(self) -> Provenance:
        return Provenance("proxy", f"{self.task.describe()}; width x the network's own multiplier")

    @cached_property
    def pixel1_provider(self) -> "Pixel1ModelProvider":
        """The Pixel-1 latency provider a search's children get (``latency: pixel1-model``)."""
        return get_provider("pixel1-model")

    @cached_property
    def pixel1(self) -> "Pixel1Model":
        """The fitted Pixel-1 cost model (its leave-one-out predictions of its calibration points)."""
        from mnaslib.latency.pixel1 import load_pixel1_model  # lazy: keeps TensorFlow and scikit-learn off import

        return load_pixel1_model()

    @cached_property
    def host_provider(self) -> "HostTFLiteProvider":
        b = self.budget
        return get_provider("host-tflite", clock="thread_cpu", runs=b.host_runs, warmup=b.host_warmup,
                            max_rounds=b.host_rounds, cache_dir=self.run_dir / TFLITE_CACHE)

    @cached_property
    def predictor(self) -> "AccelPredictor":
        """The accuracy predictor the laptop search scores its children with (``evaluator: accel-predictor``),
        fitted once per process on Accel-NASBench's choosing part."""
        return load_predictor()

    def not_run(self) -> str:
        return f"not run at the {self.config.name} profile"

    def say(self, message: str) -> None:
        if self.log is not None:
            self.log(message)


@dataclass(frozen=True)
class ProxyOutcome:
    """A proxy training: its accuracy (or the reason it failed) and whether it came from the run folder's cache."""

    accuracy: float | None
    provenance: str
    train_seconds: float
    cached: bool
    error: str = ""


@dataclass(frozen=True)
class PointResult:
    """Everything obtained for one network. ``None`` where the budget did not run it; ``pixel1_heldout_ms`` is
    ``None`` for networks the Pixel-1 model was not fitted on (its prediction is then out of sample already)."""

    point: NetworkPoint
    params_m: float
    mult_adds_m: float
    pixel1_ms: float
    pixel1_heldout_ms: float | None
    pixel1_provenance: str
    host: LatencyResult | None = None
    proxy: ProxyOutcome | None = None
    # ImageNet top-1 (%) from the predictor, or why not
    predicted: Labelled = field(default_factory=lambda: Labelled.missing("not scored"))

    @property
    def pixel1_out_of_sample_ms(self) -> float:
        """The held-out prediction for a calibration point, the ordinary one for any other network."""
        return self.pixel1_heldout_ms if self.pixel1_heldout_ms is not None else self.pixel1_ms

    @property
    def proxy_accuracy(self) -> float | None:
        return None if self.proxy is None else self.proxy.accuracy


def heldout_prediction(pixel1_model: "Pixel1Model", point: NetworkPoint) -> float | None:
    """The Pixel-1 model's leave-one-out prediction for ``point`` if it is a calibration point, else ``None``."""
    wanted_id = point.architecture.arch_id if point.family == "arch" else None
    for cal in pixel1_model.points:
        if (cal["builder"], float(cal["multiplier"]), int(cal["input_size"])) != (
                point.family, float(point.multiplier), int(point.input_size)):
            continue
        if wanted_id is None or as_arch(cal["model"]).arch_id == wanted_id:
            return float(cal["loo_ms"])
    return None


@lru_cache(maxsize=64)
def _arch_params(arch: Arch, multiplier: float, num_classes: int) -> int:
    """Trainable params of ``build_model(arch, ...)``; they do not depend on the input size, so one build per
    (architecture, multiplier) serves every input size of Figure 5."""
    from mnaslib.spaces.counting import summarize  # lazy: keeps TensorFlow out of this module's import

    options = BuildOptions(depth_multiplier=multiplier, input_size=32, num_classes=num_classes)
    return summarize(arch.build(options))["trainable_params"]


def evaluate_point(point: NetworkPoint, ctx: Context, *, host: bool, proxy: bool) -> PointResult:
    """Computed counts and Pixel-1 predictions always; host latency and proxy accuracy when asked.

    MnasNet-space networks are counted and predicted analytically (no build); Keras applications are built once
    and that model serves the counts, the prediction and the host measurement; both latencies come from the
    providers a search's children get theirs from.
    """
    from mnaslib.spaces.ops import arch_ops  # lazy: keeps TensorFlow out of this module's import
    from mnaslib.spaces.counting import summarize  # lazy: keeps TensorFlow out of this module's import

    model = None
    if point.family == "arch":
        arch = point.architecture
        params = _arch_params(arch, float(point.multiplier), 1000)
        mult_adds = sum(op.mult_adds for op in arch_ops(arch, point.options))
        pixel1 = ctx.pixel1_provider.latency_of(arch, point.options)
    else:
        model = point.build(seed=ctx.seed)
        counts = summarize(model)
        params, mult_adds = counts["trainable_params"], counts["mult_adds"]
        pixel1 = ctx.pixel1_provider.latency(model)
    result = PointResult(point, params / 1e6, mult_adds / 1e6, pixel1.median_ms, heldout_prediction(ctx.pixel1, point),
                         pixel1.provenance.label)
    result = replace(result, predicted=predicted_top1(point, ctx))
    if host:
        ctx.say(f"measuring host latency of {point.label} (TFLite conversion first, cached in {ctx.run_dir})")
        measured = ctx.host_provider.latency(model if model is not None else point.build(seed=ctx.seed))
        result = replace(result, host=measured)
    if proxy:
        result = replace(result, proxy=proxy_train(point, ctx))
    return result


def predicted_top1(point: NetworkPoint, ctx: Context) -> Labelled:
    """The ImageNet top-1 (%, on the accuracy scale, as the search's children get it) that the predictor gives
    ``point``, labelled with the predictor's verdict-part error and what it cannot see of this network; or
    ``not testable here`` and why, where the predictor cannot score the network at all: not expressible in the
    MnasNet space, another width or input size (the predictor reads a network's counts at 1.0x and 224 px:
    Accel-NASBench trained no width multiplier, and a scaled network would get its 1.0x value), or sizes outside
    those it was fitted on (a tree answers there with the nearest size it saw)."""
    from mnaslib.tabular.accel_predictor import unseen_choices  # lazy: keeps TensorFlow and scikit-learn off import

    if point.family == "arch":
        arch, written = point.architecture, ""
    elif point.family in AS_MNASNET_SPACE:
        arch = reference(AS_MNASNET_SPACE[point.family])
        written = f"scored as the zoo's {arch.name} (its MnasNet-space writing); "
    else:
        return Labelled.missing(not_testable(NOT_EXPRESSIBLE.get(point.family, "not a MnasNet-space network")))
    if (point.multiplier, point.input_size) != (1.0, 224):
        # Accel-NASBench trained no width multiplier: a scaled network would get its 1.0x, 224 px value
        return Labelled.missing(not_testable("the predictor reads 1.0x networks at 224 px only"))
    outside = ctx.predictor.outside_sizes(arch)
    if outside:
        # outside its fitted sizes a tree answers with the nearest size it saw
        return Labelled.missing(not_testable(f"{'; '.join(outside)}: outside its fitted sizes"))
    unseen = unseen_choices(arch)
    return Labelled(float(ctx.predictor.predict([arch])[0]),
                    f"{ctx.predictor.provenance.label}; {written}this network's unseen choices: "
                    f"{', '.join(unseen) or 'none'}", "{:.1f}")


def evaluate_points(points: Iterable[NetworkPoint], ctx: Context, *, host: tuple[str, ...] | None,
                    proxy: tuple[str, ...] | None) -> dict[str, PointResult]:
    """``evaluate_point`` for each network, measuring and training those the selections name (``None``: all)."""
    points = list(points)
    labels = [p.label for p in points]
    for selection in (host, proxy):
        unknown = set(selection or ()) - set(labels)
        if unknown:
            raise ValueError(f"budget names unknown networks {sorted(unknown)}; known: {labels}")
    return {p.label: evaluate_point(p, ctx, host=ModelsBudget.selected(host, p.label),
                                    proxy=ModelsBudget.selected(proxy, p.label)) for p in points}


def _proxy_key(point: NetworkPoint, task: "ProxyTask", width: float) -> str:
    identity = point.architecture.arch_id if point.family == "arch" else point.family
    return json.dumps({"network": identity, "width": width, "task": task.to_dict()}, sort_keys=True)


def proxy_train(point: NetworkPoint, ctx: Context) -> ProxyOutcome:
    """Train ``point`` on the profile's proxy task at the proxy's width times the network's own multiplier (so a
    0.35x network stays 0.35x the width of its 1.0x sibling), or reuse the run folder's cached result."""
    from mnaslib.evaluation.train import ChildFailed  # lazy: keeps TensorFlow out of this module's import
    from mnaslib.evaluation.worker import ProxyEvaluator  # lazy: keeps TensorFlow out of this module's import

    task = ctx.task
    width = task.width_multiplier * point.multiplier
    cache_path = ctx.run_dir / PROXY_CACHE
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    key = _proxy_key(point, task, width)
    provenance = ctx.proxy_provenance.label
    if key in cache:
        entry = cache[key]
        return ProxyOutcome(entry["accuracy"], provenance, entry["train_seconds"], True, entry.get("error", ""))
    if ctx.config.stored_runs is not None:
        raise missing(ctx.config, f"the proxy training of {point.label}", cache_path)
    ctx.say(f"training {point.label} on the proxy task at width x{width:g} ({task.describe()})")
    try:  # the evaluator a search's children get, the network trained with the run's seed
        child = ProxyEvaluator(replace(task, width_multiplier=width))(Job(0, point.network, task.seed))
        entry = {"accuracy": child.accuracy, "train_seconds": child.train_seconds}
    except ChildFailed as failure:
        entry = {"accuracy": None, "train_seconds": float("nan"), "error": str(failure)}
    cache[key] = entry
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    partial = cache_path.with_suffix(".json.partial")
    partial.write_text(json.dumps(cache, indent=1))
    partial.replace(cache_path)  # atomic: an interrupted notebook never leaves half a cache
    return ProxyOutcome(entry["accuracy"], provenance, entry["train_seconds"], False, entry.get("error", ""))


# ---------------------------------------------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------------------------------------------
def host_cell(result: PointResult | None, ctx: Context) -> Labelled:
    if result is None or result.host is None:
        return Labelled.missing(ctx.not_run())
    return Labelled(result.host.median_ms, result.host.provenance, "{:.1f}")


def proxy_cell(result: PointResult | None, ctx: Context) -> Labelled:
    if result is None or result.proxy is None:
        return Labelled.missing(f"{ctx.not_run()} (proxy training is opt-in)")
    if result.proxy.accuracy is None:
        return Labelled.missing(f"proxy training failed: {result.proxy.error}")
    return Labelled(result.proxy.accuracy, result.proxy.provenance, "{:.3f}")


OURS = ("params (M)", "mult-adds (M)", "Pixel-1 latency, out of sample (ms)", "host latency (ms)",
        "predicted top-1 (%)")
PROXY_COLUMN = "proxy accuracy"


def pixel1_cell(result: PointResult) -> Labelled:
    """The out-of-sample Pixel-1 prediction: held out for a calibration point (its ordinary prediction was fitted to
    the paper's latency of this very network), the ordinary one for any other network."""
    if result.pixel1_heldout_ms is None:
        return Labelled(result.pixel1_ms, f"{result.pixel1_provenance}; not a calibration point", "{:.1f}")
    return Labelled(result.pixel1_heldout_ms, "predicted (Pixel-1 model refitted without this network)", "{:.1f}")


def ours(result: PointResult, ctx: Context, proxy: bool = False) -> dict[str, Labelled]:
    """Our numbers for a network, one labelled cell per ``OURS`` column (and the proxy accuracy if ``proxy``)."""
    cells = dict(zip(OURS, (Labelled(result.params_m, "computed", "{:.2f}"),
                            Labelled(result.mult_adds_m, "computed", "{:.0f}"),
                            pixel1_cell(result), host_cell(result, ctx), result.predicted)))
    if proxy:
        cells[PROXY_COLUMN] = proxy_cell(result, ctx)
    return cells


def any_proxy(results: Iterable[PointResult]) -> bool:
    """Whether any of ``results`` was proxy-trained (opt-in): only then do tables show a proxy column."""
    return any(r.proxy is not None for r in results)


def among(selection: tuple[str, ...] | None, points: Iterable[NetworkPoint]) -> tuple[str, ...] | None:
    """The part of a budget's selection that names one of ``points`` (``None``, every point, stays ``None``)."""
    if selection is None:
        return None
    labels = {p.label for p in points}
    return tuple(label for label in selection if label in labels)
