"""gunicorn settings for every service's API: `gunicorn --config python:shared.gunicorn_conf services.<name>.wsgi:app`.

Everything comes from the environment (each API Deployment sets it per service, see
deploy/k8s/generate.py), never from the machine: inside a pod `os.cpu_count()` is the node's
CPU count, not the pod's limit, so workers and threads are explicit.

    GUNICORN_BIND              address:port                          (default 0.0.0.0:8000)
    GUNICORN_WORKERS           worker processes                      (default 2)
    GUNICORN_THREADS           threads per worker (gthread)          (default 4)
    GUNICORN_TIMEOUT           seconds a worker may stay silent before the master kills it (30)
    GUNICORN_GRACEFUL_TIMEOUT  seconds in-flight requests get after SIGTERM (25)
    GUNICORN_KEEPALIVE         seconds an idle keep-alive connection is kept (5)
    PROMETHEUS_MULTIPROC_DIR   prometheus_client multiprocess directory (an emptyDir in Kubernetes)

Graceful shutdown: on SIGTERM the master closes its listener and tells the workers to stop; each
worker (shared/gunicorn_worker.py) keeps accepting until its accept queue has been empty for half
a second, so no connection made before the signal is reset, then finishes what it is serving;
the master waits up to GUNICORN_GRACEFUL_TIMEOUT before killing them. The pod's preStop sleep
runs first, so the Service has stopped sending new requests by then.

Connections are opened after fork: `preload_app` is off, so each worker imports the app — and
creates its SQLAlchemy engine and pools — itself; nothing opened in the master is shared (turning
preload on would need `engine.dispose(close=False)` in a post_fork hook, per SQLAlchemy's
"Using Connection Pools with Multiprocessing").

Metrics: with PROMETHEUS_MULTIPROC_DIR set, every worker writes its counters and histograms to
files there and /metrics aggregates them (shared/web/metrics.py). The directory is emptied when
the master starts (stale files from a previous container would add old counts) and a dead
worker's live gauges are dropped when it exits.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    number = int(value)
    if number < 1:
        raise ValueError(f"{name} must be at least 1, got {number}")
    return number


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = _int("GUNICORN_WORKERS", 2)
threads = _int("GUNICORN_THREADS", 4)
# gthread, except that SIGTERM answers connections already queued instead of resetting them
worker_class = "shared.gunicorn_worker.DrainingThreadWorker"
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 25)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
preload_app = False
# Worker heartbeat files: the temp directory (/tmp, a memory emptyDir in Kubernetes, where the
# root filesystem is read-only).
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or None
# Request logs come from the app's JSON logger (shared/web/app.py); gunicorn logs its own events.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Headers forwarded by the ingress controller are trusted from any address: the pod has no
# other ingress path (NetworkPolicy).
forwarded_allow_ips = "*"


def multiproc_dir() -> Path | None:
    """The prometheus_client multiprocess directory, if configured."""
    value = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(value) if value else None


def on_starting(server: Any) -> None:
    """Master, before any worker: empty (and create) the metrics directory."""
    directory = multiproc_dir()
    if directory is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    for entry in directory.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    """Master, a worker exited: drop its live-gauge files so /metrics stops reporting them."""
    if multiproc_dir() is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
