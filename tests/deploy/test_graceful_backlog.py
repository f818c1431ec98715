"""SIGTERM with connections still in the listening socket's queue: every one is answered.

A client whose TCP handshake the kernel completed before SIGTERM has sent its request; gunicorn's
gthread worker stops accepting as soon as it sees the signal, and closing the listening socket
then resets every connection still queued on it (the CI run of 2026-12-06 saw 2 of 1,001
requests reset this way in test_graceful_shutdown.py). shared/gunicorn_worker.py accepts what is
queued before it stops.

The queue is made deterministic: the only worker is frozen (SIGSTOP) while the clients connect
and send, the master gets SIGTERM (it closes its copy of the listener and signals the worker),
and the worker resumes (SIGCONT) with the signal and the queued connections waiting together.
The formulary API runs embedded (SQLite in tmp): /healthz needs neither server.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path

from tests.support.processes import base_env, start_gunicorn
from tests.support.waiting import wait_until

QUEUED = 8


def children(pid: int) -> list[int]:
    """Process ids whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name is in parentheses and may hold spaces: the parent id follows the last ')'
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; raises on a reset."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_connections_queued_at_sigterm_are_all_answered(tmp_path: Path) -> None:
    env = base_env(tmp_path, HUB_DEV_LOGIN="0")
    api = start_gunicorn("formulary", env, tmp_path, GUNICORN_WORKERS="1", GUNICORN_GRACEFUL_TIMEOUT="20")
    workers = wait_until(lambda: children(api.proc.pid), timeout=10, interval=0.1, what="the worker's pid")
    assert len(workers) == 1, workers
    worker = workers[0]
    clients: list[socket.socket] = []
    try:
        os.kill(worker, signal.SIGSTOP)
        for _ in range(QUEUED):
            client = socket.create_connection(("127.0.0.1", api.port), timeout=30)
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n")
            clients.append(client)
        api.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # the master has closed its listener and signalled the (frozen) worker
    finally:
        os.kill(worker, signal.SIGCONT)

    # Answers are read last client first: gunicorn 27 closes each finished connection on the
    # worker's main thread and waits up to 2 s there for the client's FIN, so a client that reads
    # late holds the accept loop (see shared/gunicorn_worker.py); before the worker accepted all
    # that was queued at once, the drain limit ran out and the later connections were reset.
    answers = []
    for client in reversed(clients):
        try:
            answers.append(read_all(client).split(b"\r\n", 1)[0].decode())
        except OSError as exc:
            answers.append(type(exc).__name__)
        finally:
            client.close()
    assert api.proc.wait(30) == 0, api.log.read_text()[-3000:]
    assert answers == ["HTTP/1.1 200 OK"] * QUEUED, answers


def test_traffic_that_never_stops_does_not_hold_the_worker_past_its_drain_limit(tmp_path: Path) -> None:
    """A pod still sent requests after SIGTERM (a misconfigured Service) stops accepting after the
    drain limit (a fifth of a 10 s graceful timeout: 2 s) and exits well within the graceful timeout."""
    env = base_env(tmp_path, HUB_DEV_LOGIN="0")
    api = start_gunicorn("formulary", env, tmp_path, GUNICORN_WORKERS="1", GUNICORN_GRACEFUL_TIMEOUT="10")
    flooding = threading.Event()
    flooding.set()
    answered_before: list[bool] = []
    signalled_at: list[float] = []

    def flood() -> None:
        while flooding.is_set():
            started = time.monotonic()
            try:
                with socket.create_connection(("127.0.0.1", api.port), timeout=5) as client:
                    client.sendall(b"GET /healthz HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n")
                    ok = read_all(client).startswith(b"HTTP/1.1 200")
            except OSError:
                ok = False
            if not signalled_at or started < signalled_at[0]:
                answered_before.append(ok)

    threads = [threading.Thread(target=flood) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)
        signalled_at.append(time.monotonic())
        api.proc.send_signal(signal.SIGTERM)
        code = api.proc.wait(10)
        stopped_after = time.monotonic() - signalled_at[0]
    finally:
        flooding.clear()
        for thread in threads:
            thread.join(30)
    assert code == 0, api.log.read_text()[-3000:]
    assert 2.0 <= stopped_after < 6.0, f"stopped {stopped_after:.2f} s after SIGTERM"
    assert answered_before and all(answered_before), "every request started before SIGTERM was answered"
