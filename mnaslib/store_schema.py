"""The trial store's on-disk format: its tables and columns, and how values are written into them.

Kept apart from ``TrialStore`` (the operations) so the format can be read in one place: a schema version, five
tables, the conversions every write goes through (numpy scalars to Python numbers, JSON for lists and dicts,
integer columns refusing fractions), and the checks every read goes through: a hand-edited or damaged row (text in a
number column, an accuracy of 75.2, a latency of -3 ms) is refused as "this store is damaged", naming the table and
row, instead of being drawn or crashing a reader.
"""
from __future__ import annotations

import json
import math
import operator
from collections.abc import Mapping
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from mnaslib.errors import UserError, shown

SCHEMA_VERSION = 1
STORE_FILENAME = "trials.sqlite"
STATUSES = ("pending", "running", "done", "failed")
UNFINISHED = ("pending", "running")

METRIC_COLUMNS = ("accuracy", "latency_ms", "latency_provenance", "reward", "params", "trainable_params",
                  "mult_adds", "train_seconds", "eval_seconds", "extra")
TRIAL_COLUMNS = ("id", "step", "index_in_step", "arch_id", "tokens", "block_strings", "status", *METRIC_COLUMNS[:-1],
                 "error", "extra", "created", "finished")
JSON_COLUMNS = ("tokens", "block_strings", "extra")
REAL_COLUMNS = ("accuracy", "latency_ms", "reward", "train_seconds", "eval_seconds")
INT_COLUMNS = ("params", "trainable_params", "mult_adds")
DTYPES = {**{c: "float64" for c in REAL_COLUMNS}, **{c: "Int64" for c in INT_COLUMNS}}

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    config TEXT NOT NULL,
    seed INTEGER,
    created TEXT NOT NULL,
    mnaslib_version TEXT NOT NULL,
    schema_version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    step INTEGER NOT NULL,
    index_in_step INTEGER NOT NULL,
    arch_id TEXT NOT NULL,
    tokens TEXT NOT NULL,
    block_strings TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ({", ".join(repr(s) for s in STATUSES)})),
    accuracy REAL,
    latency_ms REAL,
    latency_provenance TEXT,
    reward REAL,
    params INTEGER,
    trainable_params INTEGER,
    mult_adds INTEGER,
    train_seconds REAL,
    eval_seconds REAL,
    error TEXT,
    extra TEXT,
    created TEXT NOT NULL,
    finished TEXT,
    UNIQUE (step, index_in_step)
);
CREATE INDEX IF NOT EXISTS trials_status ON trials (status);
CREATE TABLE IF NOT EXISTS strategy_state (step INTEGER PRIMARY KEY, state BLOB NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scalars (step INTEGER NOT NULL, tag TEXT NOT NULL, value REAL, created TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS scalars_tag ON scalars (tag, step);
PRAGMA user_version = {SCHEMA_VERSION};
"""


class StoreError(UserError, RuntimeError):
    """The file is not a usable trial store (not SQLite, damaged, or another schema version): the user's to fix
    (a ``UserError``), and a ``RuntimeError`` as it always was."""


def damaged(path: Path, table: str, row: Any, what: str) -> StoreError:
    """The error for a row no search could have written."""
    return StoreError(f"this store is damaged: {path}, table {table}, row {row}: {what}; restore it from a backup or "
                      f"move it aside (mnaslib never deletes a store)")


def decode_trial(row: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """A trial row as a dict, its JSON columns decoded and every value checked against what a search writes."""
    trial = dict(row)
    for name in JSON_COLUMNS:
        if trial[name] is not None:
            try:
                trial[name] = json.loads(trial[name])
            except (TypeError, ValueError, RecursionError) as err:
                raise damaged(path, "trials", trial["id"], f"{name} is not JSON ({err})") from None
    problem = _trial_problem(trial)
    if problem:
        raise damaged(path, "trials", trial["id"], problem)
    return trial


def _trial_problem(trial: Mapping[str, Any]) -> str | None:
    def number(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

    if not (isinstance(trial["tokens"], list) and all(isinstance(t, int) for t in trial["tokens"])):
        return f"tokens must be a list of integers, got {shown(trial['tokens'])}"
    if not (isinstance(trial["block_strings"], list) and all(isinstance(b, str) for b in trial["block_strings"])):
        return f"block_strings must be a list of text, got {shown(trial['block_strings'])}"
    if trial["extra"] is not None and not isinstance(trial["extra"], dict):
        return f"extra must be a JSON object, got {shown(trial['extra'])}"
    if trial["status"] not in STATUSES:
        return f"status {shown(trial['status'])} is not one of {', '.join(STATUSES)}"
    for name in (*REAL_COLUMNS, *INT_COLUMNS):
        value = trial[name]
        if value is not None and (not number(value) or (name in INT_COLUMNS and not isinstance(value, int))):
            return f"{name} must be a {'whole ' if name in INT_COLUMNS else ''}number, got {shown(value)}"
    if trial["latency_ms"] is not None and trial["latency_ms"] <= 0:
        return f"latency_ms must be positive, got {trial['latency_ms']}"
    scored = str((trial["extra"] or {}).get("accuracy_provenance", "")).startswith("proxy (NASWOT")
    if trial["accuracy"] is not None and not scored and not 0.0 <= trial["accuracy"] <= 1.0:
        return f"accuracy must be a fraction in [0, 1], got {trial['accuracy']}"
    if any(trial[name] is not None and trial[name] < 0 for name in INT_COLUMNS):
        return "params and mult_adds must not be negative"
    return None


def decode_config(row: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """A ``runs`` row, its config decoded (a JSON object, as ``record_run`` writes it)."""
    try:
        config = json.loads(row["config"])
    except (TypeError, ValueError, RecursionError) as err:
        raise damaged(path, "runs", row["id"], f"config is not JSON ({err})") from None
    if not isinstance(config, dict):
        raise damaged(path, "runs", row["id"], f"config must be a JSON object, got {shown(config)}")
    return {**dict(row), "config": config}


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def mnaslib_version() -> str:
    """The installed mnaslib version; 'unknown' when run from a source tree that was never installed."""
    try:
        return metadata.version("mnaslib")
    except metadata.PackageNotFoundError:
        return "unknown"


def dumps(value: Any, what: str) -> str:
    try:
        return json.dumps(value, sort_keys=True, allow_nan=True)
    except TypeError as error:
        raise ValueError(f"{what} must be JSON-serialisable: {error}") from error


def metric(name: str, value: Any) -> Any:
    """A metric as SQLite stores it: numpy scalars become Python numbers (sqlite3 cannot bind them), a Provenance
    becomes its label, extra becomes JSON; an integer column refuses a fractional value instead of truncating it."""
    if value is None:
        return None
    if name == "extra":
        return dumps(value, "extra")
    if name == "latency_provenance":
        return str(value)
    if name in INT_COLUMNS:
        try:
            return operator.index(value)
        except TypeError as error:
            raise ValueError(f"trial metric {name} must be an integer, got {value!r}") from error
    return float(value)
