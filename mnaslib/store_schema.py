"""The trial store's on-disk format: its tables and columns, and how values are written into them.

Kept apart from ``TrialStore`` (the operations) so the format can be read in one place: a schema version, five
tables, and the conversions every write goes through (numpy scalars to Python numbers, JSON for lists and dicts,
integer columns refusing fractions).
"""
from __future__ import annotations

import json
import operator
from datetime import datetime, timezone
from importlib import metadata
from typing import Any

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
