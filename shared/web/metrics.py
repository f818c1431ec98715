"""Prometheus metrics: request counts and latency, outbox backlog, queue depth.

Under gunicorn each worker is its own process with its own counters, so a scrape that reached
one worker would report that worker's share only. With PROMETHEUS_MULTIPROC_DIR set (every API
Deployment sets it; shared/gunicorn_conf.py empties it when the master starts),
prometheus_client's multiprocess mode is used: every worker writes its counters and histograms
to files in that directory and /metrics aggregates all of them, whichever worker answers. The
scrape-time gauges (outbox backlog ...) are read from the database by the answering worker, so
they are the same from any worker and are not summed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from shared.runtime import ServiceContext

Gauges = dict[str, tuple[str, str, Callable[[], dict[str, float]]]]


class _GaugeCollector(Collector):
    """Reads gauges at scrape time so they are never stale."""

    def __init__(self, name: str, doc: str, label: str, read: Callable[[], dict[str, float]]) -> None:
        self.name, self.doc, self.label, self.read = name, doc, label, read

    def collect(self) -> Iterable[GaugeMetricFamily]:
        """Yield the gauge family, empty when reading fails."""
        family = GaugeMetricFamily(self.name, self.doc, labels=[self.label])
        try:
            for key, value in self.read().items():
                family.add_metric([key], value)
        except Exception:  # noqa: BLE001 - a scrape must not fail because a dependency is down
            pass
        yield family


def bus_gauges(ctx: ServiceContext) -> Gauges:
    """Every service's outbox gauges, read at scrape time (alerts: deploy/k8s/base/prometheusrule.yaml).

    countyhub_outbox_pending{service}: events written but not yet published.
    countyhub_outbox_oldest_age_seconds{service}: how long the oldest of them has waited (0 if none);
    it grows while the broker or the relay is away, and is the "outbox backlog age" alert.
    """
    from shared.bus.outbox import oldest_pending_at, pending_count
    from shared.clock import utcnow
    from shared.db import read_only

    def pending() -> dict[str, float]:
        with read_only(ctx.factory) as session:
            return {ctx.name: float(pending_count(session, ctx.metadata))}

    def oldest_age() -> dict[str, float]:
        with read_only(ctx.factory) as session:
            oldest = oldest_pending_at(session, ctx.metadata)
        return {ctx.name: max(0.0, (utcnow() - oldest).total_seconds()) if oldest else 0.0}

    return {
        "countyhub_outbox_pending": ("events waiting in the outbox", "service", pending),
        "countyhub_outbox_oldest_age_seconds": ("seconds the oldest unpublished event has waited", "service", oldest_age),
    }


def install_metrics(app: Flask, service: str, gauges: Gauges) -> None:
    """Add /metrics and request instrumentation to an app (multiprocess-aware, see the module doc)."""
    registry = CollectorRegistry()  # the live metrics of this process
    requests = Counter(
        "http_requests_total", "HTTP requests", ["service", "method", "endpoint", "status"], registry=registry
    )
    latency = Histogram(
        "http_request_duration_seconds", "HTTP request latency", ["service", "method", "endpoint"], registry=registry
    )
    scrape = registry
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        # What /metrics shows: every process's files summed, not this process's registry.
        scrape = CollectorRegistry()
        multiprocess.MultiProcessCollector(scrape)
    for name, (doc, label, read) in gauges.items():
        scrape.register(_GaugeCollector(name, doc, label, read))

    @app.before_request
    def _start_timer() -> None:
        g.metrics_start = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        elapsed = time.perf_counter() - g.get("metrics_start", time.perf_counter())
        requests.labels(service, request.method, endpoint, str(response.status_code)).inc()
        latency.labels(service, request.method, endpoint).observe(elapsed)
        return response

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(scrape), mimetype=CONTENT_TYPE_LATEST)
