"""Fixtures and sample problems of the dispatch API tests (import the fixtures into a test module)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from services.dispatch import service, worker
from services.dispatch.app import SPEC
from services.dispatch.fleet import seed_fleet_if_empty
from services.formulary.seed.county import generate_county
from services.formulary.seed.loader import site_payload
from shared.db import unit_of_work
from shared.events.envelope import new_event
from shared.migrate import upgrade
from shared.runtime import ServiceContext, build_context, handle_event
from tests.support.web import bearer, make_settings

DISPATCHER = bearer("dispatcher", name="调度员")
MONDAY = service.today() + timedelta(days=7 - service.today().weekday())  # next Monday: plans are for today on


@pytest.fixture()
def ctx(tmp_path: Path) -> Iterator[ServiceContext]:
    """A dispatch database that has heard of the Chengwu sites, with the default fleet."""
    context = build_context(SPEC, make_settings("dispatch", f"sqlite:///{tmp_path}/dispatch.sqlite3"))
    upgrade(SPEC.migrations, context.engine)
    for site in generate_county("chengwu").sites:
        data = {**site_payload(site), "version": 1, "catalogue_version": 1}
        handle_event(SPEC, context, new_event("formulary.site.upserted", data, source="/countyhub/formulary"))
    with unit_of_work(context.factory) as session:
        seed_fleet_if_empty(session)
    yield context
    context.engine.dispose()


@pytest.fixture()
def client(ctx: ServiceContext) -> FlaskClient:
    """A test client of the dispatch app."""
    return SPEC.create_app(ctx).test_client()


def small_problem(**options: Any) -> dict[str, Any]:
    """Two vans, three stops, one of them with cold goods."""
    return {
        "depot": {"id": "HUB", "lat": 34.95, "lon": 115.89, "open": "07:00", "close": "19:00"},
        "vehicles": [
            {"id": "V1", "compartments": {"ambient": 3000, "cold": 400, "clean": 2000, "soiled": 2000, "specimen": 50},
             "shift": ["07:30", "17:30"], "break": {"window": ["11:30", "13:30"], "minutes": 45},
             "fixed_cost": 200, "cost_per_km": 2.5},
            {"id": "V2", "compartments": {"ambient": 3000, "clean": 2000, "soiled": 2000, "specimen": 50},
             "shift": ["07:30", "17:30"], "fixed_cost": 150, "cost_per_km": 2},
        ],
        "stops": [
            {"id": "T01", "lat": 34.99, "lon": 115.80, "window": ["08:00", "17:00"], "service_min": 10,
             "deliver": {"ambient": 120, "cold": 10, "clean": 80}, "pickup": {"soiled": 60, "specimen": 2}},
            {"id": "T02", "lat": 35.05, "lon": 115.95, "window": ["08:00", "12:00"], "deliver": {"ambient": 50}},
            {"id": "T03", "lat": 34.85, "lon": 116.0, "window": ["14:00", "17:00"], "deliver": {"clean": 50}},
        ],
        "options": {"time_limit_s": 1, "speed_kmh": 40, "circuity": 1.3, "specimen_max_ride_min": 240, **options},
    }  # fmt: skip



def run_queued(ctx: ServiceContext) -> None:
    """What the worker does: claim and solve every queued plan."""
    while (plan_id := worker.claim_plan(ctx, "test-worker")) is not None:
        worker.run_plan(ctx, plan_id, "test-worker")


def hub_and_sites(tmp_path: Path, hours: dict[str, list[tuple[str, str]]]) -> ServiceContext:
    """A migrated dispatch database (SQLite) with the hub and only the sites in ``hours``, each
    receiving in the periods given (site code -> [(start, end)]); no vehicle."""
    made = build_context(SPEC, make_settings("dispatch", f"sqlite:///{tmp_path}/dispatch.sqlite3"))
    upgrade(SPEC.migrations, made.engine)
    for site in generate_county("chengwu").sites:
        if site.is_hub or site.code in hours:
            data = {**site_payload(site), "version": 1, "catalogue_version": 1}
            data["receiving_hours"] = [{"start": a, "end": b} for a, b in hours.get(site.code, site.receiving_hours)]
            handle_event(SPEC, made, new_event("formulary.site.upserted", data, source="/countyhub/formulary"))
    return made


def ship(ctx: ServiceContext, shipment_id: str, site: str, volume_l: float = 6.0) -> None:
    """procurement.shipment.ready for one line of ambient goods to ``site`` (known to dispatch or not)."""
    data = {"shipment_id": shipment_id, "site_code": site, "ready_at": "2026-11-22T08:00:00Z", "priority": 2,
            "lines": [{"item_code": "YP000001", "quantity": 24, "compartment": "ambient", "volume_l": volume_l}]}  # fmt: skip
    assert handle_event(SPEC, ctx, new_event("procurement.shipment.ready", data, source="/countyhub/procurement"))


def solved(client: FlaskClient, ctx: ServiceContext, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """Queue a plan (or re-plan), run the worker, and read the plan back."""
    queued = client.post(path, json=body, headers=DISPATCHER)
    assert queued.status_code == 202, queued.get_json()
    run_queued(ctx)
    plan = client.get(f"/api/v1/plans/{queued.get_json()['id']}", headers=DISPATCHER)
    assert plan.status_code == 200
    return plan.get_json()  # type: ignore[no-any-return]
