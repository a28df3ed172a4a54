"""Who evaluates the children: this process, threads, worker processes, or a Dask cluster.

Worker processes are tied to their parent's life: each asks the kernel to kill it when the parent dies
(``PR_SET_PDEATHSIG`` on Linux) and also watches its parent's pid (everywhere), so a search killed with SIGKILL never
leaves workers training on for nobody, holding its terminal's pipes open. Workers ignore Ctrl-C: the parent, which
receives it too, stops them itself, marks the unfinished trials for a resume and says so in one line.

A Dask cluster (``executor.address``: a ``dask scheduler`` with ``dask worker`` processes on other machines; README,
"Several machines with Dask") handles a lost worker itself: the scheduler gives its child to another worker, and
the search records the child once. What this module adds is the meaning of the rest, so that the search can say it
in one line: a scheduler that cannot be reached, or is lost mid-search, is ``ClusterLost`` with its address (instead
of a page of asyncio traceback); a child that took ``distributed.scheduler.allowed-failures`` workers down with it
(``KilledWorker``) fails only its trial.
"""
from __future__ import annotations

import concurrent.futures as cf
import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Mapping

from mnaslib.errors import UserError, shown
from mnaslib.registry import Registry
from mnaslib.quiet import import_tensorflow_silently, worker_environment
from mnaslib.evaluation.data.base import ENV_DATA_DIR, ENV_OFFLINE
from mnaslib.tabular.files import ENV_BENCHMARK_DIR

WORKER_TASKS = 8  # children a process worker trains before it is replaced (docs/architecture.md, "Workers")
_PR_SET_PDEATHSIG = 1
_WATCH_INTERVAL_S = 1.0


class ClusterLost(UserError, RuntimeError):
    """The Dask scheduler cannot be reached: nothing more can be evaluated until one is started again."""


MAX_WORKERS = 1024


@dataclass(frozen=True)
class ExecutorOptions:
    """An ``executor`` section's settings besides its name (every executor takes the same ones: a profile that
    switches ``--set executor.name=serial`` keeps its ``workers``)."""

    workers: int | None = None  # None: one per core
    address: Any = None  # dask: a scheduler's address (text, checked below with its own hint); none: a LocalCluster
    max_tasks_per_child: int = WORKER_TASKS  # process: children a worker trains before it is replaced

    def __post_init__(self) -> None:
        for key in ("workers", "max_tasks_per_child"):
            if getattr(self, key) is not None and getattr(self, key) < 1:
                raise UserError(f"executor.{key} must be >= 1, got {getattr(self, key)}")
        if self.address is not None and (not isinstance(self.address, str) or not self.address.strip()):
            raise UserError(f"executor.address must be a Dask scheduler's address such as tcp://host:8786, got "
                            f"{shown(self.address)}")
        if self.workers is not None and self.workers > MAX_WORKERS:
            raise UserError(f"executor.workers must be at most {MAX_WORKERS:,} (one child each at a time), got "
                            f"{self.workers:,}")

    @property
    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1


def _process_pool(options: ExecutorOptions) -> cf.Executor:
    # A worker's memory grows with every child it trains and is not given back (docs/architecture.md, "Workers"),
    # so each worker is replaced after a few children. Python 3.10 cannot do this.
    recycle = {"max_tasks_per_child": options.max_tasks_per_child} if sys.version_info >= (3, 11) else {}
    return cf.ProcessPoolExecutor(max_workers=options.worker_count, mp_context=multiprocessing.get_context("spawn"),
                                  initializer=worker_init, initargs=(os.getpid(), worker_environment()), **recycle)


def _dask(options: ExecutorOptions) -> cf.Executor:
    check_executor("dask", options)
    return _dask_executor(options.address, options.worker_count)


# ``serial`` (None: evaluate in this process), ``thread``, ``process`` (spawned workers, one core each, each
# replaced after ``max_tasks_per_child`` children) or ``dask`` (a ``distributed`` client: ``address`` for a
# cluster, else a ``LocalCluster`` of ``workers`` processes)
EXECUTORS: Registry[cf.Executor | None] = Registry("executor")
EXECUTORS.add("serial", lambda options: None, ExecutorOptions)
EXECUTORS.add("thread", lambda options: cf.ThreadPoolExecutor(max_workers=options.worker_count), ExecutorOptions)
EXECUTORS.add("process", _process_pool, ExecutorOptions)
EXECUTORS.add("dask", _dask, ExecutorOptions)


def executor_options(config: Mapping[str, Any]) -> tuple[str, ExecutorOptions]:
    """An ``executor`` section as its name and typed options; UserError naming a bad setting."""
    name = config.get("name", "process")
    return name, EXECUTORS.options(name, {k: v for k, v in config.items() if k != "name"}, "executor")


def make_executor(config: Mapping[str, Any]) -> cf.Executor | None:
    """The executor an ``executor`` section describes (None: ``serial``, children evaluated in this process)."""
    name, options = executor_options(config)
    return EXECUTORS.build(name, options)


def check_executor(name: str, options: ExecutorOptions) -> None:
    """Refuse what would overload this machine before a search starts: a Dask "cluster" of more local workers than
    cores (the paper profile's 64 workers need a scheduler address)."""
    workers = options.worker_count
    if name == "dask" and not options.address and workers > (os.cpu_count() or 1):
        raise UserError(f"executor dask without an address would start {workers} local workers on this "
                        f"{os.cpu_count()}-core machine; set executor.address to your scheduler "
                        "(--set executor.address=tcp://host:8786) or executor.workers to at most the cores here")


def shutdown_executor(executor: cf.Executor | None, *, now: bool = False) -> None:
    """Stop what ``make_executor`` started. ``now`` (an interrupted search) cancels queued children and terminates
    running workers instead of waiting for them. Dask's executor takes no ``cancel_futures`` and leaves its client
    (and the LocalCluster we made) open, so those are closed here too."""
    if executor is None:
        return
    if getattr(executor, "mnas_owned", None) is not None:
        _close_dask(executor, now=now)
        return
    if now and isinstance(executor, cf.ProcessPoolExecutor):
        processes = list(getattr(executor, "_processes", {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=10)
        return
    executor.shutdown(wait=not now, cancel_futures=True)


def _dask_executor(address: str | None, workers: int) -> cf.Executor:
    """An executor on the cluster at ``address``, else on a ``LocalCluster`` of ``workers`` processes; its
    ``mnas_owned`` holds the client and the cluster made here (``shutdown_executor`` closes them, a remote cluster
    is left running)."""
    from distributed import Client, LocalCluster

    cluster = None if address else LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                dashboard_address=None)
    try:
        client = Client(address or cluster)
    except OSError as err:
        raise ClusterLost(f"cannot reach the Dask scheduler at {address} ({_one_line(err)}); start it there "
                          "(dask scheduler) or correct executor.address") from None
    executor = client.get_executor()
    executor.mnas_owned = (client, cluster)
    return executor


def _close_dask(executor: cf.Executor, *, now: bool) -> None:
    """Close what ``_dask_executor`` opened (``now``: cancel the queued children). A client that lost its scheduler
    logs its cancelled reconnection as an ERROR with a traceback when it is closed; the search has already said what
    happened in one line, so that log is held back."""
    client, cluster = executor.mnas_owned
    logger = logging.getLogger("distributed.client")
    level = logger.level
    if client.status != "running":
        logger.setLevel(logging.CRITICAL)
    try:
        executor.shutdown(wait=not now)
        client.close()
        if cluster is not None:
            cluster.close()
    finally:
        logger.setLevel(level)


def dask_job_failure(executor: cf.Executor, err: Exception) -> str:
    """What an error from one of a Dask executor's futures means for its trial: ``KilledWorker`` (the child took
    every worker Dask gave it to down with it) is that trial's error text; a cancelled future or a closed connection
    means the scheduler is gone (Dask cancels every future of a client that loses it), raised as ``ClusterLost``;
    anything else is raised as it is (a bug)."""
    from distributed.scheduler import KilledWorker

    if isinstance(err, KilledWorker):
        return f"every Dask worker that ran this child died ({_one_line(err)})"
    if isinstance(err, (cf.CancelledError, OSError)):
        client, _ = executor.mnas_owned
        address = getattr(client.scheduler, "address", None) or "its address"
        raise ClusterLost(f"lost the Dask scheduler at {address}: {str(err) or 'the connection to it closed'}") \
            from None
    raise err


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def worker_init(parent_pid: int, environment: Mapping[str, str]) -> None:
    """Set up a worker process: TensorFlow with ``environment`` (``mnaslib.quiet.worker_environment``: oneDNN's
    kernels, quiet), one thread, die with the parent, leave Ctrl-C to the parent."""
    os.environ.update(environment)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent_pid)
    import_tensorflow_silently()
    from mnaslib.evaluation.train import set_threads  # lazy: keeps TensorFlow and pandas out of this module's import

    set_threads(1, 1)


def where_this_runs() -> str:
    """This process as a user finds it again: its Dask worker's address and name where it is one, else its process
    id; and its host."""
    host = socket.gethostname()
    if "distributed" in sys.modules:  # never imported by a process pool's workers
        from distributed import get_worker

        try:
            worker = get_worker()
            return f"Dask worker {worker.address} ({worker.name}) on host {host}"
        except ValueError:
            pass
    return f"process {os.getpid()} on host {host}"


def data_variables() -> str:
    """How this process finds data sets and benchmarks: the variables as set here (on a worker: on its machine)."""
    return "there " + ", ".join(f"{name}={os.environ[name]}" if os.environ.get(name) else f"{name} is not set"
                                for name in (ENV_DATA_DIR, ENV_BENCHMARK_DIR, ENV_OFFLINE))


def _die_with_parent(parent_pid: int) -> None:
    """Exit as soon as the parent is gone: the kernel's parent-death signal where there is one, and a watchdog
    thread on every platform (a parent that dies before the signal is armed, or macOS)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died while this worker was starting
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(_WATCH_INTERVAL_S)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="mnas-parent-watchdog", daemon=True).start()
