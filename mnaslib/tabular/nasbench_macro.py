"""NAS-Bench-Macro as a tabular benchmark: the real CIFAR-10 accuracy of every network of its space.

Every one of the space's 3,969 distinct networks (``macro_space``) was trained three times by the benchmark's
authors (SGD, cosine schedule, 50 epochs, the full training set; each run keeps its best test accuracy). That makes
it the ground truth for two questions this project cannot answer by training on 2 cores: how well a cheap proxy
ranks networks (Kendall tau against ``mean_acc``, up to the benchmark's own noise ceiling), and how many samples a
search strategy needs to find a top network.

The data file is not part of this repository (Apache-2.0, its attribution travels with every copy):
``NASBenchMacro.load()`` finds it through ``NASBENCH_MACRO.locate`` (a path, ``$MNAS_NASBENCH_MACRO``,
``$MNAS_BENCHMARK_DIR/nas-bench-macro/``, the download cache, or a download checked by sha256).

Latency on this benchmark is another matter: its networks are 32x32 CIFAR-10 networks, far from the 224x224
ImageNet networks the Pixel-1 cost model was fitted on. ``latency_caveat`` says what each provider's number is
worth here; ``benchmarks/nasbench_macro_latency.py`` measures how well each agrees with a real timing.
"""
from __future__ import annotations

import json
import math
import numbers
import os
from typing import Any, Iterator, Mapping

import numpy as np
from scipy import stats

from mnaslib.errors import UserError
from mnaslib.labels import Provenance
from mnaslib.latency.base import ALIASES
from mnaslib.tabular.base import BenchmarkRecord, TabularBenchmark
from mnaslib.tabular.files import BenchmarkFile
from mnaslib.spaces.macro import (MACRO_OPTIONS, NUM_KEYS, MacroArch, MacroSpace, all_keys, canonical_key, check_key,
                                  distinct_keys)

__all__ = ["BENCHMARK_PROVENANCE", "MACRO_OPTIONS", "NASBENCH_MACRO", "MacroArch", "MacroSpace", "NASBenchMacro",
           "NASBenchMacroFormatError", "latency_caveat"]

NASBENCH_MACRO = BenchmarkFile(
    benchmark="NAS-Bench-Macro",
    folder="nas-bench-macro",
    filename="nas-bench-macro_cifar10.json",
    sha256="686dee8363cc21cca8c1f321ad5749454f2d9b9ca5972682e137e539bc522297",
    url="https://raw.githubusercontent.com/xiusu/NAS-Bench-Macro/61a2bfc2ca0dce04d0997e6cf498047c27d6acf2/data/"
        "nas-bench-macro_cifar10.json",
    env_var="MNAS_NASBENCH_MACRO",
    licence="Apache-2.0, Copyright 2021 Xiu Su",
    citation="X. Su, T. Huang, Y. Li, S. You, F. Wang, C. Qian, C. Zhang, C. Xu, \"Prioritized Architecture "
             "Sampling with Monto-Carlo Tree Search\", CVPR 2021",
)
BENCHMARK_PROVENANCE = Provenance("benchmark", "NAS-Bench-Macro: mean of 3 CIFAR-10 trainings, 50 epochs, best test "
                                               "accuracy")
RUNS = 3
FIELDS = ("test_acc", "mean_acc", "std", "params", "flops")


class NASBenchMacroFormatError(UserError):
    """The table does not have NAS-Bench-Macro's shape; the message names the entry and what is wrong with it."""


class NASBenchMacro(TabularBenchmark):
    """The table of NAS-Bench-Macro: ``record(arch)`` looks a network up; the helpers rank over distinct networks.

    ``NASBenchMacro.load(path)`` reads the published file; the constructor takes its entries (a mapping of key to
    ``test_acc``, ``mean_acc``, ``std``, ``params``, ``flops``) and the provenance its numbers carry, so a table
    of another origin (a synthetic one in a test) can never pass for the benchmark.
    """

    name = "nas-bench-macro"

    def __init__(self, entries: Mapping[str, Any], provenance: Provenance, source: str = "entries") -> None:
        self.source = source
        self.provenance = provenance
        self._records = {key: _record(key, entries[key], provenance, source) for key in _checked_keys(entries, source)}
        self._space = MacroSpace()
        self._distinct = distinct_keys()
        self._distinct_acc = np.array([self._records[key].accuracy for key in self._distinct])

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, *, download: bool = True) -> "NASBenchMacro":
        """The published table, found and checked by ``NASBENCH_MACRO.locate`` (see the module docstring)."""
        located = NASBENCH_MACRO.locate(path, download=download)
        with open(located, encoding="utf-8") as f:
            return cls(json.load(f), BENCHMARK_PROVENANCE, str(located))

    @property
    def space(self) -> MacroSpace:
        return self._space

    def record(self, arch: MacroArch | str) -> BenchmarkRecord:
        """What the table holds for a network (a ``MacroArch`` or its key); equivalent keys hold the same.

        ``accuracy`` and ``runs`` are fractions (the table's percentages / 100); ``extra`` has the table's
        ``params`` and ``flops``, ``std`` (a fraction too) and the ``canonical_key``.
        """
        key = arch.key if isinstance(arch, MacroArch) else check_key(arch)
        return self._records[key]

    def distinct(self) -> Iterator[tuple[MacroArch, BenchmarkRecord]]:
        """Each distinct network once (its canonical key, sorted) with its record."""
        for key in self._distinct:
            yield MacroArch(key), self._records[key]

    @property
    def num_distinct(self) -> int:
        return len(self._distinct)

    def top_threshold(self, fraction: float) -> float:
        """The accuracy a network needs to be in the top ``fraction`` of distinct networks.

        It is the mean accuracy of the ``ceil(fraction * n)``-th best of the ``n`` distinct networks (n = 3,969:
        the top 0.1% are the best 4, the top 1% the best 40), so ``accuracy >= top_threshold(q)`` is the test.
        """
        if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1] (0.001 for the top 0.1%), got {fraction!r}")
        count = max(1, math.ceil(float(fraction) * self.num_distinct - 1e-9))
        return float(np.sort(self._distinct_acc)[::-1][count - 1])

    def rank(self, accuracy: float) -> int:
        """1 + the number of distinct networks more accurate than ``accuracy`` (1 for the best network)."""
        return 1 + int(np.count_nonzero(self._distinct_acc > float(accuracy)))

    def noise_ceiling(self, runs: tuple[int, int] = (0, 1)) -> float:
        """Kendall tau between two of the three training runs over all distinct networks.

        Two trainings of the same networks disagree this much on their order, so no proxy can be expected to rank
        them better against one run (and a proxy's tau against ``mean_acc`` is judged next to it).
        """
        first, second = runs
        if first == second or not {first, second} <= set(range(RUNS)):
            raise ValueError(f"runs must be two different run indices among 0..{RUNS - 1}, got {runs!r}")
        records = [self._records[key] for key in self._distinct]
        tau = stats.kendalltau([r.runs[first] for r in records], [r.runs[second] for r in records]).statistic
        return float(tau)


def _checked_keys(entries: Mapping[str, Any], source: str) -> list[str]:
    """The 6,561 keys, or a format error naming what is missing or extra."""
    if not isinstance(entries, Mapping):
        raise NASBenchMacroFormatError(f"{source}: expected a JSON object keyed by 8-digit keys, got "
                                       f"{type(entries).__name__}")
    extra = sorted(str(key) for key in set(entries) - set(all_keys()))
    if extra:
        raise NASBenchMacroFormatError(f"{source}: {len(extra)} keys are not NAS-Bench-Macro keys (8 digits 0-2), "
                                       f"e.g. {extra[:3]}")
    missing = sorted(set(all_keys()) - set(entries))
    if missing:
        raise NASBenchMacroFormatError(f"{source}: {len(missing)} of the {NUM_KEYS:,} keys are missing, e.g. "
                                       f"{missing[:3]}; the file is incomplete")
    return all_keys()


def _record(key: str, entry: Any, provenance: Provenance, source: str) -> BenchmarkRecord:
    """One entry as a ``BenchmarkRecord`` (accuracies as fractions), or a format error naming the key."""
    where = f"{source}: entry {key}"
    if not isinstance(entry, Mapping) or set(FIELDS) - set(entry):
        raise NASBenchMacroFormatError(f"{where} needs the fields {', '.join(FIELDS)}, got "
                                       f"{sorted(entry) if isinstance(entry, Mapping) else type(entry).__name__}")
    runs = entry["test_acc"]
    if not isinstance(runs, (list, tuple)) or len(runs) != RUNS or not all(_percent(r) for r in runs):
        raise NASBenchMacroFormatError(f"{where}: test_acc must be {RUNS} accuracies in percent, got {runs!r}")
    if not _percent(entry["mean_acc"]) or not _real(entry["std"]) or entry["std"] < 0:
        raise NASBenchMacroFormatError(f"{where}: mean_acc must be a percentage and std >= 0, got "
                                       f"{entry['mean_acc']!r} and {entry['std']!r}")
    for field in ("params", "flops"):
        if isinstance(entry[field], bool) or not isinstance(entry[field], int) or entry[field] < 1:
            raise NASBenchMacroFormatError(f"{where}: {field} must be a positive integer, got {entry[field]!r}")
    return BenchmarkRecord(accuracy=float(entry["mean_acc"]) / 100, provenance=provenance,
                           runs=tuple(float(r) / 100 for r in runs),
                           extra={"params": entry["params"], "flops": entry["flops"], "std": float(entry["std"]) / 100,
                                  "canonical_key": canonical_key(key)})


def _real(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)


def _percent(value: Any) -> bool:
    return _real(value) and 0 <= value <= 100


# What a latency of a NAS-Bench-Macro network is worth, per provider: fixed facts about what each provider measures
# or was fitted on. How closely each agrees with a real timing is measured by benchmarks/nasbench_macro_latency.py.
LATENCY_CAVEATS = {
    "host-tflite": "measured with LiteRT on this host's CPU at the benchmark's 32x32 input: a real timing of this "
                   "network, on this machine rather than a phone",
    "pixel-adb": "measured with TFLite on the attached phone at the benchmark's 32x32 input",
    "pixel1-model": "extrapolated: the Pixel-1 model was fitted on published latencies of 224x224 ImageNet "
                    "networks (5-180 ms), far from a 32x32 CIFAR-10 network; use it to rank, not as milliseconds",
    "flops": "mult-adds counted from the network, not a latency",
}


def latency_caveat(provider: str) -> str:
    """The caveat a latency of a NAS-Bench-Macro network from ``provider`` must carry (``host`` and ``adb``
    name ``host-tflite`` and ``pixel-adb``); a provider that cannot time these networks is a ``ValueError``."""
    name = ALIASES.get(provider, provider)
    if name not in LATENCY_CAVEATS:
        raise ValueError(f"no NAS-Bench-Macro latency caveat for provider {provider!r}: it cannot time these "
                         f"networks (host-model looks up MnasNet-space layers only); use one of "
                         f"{', '.join(sorted(LATENCY_CAVEATS))}")
    return LATENCY_CAVEATS[name]
