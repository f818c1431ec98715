"""Concurrency tests' helpers: one service over real HTTP on a fresh database, and many clients at once.

`serve(spec, backend)` migrates a fresh database (SQLite file or a new PostgreSQL database on
127.0.0.1:5432), and serves the service's real Flask app with a threaded WSGI server on a free
loopback port, so every request is its own HTTP connection, thread and database transaction.
`race(calls)` fires calls from as many threads at once, released together by a barrier.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from shared.runtime import ServiceContext, ServiceSpec
from tests.support.backends import BACKENDS, Backend


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: status, content type, parsed JSON body (None when empty), headers."""

    status: int
    content_type: str
    body: Any
    headers: dict[str, str]

    def is_conflict(self, field: str | None = None) -> bool:
        """A 409 problem+json (naming `field` among its errors when given)."""
        if self.status != 409 or self.content_type != "application/problem+json":
            return False
        return field is None or any(e.get("field") == field for e in self.body.get("errors") or [])


@dataclass
class LiveService:
    """A service answering on http://127.0.0.1:port, its context (database) beside it."""

    ctx: ServiceContext
    port: int

    def call(self, method: str, path: str, headers: dict[str, str], body: Any = None) -> Reply:
        """One request on its own connection."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            data = json.dumps(body).encode() if body is not None else None
            hdrs = {"Connection": "close", **headers, **({"Content-Type": "application/json"} if data is not None else {})}
            conn.request(method, path, body=data, headers=hdrs)
            response = conn.getresponse()
            raw = response.read()
            ctype = (response.getheader("Content-Type") or "").split(";")[0]
            return Reply(response.status, ctype, json.loads(raw) if raw else None, dict(response.getheaders()))
        finally:
            conn.close()


@contextmanager
def serve(spec: ServiceSpec, backend: Backend, prepare: Callable[[ServiceContext], None] | None = None) -> Iterator[LiveService]:
    """The service's app on a fresh migrated database of `backend`, served over HTTP until the block ends."""
    ctx = backend.context(spec)
    if prepare is not None:
        prepare(ctx)
    app = spec.create_app(ctx)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=f"serve-{spec.name}", daemon=True)
    thread.start()
    try:
        yield LiveService(ctx, server.server_port)
    finally:
        server.shutdown()
        thread.join(10)


def race(calls: Sequence[Callable[[], Reply]]) -> list[Reply]:
    """Run every call in its own thread, all released at the same moment; the replies in call order."""
    barrier = threading.Barrier(len(calls))
    replies: list[Reply | BaseException | None] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            replies[i] = calls[i]()
        except BaseException as exc:  # noqa: BLE001 - reported below as a failure of the test
            replies[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    failed = [r for r in replies if not isinstance(r, Reply)]
    assert not failed, f"client calls raised: {failed}"
    return [r for r in replies if isinstance(r, Reply)]


def no_server_errors(replies: Sequence[Reply]) -> None:
    """Fail on any 5xx, or any 4xx that is not problem+json."""
    bad = [(r.status, r.body) for r in replies if r.status >= 500 or (r.status >= 400 and r.content_type != "application/problem+json")]
    assert not bad, f"server errors or non-problem 4xx: {bad}"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """A fresh database maker: the embedded SQLite default, then the real PostgreSQL on 127.0.0.1:5432."""
    made = Backend(str(request.param), tmp_path)
    try:
        yield made
    finally:
        made.close()
