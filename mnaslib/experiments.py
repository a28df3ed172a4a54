"""The experiments behind notebooks 04 (Tables 1 and 2) and 05 (Figure 5 and Table 4), as functions.

Both notebooks compare fixed networks (MobileNetV1/V2, NASNet-A, MnasNet-A1/B1/small, and A1 and MobileNetV2 at
several depth multipliers and input sizes) with the paper's numbers. For each network we can build we obtain up
to five numbers, each with its own provenance, and never mix them up:

* params and mult-adds of the 224x224 / 1000-class network: **computed** exactly;
* Pixel-1 latency: **predicted** by the Pixel-1 cost model (:mod:`mnaslib.latency.pixel1`). Almost every network
  here is one of the model's *calibration points* (it was fitted on the paper's latencies of these very networks),
  so its in-sample prediction mostly repeats the paper. The honest comparison is the **held-out** prediction, the
  model refitted without that network (leave-one-out); claims are recomputed from held-out predictions only;
* host latency: **measured** with LiteRT on this machine's CPU, one thread, on the thread-CPU clock (a shared
  machine's other load does not inflate it), the stand-in for a phone we do not have;
* accuracy: a **proxy** accuracy, every network trained on the same proxy task (the profile's), never ImageNet.

How much of this runs is set by a :class:`Budget` per profile: ``ci`` checks the plumbing in minutes, ``laptop``
gives every Table 1 model a host latency and a proxy accuracy, ``paper`` measures and trains every point.
"""
from __future__ import annotations

import json
import math
import os
import textwrap
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd

from mnaslib import paper
from mnaslib.latency.base import LatencyResult
from mnaslib.models import as_arch
from mnaslib.labels import Provenance
from mnaslib.labels import paper_provenance
from mnaslib.space import Arch

if TYPE_CHECKING:
    import keras
    from matplotlib.figure import Figure

    from mnaslib.latency.host import HostTFLiteProvider
    from mnaslib.latency.pixel1 import Pixel1Model
    from mnaslib.search import SearchConfig
    from mnaslib.train import ProxyTask

KERAS_FAMILIES = ("keras-mobilenet", "keras-mobilenetv2", "keras-nasnetmobile")
FAMILIES = ("arch",) + KERAS_FAMILIES
# NASNet-A Mobile (Zoph et al. 2018): 1056 penultimate filters, 4 cells per stage, a 32-filter stem. Keras' generic
# NASNet builder needs the penultimate filters to be a multiple of 24 * filter_multiplier**2 = 96.
_NASNET_MOBILE = {"penultimate_filters": 1056, "num_blocks": 4, "stem_block_filters": 32, "skip_reduction": False,
                  "filter_multiplier": 2}
_NASNET_FILTER_STEP = 96
PROXY_CACHE = "proxy_results.json"
TFLITE_CACHE = "tflite_cache"


# ---------------------------------------------------------------------------------------------------------------
# The networks
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelPoint:
    """A network we can build: a family, a depth multiplier and an input size.

    ``family`` is ``arch`` (a point of the MnasNet space: ``arch`` is a reference name, block strings or an
    ``Arch``) or one of Keras' applications (``KERAS_FAMILIES``), which stand in for the baselines the paper
    compares with. ``label`` is how tables name it; for Table 1 it is the paper's row name.
    """

    label: str
    family: str
    arch: Arch | str | None = None
    multiplier: float = 1.0
    input_size: int = 224
    note: str = ""

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"unknown model family {self.family!r}; known: {', '.join(FAMILIES)}")
        if (self.family == "arch") != (self.arch is not None):
            raise ValueError(f"{self.label}: family 'arch' needs an architecture, Keras families take none")
        if self.family in ("keras-mobilenet", "keras-nasnetmobile") and self.multiplier != 1.0:
            raise ValueError(f"{self.label}: only multiplier 1.0 of {self.family} is a network of the paper")

    @cached_property
    def architecture(self) -> Arch:
        """The MnasNet-space architecture (family ``arch`` only)."""
        if self.arch is None:
            raise TypeError(f"{self.label} is a Keras application, not a MnasNet-space architecture")
        return as_arch(self.arch)

    def build(self, num_classes: int = 1000, seed: int = 0) -> "keras.Model":
        """The deployment network (``input_size`` x ``input_size``, ``num_classes``), seeded so that the TFLite
        conversion cache (keyed by config and weights) recognises a network built again."""
        import keras

        keras.utils.set_random_seed(seed)
        return _build(self.family, self.architecture if self.family == "arch" else None, self.multiplier,
                      self.input_size, num_classes, stem_stride=2, logits=False)

    def proxy_child(self) -> Arch | "KerasChild":
        """What ``train_child`` trains: the architecture itself, or a Keras application that builds itself."""
        return self.architecture if self.family == "arch" else KerasChild(self.family)


def _build(family: str, arch: Arch | None, multiplier: float, input_size: int, num_classes: int,
           stem_stride: int, logits: bool) -> "keras.Model":
    """One network of any family.

    Keras' applications have a fixed stride-2 stem; ``stem_stride=1`` (the proxy adaptation for small images, see
    ``ProxyTask.stem_stride``) is emulated by resizing the input to twice its size in front of them, which gives
    every later layer the feature-map size a stride-1 stem would. ``logits`` drops their softmax for training
    (``train_child``'s loss takes logits); deployment networks keep it, exactly as the Pixel-1 model's
    calibration points were built.
    """
    import keras
    from keras import layers

    from mnaslib.models import build_model

    if family == "arch":
        return build_model(arch, depth_multiplier=multiplier, input_size=input_size, num_classes=num_classes,
                           stem_stride=stem_stride)
    common: dict[str, Any] = {"weights": None, "classes": num_classes,
                              "classifier_activation": None if logits else "softmax"}
    if stem_stride == 2:
        return _keras_application(family, multiplier, input_shape=(input_size, input_size, 3), **common)
    image = keras.Input((input_size, input_size, 3), name="image")
    resized = layers.Resizing(2 * input_size, 2 * input_size, name="stem_stride_1")(image)
    application = _keras_application(family, multiplier, input_tensor=resized, **common)
    # re-rooted on the image so the model has one plain input (not a list) and stays flat
    return keras.Model(image, application.output, name=application.name)


def _keras_application(family: str, multiplier: float, **common: Any) -> "keras.Model":
    import keras

    if family == "keras-mobilenet":
        return keras.applications.MobileNet(alpha=multiplier, **common)
    if family == "keras-mobilenetv2":
        return keras.applications.MobileNetV2(alpha=multiplier, **common)
    if multiplier == 1.0:
        return keras.applications.NASNetMobile(**common)
    from keras.src.applications.nasnet import NASNet  # NASNetMobile's generic builder, to scale its width

    steps = max(1, round(_NASNET_MOBILE["penultimate_filters"] * multiplier / _NASNET_FILTER_STEP))
    options = {**_NASNET_MOBILE, "penultimate_filters": steps * _NASNET_FILTER_STEP,
               "stem_block_filters": max(8, round(_NASNET_MOBILE["stem_block_filters"] * multiplier))}
    return NASNet(default_size=224, **options, **common)


@dataclass(frozen=True)
class KerasChild:
    """A Keras application as a proxy child: ``train_child`` calls ``build_keras`` with the proxy's image size,
    classes, width (the proxy's width multiplier times the network's own) and stem stride."""

    family: str

    def build_keras(self, input_size: int, num_classes: int, depth_multiplier: float = 1.0,
                    stem_stride: int = 2) -> "keras.Model":
        return _build(self.family, None, depth_multiplier, input_size, num_classes, stem_stride, logits=True)


TABLE1_MODELS = (
    ModelPoint("MobileNetV1", "keras-mobilenet", note="Keras MobileNet (alpha 1.0)"),
    ModelPoint("MobileNetV2", "keras-mobilenetv2", note="Keras MobileNetV2 (alpha 1.0)"),
    ModelPoint("MobileNetV2 (1.4x)", "keras-mobilenetv2", multiplier=1.4, note="Keras MobileNetV2 (alpha 1.4)"),
    ModelPoint("NASNet-A", "keras-nasnetmobile", note="Keras NASNetMobile stands in for NASNet-A"),
    ModelPoint("MnasNet-A1", "arch", "mnasnet-a1", note="mnaslib build of the official block strings"),
    ModelPoint("MnasNet-B1", "arch", "mnasnet-b1", note="mnaslib build of the official block strings; a Table 2 "
                                                        "row, not in the paper's Table 1"),
)
NOT_BUILT = {
    "MnasNet-A2": "not built: the A2 architecture was never published (paper numbers only)",
    "MnasNet-A3": "not built: the A3 architecture was never published (paper numbers only)",
}
NOT_IN_MNASLIB = "not built: not in mnaslib (paper numbers only)"


def fig5_points() -> list[ModelPoint]:
    """Every Figure 5 point the paper gives: MnasNet-A1 on the 5 x 5 grid of depth multipliers and input sizes
    (official README), MobileNetV2 at 5 multipliers (224) and 4 more input sizes (1.0x), from the paper tables."""
    points = []
    for table, family, arch, name in (("fig5_mnasnet_a1", "arch", "mnasnet-a1", "MnasNet-A1"),
                                      ("fig5_mobilenetv2", "keras-mobilenetv2", None, "MobileNetV2")):
        for row, values in paper.load_table(table).iterrows():
            multiplier, size = float(values["multiplier"]), int(values["input_size"])
            points.append(ModelPoint(fig5_label(name, multiplier, size), family, arch, multiplier, size, note=row))
    return points


def fig5_label(name: str, multiplier: float, input_size: int) -> str:
    """``MnasNet-A1 (0.35x, 224)``: how tables and budgets name a scaling point."""
    return f"{name} ({multiplier:g}x, {input_size})"


MNASNET_SMALL = ModelPoint("MnasNet-small (= the paper's search2)", "arch", "mnasnet-small",
                           note="official mnasnet-small block strings")


# ---------------------------------------------------------------------------------------------------------------
# Budgets and the shared context
# ---------------------------------------------------------------------------------------------------------------
def _slices() -> list[str]:
    """The Figure 5 points the paper plots: each model scaled by multiplier at 224, and by input size at 1.0x."""
    return [fig5_label(name, m, s) for name in ("MnasNet-A1", "MobileNetV2")
            for m, s in [(1.4, 224), (1.0, 224), (0.75, 224), (0.5, 224), (0.35, 224),
                         (1.0, 192), (1.0, 160), (1.0, 128), (1.0, 96)]]


@dataclass(frozen=True)
class Budget:
    """What a profile measures and trains (labels of ``ModelPoint``s); everything else is computed and predicted,
    which costs seconds. ``None`` means every point. ``search_overrides`` shrink Table 4's search below the
    profile's own search where the notebook must finish in minutes."""

    table1_host: tuple[str, ...] | None
    table1_proxy: tuple[str, ...] | None
    fig5_host: tuple[str, ...] | None
    fig5_proxy: tuple[str, ...] | None
    table4_host: tuple[str, ...] | None
    table4_proxy: tuple[str, ...] | None
    search_overrides: dict = field(default_factory=dict)
    host_runs: int = 50
    host_warmup: int = 10
    host_rounds: int = 3

    @staticmethod
    def selected(selection: tuple[str, ...] | None, label: str) -> bool:
        """Whether a selection (``None``: every network) includes ``label``."""
        return selection is None or label in selection


OUR_SEARCH = "our search (best reward)"


def budget_for(profile: str) -> Budget:
    """The per-profile budget.

    * ``ci`` (minutes, results mean nothing): in 04 host latency and a proxy training of MnasNet-A1 and MobileNetV2
      (1.4x), the pair of the first claim, so that each kind of claim check runs; in 05 the host latency of A1 0.35x,
      no proxy training, and the ci search.
    * ``laptop`` (about 20 minutes a notebook on an idle 2-core machine): host latency of every Table 1 model and
      of the two Figure 5 slices, a proxy accuracy for every Table 1 model and for A1 and MobileNetV2 at 1.0x and
      0.35x, and a 3 x 4 Table 4 search (the profile's 12 x 8 search would take an hour).
    * ``paper``: everything, and the profile's own search.

    Budgets exist for the three profiles only: a custom config file says nothing about how long a notebook may run.
    """
    small = (fig5_label("MnasNet-A1", 0.35, 224), fig5_label("MobileNetV2", 0.35, 224))
    if profile == "ci":
        pair = ("MnasNet-A1", "MobileNetV2 (1.4x)")
        return Budget(table1_host=pair, table1_proxy=pair,
                      fig5_host=small[:1], fig5_proxy=(), table4_host=(), table4_proxy=(), host_runs=20,
                      host_warmup=5, host_rounds=1)
    if profile == "laptop":
        return Budget(table1_host=None, table1_proxy=None, fig5_host=tuple(_slices()),
                      fig5_proxy=small + (fig5_label("MnasNet-A1", 1.0, 224), fig5_label("MobileNetV2", 1.0, 224)),
                      table4_host=(MNASNET_SMALL.label, OUR_SEARCH),
                      table4_proxy=small + (MNASNET_SMALL.label, OUR_SEARCH),
                      search_overrides={"steps": 3, "batch_size": 4})
    if profile == "paper":
        return Budget(table1_host=None, table1_proxy=None, fig5_host=None, fig5_proxy=None, table4_host=None,
                      table4_proxy=None)
    raise ValueError(f"no experiment budget for profile {profile!r}; use ci, laptop or paper")


@dataclass
class Context:
    """The profile's settings, providers and caches, shared by every experiment of a notebook.

    Proxy results are cached in ``run_dir/proxy_results.json`` keyed by the network and the full proxy task, and
    TFLite conversions in ``run_dir/tflite_cache``, so notebook 05 reuses what notebook 04 trained or converted in
    the same run folder, and a re-run notebook does not repeat an hour of work.
    """

    profile: str
    seed: int = 0
    run_dir: str | os.PathLike = "runs"
    log: Callable[[str], None] | None = print

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir)
        self.budget = budget_for(self.profile)

    @cached_property
    def config(self) -> "SearchConfig":
        from mnaslib.search import load_config

        return load_config(self.profile, {"seed": self.seed})

    @cached_property
    def task(self) -> "ProxyTask":
        from mnaslib.train import ProxyTask

        return ProxyTask.from_dict({**self.config.proxy, "seed": self.seed})

    @property
    def proxy_provenance(self) -> Provenance:
        return Provenance("proxy", f"{self.task.describe()}; width x the network's own multiplier")

    @cached_property
    def pixel1(self) -> "Pixel1Model":
        """The fitted Pixel-1 cost model."""
        from mnaslib.latency.pixel1 import load_pixel1_model

        return load_pixel1_model()

    @cached_property
    def host_provider(self) -> "HostTFLiteProvider":
        from mnaslib.latency import get_provider

        b = self.budget
        return get_provider("host-tflite", clock="thread_cpu", runs=b.host_runs, warmup=b.host_warmup,
                            max_rounds=b.host_rounds, cache_dir=self.run_dir / TFLITE_CACHE)

    def not_run(self) -> str:
        return f"not run at the {self.profile} profile"

    def say(self, message: str) -> None:
        if self.log is not None:
            self.log(message)


# ---------------------------------------------------------------------------------------------------------------
# Evaluating networks
# ---------------------------------------------------------------------------------------------------------------
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

    point: ModelPoint
    params_m: float
    mult_adds_m: float
    pixel1_ms: float
    pixel1_heldout_ms: float | None
    pixel1_provenance: str
    host: LatencyResult | None = None
    proxy: ProxyOutcome | None = None

    @property
    def pixel1_out_of_sample_ms(self) -> float:
        """The held-out prediction for a calibration point, the ordinary one for any other network."""
        return self.pixel1_heldout_ms if self.pixel1_heldout_ms is not None else self.pixel1_ms

    @property
    def proxy_accuracy(self) -> float | None:
        return None if self.proxy is None else self.proxy.accuracy


def heldout_prediction(pixel1_model: "Pixel1Model", point: ModelPoint) -> float | None:
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
    from mnaslib.models import build_model
    from mnaslib.counting import summarize

    return summarize(build_model(arch, depth_multiplier=multiplier, input_size=32, num_classes=num_classes)
                     )["trainable_params"]


def evaluate_point(point: ModelPoint, ctx: Context, *, host: bool, proxy: bool) -> PointResult:
    """Computed counts and Pixel-1 predictions always; host latency and proxy accuracy when asked.

    MnasNet-space networks are counted and predicted analytically (no build); Keras applications are built once
    and that model serves the counts, the prediction and the host measurement.
    """
    from mnaslib.latency.ops import arch_ops
    from mnaslib.latency.pixel1 import arch_features, model_features
    from mnaslib.counting import summarize

    model = None
    if point.family == "arch":
        arch = point.architecture
        params = _arch_params(arch, float(point.multiplier), 1000)
        mult_adds = sum(op.mult_adds for op in arch_ops(arch, point.multiplier, point.input_size, 1000))
        features = arch_features(arch, point.multiplier, point.input_size)
    else:
        model = point.build(seed=ctx.seed)
        counts = summarize(model)
        params, mult_adds, features = counts["trainable_params"], counts["mult_adds"], model_features(model)
    result = PointResult(point, params / 1e6, mult_adds / 1e6, ctx.pixel1.predict_features(features),
                         heldout_prediction(ctx.pixel1, point),
                         Provenance("predicted", ctx.pixel1.label).label)
    if host:
        ctx.say(f"measuring host latency of {point.label} (TFLite conversion first, cached in {ctx.run_dir})")
        measured = ctx.host_provider.latency(model if model is not None else point.build(seed=ctx.seed))
        result = replace(result, host=measured)
    if proxy:
        result = replace(result, proxy=proxy_train(point, ctx))
    return result


def evaluate_points(points: Iterable[ModelPoint], ctx: Context, *, host: tuple[str, ...] | None,
                    proxy: tuple[str, ...] | None) -> dict[str, PointResult]:
    """``evaluate_point`` for each network, measuring and training those the selections name (``None``: all)."""
    points = list(points)
    labels = [p.label for p in points]
    for selection in (host, proxy):
        unknown = set(selection or ()) - set(labels)
        if unknown:
            raise ValueError(f"budget names unknown networks {sorted(unknown)}; known: {labels}")
    return {p.label: evaluate_point(p, ctx, host=Budget.selected(host, p.label),
                                    proxy=Budget.selected(proxy, p.label)) for p in points}


def _proxy_key(point: ModelPoint, task: "ProxyTask", width: float) -> str:
    identity = point.architecture.arch_id if point.family == "arch" else point.family
    return json.dumps({"network": identity, "width": width, "task": task.to_dict()}, sort_keys=True)


def proxy_train(point: ModelPoint, ctx: Context) -> ProxyOutcome:
    """Train ``point`` on the profile's proxy task at the proxy's width times the network's own multiplier (so a
    0.35x network stays 0.35x the width of its 1.0x sibling), or reuse the run folder's cached result."""
    from mnaslib.worker import proxy_datasets
    from mnaslib.train import ChildFailed, train_child

    task = ctx.task
    width = task.width_multiplier * point.multiplier
    cache_path = ctx.run_dir / PROXY_CACHE
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    key = _proxy_key(point, task, width)
    provenance = ctx.proxy_provenance.label
    if key in cache:
        entry = cache[key]
        return ProxyOutcome(entry["accuracy"], provenance, entry["train_seconds"], True, entry.get("error", ""))
    ctx.say(f"training {point.label} on the proxy task at width x{width:g} ({task.describe()})")
    train_ds, val_ds, info = proxy_datasets(task)
    try:
        child = train_child(point.proxy_child(), train_ds, val_ds, replace(task, width_multiplier=width),
                            num_classes=int(info.num_classes))
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
def _number(value: float | None, provenance: str, fmt: str = "{:.1f}") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{fmt.format(value)} [{provenance}]"


def paper_cell(table: str, row: str, column: str, fmt: str = "{:g}") -> str:
    """A paper number with its status, ``-`` where the paper prints none."""
    try:
        number = paper.value(table, row, column)
    except LookupError:
        return "-"
    return f"{fmt.format(number.value)} [{paper_provenance(number.status).label}]"


def host_cell(result: PointResult | None, ctx: Context) -> str:
    if result is None or result.host is None:
        return f"- [{ctx.not_run()}]"
    return f"{result.host.median_ms:.1f} [{result.host.provenance.label}]"


def heldout_cell(result: PointResult) -> str:
    if result.pixel1_heldout_ms is None:
        return "- [not a calibration point: the prediction above is already out of sample]"
    return f"{result.pixel1_heldout_ms:.1f} [predicted (Pixel-1 model refitted without this network)]"


def proxy_cell(result: PointResult | None, ctx: Context) -> str:
    if result is None or result.proxy is None:
        return f"- [{ctx.not_run()}]"
    if result.proxy.accuracy is None:
        return f"- [proxy training failed: {result.proxy.error}]"
    return f"{result.proxy.accuracy:.3f} [{result.proxy.provenance}]"


def _ours(result: PointResult, ctx: Context) -> dict[str, str]:
    return {
        "params (M)": _number(result.params_m, "computed", "{:.2f}"),
        "mult-adds (M)": _number(result.mult_adds_m, "computed"),
        "Pixel-1 latency (ms)": _number(result.pixel1_ms, result.pixel1_provenance),
        "Pixel-1 latency, held out (ms)": heldout_cell(result),
        "host latency (ms)": host_cell(result, ctx),
        "proxy accuracy": proxy_cell(result, ctx),
    }


def _blank_ours(reason: str) -> dict[str, str]:
    return dict.fromkeys(("params (M)", "mult-adds (M)", "Pixel-1 latency (ms)", "Pixel-1 latency, held out (ms)",
                          "host latency (ms)", "proxy accuracy"), f"- [{reason}]")


# ---------------------------------------------------------------------------------------------------------------
# Notebook 04: Table 1, the claims, Table 2
# ---------------------------------------------------------------------------------------------------------------
def table1_results(ctx: Context) -> dict[str, PointResult]:
    """Evaluate every Table 1 network we can build, within the profile's budget."""
    return evaluate_points(TABLE1_MODELS, ctx, host=ctx.budget.table1_host, proxy=ctx.budget.table1_proxy)


def table1(results: Mapping[str, PointResult], ctx: Context) -> pd.DataFrame:
    """Every row of the paper's Table 1 with the paper's columns, and our numbers for the networks we build
    (MnasNet-B1, a Table 2 network, is appended so the SE pair sits together)."""
    rows = []
    table = "table1_imagenet"
    paper_rows = list(paper.load_table(table).index)
    for name in paper_rows + [r for r in results if r not in paper_rows]:
        in_table = name in paper_rows
        row = {"model": name,
               "type": paper.load_table(table).at[name, "type"] if in_table else "automated"}
        for column, title in (("params_m", "params (M)"), ("mult_adds_m", "mult-adds (M)"), ("top1", "top-1 (%)"),
                              ("top5", "top-5 (%)"), ("latency_ms", "Pixel-1 latency (ms)")):
            row[f"paper: {title}"] = (paper_cell(table, name, column) if in_table
                                      else "- [not in the paper's Table 1; see Table 2]")
        if name in results:
            result = results[name]
            row["our network"] = result.point.note
            row.update({f"ours: {k}": v for k, v in _ours(result, ctx).items()})
        else:
            row["our network"] = NOT_BUILT.get(name, NOT_IN_MNASLIB)
            row.update({f"ours: {k}": v for k, v in _blank_ours("paper only").items()})
        rows.append(row)
    return pd.DataFrame(rows)


# Claim 3 says "similar mult-adds, very different latency" without numbers to round to. We call mult-adds similar
# when they are within 10% of each other (the paper's pair: 2%) and latencies very different when one is at least
# 1.25x the other (the paper's pair: 1.62x); the thresholds are ours and are printed with the verdict.
SIMILAR_MULT_ADDS = 0.10
DIFFERENT_LATENCY = 1.25


class MissingNumber(LookupError):
    """A number this profile did not produce (not measured or not trained here)."""


def _lookup(results: Mapping[str, PointResult], source: str) -> paper.Lookup:
    """``(table, row, column) -> number`` from our results, for ``ClaimCheck.recompute``: latencies from the host
    measurement or the held-out Pixel-1 prediction, mult-adds and params computed, top-1 the proxy accuracy (%)."""

    def lookup(table: str, row: str, column: str) -> float:
        if row not in results:
            raise MissingNumber(f"{row} is not built")
        result = results[row]
        if column == "mult_adds_m":
            return result.mult_adds_m
        if column == "params_m":
            return result.params_m
        if column == "top1":
            if result.proxy_accuracy is None:
                raise MissingNumber(f"no proxy accuracy for {row}")
            return 100 * result.proxy_accuracy
        if column == "latency_ms" and source == "host":
            if result.host is None:
                raise MissingNumber(f"no host latency for {row}")
            return result.host.median_ms
        if column == "latency_ms" and source == "pixel1":
            return result.pixel1_out_of_sample_ms
        raise MissingNumber(f"source {source!r} has no {column!r}")

    return lookup


_SOURCES = {"latency_ms": (("host", "host latency"), ("pixel1", "Pixel-1 latency, held out")),
            "mult_adds_m": (("computed", "mult-adds"),), "params_m": (("computed", "params"),),
            "top1": (("proxy", "proxy accuracy"),)}


def _direction(check: paper.ClaimCheck, value: float) -> bool | None:
    if check.op == "ratio":
        return (value > 1) == (check.claimed > 1)
    if check.op == "difference":
        return (value > 0) == (check.claimed > 0)
    return None


def _verdict(rounds: bool | None, direction: bool | None) -> str:
    if rounds:
        return "holds"
    if direction is None:
        return "differs" if rounds is False else "-"
    if rounds is None:
        return "holds" if direction else "does not hold"
    return "direction holds, size differs" if direction else "does not hold"


def claims_table(results: Mapping[str, PointResult], ctx: Context) -> pd.DataFrame:
    """The paper's Table 1 claims (``paper.claims()``) recomputed from the paper's tables and from our numbers.

    Latency claims are recomputed twice, from host measurements and from held-out Pixel-1 predictions, never from
    in-sample predictions (those were fitted to the paper's latencies). "rounds to the claim" is
    ``ClaimCheck.holds`` (the recomputed number rounds to the stated one); "direction" asks only whether the
    ordering survives (A1 faster; A1 more accurate). A proxy accuracy is not ImageNet top-1, so accuracy claims
    are judged by direction only. Claim 3 states exact values of other devices' numbers, so it is also tested as
    what it means: similar mult-adds (within ``SIMILAR_MULT_ADDS``), very different latency (``DIFFERENT_LATENCY``).
    """
    rows = []
    wanted = ("a1_vs_mobilenetv2_1.4", "a1_vs_nasnet", "mobilenetv1_vs_nasnet_latency")
    for claim in (c for c in paper.claims() if c.key in wanted):
        checks = list(claim.checks)
        if claim.key == "mobilenetv1_vs_nasnet_latency":
            # its latency values are another device's milliseconds: only their ratio can be compared
            checks = [c for c in checks if c.pairs[0][0].column == "mult_adds_m"] + _meaning_of_claim3()
        for check in checks:
            column = check.pairs[0][0].column
            from_paper = check.recompute()
            stated = (f"{check.claimed:g} [{paper_provenance(claim.status).label}]" if check in claim.checks
                      else f"{check.claimed:g} [computed from paper values: the claim states no number]")
            for source, source_label in _SOURCES[column]:
                row = {"claim": claim.text, "quantity": check.quantity, "claimed": stated,
                       "recomputed from the paper's tables": f"{from_paper:.2f} [computed from paper values]",
                       "ours from": source_label}
                try:
                    value = check.recompute(_lookup(results, source))
                except MissingNumber as missing:
                    row.update({"ours": f"- [{ctx.not_run()}: {missing}]", "rounds to the claim": "-",
                                "direction": "-", "verdict": "not checked"})
                    rows.append(row)
                    continue
                rounds, direction = _judge(check, value, source)
                row.update({"ours": f"{value:.2f} [computed from {_source_provenance(results, source, ctx)}]",
                            "rounds to the claim": "-" if rounds is None else rounds,
                            "direction": "-" if direction is None else direction,
                            "verdict": _verdict(rounds, direction)})
                rows.append(row)
    return pd.DataFrame(rows)


def _meaning_of_claim3() -> list[paper.ClaimCheck]:
    """Claim 3 as ratios of the paper's own cells; ``claimed`` is recomputed from the paper, not typed in."""
    t1 = "table1_imagenet"
    pairs_macs = ((paper.Cell(t1, "MobileNetV1", "mult_adds_m"), paper.Cell(t1, "NASNet-A", "mult_adds_m")),)
    pairs_lat = ((paper.Cell(t1, "NASNet-A", "latency_ms"), paper.Cell(t1, "MobileNetV1", "latency_ms")),)
    checks = []
    for quantity, pairs in (("mult-adds ratio MobileNetV1 / NASNet-A (similar?)", pairs_macs),
                            ("latency ratio NASNet-A / MobileNetV1 (very different?)", pairs_lat)):
        draft = paper.ClaimCheck(quantity, "ratio", 1.0, 2, pairs)
        checks.append(replace(draft, claimed=round(draft.recompute(), 2)))
    return checks


def _judge(check: paper.ClaimCheck, value: float, source: str) -> tuple[bool | None, bool | None]:
    """(rounds to the claim, direction holds) for one recomputed value; ``None`` where the test does not apply."""
    if check.quantity.startswith("mult-adds ratio"):
        return None, abs(value - 1) <= SIMILAR_MULT_ADDS
    if check.quantity.startswith("latency ratio"):
        return None, value >= DIFFERENT_LATENCY
    if source == "proxy":
        return None, _direction(check, value)
    return round(value, check.decimals) == round(check.claimed, check.decimals), _direction(check, value)


def _source_provenance(results: Mapping[str, PointResult], source: str, ctx: Context) -> str:
    if source == "host":
        measured = next(r.host for r in results.values() if r.host is not None)
        return measured.provenance.label
    if source == "pixel1":
        return f"predicted (Pixel-1 model refitted without each network; {ctx.pixel1.label})"
    if source == "proxy":
        return ctx.proxy_provenance.label
    return "computed counts of our builds"


def table2(results: Mapping[str, PointResult], ctx: Context) -> pd.DataFrame:
    """Table 2 (the SE study): the paper's rows beside our numbers for the networks we build (B1 and A1 are the
    pair that matters: B1 was searched without SE, A1 with it)."""
    table = "table2_se"
    ours_for = {"MobileNetV2": "MobileNetV2", "NASNet": "NASNet-A", "MnasNet-B1": "MnasNet-B1",
                "MnasNet-A1": "MnasNet-A1"}
    frame = paper.load_table(table)
    rows = []
    for name in frame.index:
        row = {"model": name, "SE in space": frame.at[name, "se_in_space"],
               "paper: top-1 (%)": paper_cell(table, name, "top1"), "paper: top-5 (%)": paper_cell(table, name, "top5"),
               "paper: Pixel-1 latency (ms)": paper_cell(table, name, "latency_ms")}
        result = results.get(ours_for.get(name, ""))
        if result is None:
            row["ours: SE blocks"] = f"- [{NOT_BUILT.get(name, NOT_IN_MNASLIB)}]"
            row.update({f"ours: {k}": v for k, v in _blank_ours("paper only").items()})
        else:
            row["ours: SE blocks"] = _se_blocks(result.point)
            row.update({f"ours: {k}": v for k, v in _ours(result, ctx).items()})
        rows.append(row)
    return pd.DataFrame(rows)


def _se_blocks(point: ModelPoint) -> str:
    if point.family != "arch":
        return "0 [computed: Keras application without SE]"
    arch = point.architecture
    return f"{sum(b.se_ratio > 0 for b in arch.blocks)} of {len(arch.blocks)} [computed]"


def se_effect(results: Mapping[str, PointResult], ctx: Context) -> pd.DataFrame:
    """What SE buys, A1 minus B1 (same search, B1 without SE in the space): the paper's differences beside ours."""
    a1, b1 = results["MnasNet-A1"], results["MnasNet-B1"]

    def paper_difference(column: str, unit: str) -> str:
        a, b = (paper.value("table2_se", row, column) for row in ("MnasNet-A1", "MnasNet-B1"))
        return f"{a.value - b.value:+.1f}{unit} [computed from paper values: A1 {a.label}, B1 {b.label}]"

    pixel1 = (f"{a1.pixel1_out_of_sample_ms - b1.pixel1_out_of_sample_ms:+.1f} ms [computed from held-out "
              f"predictions, {ctx.pixel1.label}]")
    host = (f"{a1.host.median_ms - b1.host.median_ms:+.1f} ms [computed from {a1.host.provenance.label}]"
            if a1.host is not None and b1.host is not None else f"- [{ctx.not_run()}]")
    proxy = (f"{100 * (a1.proxy_accuracy - b1.proxy_accuracy):+.1f} points [computed from "
             f"{ctx.proxy_provenance.label}]"
             if a1.proxy_accuracy is not None and b1.proxy_accuracy is not None else f"- [{ctx.not_run()}]")
    top1, latency = paper_difference("top1", " points top-1"), paper_difference("latency_ms", " ms")
    return pd.DataFrame([
        {"A1 - B1": "accuracy (ours: proxy)", "paper": top1, "ours": proxy},
        {"A1 - B1": "latency (ours: Pixel-1, held out)", "paper": latency, "ours": pixel1},
        {"A1 - B1": "latency (ours: host measured)", "paper": latency, "ours": host},
    ])


def plot_table1(results: Mapping[str, PointResult], ctx: Context) -> "Figure":
    """Three panels: (a) the paper's top-1 against Pixel-1 latency for every Table 1 row with both; (b) our proxy
    accuracy against held-out Pixel-1 latency; (c) each network's latency relative to MnasNet-A1, ours (host
    measured, Pixel-1 held out) against the paper's: the claims are ratios, so this is where they live."""
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    frame = paper.load_table("table1_imagenet").dropna(subset=["top1", "latency_ms"])
    ax = axes[0]
    uncertain = (frame["top1_status"] == "U") | (frame["latency_ms_status"] == "U")
    ax.scatter(frame.loc[~uncertain, "latency_ms"], frame.loc[~uncertain, "top1"], color="0.3",
               label="paper (V or C)")
    ax.scatter(frame.loc[uncertain, "latency_ms"], frame.loc[uncertain, "top1"], facecolor="none",
               edgecolor="0.3", label="paper, a value uncertain (U)")
    for name, row in frame.iterrows():
        ax.annotate(name, (row["latency_ms"], row["top1"]), fontsize="x-small", xytext=(3, 3),
                    textcoords="offset points")
    ax.legend(fontsize="x-small", loc="upper right")
    ax.set(xlabel="Pixel-1 latency (ms) [paper]", ylabel="ImageNet top-1 (%) [paper]", title="(a) paper, Table 1")

    ax = axes[1]
    trained = {k: r for k, r in results.items() if r.proxy_accuracy is not None}
    for name, r in trained.items():
        ax.scatter(r.pixel1_out_of_sample_ms, r.proxy_accuracy, color="C0")
        ax.annotate(name, (r.pixel1_out_of_sample_ms, r.proxy_accuracy), fontsize="x-small", xytext=(3, 3),
                    textcoords="offset points")
    untrained = len(results) - len(trained)
    ax.set(xlabel="Pixel-1 latency (ms) [predicted, held out]", ylabel="accuracy [proxy]",
           title=f"(b) ours: proxy accuracy ({untrained} of {len(results)} networks {ctx.not_run()})")
    ax.text(0.01, 0.01, textwrap.fill(ctx.proxy_provenance.label, 70), transform=ax.transAxes,
            fontsize="xx-small", color="0.35")

    ax = axes[2]
    a1 = results["MnasNet-A1"]
    paper_a1 = paper.value("table1_imagenet", "MnasNet-A1", "latency_ms").value
    for name, r in results.items():
        try:
            x = paper.value("table1_imagenet", name, "latency_ms").value / paper_a1
        except LookupError:
            continue
        ax.scatter(x, r.pixel1_out_of_sample_ms / a1.pixel1_out_of_sample_ms, color="C1", marker="o",
                   label="Pixel-1 predicted, held out")
        if r.host is not None and a1.host is not None:
            ax.scatter(x, r.host.median_ms / a1.host.median_ms, color="C2", marker="s",
                       label="host measured (LiteRT, 1 thread)")
        ax.annotate(name, (x, r.pixel1_out_of_sample_ms / a1.pixel1_out_of_sample_ms), fontsize="x-small",
                    xytext=(3, -9), textcoords="offset points")
    limit = max(ax.get_xlim()[1], ax.get_ylim()[1])
    ax.plot([0.5, limit], [0.5, limit], color="0.6", linestyle="--", linewidth=1, label="same ratio as the paper")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), fontsize="x-small")
    ax.set(xlabel="latency / MnasNet-A1's [paper]", ylabel="latency / MnasNet-A1's [ours]",
           title="(c) relative latency, ours vs paper")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------------------------
# Notebook 05: Figure 5 and Table 4
# ---------------------------------------------------------------------------------------------------------------
def fig5_results(ctx: Context) -> dict[str, PointResult]:
    """Evaluate every Figure 5 point within the profile's budget."""
    return evaluate_points(fig5_points(), ctx, host=ctx.budget.fig5_host, proxy=ctx.budget.fig5_proxy)


def fig5_table(results: Mapping[str, PointResult], ctx: Context) -> pd.DataFrame:
    """One row per Figure 5 point: the paper's top-1, mult-adds, latency (and A1's params) beside ours."""
    rows = []
    for point in fig5_points():
        table = "fig5_mnasnet_a1" if point.family == "arch" else "fig5_mobilenetv2"
        result = results[point.label]
        row = {"model": point.label.split(" (")[0], "multiplier": point.multiplier, "input size": point.input_size,
               "paper: top-1 (%)": paper_cell(table, point.note, "top1"),
               "paper: params (M)": paper_cell(table, point.note, "params_m"),
               "paper: mult-adds (M)": paper_cell(table, point.note, "mult_adds_m"),
               "paper: Pixel-1 latency (ms)": paper_cell(table, point.note, "latency_ms")}
        row.update({f"ours: {k}": v for k, v in _ours(result, ctx).items()})
        rows.append(row)
    return pd.DataFrame(rows)


def plot_fig5(results: Mapping[str, PointResult], ctx: Context) -> "Figure":
    """Figure 5's two panels (scaling by depth multiplier at 224, by input size at 1.0x).

    In each: the paper's top-1 against the paper's Pixel-1 latency (solid), the same top-1 against our held-out
    Pixel-1 prediction (dashed: how far our latency model moves each point sideways), and, on the right axis,
    proxy accuracies where trained (stars): the shape of the trade-off, on a different task.
    """
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    points = fig5_points()
    for ax, (title, on_slice) in zip(axes, (("(a) depth multiplier, 224x224", lambda p: p.input_size == 224),
                                            ("(b) input size, multiplier 1.0", lambda p: p.multiplier == 1.0))):
        twin = ax.twinx()
        proxied = False
        for colour, name, table in (("C0", "MnasNet-A1", "fig5_mnasnet_a1"), ("C3", "MobileNetV2", "fig5_mobilenetv2")):
            chosen = sorted((p for p in points if p.label.startswith(name) and on_slice(p)),
                            key=lambda p: results[p.label].pixel1_out_of_sample_ms)
            top1 = [paper.value(table, p.note, "top1").value for p in chosen]
            paper_ms = [paper.value(table, p.note, "latency_ms").value for p in chosen]
            ours_ms = [results[p.label].pixel1_out_of_sample_ms for p in chosen]
            ax.plot(paper_ms, top1, "o-", color=colour, label=f"{name}: paper top-1 vs paper latency")
            ax.plot(ours_ms, top1, "o--", color=colour, mfc="none",
                    label=f"{name}: paper top-1 vs our Pixel-1 prediction (held out)")
            trained = [(results[p.label].pixel1_out_of_sample_ms, results[p.label].proxy_accuracy) for p in chosen
                       if results[p.label].proxy_accuracy is not None]
            if trained:
                proxied = True
                twin.scatter(*zip(*trained), marker="*", s=140, color=colour, edgecolor="black",
                             label=f"{name}: proxy accuracy (right axis)")
        ax.set(title=title, xlabel="Pixel-1 latency (ms) [paper / predicted, held out]",
               ylabel="ImageNet top-1 (%) [paper]")
        twin.set_ylabel("accuracy [proxy]" if proxied else f"accuracy [proxy: {ctx.not_run()}]")
        twin.grid(False)
        handles = ax.get_legend_handles_labels()
        twin_handles = twin.get_legend_handles_labels()
        ax.legend(handles[0] + twin_handles[0], handles[1] + twin_handles[1], fontsize="x-small", loc="lower right")
    fig.text(0.5, -0.02, ctx.proxy_provenance.label, ha="center", fontsize="x-small", color="0.35")
    fig.tight_layout()
    return fig


def table4_target_ms(ctx: Context) -> float:
    """Table 4's search target: MnasNet-A1 at 0.35x under our Pixel-1 model (the paper searched at 22 ms, A1 0.35x's
    latency on its phone), rounded to 0.1 ms so that a resumed search finds the same config."""
    from mnaslib.latency import get_provider

    ctx.pixel1  # registers the pixel1-model provider
    return round(get_provider("pixel1-model", depth_multiplier=0.35).latency("mnasnet-a1").median_ms, 1)


def table4_search_config(ctx: Context, target_ms: float) -> "SearchConfig":
    """The profile's search, rewarding ``target_ms`` with the soft constraint (shrunk by the budget's overrides)."""
    from mnaslib.search import load_config

    return load_config(ctx.profile, {"seed": ctx.seed, "reward": {"name": "mnas_soft", "target_ms": target_ms},
                                     **ctx.budget.search_overrides})


@dataclass(frozen=True)
class SearchOutcome:
    """Table 4's search, summarised by its best-reward model (the model a search hands over)."""

    point: ModelPoint
    trial_accuracy: float
    trials_done: int
    trials_total: int
    budget: str


def run_table4_search(ctx: Context, target_ms: float) -> SearchOutcome:
    """Run (or resume) the Table 4 search in ``run_dir/table4_search`` and pick its best-reward model."""
    from mnaslib.runs import load_run
    from mnaslib.search import make_space, search_from_config

    config = table4_search_config(ctx, target_ms)
    folder = ctx.run_dir / "table4_search"
    search_from_config(config, folder, progress=False)
    trials, _ = load_run(folder)
    done = trials[trials["status"] == "done"]
    if done.empty:
        raise ValueError(f"the Table 4 search in {folder} has no finished child; see the 'error' column of its store")
    best = done.loc[done["reward"].idxmax()]
    arch = make_space(config.space).decode(list(best["tokens"])).with_name(f"search-{best['arch_id']}")
    return SearchOutcome(ModelPoint(OUR_SEARCH, "arch", arch, note=f"best of our search at T = {target_ms:g} ms"),
                         float(best["accuracy"]), len(done), len(trials),
                         f"{config.steps} steps x {config.batch_size} children")


TABLE4_OURS = {"MobileNetV2 (0.35x)": fig5_label("MobileNetV2", 0.35, 224),
               "MnasNet-A1 (0.35x)": fig5_label("MnasNet-A1", 0.35, 224), "MnasNet-search2": MNASNET_SMALL.label,
               OUR_SEARCH: OUR_SEARCH}


def table4_results(ctx: Context, fig5: Mapping[str, PointResult], search: SearchOutcome) -> dict[str, PointResult]:
    """Table 4's networks: the two scaled ones from Figure 5's results (proxy-trained now if Table 4's budget wants
    them and Figure 5's did not), mnasnet-small and the search's best model evaluated here."""
    selection = ctx.budget.table4_proxy
    results = {}
    for label in (TABLE4_OURS["MobileNetV2 (0.35x)"], TABLE4_OURS["MnasNet-A1 (0.35x)"]):
        result = fig5[label]
        if result.proxy is None and Budget.selected(selection, label):
            result = replace(result, proxy=proxy_train(result.point, ctx))
        results[label] = result
    extra = [MNASNET_SMALL, search.point]
    results.update(evaluate_points(extra, ctx, host=_among(ctx.budget.table4_host, extra),
                                   proxy=_among(selection, extra)))
    return results


def _among(selection: tuple[str, ...] | None, points: Sequence[ModelPoint]) -> tuple[str, ...] | None:
    """The part of a budget's selection that names one of ``points`` (``None``, every point, stays ``None``)."""
    if selection is None:
        return None
    return tuple(label for label in selection if label in {p.label for p in points})


def table4(results: Mapping[str, PointResult], search: SearchOutcome, ctx: Context) -> pd.DataFrame:
    """Table 4, scale down vs search again: the paper's four rows and our search's best model, paper columns beside
    computed params and mult-adds, Pixel-1 predictions, host latency where measured, and proxy accuracies (all
    trained on the same task and seed; the search's own trial accuracy is shown apart: it is the best of many
    children, so it is optimistically selected)."""
    table = "table4_scaling"
    rows = []
    for name in list(paper.load_table(table).index) + [OUR_SEARCH]:
        in_paper = name != OUR_SEARCH
        row = {"model": name}
        for column, title in (("params_m", "params (M)"), ("mult_adds_m", "mult-adds (M)"),
                              ("latency_ms", "Pixel-1 latency (ms)"), ("top1", "top-1 (%)")):
            row[f"paper: {title}"] = paper_cell(table, name, column) if in_paper else "- [our search]"
        result = results.get(TABLE4_OURS.get(name, ""))
        if result is None:
            row["our network"] = "not built: search1's architecture was never published (paper numbers only)"
            row.update({f"ours: {k}": v for k, v in _blank_ours("paper only").items()})
            row["ours: search trial accuracy"] = "-"
        else:
            row["our network"] = (result.point.label if name != OUR_SEARCH
                                  else f"{search.point.note}; {' '.join(search.point.architecture.block_strings())}")
            row.update({f"ours: {k}": v for k, v in _ours(result, ctx).items()})
            row["ours: search trial accuracy"] = (
                f"{search.trial_accuracy:.3f} [proxy ({ctx.task.describe()}); best reward of {search.trials_done} "
                f"children, search budget {search.budget}]" if name == OUR_SEARCH else "-")
        rows.append(row)
    return pd.DataFrame(rows)
