"""A crash-safe record of an architecture search: every sampled trial, the controller state, and curves, in SQLite.

A search samples thousands of models over hours; a laptop sleeps, a kernel dies, an OOM killer strikes. The store
makes any of these cost at most the trials that were in flight:

* each trial is written when it is sampled (``pending``) and again when it ends (``done`` or ``failed``), each
  write in its own committed transaction, so a SIGKILL loses nothing that was committed and never leaves half a
  trial (SQLite's journal rolls an interrupted transaction back when the file is next opened);
* the controller's state is saved after every completed step, so a resume restores the latest one and
  re-evaluates only ``pending()`` trials (sampled after that state but never finished);
* ``open_run`` stores the config with the run and refuses to resume under a config that would change the search.

Write-ahead logging (WAL) lets a notebook read the store while a search writes it; ``synchronous=FULL`` makes each
commit durable even across a power cut. Each process opens its own connection on first use (a SQLite connection
must not cross a fork), and a lock serialises threads of one process.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from mnaslib.labels import Provenance
from mnaslib.search.store_schema import (DTYPES, METRIC_COLUMNS, READABLE_VERSIONS, SCHEMA, SCHEMA_VERSION, STATUSES,
                                         STORE_FILENAME, TRIAL_COLUMNS, UNFINISHED, StoreError, decode_config,
                                         decode_trial, dumps, metric, metric_columns, migrate, mnaslib_version, now,
                                         provenance_columns)
from mnaslib.search.trial import Run, Trial, TrialStatus

__all__ = ["METRIC_COLUMNS", "STATUSES", "STORE_FILENAME", "StoreError", "TrialStore"]


SIDE_FILES = ("-wal", "-shm", "-journal")  # what SQLite writes beside a store


class TrialStore:
    """One search's trials, controller states, scalars and metadata in one SQLite file (created if missing).

    ``read_only`` opens an existing store for reading only (SQLite ``mode=ro``): what ``mnas runs show`` and the
    notebooks use, so that reading never changes a file, and a file that is not a store is reported, not
    initialised."""

    def __init__(self, path: str | os.PathLike[str], *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        self._identity: tuple[int, int] | None = None
        self._run_lock: Any = None
        self._lock = threading.RLock()
        with self._lock:
            self._connection()

    # -- connection and schema -------------------------------------------------------------------------------------

    def _fix_hint(self) -> str:
        return (f"move {self.path} aside (e.g. `mv {self.path} {self.path}.bad`) or start the run in a new directory "
                f"(mnaslib never deletes a store)")

    def _connection(self) -> sqlite3.Connection:
        """This process's connection, opened (and the file checked) on first use after a start or a fork."""
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"cannot create trial store {self.path}: folder {self.path.parent} does not exist")
        if self.path.is_dir():
            raise StoreError(f"{self.path} is a directory, not a trial store; {self._fix_hint()}")
        if self.read_only and not self.path.is_file():
            raise StoreError(f"not a run: there is no trial store {self.path}")
        if not self.read_only:
            self._create_safely()
        try:
            if self.read_only:
                conn = sqlite3.connect(f"{self.path.absolute().as_uri()}?mode=ro", uri=True, timeout=60.0,
                                       isolation_level=None, check_same_thread=False)
            else:
                conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
        except sqlite3.Error as error:
            raise self._diagnose(error) from None
        try:
            self._check_or_create(conn)
        except sqlite3.Error as error:
            conn.close()
            raise self._diagnose(error) from None
        except BaseException:
            conn.close()
            raise
        self._conn, self._pid = conn, os.getpid()
        stat = self.path.stat()
        self._identity = (stat.st_dev, stat.st_ino)
        return conn

    def _create_safely(self) -> None:
        """Refuse a store (or SQLite's files beside it) that is a symbolic link, so a search never writes through a
        link planted in its run directory; a new store file is created exclusively, without following links."""
        for path in (self.path, *(Path(f"{self.path}{suffix}") for suffix in SIDE_FILES)):
            if path.is_symlink():
                raise StoreError(f"{path} is a symbolic link (to {os.readlink(path)}); a search writes only its own "
                                 f"files: remove the link, or start the run in a new directory")
        try:
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644))
        except FileExistsError:
            pass  # an existing store (checked above), or one another process has just created

    def _diagnose(self, error: sqlite3.Error) -> StoreError:
        """A StoreError that says what is wrong with the file or its folder and how to fix it."""
        text = str(error)
        folder = self.path.parent
        if "no such table" in text or "no such column" in text or "malformed" in text:
            return StoreError(f"this store is damaged: {self.path}: {text}; {self._fix_hint()}")
        if self.read_only:
            if not os.access(self.path, os.R_OK):
                return StoreError(f"{self.path} cannot be read (permission denied); read it as its owner or copy it")
            if "not a database" in text or "file is encrypted" in text:
                return StoreError(f"not a run: {self.path} is not a trial store ({text}); it was left as it was")
            return StoreError(f"{self.path} cannot be read as a trial store ({text}); it was left as it was")
        if "readonly" in text or not os.access(folder, os.W_OK) or (self.path.exists()
                                                                     and not os.access(self.path, os.W_OK)):
            where = self.path if self.path.exists() and not os.access(self.path, os.W_OK) else folder
            return StoreError(f"{where} is read-only, so the search cannot record its trials; make it writable "
                              f"(chmod u+w {where}) or start the run in a writable directory")
        if "disk is full" in text or "disk I/O" in text:
            return StoreError(f"the disk holding {self.path} is full ({text}); free some space and run the same "
                              "command again: the search resumes from its last committed trial")
        return StoreError(f"{self.path} is not a readable SQLite database ({text}); {self._fix_hint()}")

    def check_identity(self) -> None:
        """Refuse to go on when the store file was deleted or replaced after it was opened: SQLite would keep
        writing into the unlinked file and the search would report success with its record gone."""
        if self._identity is None:
            return
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            raise StoreError(f"{self.path} was deleted while the search was running; nothing more can be recorded. "
                             f"The trials committed so far are lost with it; start again in a new directory") from None
        if (stat.st_dev, stat.st_ino) != self._identity:
            raise StoreError(f"{self.path} was replaced by another file while the search was running; stopping "
                             "so that the two records are not mixed")

    def _check_or_create(self, conn: sqlite3.Connection) -> None:
        """Create the schema in a new file, or check an existing one only by reading it: a file that turns out not
        to be a store must be left byte-for-byte as it was, so the journal mode is set after the checks."""
        try:
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as error:
            raise self._diagnose(error) from error
        if check != "ok":
            raise StoreError(f"{self.path} is damaged (SQLite integrity check: {check}); {self._fix_hint()}")
        if self.read_only and version == 0 and not tables:
            size = self.path.stat().st_size
            raise StoreError(f"not a run: {self.path} holds no trials ({size:,} bytes, no trial-store tables); it was "
                             "left as it was")
        if version == 0 and tables:
            raise StoreError(f"{self.path} is a SQLite database but not a mnaslib trial store (tables: "
                             f"{', '.join(sorted(tables))}); {self._fix_hint()}")
        if version not in (0, *READABLE_VERSIONS):   # 0 with no tables: a new, empty file
            raise StoreError(f"{self.path} has trial-store schema version {version}, this mnaslib "
                             f"({mnaslib_version()}) reads versions up to {SCHEMA_VERSION}; open it with the mnaslib "
                             f"version that wrote it, or {self._fix_hint()}")
        if self.read_only:
            return
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        if version == 0:
            # IF NOT EXISTS under a write lock: two processes creating the same new store both succeed
            conn.executescript(f"BEGIN IMMEDIATE;\n{SCHEMA}\nCOMMIT;")
        migrate(conn, self.path, version)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One committed-or-rolled-back transaction; BEGIN IMMEDIATE takes the write lock up front so concurrent
        writers wait (up to the connection timeout) instead of failing half way."""
        with self._lock:
            conn = self._connection()
            self.check_identity()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                raise self._diagnose(error) from None
            try:
                yield conn
            except sqlite3.Error as error:
                _rollback(conn)
                if isinstance(error, sqlite3.IntegrityError):
                    raise
                raise self._diagnose(error) from None
            except BaseException:
                _rollback(conn)
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as error:
                _rollback(conn)  # a failed COMMIT may already have ended the transaction
                raise self._diagnose(error) from None

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            conn = self._connection()
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.Error as error:
                raise self._diagnose(error) from None

    def close(self) -> None:
        """Close this process's connection (the store reopens on the next use) and release the run directory's
        lock if ``open_run`` took one."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
            if self._run_lock is not None:
                self._run_lock.release()
                self._run_lock = None

    def attach_lock(self, run_lock: Any) -> None:
        """Hold the run directory's lock (``mnaslib.search.rundir.RunLock``) until this store is closed."""
        self._run_lock = run_lock

    def __enter__(self) -> "TrialStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- trials -----------------------------------------------------------------------------------------------------

    def add_pending(self, step: int, index: int, tokens: Sequence[int], arch_id: str,
                    block_strings: Sequence[str], latency_ms: float | None = None,
                    latency_provenance: Provenance | str | None = None) -> int:
        """Record a sampled trial before it is evaluated and return its id; a resume re-evaluates it if it never
        finishes. ``(step, index)`` must be new: sampling the same slot twice is a driver bug. The deployment
        latency, known at sampling time, may be stored right away."""
        row = (int(step), int(index), str(arch_id), dumps([int(t) for t in tokens], "tokens"),
               dumps([str(b) for b in block_strings], "block_strings"), "pending",
               metric("latency_ms", latency_ms), *provenance_columns("latency_provenance", latency_provenance).values(),
               now())
        try:
            with self._transaction() as conn:
                cursor = conn.execute("INSERT INTO trials (step, index_in_step, arch_id, tokens, block_strings, "
                                      "status, latency_ms, latency_kind, latency_detail, created) "
                                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        except sqlite3.IntegrityError as error:
            raise ValueError(f"trial (step {step}, index {index}) is already in {self.path}") from error
        return int(cursor.lastrowid)

    def _transition(self, trial_id: int, to: str, allowed_from: tuple[str, ...],
                    assignments: Mapping[str, Any]) -> None:
        """Move a trial to status ``to`` and set columns, refusing transitions that would rewrite a final result."""
        columns = "".join(f", {name} = ?" for name in assignments)
        with self._transaction() as conn:
            found = conn.execute("SELECT status FROM trials WHERE id = ?", (int(trial_id),)).fetchone()
            if found is None:
                raise KeyError(f"no trial {trial_id} in {self.path}")
            if found[0] not in allowed_from:
                raise ValueError(f"trial {trial_id} is {found[0]}; only a {' or '.join(allowed_from)} trial "
                                 f"can become {to}")
            conn.execute(f"UPDATE trials SET status = ?{columns} WHERE id = ?",
                         (to, *assignments.values(), int(trial_id)))

    def mark_running(self, trial_id: int) -> None:
        """Note that a worker has started evaluating a pending trial (it still counts as unfinished on resume):
        when a worker process dies, only its running trial is failed; the pending ones are evaluated again. A
        running trial may start again: a Dask scheduler gives the child of a worker that died to another."""
        self._transition(trial_id, TrialStatus.running.value, UNFINISHED, {})

    def requeue(self, trial_ids: Iterable[int], note: str) -> None:
        """Put unfinished (pending or running) trials back to pending with a note (an interrupted search: its
        running children were stopped, not failed, and a resume evaluates them)."""
        with self._transaction() as conn:
            for trial_id in trial_ids:
                conn.execute("UPDATE trials SET status = 'pending', error = ? WHERE id = ? AND status IN "
                             "('pending', 'running')", (str(note), int(trial_id)))

    def reset_failed(self) -> int:
        """Make every failed trial pending again (``mnas search --retry-failed``); returns how many."""
        with self._transaction() as conn:
            cursor = conn.execute("UPDATE trials SET status = 'pending', error = NULL, finished = NULL "
                                  "WHERE status = 'failed'")
        return int(cursor.rowcount)

    def finish(self, trial_id: int, **metrics: Any) -> None:
        """Store a trial's results and mark it done, in one transaction: ``METRIC_COLUMNS`` (a provenance as a
        ``Provenance`` or its label; extra any JSON-serialisable dict), an unknown name refused
        (``store_schema.metric_columns``). SQLite stores a NaN metric as NULL (read back as None)."""
        self._transition(trial_id, TrialStatus.finished.value, UNFINISHED,
                         {**metric_columns(metrics), "error": None, "finished": now()})

    def fail(self, trial_id: int, error: str) -> None:
        """Mark an unfinished trial failed with its error text (a failed trial is final: resume does not retry it)."""
        self._transition(trial_id, TrialStatus.failed.value, UNFINISHED, {"error": str(error), "finished": now()})

    def _decode(self, row: sqlite3.Row) -> dict[str, Any]:
        return decode_trial(row, self.path)

    def trial(self, trial_id: int) -> dict[str, Any]:
        """One trial as a dict (tokens, block_strings and extra decoded from JSON)."""
        rows = self._query("SELECT * FROM trials WHERE id = ?", (int(trial_id),))
        if not rows:
            raise KeyError(f"no trial {trial_id} in {self.path}")
        return self._decode(rows[0])

    def trials(self, status: TrialStatus | str | None = None, step: int | None = None) -> list[dict[str, Any]]:
        """All trials in sampling order (step, then index), optionally only those with one status or of one step
        (filtered in SQL: a search reads its current step every step, and must not decode the whole run to do so)."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown trial status {status!r}; expected one of {', '.join(STATUSES)}")
        clauses, params = [], []
        if status is not None:
            clauses.append("status = ?")
            params.append(TrialStatus(status).value)
        if step is not None:
            clauses.append("step = ?")
            params.append(int(step))
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        rows = self._query(f"SELECT * FROM trials{where} ORDER BY step, index_in_step", params)
        return [self._decode(row) for row in rows]

    def pending(self) -> list[dict[str, Any]]:
        """Trials sampled but never finished (pending or running): exactly what a resume must re-evaluate."""
        rows = self._query("SELECT * FROM trials WHERE status IN (?, ?) ORDER BY step, index_in_step", UNFINISHED)
        return [self._decode(row) for row in rows]

    def read(self) -> Run:
        """The whole search as a ``Run`` (how every reader gets one): typed trials and their table (the same columns
        and dtypes even before the first trial), the config of its latest start, its seed, steps done and curves."""
        rows, runs, saved = self.trials(), self.runs(), self.latest_strategy_state()
        config = runs[-1]["config"] if runs else {}
        seed = self.get_meta("seed", config.get("seed"))
        return Run(tuple(map(Trial.from_row, rows)), pd.DataFrame(rows, columns=list(TRIAL_COLUMNS)).astype(DTYPES),
                   config, seed if isinstance(seed, int) else None, 0 if saved is None else saved[0] + 1,
                   self.scalars())

    # -- strategy state, scalars, metadata --------------------------------------------------------------------------

    def save_strategy_state(self, step: int, state: bytes) -> None:
        """Keep the controller state after a completed step (saving a step again replaces it)."""
        if not isinstance(state, (bytes, bytearray, memoryview)):
            raise TypeError(f"strategy state must be bytes, got {type(state).__name__}")
        with self._transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO strategy_state (step, state, created) VALUES (?, ?, ?)",
                         (int(step), sqlite3.Binary(bytes(state)), now()))

    def latest_strategy_state(self) -> tuple[int, bytes] | None:
        """The state of the highest completed step, or None for a run that has not completed one."""
        rows = self._query("SELECT step, state FROM strategy_state ORDER BY step DESC LIMIT 1")
        return (int(rows[0]["step"]), bytes(rows[0]["state"])) if rows else None

    def save_step(self, step: int, state: bytes, scalars: Mapping[str, float]) -> None:
        """The controller state after a completed step and that step's curves, in one transaction: a kill between
        the two can no longer keep the state (so the step is not repeated) but lose its curves."""
        if not isinstance(state, (bytes, bytearray, memoryview)):
            raise TypeError(f"strategy state must be bytes, got {type(state).__name__}")
        stamp = now()
        with self._transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO strategy_state (step, state, created) VALUES (?, ?, ?)",
                         (int(step), sqlite3.Binary(bytes(state)), stamp))
            conn.execute("DELETE FROM scalars WHERE step = ?", (int(step),))
            conn.executemany("INSERT INTO scalars (step, tag, value, created) VALUES (?, ?, ?, ?)",
                             [(int(step), str(tag), float(value), stamp) for tag, value in scalars.items()])

    def log_scalar(self, step: int, tag: str, value: float) -> None:
        """Append one point of a curve (reward mean, entropy, best accuracy...)."""
        with self._transaction() as conn:
            conn.execute("INSERT INTO scalars (step, tag, value, created) VALUES (?, ?, ?, ?)",
                         (int(step), str(tag), float(value), now()))

    def scalars(self) -> pd.DataFrame:
        """All logged points as a DataFrame with columns step, tag, value, in logging order."""
        rows = self._query("SELECT step, tag, value FROM scalars ORDER BY rowid")
        return pd.DataFrame([dict(row) for row in rows], columns=["step", "tag", "value"])

    def set_meta(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable value under a key (replacing any previous value)."""
        with self._transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (str(key), dumps(value, key)))

    def get_meta(self, key: str, default: Any = None) -> Any:
        """The value stored under a key, or ``default``."""
        rows = self._query("SELECT value FROM meta WHERE key = ?", (str(key),))
        return json.loads(rows[0]["value"]) if rows else default

    # -- runs -------------------------------------------------------------------------------------------------------

    def record_run(self, config: Mapping[str, Any]) -> int:
        """Add a row to ``runs`` for a start or a resume of the search, with its config, seed and mnaslib version."""
        seed = config.get("seed")
        seed = seed if isinstance(seed, int) and not isinstance(seed, bool) else None
        with self._transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (config, seed, created, mnaslib_version, schema_version) VALUES (?, ?, ?, ?, ?)",
                (dumps(dict(config), "config"), seed, now(),
                 mnaslib_version(), SCHEMA_VERSION))
        return int(cursor.lastrowid)

    def runs(self) -> list[dict[str, Any]]:
        """Every start and resume of this search, oldest first, config decoded."""
        rows = self._query("SELECT * FROM runs ORDER BY id")
        return [decode_config(row, self.path) for row in rows]


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back what is still open; SQLite may have rolled back itself (a full disk at COMMIT), and "cannot roll
    back: no transaction is active" must not hide the error that matters."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
