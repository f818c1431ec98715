"""The gauges the PrometheusRule alerts on are served by the APIs' /metrics with meaningful values."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hub.registry import spec
from shared.db import unit_of_work
from shared.migrate import upgrade
from shared.runtime import build_context
from tests.support.web import make_settings


def sample(text: str, name: str, label: str) -> float | None:
    """The value of one sample, None if absent."""
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and f'"{label}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return None


@pytest.mark.parametrize("service", ["formulary", "dispatch"])
def test_outbox_backlog_age_grows_while_an_event_waits(service: str, tmp_path: Path) -> None:
    svc = spec(service)
    ctx = build_context(svc, make_settings(service, f"sqlite:///{tmp_path / 'db.sqlite3'}"))
    upgrade(svc.migrations, ctx.engine)
    client = svc.create_app(ctx).test_client()
    text = client.get("/metrics").get_data(as_text=True)
    assert sample(text, "countyhub_outbox_pending", service) == 0
    assert sample(text, "countyhub_outbox_oldest_age_seconds", service) == 0
    from shared.bus.outbox import record_event  # an event the relay has not published yet

    with unit_of_work(ctx.factory) as session:
        record_event(session, ctx.metadata, "formulary.site.upserted", _site_payload(), source="/test")
    time.sleep(1.2)
    text = client.get("/metrics").get_data(as_text=True)
    assert sample(text, "countyhub_outbox_pending", service) == 1
    assert (sample(text, "countyhub_outbox_oldest_age_seconds", service) or 0) >= 1.0


def test_dispatch_reports_plan_heartbeat_age(tmp_path: Path) -> None:
    svc = spec("dispatch")
    ctx = build_context(svc, make_settings("dispatch", f"sqlite:///{tmp_path / 'db.sqlite3'}"))
    upgrade(svc.migrations, ctx.engine)
    text = svc.create_app(ctx).test_client().get("/metrics").get_data(as_text=True)
    assert sample(text, "countyhub_dispatch_plan_heartbeat_age_seconds", "solving") == 0


def _site_payload() -> dict[str, object]:
    from tests.support.formulary import sample_site

    site = sample_site("XZ0001", "township", None, "12370000MB0000001X")
    return {**site, "version": 1, "active": True, "is_hub": False, "catalogue_version": 1}
