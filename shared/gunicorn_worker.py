"""gunicorn's gthread worker, except that SIGTERM does not reset connections still queued.

gunicorn's own gthread worker stops accepting the moment it sees SIGTERM. A connection whose TCP
handshake the kernel had already completed, and whose request was already sent, is then still
in the listening socket's accept queue; when the last process holding that socket closes it,
Linux answers every queued connection with a reset (RST), and the client sees
ConnectionResetError for a request it sent before the signal. The CI run of 2026-12-06 saw 2 of
1,001 requests lost this way in tests/deploy/test_graceful_shutdown.py, and
tests/deploy/test_graceful_backlog.py reproduces it deterministically.

`DrainingThreadWorker` keeps accepting after SIGTERM until the accept queue has been empty for
QUIET_S seconds (or DRAIN_LIMIT_S have passed, whichever is first), then shuts down exactly as
gthread does: no new connections, in-flight requests finish within the graceful timeout.

While draining it accepts everything queued at once, before the loop runs any callback, and once
more just before it stops. gthread accepts one connection per wake-up, and its main thread can
be held for up to 2 s by each finished request: gunicorn 27 closes a connection by sending FIN
and waiting for the client's (gunicorn.util.close_graceful, RFC 9112 section 9.6). Eight clients
that read their answers one after another held it 4 s, the whole drain limit, and the CI run of
2026-12-06 (later in the day) lost the last of eight queued connections to a reset. The
quiet period also covers requests routed in the moment the Service drops the pod (endpoint
removal reaches every node's proxy a little apart, which is why the pod also has a preStop
sleep). SIGQUIT and SIGINT still stop at once.

The class overrides two methods of gunicorn.workers.gthread.ThreadWorker (`handle_exit`,
`wait_for_and_dispatch_events`); gunicorn is pinned by hash in requirements/*.lock, and the
backlog test fails if an upgrade changes what they mean.
"""

from __future__ import annotations

import select
import time
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

QUIET_S = 0.5
"""Seconds the accept queue must stay empty after SIGTERM before the worker stops accepting."""

DRAIN_LIMIT_S = 5.0
"""At most this many seconds of accepting after SIGTERM (a fifth of the graceful timeout if that
is shorter), so a pod still receiving traffic leaves its in-flight requests time to finish."""

POLL_S = 0.05
"""Seconds between looks at the accept queue while draining."""


class DrainingThreadWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn ships no type hints
    """A gthread worker that answers every connection queued before SIGTERM (see the module)."""

    alive: bool  # set by gunicorn's Worker.__init__; False ends the accept loop

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stop_requested_at: float | None = None
        self.queue_seen_at = 0.0

    def handle_exit(self, sig: int, frame: Any) -> None:
        """SIGTERM: start draining (the loop notices on its next wake-up, which this forces)."""
        if self.alive and self.stop_requested_at is None:
            now = time.monotonic()
            self.stop_requested_at = now
            self.queue_seen_at = now
            self.method_queue.defer(lambda: None)

    def drain_limit_s(self) -> float:
        """DRAIN_LIMIT_S, or a fifth of the graceful timeout if that is shorter."""
        return min(DRAIN_LIMIT_S, float(self.cfg.graceful_timeout) / 5)

    def queued(self, listeners: Any = None) -> bool:
        """Whether a connection waits in the accept queue of any of `listeners` (default: all)."""
        ready, _, _ = select.select(self.sockets if listeners is None else listeners, [], [], 0)
        return bool(ready)

    def accept_queued(self) -> None:
        """Accept every connection now queued, up to worker_connections (each goes to the pool).

        Terminates: every accept, even one that fails (ECONNABORTED), takes a connection off a
        queue that only the kernel fills, and the count of connections bounds the loop.
        """
        for listener in self.sockets:
            while self.nr_conns < self.worker_connections and self.queued([listener]):
                self.accept(listener)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        """gthread's event wait; while draining, accept all that is queued first, short waits,
        and the decision when to stop."""
        if self.stop_requested_at is None or not self.alive:
            super().wait_for_and_dispatch_events(timeout)
            return
        self.accept_queued()
        super().wait_for_and_dispatch_events(min(timeout, POLL_S))
        now = time.monotonic()
        if self.queued():
            self.queue_seen_at = now
        if now - self.queue_seen_at >= QUIET_S or now - self.stop_requested_at >= self.drain_limit_s():
            self.accept_queued()  # sent before the worker stops listening: answered, not reset
            self.alive = False
