"""/healthz (the process answers) and /readyz (the API can do its work: its database answers).

Readiness of an API checks its own database only, not the broker. Every write an API accepts is
committed together with its events in the service's outbox (shared/bus/outbox.py); the relay
publishes them when the broker is back. So with RabbitMQ away the API can still do all of its
work, and taking every API pod out of its Service would only turn a delay in events into failed
requests for every user. The broker is the relay's and the consumers' concern: their readiness
probes check it (shared/heartbeat.py), and the outbox backlog is reported here and in /metrics
(countyhub_outbox_pending) so an operator sees it grow.

Liveness (/healthz) checks nothing external on purpose: a database outage must not make the
kubelet restart every API pod, which would not bring the database back.
"""

from __future__ import annotations

from flask import Flask, jsonify
from sqlalchemy import text

from shared.bus.outbox import pending_count
from shared.runtime import ServiceContext


def install_health(app: Flask, ctx: ServiceContext) -> None:
    """Register the open health endpoints."""

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
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            checks["database"] = f"unreachable: {type(exc).__name__}"
        ready = checks["database"] == "ok"
        return jsonify(status="ready" if ready else "not ready", service=ctx.name, checks=checks), (
            200 if ready else 503
        )
