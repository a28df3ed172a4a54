"""A Dask cluster as a search's executor, and what its failures mean for the search.

A user with several machines starts ``dask scheduler`` on one and ``dask worker ADDRESS --nthreads 1`` on each
(README, "Several machines with Dask"); ``executor.address`` points the search at the scheduler. A worker lost
mid-child is Dask's to handle: the scheduler gives its child to another worker, and the search records the child
once. What this module adds to Dask's own executor is the meaning of the rest, so that the search can say it in one
line: a scheduler that cannot be reached, or is lost mid-search, is ``mnaslib.executors.ClusterLost`` with its
address (instead of a page of asyncio traceback); a child that took ``distributed.scheduler.allowed-failures``
workers down with it (``KilledWorker``) fails only its trial.
"""
from __future__ import annotations

import concurrent.futures as cf
import logging
from typing import Any, Mapping

from distributed import Client, LocalCluster
from distributed.scheduler import KilledWorker

from mnaslib.executors import ClusterLost


def dask_executor(config: Mapping[str, Any], workers: int) -> cf.Executor:
    """An executor on the cluster at ``config["address"]``, else on a ``LocalCluster`` of ``workers`` processes; its
    ``mnas_owned`` holds the client and the cluster made here (``mnaslib.executors.shutdown_executor`` closes them,
    a remote cluster is left running)."""
    address = config.get("address")
    cluster = None if address else LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                dashboard_address=None)
    try:
        client = Client(address or cluster)
    except OSError as err:
        raise ClusterLost(f"cannot reach the Dask scheduler at {address} ({_reason(err)}); start it there "
                          "(dask scheduler) or correct executor.address") from None
    executor = client.get_executor()
    executor.mnas_owned = (client, cluster)
    return executor


def close_dask(executor: cf.Executor, *, now: bool) -> None:
    """Close what ``dask_executor`` opened (``now``: cancel the queued children). A client that lost its scheduler
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


def job_failure(executor: cf.Executor, err: Exception) -> str:
    """What a Dask future's ``err`` means for its trial: ``KilledWorker`` (the child took every worker Dask gave it
    to down with it) is that trial's error text; a cancelled future or a closed connection means the scheduler is
    gone (Dask cancels every future of a client that loses it), raised as ``ClusterLost``; anything else is raised
    as it is (a bug)."""
    if isinstance(err, KilledWorker):
        return f"every Dask worker that ran this child died ({_reason(err)})"
    if isinstance(err, (cf.CancelledError, OSError)):
        client, _ = executor.mnas_owned
        address = getattr(client.scheduler, "address", None) or "its address"
        raise ClusterLost(f"lost the Dask scheduler at {address}: {str(err) or 'the connection to it closed'}") \
            from None
    raise err


def _reason(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__
