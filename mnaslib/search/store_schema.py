"""The trial store's on-disk format: its tables and columns, and how values are written into them.

Kept apart from ``TrialStore`` (the operations) so the format can be read in one place: a schema version, five
tables, the migration of older versions (``migrate``: version 1 kept the accuracy's provenance inside ``extra`` and
the latency's as one label; version 2 stores both as (kind, detail) columns), the conversions every write goes
through (numpy scalars to Python numbers, JSON for lists and dicts,
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
from mnaslib.search import trial
from mnaslib.labels import KINDS, Provenance
from mnaslib.search.trial import TrialStatus

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)  # older versions are migrated on a writable open and converted as read otherwise
STORE_FILENAME = "trials.sqlite"
STATUSES = tuple(status.value for status in TrialStatus)
UNFINISHED = tuple(status.value for status in trial.UNFINISHED)

# what ``TrialStore.finish`` accepts; a provenance (a ``Provenance`` or its label) is stored as two columns
METRIC_COLUMNS = ("accuracy", "accuracy_provenance", "latency_ms", "latency_provenance", "reward", "params",
                  "trainable_params", "mult_adds", "train_seconds", "eval_seconds", "extra")
PROVENANCE_COLUMNS = {"accuracy_provenance": ("accuracy_kind", "accuracy_detail"),
                      "latency_provenance": ("latency_kind", "latency_detail")}
TRIAL_COLUMNS = ("id", "step", "index_in_step", "arch_id", "tokens", "block_strings", "status", "accuracy",
                 "accuracy_kind", "accuracy_detail", "latency_ms", "latency_kind", "latency_detail", "reward", "params",
                 "trainable_params", "mult_adds", "train_seconds", "eval_seconds", "error", "extra", "created",
                 "finished")
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
    accuracy_kind TEXT,
    accuracy_detail TEXT,
    latency_ms REAL,
    latency_kind TEXT,
    latency_detail TEXT,
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
    """A trial row as a dict, its JSON columns decoded and every value checked against what a search writes; a
    version-1 row (read from a store opened read-only, so not migrated) comes out as a version-2 one."""
    trial = dict(row)
    for name in JSON_COLUMNS:
        if trial[name] is not None:
            try:
                trial[name] = json.loads(trial[name])
            except (TypeError, ValueError, RecursionError) as err:
                raise damaged(path, "trials", trial["id"], f"{name} is not JSON ({err})") from None
    if "latency_provenance" in trial:
        trial = _upgraded(trial, path)
    problem = _trial_problem(trial)
    if problem:
        raise damaged(path, "trials", trial["id"], problem)
    return trial


def _upgraded(trial: dict[str, Any], path: Path) -> dict[str, Any]:
    """A version-1 trial (JSON decoded) in version 2's columns: the latency label split into kind and detail, the
    accuracy's label taken out of ``extra`` (the oldest stores kept only the proxy task's name there)."""
    extra = dict(trial["extra"]) if isinstance(trial["extra"], dict) else trial["extra"]
    accuracy_label = extra.pop("accuracy_provenance", None) if isinstance(extra, dict) else None
    if accuracy_label is None and trial["accuracy"] is not None:
        accuracy_label = f"proxy ({(extra or {}).get('proxy', 'proxy task')})"
    upgraded = {key: value for key, value in trial.items() if key != "latency_provenance"}
    upgraded["extra"] = extra
    for name, label in (("accuracy_provenance", accuracy_label), ("latency_provenance", trial["latency_provenance"])):
        try:
            upgraded.update(provenance_columns(name, label))
        except ValueError as err:
            raise damaged(path, "trials", trial["id"], f"{name}: {err}") from None
    return upgraded


def provenance_columns(name: str, value: Provenance | str | None) -> dict[str, str | None]:
    """A provenance (or its label) as the two columns that store it: ``latency_provenance="predicted (lut)"`` ->
    ``{"latency_kind": "predicted", "latency_detail": "lut"}``."""
    kind, detail = PROVENANCE_COLUMNS[name]
    if value is None:
        return {kind: None, detail: None}
    provenance = value if isinstance(value, Provenance) else Provenance.parse(str(value))
    return {kind: provenance.kind, detail: provenance.detail}


def migrate(conn: Any, path: Path, version: int) -> None:
    """Bring a store of an older schema to ``SCHEMA_VERSION`` in one transaction (a kill half way leaves it as it
    was): version 1 -> 2 moves both provenances into (kind, detail) columns. A new or current store is left alone."""
    if version != 1:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for kind, detail in PROVENANCE_COLUMNS.values():
            conn.execute(f"ALTER TABLE trials ADD COLUMN {kind} TEXT")
            conn.execute(f"ALTER TABLE trials ADD COLUMN {detail} TEXT")
        for row in conn.execute("SELECT * FROM trials").fetchall():
            trial = decode_trial(row, path)
            values = [trial[c] for pair in PROVENANCE_COLUMNS.values() for c in pair]
            conn.execute("UPDATE trials SET accuracy_kind = ?, accuracy_detail = ?, latency_kind = ?, "
                         "latency_detail = ?, extra = ? WHERE id = ?",
                         (*values, None if trial["extra"] is None else dumps(trial["extra"], "extra"), trial["id"]))
        conn.execute("ALTER TABLE trials DROP COLUMN latency_provenance")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


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
    for name in ("accuracy_kind", "latency_kind"):
        if trial[name] is not None and trial[name] not in KINDS:
            return f"{name} {shown(trial[name])} is not one of {', '.join(KINDS)}"
    if trial["latency_ms"] is not None and trial["latency_ms"] <= 0:
        return f"latency_ms must be positive, got {trial['latency_ms']}"
    scored = trial["accuracy_kind"] == "proxy" and str(trial["accuracy_detail"]).startswith("NASWOT")
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
    """A metric as SQLite stores it: numpy scalars become Python numbers (sqlite3 cannot bind them), extra becomes
    JSON; an integer column refuses a fractional value instead of truncating it. (A provenance is two columns:
    ``provenance_columns``.)"""
    if value is None:
        return None
    if name == "extra":
        return dumps(value, "extra")
    if name in INT_COLUMNS:
        try:
            return operator.index(value)
        except TypeError as error:
            raise ValueError(f"trial metric {name} must be an integer, got {value!r}") from error
    return float(value)


def metric_columns(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """``TrialStore.finish``'s metrics as the columns that store them (``metric``, ``provenance_columns``); an
    unknown name is refused so a typo cannot silently drop a result."""
    unknown = sorted(set(metrics) - set(METRIC_COLUMNS))
    if unknown:
        raise ValueError(f"unknown trial metrics {unknown}; accepted: {', '.join(METRIC_COLUMNS)}")
    columns: dict[str, Any] = {}
    for name, value in metrics.items():
        columns.update(provenance_columns(name, value) if name in PROVENANCE_COLUMNS else {name: metric(name, value)})
    return columns
