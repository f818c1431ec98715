"""/healthz (alive) and /readyz (database and broker reachable)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from flask import Flask, jsonify
from sqlalchemy import text

from shared.bus.outbox import pending_count
from shared.bus.publisher import is_amqp
from shared.runtime import ServiceContext


class _Cached:
    """Remember a slow check's answer for a few seconds so probes stay cheap."""

    def __init__(self, check: Callable[[], bool], ttl: float = 5.0) -> None:
        self.check, self.ttl = check, ttl
        self.value, self.at = False, 0.0
        self.lock = threading.Lock()

    def __call__(self) -> bool:
        with self.lock:
            if time.monotonic() - self.at > self.ttl:
                try:
                    self.value = bool(self.check())
                except Exception:  # noqa: BLE001
                    self.value = False
                self.at = time.monotonic()
            return self.value


def broker_check(url: str) -> Callable[[], bool]:
    """A check that the broker takes connections (always true for the in-process transport)."""
    if not is_amqp(url):
        return lambda: True
    from shared.bus.rabbit_admin import broker_reachable

    return _Cached(lambda: broker_reachable(url))


def install_health(app: Flask, ctx: ServiceContext) -> None:
    """Register the open health endpoints."""
    broker_ok = broker_check(ctx.settings.broker_url)

    @app.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        return jsonify(status="ok", service=ctx.name)

    @app.get("/readyz")
    def readyz():  # type: ignore[no-untyped-def]
        checks: dict[str, object] = {}
        try:
            with ctx.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
            with ctx.factory() as session:
                checks["outbox_pending"] = pending_count(session, ctx.metadata)
        except Exception as exc:  # noqa: BLE001
            checks["database"] = f"unreachable: {type(exc).__name__}"
        checks["broker"] = "ok" if broker_ok() else "unreachable"
        ready = checks["database"] == "ok" and checks["broker"] == "ok"
        return jsonify(status="ready" if ready else "not ready", service=ctx.name, checks=checks), (
            200 if ready else 503
        )
