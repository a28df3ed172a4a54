"""Accel-NASBench: 5,138 ImageNet trainings of networks of an EfficientNet-B0 space, as a tabular benchmark.

The data set (Ahmad, Xie et al., "Accel-NASBench", DAC 2024; Apache-2.0) is the one public set of networks of a
MnasNet-style per-block space (expansion, kernel, layers, SE) that were each trained on ImageNet, with the authors'
short proxy schedule (16 epochs, one seed). It is our ground truth for the accuracy half of the paper's search
experiments, which no CPU can train.

* ``ACCEL_NASBENCH`` locates the published archive (a path, ``$MNAS_ACCEL_NASBENCH``, ``$MNAS_BENCHMARK_DIR`` or a
  checked download; :mod:`mnaslib.tabular.files`), never a copy in this repository.
* :func:`parse_archive` reads the result JSONs straight from the ``.tar.gz`` (nothing is extracted) and validates
  every field; :func:`load_results` caches the parsed table as CSV beside the download cache, keyed by the
  archive's sha256, so later loads take milliseconds instead of the ~1 s parse.
* :class:`AccelNASBench` is the ``TabularBenchmark``: ``record(arch)`` is the accuracy surrogate's prediction for
  any network of the space (:mod:`mnaslib.tabular.accel_surrogate`), ``trained(arch)`` the recorded training of one
  of the 5,138 networks (13 of them were trained twice, so 5,125 distinct networks).
"""
from __future__ import annotations

import json
import math
import os
import re
import tarfile
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from mnaslib.errors import UserError
from mnaslib.labels import Provenance
from mnaslib.spaces.ops import arch_ops, arch_params
from mnaslib.spaces.arch import Arch
from mnaslib.spaces.accel import AccelSpace
from mnaslib.tabular.accel_surrogate import AccelSurrogate, SurrogateSettings, load_or_fit, table_tokens
from mnaslib.tabular.base import BenchmarkRecord, TabularBenchmark
from mnaslib.tabular.files import BenchmarkFile, cache_root, write_atomically

ACCEL_NASBENCH = BenchmarkFile(
    benchmark="Accel-NASBench", folder="accel-nasbench", filename="anb_dataset_jsons.tar.gz",
    sha256="3520992d42e368b7c08c99fc3f6612855b5b366bf98668a7f19d49f3131aa4ae",
    url="https://raw.githubusercontent.com/afzalxo/Accel-NASBench/42603572d530310e6bac7191d00cf45625a6b197/"
        "anb_dataset/anb_dataset_jsons.tar.gz",
    env_var="MNAS_ACCEL_NASBENCH", licence="Apache-2.0",
    citation='A. Ahmad, L. Xie, et al., "Accel-NASBench: Sustainable Benchmarking for Accelerator-Aware NAS", '
             "DAC 2024 (arXiv 2404.08005)")

MEMBER_RE = re.compile(r"^(?:\./)?anb_dataset_jsons/result_(\d+)\.json$")
METRICS = {"val_top1": "val_top1", "val_top5": "val_top5", "train_time": "train_time_s"}
MODEL_INFO = {"macs": "macs_m", "params": "params_m"}
# platform_perf entries: throughput (images/s) on four chips and two FPGAs, latency (ms) on the two FPGAs.
PLATFORMS = ("throughput_a100", "throughput_3090", "throughput_tpuv2", "throughput_tpuv3", "throughput_zcu102",
             "throughput_vck190", "latency_zcu102", "latency_vck190")
CACHE_FORMAT = 1  # bump when the parsed columns change: older cache files are then parsed again
TRAINING = "ImageNet top-1 after the authors' 16-epoch proxy training"


class AccelNASBenchFormatError(UserError):
    """The archive (or one result file in it) is not in Accel-NASBench's format; the message names what and where."""


def table_columns(space: AccelSpace | None = None) -> list[str]:
    """The parsed table's columns: result number, the 28 decisions, metrics, model info, platform numbers."""
    space = space or AccelSpace()
    return (["result"] + [d.name for d in space.decisions] + list(METRICS.values()) + list(MODEL_INFO.values())
            + list(PLATFORMS))


def parse_archive(path: str | os.PathLike) -> pd.DataFrame:
    """Every ``anb_dataset_jsons/result_<n>.json`` of the archive as one row (``table_columns``), sorted by ``n``.

    Reads the members from the compressed stream without extracting anything; a file that is not a gzip'd tar, a
    result that is not JSON, or a missing or out-of-range field raises ``AccelNASBenchFormatError`` naming it.
    """
    space = AccelSpace()
    rows = []
    try:
        with tarfile.open(path, "r:gz") as archive:
            for member in archive:
                match = MEMBER_RE.match(member.name)
                if not (member.isfile() and match):
                    continue
                try:
                    result = json.load(archive.extractfile(member))
                except (UnicodeDecodeError, json.JSONDecodeError) as error:
                    raise AccelNASBenchFormatError(f"{path}: {member.name} is not JSON ({error})") from None
                rows.append(_row(space, int(match.group(1)), result, f"{path}: {member.name}"))
    except (tarfile.TarError, EOFError, OSError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise AccelNASBenchFormatError(f"{path} is not a readable .tar.gz archive ({error}); expected "
                                       f"{ACCEL_NASBENCH.filename} from {ACCEL_NASBENCH.url}") from None
    if not rows:
        raise AccelNASBenchFormatError(f"{path} holds no anb_dataset_jsons/result_<n>.json files; expected "
                                       f"{ACCEL_NASBENCH.filename} from {ACCEL_NASBENCH.url}")
    table = pd.DataFrame(rows, columns=table_columns(space)).sort_values("result", ignore_index=True)
    repeated = table["result"][table["result"].duplicated()]
    if len(repeated):
        raise AccelNASBenchFormatError(f"{path}: result numbers {sorted(set(repeated))[:5]} appear twice")
    return table


def _row(space: AccelSpace, number: int, result: Any, where: str) -> dict[str, Any]:
    """One result JSON -> one table row, every field checked."""
    if not isinstance(result, dict):
        raise AccelNASBenchFormatError(f"{where}: a result is a JSON object, got {type(result).__name__}")
    for section in ("architecture", "metrics", "model_info"):
        if not isinstance(result.get(section), dict):
            raise AccelNASBenchFormatError(f"{where}: no '{section}' object")
    try:
        tokens = space.tokens_from_architecture(result["architecture"])
    except ValueError as error:
        raise AccelNASBenchFormatError(f"{where}: {error}") from None
    row: dict[str, Any] = {"result": number, **space.architecture_from_tokens(tokens)}
    bounds = {"val_top1": (0.0, 100.0), "val_top5": (0.0, 100.0), "train_time": (0.0, math.inf),
              "macs": (0.0, math.inf), "params": (0.0, math.inf)}
    for section, fields in (("metrics", METRICS), ("model_info", MODEL_INFO)):
        for field, column in fields.items():
            value = result[section].get(field)
            low, high = bounds[field]
            if not _number(value) or not low < value <= high:
                raise AccelNASBenchFormatError(f"{where}: {section}.{field} = {value!r}; expected a number in "
                                               f"({low:g}, {high:g}]")
            row[column] = float(value)
    perf = result.get("platform_perf", {})
    if not isinstance(perf, dict):
        raise AccelNASBenchFormatError(f"{where}: platform_perf must be an object, got {type(perf).__name__}")
    for platform in PLATFORMS:
        entry = perf.get(platform) or {}
        value = entry.get(platform.split("_")[0] + "_mean") if isinstance(entry, dict) else entry
        if value is not None and not (_number(value) and value > 0):
            raise AccelNASBenchFormatError(f"{where}: platform_perf.{platform} = {entry!r}; expected a positive "
                                           "mean or null")
        row[platform] = float(value) if value is not None else math.nan
    return row


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def cache_dir() -> Path:
    """Where parsed tables and fitted surrogates live: ``$MNAS_CACHE_DIR/benchmarks/accel-nasbench``."""
    return cache_root() / ACCEL_NASBENCH.folder


def load_results(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """The parsed table of the published archive (checked by sha256 when located), from the cache when present."""
    archive = ACCEL_NASBENCH.locate(path)
    cached = cache_dir() / f"results-{ACCEL_NASBENCH.sha256[:16]}-v{CACHE_FORMAT}.csv"
    columns = table_columns()
    if cached.is_file():
        try:
            table = pd.read_csv(cached)
            if list(table.columns) == columns:
                return _typed(table)
        except (ValueError, pd.errors.ParserError):
            pass  # a damaged cache file is parsed again and replaced below
    table = parse_archive(archive)
    write_atomically(cached, lambda handle: table.to_csv(handle, index=False))
    return table


def _typed(table: pd.DataFrame) -> pd.DataFrame:
    """CSV stores the SE flags as True/False text or 0/1; make them booleans again."""
    se = [column for column in table.columns if column.endswith("_se")]
    table[se] = table[se].astype(bool)
    return table


class AccelNASBench(TabularBenchmark):
    """Accel-NASBench's space with the accuracy surrogate for every network and the recorded trainings for its
    5,138 (``records`` predicts many networks in one batch; predictions are cached per network).

    ``path`` is the archive or its folder (else ``$MNAS_ACCEL_NASBENCH``, ``$MNAS_BENCHMARK_DIR``, the download
    cache or a download); the surrogate is fitted on first use of ``record`` and cached (``accel_surrogate``).
    """

    name = "accel-nasbench"

    def __init__(self, path: str | os.PathLike | None = None, settings: SurrogateSettings = SurrogateSettings()):
        self._space = AccelSpace()
        self.table = load_results(path)
        self.tokens = table_tokens(self.table, self._space)
        self.settings = settings
        self._rows: dict[tuple[int, ...], list[int]] = {}
        for row, tokens in enumerate(map(tuple, self.tokens.tolist())):
            self._rows.setdefault(tokens, []).append(row)
        self._surrogate: AccelSurrogate | None = None
        self._predicted: dict[tuple[int, ...], BenchmarkRecord] = {}

    @property
    def space(self) -> AccelSpace:
        return self._space

    @property
    def surrogate(self) -> AccelSurrogate:
        """The fitted surrogate (from the cache, or fitted now: seconds of CPU)."""
        if self._surrogate is None:
            self._surrogate = load_or_fit(self.table, ACCEL_NASBENCH.sha256, cache_dir(), self.settings)
        return self._surrogate

    def record(self, arch: Arch) -> BenchmarkRecord:
        """The surrogate's top-1 (a fraction) of any network of the space, labelled with its held-out error.

        ``extra`` holds the prediction in percent and the network's exact counts, as a trained child reports them:
        ``params`` (trainable parameters) and ``macs`` (our mult-adds at 224x224: convolutions and the classifier;
        the benchmark's own ``model_info.macs`` adds thop's batch-norm and pooling counts, see ``published_macs``).
        """
        return self.records([arch])[0]

    def records(self, archs: Iterable[Arch]) -> list[BenchmarkRecord]:
        """``record`` for many networks, predicting the ones not yet cached in one batch."""
        return self._records([tuple(self._space.encode(arch)) for arch in archs])

    def accuracy(self, tokens: Sequence[int]) -> float:
        return self._records([tuple(self._space.check_tokens(tokens))])[0].accuracy

    def _records(self, keys: list[tuple[int, ...]]) -> list[BenchmarkRecord]:
        missing = list(dict.fromkeys(key for key in keys if key not in self._predicted))
        if missing:
            surrogate = self.surrogate
            for key, top1 in zip(missing, surrogate.predict(np.array(missing))):
                self._predicted[key] = BenchmarkRecord(float(top1) / 100.0, surrogate.provenance,
                                                       extra={"val_top1_percent": float(top1), **self._counts(key)})
        return [self._predicted[key] for key in keys]

    def _counts(self, tokens: tuple[int, ...]) -> dict[str, int]:
        arch = self._space.decode(list(tokens))
        return {"params": arch_params(arch), "macs": sum(op.mult_adds for op in arch_ops(arch))}

    def trained(self, arch: Arch) -> BenchmarkRecord | None:
        """The recorded training(s) of ``arch`` if it is one of the benchmark's networks, else None.

        ``accuracy`` is the recorded ``val_top1`` as a fraction (the mean where the network was trained twice),
        ``runs`` every training's, ``extra`` the result numbers, top-5, MACs and parameters as published (``macs_m``,
        ``params_m``) and the exact counts of ``record`` (``params``, ``macs``)."""
        rows = self._rows.get(tuple(self._space.encode(arch)))
        if rows is None:
            return None
        found = self.table.iloc[rows]
        runs = tuple(float(v) / 100.0 for v in found["val_top1"])
        detail = "one training, single seed" if len(runs) == 1 else f"mean of {len(runs)} trainings"
        return BenchmarkRecord(float(np.mean(runs)), Provenance("benchmark", f"Accel-NASBench: {TRAINING}; {detail}"),
                               runs, extra={"results": [int(r) for r in found["result"]],
                                            "val_top5": [float(v) for v in found["val_top5"]],
                                            "macs_m": float(found["macs_m"].iloc[0]),
                                            "params_m": float(found["params_m"].iloc[0]),
                                            **self._counts(tuple(self._space.encode(arch)))})
