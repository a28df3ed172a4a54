"""One typed ``Profile`` per YAML file: the search, its evaluator, and what each notebook may afford.

A profile picks the scale of everything: ``ci`` (minutes, tiny data, results mean nothing), ``laptop`` (the
default: real children on a 2-core CPU) and ``paper`` (ImageNet, a cluster); ``class`` is ``laptop`` reading the
runs ``make reproduce`` stored instead of searching or training (``stored_runs``, ``mnaslib.search.stored``). The
packaged ones live in ``mnaslib/configs/<name>.yaml``; any YAML file is a profile too, and ``base: laptop`` lets it
change a few keys of a packaged one. ``mnas search --profile my.yaml`` and ``make reproduce PROFILE=my.yaml`` both take
it, and notebooks read their budgets from ``profile.notebooks`` instead of branching on the profile's name.

``load_profile`` validates the whole file (every section, types included) before anything touches the disk, so a
mistake is one clear error and never a half-created run directory. The search sections are what a run directory
records; ``RESUMABLE_KEYS`` (defined once, in ``mnaslib.search.rundir``) are the ones a resume may change.
"""
from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field, fields, replace
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Mapping

import yaml

from mnaslib.errors import ProfileError, as_int, shown
from mnaslib.registry import refuse_unknown
from mnaslib.search.parts import Parts, build_parts
from mnaslib.search.profile_yaml import MAX_INTEGER, Refused, check_plain, load_yaml
from mnaslib.search.rundir import RESUMABLE_KEYS

PROFILE_NAMES = ("ci", "laptop", "paper", "class")
DEFAULT_PROFILE = "laptop"
SECTIONS = ("space", "strategy", "reward", "latency", "proxy", "executor")
ALL = "all"  # a budget selection naming every network
MAX_COUNT = 1_000_000  # any notebook budget's count
MAX_STEPS = 1_000_000
MAX_BATCH_SIZE = 4096  # children sampled per step (the paper's search: 8,000 children in all)
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_. +-]{0,99}$")  # a profile's name names a folder of `mnas reproduce`


# ---------------------------------------------------------------------------------------------------------------
# Notebook budgets
# ---------------------------------------------------------------------------------------------------------------
def _selection(value: Any, what: str) -> tuple[str, ...] | None:
    """A budget's network selection: ``all`` (every network: ``None``) or a list of labels."""
    if value is None or value == ALL:
        return None
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ProfileError(f"{what} must be '{ALL}' or a list of network labels, got {shown(value)}")
    return tuple(value)


@dataclass(frozen=True)
class ModelsBudget:
    """Notebooks 04 and 05: which networks get a host latency and a proxy training (``None``: every one); the
    rest are computed and predicted, which costs seconds. Proxy trainings are opt-in (default: none): a short
    training ranked networks against their real accuracy (README, "Proxy fidelity"), so the named networks'
    accuracy comes from the Accel-NASBench predictor. ``table4_search`` shrinks Table 4's search below the
    profile's own where the notebook must finish in minutes."""

    table1_host: tuple[str, ...] | None = None
    table1_proxy: tuple[str, ...] | None = ()
    fig5_host: tuple[str, ...] | None = None
    fig5_proxy: tuple[str, ...] | None = ()
    table4_host: tuple[str, ...] | None = None
    table4_proxy: tuple[str, ...] | None = ()
    table4_search: dict = field(default_factory=dict)
    host_runs: int = 50
    host_warmup: int = 10
    host_rounds: int = 3

    @staticmethod
    def selected(selection: tuple[str, ...] | None, label: str) -> bool:
        """Whether a selection (``None``: every network) includes ``label``."""
        return selection is None or label in selection


@dataclass(frozen=True)
class NotebookBudgets:
    """What each notebook runs at this profile (the laptop profile's values are the defaults)."""

    reward_points: int = 600                      # 00: points per drawn curve
    space_samples: int = 8                        # 01: random architectures tabulated
    latency_baselines: tuple[str, ...] = ("keras-mobilenet", "keras-nasnetmobile", "keras-mobilenetv2",
                                          "mnasnet-a1", "mnasnet-b1")  # 02: networks timed on the host
    latency_random: int = 6                       # 02: held-out random architectures for the host model
    benchmark_steps: int = 375                    # 03, 05, 07: Accel-NASBench searches, steps x children per
    benchmark_batch_size: int = 8                 # search (Figure 6's 3,000 samples),
    benchmark_seeds: int = 3                      # and seeds per arm of each comparison
    models: ModelsBudget = field(default_factory=ModelsBudget)  # 04 and 05
    detection_conventions: tuple[str, ...] | None = None     # 06: head conventions counted (None: all)
    cell_space: dict = field(default_factory=lambda: {"name": "nasnet-cell", "num_cells": 2})  # 07
    # 07: the cell-space searches of Table 5 (no evaluator has a measured fidelity on cell-space networks, so their
    # rows are "not testable here" whether or not they run: off where time is short)
    cell_searches: bool = False
    table6_train: tuple[str, ...] | None = ()     # 07: Table 6 networks proxy-trained, opt-in (None: all)
    strategy_steps: int | None = None             # 07: steps of each strategy comparison search (None: benchmark's)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "NotebookBudgets":
        values = dict(_mapping(values, "notebooks"))
        _known(values, cls, "notebooks")
        models = dict(_mapping(values.pop("models", {}), "notebooks.models"))
        _known(models, ModelsBudget, "notebooks.models")
        for key in ("table1_host", "table1_proxy", "fig5_host", "fig5_proxy", "table4_host", "table4_proxy"):
            if key in models:
                models[key] = _selection(models[key], f"notebooks.models.{key}")
        for key in ("host_runs", "host_warmup", "host_rounds"):
            if key in models:
                models[key] = _count(models[key], f"notebooks.models.{key}", 0 if key == "host_warmup" else 1)
        if "table4_search" in models:
            models["table4_search"] = dict(_mapping(models["table4_search"], "notebooks.models.table4_search"))
        for key in ("reward_points", "space_samples", "latency_random", "benchmark_steps", "benchmark_batch_size",
                    "benchmark_seeds", "strategy_steps"):
            if key in values and not (key == "strategy_steps" and values[key] is None):
                values[key] = _count(values[key], f"notebooks.{key}", 0 if key == "latency_random" else 1)
        for key in ("detection_conventions", "table6_train"):
            if key in values:
                values[key] = _selection(values[key], f"notebooks.{key}")
        if "latency_baselines" in values:
            values["latency_baselines"] = _selection(values["latency_baselines"], "notebooks.latency_baselines") or ()
        if "cell_space" in values:
            values["cell_space"] = dict(_mapping(values["cell_space"], "notebooks.cell_space"))
        if not isinstance(values.get("cell_searches", False), bool):
            raise ProfileError(f"notebooks.cell_searches must be true or false, got {shown(values['cell_searches'])}")
        return cls(**values, models=ModelsBudget(**models))


# ---------------------------------------------------------------------------------------------------------------
# The profile
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Profile:
    """Everything that defines a search, and the notebooks' budgets.

    ``space``, ``strategy``, ``reward``, ``latency``, ``proxy`` and ``executor`` are the YAML sections as mappings,
    each parsed once through its kind's registry into typed options and built into ``parts`` (``mnaslib.search.parts``)
    when the profile is validated; ``benchmark`` names a tabular benchmark whose recorded
    (or surrogate) accuracies replace trained children, in that benchmark's own space: a name
    (``nasbench-macro``, ``accel-nasbench``) or ``{name, path, accuracy, space}`` (``accuracy: one_run`` draws one
    recorded training run per query instead of their mean; ``space`` holds the benchmark space's options, such as
    ``{se: false}``). ``evaluator`` says how a child is scored when no benchmark is set (a benchmark drops it):
    ``trained`` (the default: trained on the proxy task) or ``naswot`` (``mnaslib.evaluation.worker.ZeroCostEvaluator``:
    scored at initialisation on the proxy's data, ``{name: naswot, images: 64, width_multiplier: 1.0}``) or
    ``accel-predictor`` (``mnaslib.tabular.evaluator.PredictorEvaluator``: the ImageNet top-1 a model learnt from
    Accel-NASBench's trained networks predicts; no options).
    """

    name: str = DEFAULT_PROFILE
    seed: int = 0
    steps: int = 10
    batch_size: int = 8
    space: dict = field(default_factory=lambda: {"name": "mnasnet"})
    strategy: dict = field(default_factory=lambda: {"name": "ppo"})
    reward: dict = field(default_factory=lambda: {"name": "mnas_soft", "target_ms": 75.0})
    latency: dict = field(default_factory=lambda: {"provider": "pixel1-model"})
    proxy: dict = field(default_factory=dict)
    executor: dict = field(default_factory=lambda: {"name": "process", "workers": 2})
    benchmark: dict | None = None
    evaluator: dict | None = None
    notebooks: NotebookBudgets = field(default_factory=NotebookBudgets)
    stored_runs: str | None = None  # a profile whose stored runs are read, never extended (mnaslib.search.stored)
    RESUMABLE_KEYS: ClassVar[tuple[str, ...]] = RESUMABLE_KEYS

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], name: str | None = None) -> "Profile":
        """A validated profile from a mapping (a parsed YAML file with overrides merged in)."""
        values = dict(_mapping(values, "profile"))
        check_plain(values, "")
        values.pop("base", None)
        if "profile" in values:
            values["name"] = values.pop("profile")
        _known(values, cls, "profile", extra=("profile",))
        if name is not None and "name" not in values:
            values["name"] = name
        for key in ("seed", "steps", "batch_size"):
            if key in values:
                values[key] = as_int(values[key], key)
        for key in SECTIONS:
            if key in values:
                values[key] = dict(_mapping(values[key], key))
        if "notebooks" in values:
            values["notebooks"] = NotebookBudgets.from_dict(values["notebooks"])
        if isinstance(values.get("benchmark"), str):
            values["benchmark"] = {"name": values["benchmark"]}
        if values.get("benchmark") is not None:
            values["benchmark"] = dict(_mapping(values["benchmark"], "benchmark"))
        if isinstance(values.get("evaluator"), str):
            values["evaluator"] = {"name": values["evaluator"]}
        if values.get("evaluator") is not None:
            values["evaluator"] = dict(_mapping(values["evaluator"], "evaluator"))
        if values.get("benchmark") is not None:
            values["evaluator"] = None  # the benchmark's accuracies replace any evaluator (--set benchmark=...)
        stored = values.get("stored_runs")
        if stored is not None and (not isinstance(stored, str) or not _NAME.match(stored)):
            raise ProfileError(f"stored_runs must name the profile whose stored runs are read (laptop, say), got "
                               f"{shown(stored)}")
        if "name" in values and not isinstance(values["name"], str):
            raise ProfileError(f"profile must be a name (text), got {values['name']!r}")
        profile = cls(**values)
        profile.validate()
        return profile

    def validate(self) -> None:
        """Check the plain settings and build every part once, so any bad value fails here."""
        if not _NAME.match(self.name) or self.name.strip(".") == "":
            raise ProfileError(f"profile must be a plain name (letters, digits, '_', '.', '+', '-'; it names a folder "
                               f"of `mnas reproduce`), got {shown(self.name)}")
        if self.seed < 0:
            raise ProfileError(f"seed must be a non-negative integer, got {self.seed}")
        if self.seed > MAX_INTEGER:
            raise ProfileError(f"seed must be at most 2**63 - 1 (the store's largest integer), got {shown(self.seed)}")
        if self.steps < 1 or self.batch_size < 1:
            raise ProfileError(f"steps and batch_size must be >= 1, got {self.steps} and {self.batch_size}")
        if self.steps > MAX_STEPS or self.batch_size > MAX_BATCH_SIZE:
            raise ProfileError(f"steps must be at most {MAX_STEPS:,} and batch_size (children per step) at most "
                               f"{MAX_BATCH_SIZE:,}, got {shown(self.steps)} and {shown(self.batch_size)}")
        self.parts  # every part built once, here: a bad value fails before a run directory is touched

    @cached_property
    def parts(self) -> Parts:
        """The space, strategy options, reward, latency, evaluator and executor this profile describes, built once
        (``mnaslib.search.parts``) and reused by its search; a bad setting is a ProfileError naming it."""
        try:
            return build_parts(self)
        except ProfileError:
            raise
        except ValueError as err:  # UserError, and the checks of a plug-in's own values (a provider's runs...)
            raise ProfileError(str(err)) from None

    def with_overrides(self, overrides: Mapping[str, Any]) -> "Profile":
        """This profile with nested ``overrides`` merged on top, validated again."""
        return Profile.from_dict(_merge(self.to_dict(include_notebooks=True), overrides))

    def to_dict(self, include_notebooks: bool = False) -> dict:
        """The search sections as a plain dict (what a run directory records); ``include_notebooks`` adds the
        budgets and ``stored_runs`` (for reports and ``with_overrides``)."""
        values = {"profile": self.name, **{f.name: getattr(self, f.name) for f in fields(self)
                                           if f.name not in ("name", "notebooks", "stored_runs")}}
        if values["evaluator"] is None:  # so that runs recorded before the key existed still resume
            del values["evaluator"]
        if include_notebooks:
            values["notebooks"] = _plain(asdict(self.notebooks))
            if self.stored_runs is not None:  # where the runs come from, not what they are: never in a run record
                values["stored_runs"] = self.stored_runs
        return _plain(values)

    def search_with(self, **changes: Any) -> "Profile":
        """A copy with whole sections replaced (an ablation's space or reward), validated again."""
        return replace(self, **changes)._validated()

    def _validated(self) -> "Profile":
        self.validate()
        return self


def load_profile(name_or_path: str | os.PathLike | Profile = DEFAULT_PROFILE,
                 overrides: Mapping[str, Any] | None = None) -> Profile:
    """A packaged profile by name (``ci``, ``laptop``, ``paper``), a YAML file, or a ``Profile`` as it is, with
    nested ``overrides`` merged on top; everything validated."""
    if isinstance(name_or_path, Profile):
        return name_or_path.with_overrides(overrides) if overrides else name_or_path
    values, name = _read(str(name_or_path))
    return Profile.from_dict(_merge(values, overrides or {}), name=name)


def _read(spec: str, seen: tuple[str, ...] = ()) -> tuple[dict, str]:
    """The YAML mapping of a packaged profile or a file, with its ``base`` profile merged underneath."""
    if spec in PROFILE_NAMES:
        text, name, where = resources.files("mnaslib").joinpath("configs", f"{spec}.yaml").read_text(), spec, spec
    else:
        path = Path(spec).expanduser()
        if path.is_dir():
            raise ProfileError(f"{path} is a directory; give a profile name ({', '.join(PROFILE_NAMES)}) or a "
                               "YAML file")
        if not path.is_file():
            raise ProfileError(f"no profile named {spec!r} and no such file; profiles: {', '.join(PROFILE_NAMES)}, or "
                               "a path to a YAML file")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise ProfileError(f"cannot read profile file {path}: {err}") from None
        name, where = path.stem, str(path)
    try:
        values = load_yaml(text)
    except RecursionError:
        raise ProfileError(f"{where} is nested too deeply to be a profile") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        refused = "is refused" if isinstance(err, Refused) else "is not valid YAML"
        raise ProfileError(f"{where} {refused}{at}: {problem}") from None
    if values is None:
        raise ProfileError(f"{where} is empty; a profile needs at least a 'base' (one of {', '.join(PROFILE_NAMES)}) "
                           "or its search settings")
    if not isinstance(values, dict):
        raise ProfileError(f"{where} must be a YAML mapping of settings, got {type(values).__name__}")
    base = values.get("base")
    if base is None:
        return values, name
    if not isinstance(base, str) or base in seen or str(base) == spec:
        raise ProfileError(f"{where}: base must name another profile (no cycles), got {base!r}")
    if base not in PROFILE_NAMES and spec not in PROFILE_NAMES:
        base = str(Path(spec).expanduser().parent / Path(base).expanduser())  # beside the file that names it
    base_values, _ = _read(base, seen + (spec,))
    merged = _merge(base_values, {k: v for k, v in values.items() if k != "base"})
    merged["profile"] = values.get("profile", name)
    return merged, name


def _count(value: Any, what: str, low: int) -> int:
    number = as_int(value, what)
    if not low <= number <= MAX_COUNT:
        raise ProfileError(f"{what} must be between {low} and {MAX_COUNT:,}, got {number}")
    return number


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ProfileError(f"{what} must be a mapping of settings, got {shown(value)}")
    return value


def _known(values: Mapping[str, Any], cls: type, what: str, extra: tuple[str, ...] = ()) -> None:
    refuse_unknown(values, {f.name for f in fields(cls)} | set(extra), what, ProfileError)


def _merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict:
    merged = dict(base)
    for key, value in overrides.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, Mapping) and isinstance(
            merged.get(key), Mapping) else value
    return merged


def _plain(value: Any) -> Any:
    """Tuples as lists and nested mappings as dicts, as YAML and JSON write them."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
