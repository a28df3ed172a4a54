"""The measured rank fidelity of a proxy task, for the label every proxy accuracy carries.

``benchmarks/proxy_fidelity.py --summary data/fidelity/nas-bench-macro.json`` measures how well the proxy trainer
ranks NAS-Bench-Macro's networks (Kendall tau against their 200-epoch CIFAR-10 accuracy) at several budgets of
training images, with the task's other settings fixed. A proxy accuracy is then labelled with the tau measured for
exactly its settings, or says that none was measured: a label never borrows another budget's number.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

SUMMARY = Path(__file__).resolve().parent.parent.parent / "data" / "fidelity" / "nas-bench-macro.json"
# Settings that do not change what the proxy measures: the seed varies per trial, the rest say where and how it runs.
_IGNORED = ("seed", "data_dir", "run_eagerly", "max_train")
NOT_MEASURED = "rank fidelity not measured"


@functools.lru_cache(maxsize=4)
def load_summary(path: str | None = None) -> dict[str, Any] | None:
    """The committed fidelity summary, or None where it is absent (an install without the repository's data/)."""
    file = Path(path) if path else SUMMARY
    return json.loads(file.read_text()) if file.exists() else None


def fidelity_note(task: dict[str, Any], summary: dict[str, Any] | None = None) -> str:
    """``Kendall 0.52 vs NAS-Bench-Macro at this budget (20 networks)`` for a measured proxy task (trained on
    ``max_train`` images), else a note saying that this task's rank fidelity was not measured."""
    summary = summary if summary is not None else load_summary()
    if summary is None:
        return NOT_MEASURED
    return _note(summary, _trained_key(task, summary), "at this budget")


def _trained_key(task: dict[str, Any], summary: dict[str, Any]) -> str | None:
    """The summary's entry for ``task`` (``trained@<images>``) when its settings are the measured ones."""
    measured = {k: v for k, v in summary["task"].items() if k not in _IGNORED}
    mine = {k: v for k, v in task.items() if k not in _IGNORED}
    return f"trained@{task.get('max_train')}" if mine == measured else None


def measured_proxy(task: dict[str, Any], summary: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The Kendall tau measured for exactly ``task``'s settings, the networks it was measured on and the parameter
    count's tau on the same networks; None where these settings were not measured."""
    summary = summary if summary is not None else load_summary()
    key = _trained_key(task, summary) if summary is not None else None
    entry = summary["proxies"].get(key) if key else None
    if entry is None:
        return None
    return {"kendall": entry["kendall"], "scored": entry["scored"],
            "parameter_kendall": summary["proxies"]["params"]["kendall"]}


def zero_cost_note(score: str, settings: dict[str, Any], summary: dict[str, Any] | None = None) -> str:
    """The same note for a training-free score computed with ``settings`` (data set, image size, width, images)."""
    summary = summary if summary is not None else load_summary()
    if summary is None:
        return NOT_MEASURED
    return _note(summary, score if summary.get("zero_cost") == settings else None, "with these settings")


def _note(summary: dict[str, Any], proxy: str | None, where: str) -> str:
    entry = summary["proxies"].get(proxy) if proxy else None
    if entry is None:
        return f"{NOT_MEASURED} for these settings"
    return (f"Kendall {entry['kendall']:.2f} vs NAS-Bench-Macro {where} ({entry['scored']} networks, "
            "benchmarks/proxy_fidelity.py)")
