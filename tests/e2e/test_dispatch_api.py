"""The dispatch API end to end on SQLite: solve, shipments, day plans through the worker, re-plan, publish."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from services.dispatch import service, worker
from services.dispatch.app import SPEC
from services.dispatch.fleet import seed_fleet_if_empty
from services.formulary.seed.county import generate_county
from services.formulary.seed.loader import site_payload
from shared.db import unit_of_work
from shared.events.envelope import new_event
from shared.migrate import upgrade
from shared.runtime import ServiceContext, build_context, handle_event
from tests.support.web import bearer, make_settings, table_dump

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


def test_solve_returns_a_checked_plan(client: FlaskClient) -> None:
    response = client.post("/api/v1/solve", json=small_problem(), headers=DISPATCHER)
    assert response.status_code == 200, response.get_json()
    plan = response.get_json()
    assert plan["status"] == "solved" and plan["checked"] is True and plan["unassigned"] == []
    served = {s["id"]: r["vehicle"] for r in plan["routes"] for s in r["stops"]}
    assert set(served) == {"T01", "T02", "T03"}
    assert served["T01"] == "V1"  # cold goods ride only in the refrigerated van
    t02 = next(s for r in plan["routes"] for s in r["stops"] if s["id"] == "T02")
    assert "08:00" <= t02["start"] <= "12:00"
    assert plan["stats"]["solve_s"] > 0 and plan["totals"]["stops_served"] == 3


BAD = [
    (lambda p: p["vehicles"][0]["compartments"].update(frozen=10), "vehicles[0].compartments.frozen"),
    (lambda p: p["stops"][1].update(window=["12:00", "08:00"]), "stops[1].window"),
    (lambda p: p["stops"][0]["deliver"].update(cold=500), "stops[0].deliver.cold"),
    (lambda p: p["vehicles"].pop(0), "stops[0].deliver.cold"),
    (lambda p: p["stops"][2].update(id="T01"), "stops[2].id"),
    (lambda p: p["options"].update(time_limit_s=120), "options.time_limit_s"),
    (lambda p: p.update(locks={"T09": "V1"}), "locks.T09"),
    (lambda p: p["vehicles"][1].update(shift=["17:00", "08:00"]), "vehicles[1].shift"),
    (lambda p: p["vehicles"][0]["break"].update(minutes=300), "vehicles[0].break.minutes"),
    (lambda p: p.update(speed="fast"), "speed"),
    (lambda p: p["stops"][0].update(lat=95), "stops[0].lat"),
]


@pytest.mark.parametrize(("mutate", "field"), BAD)
def test_bad_problems_are_4xx_naming_the_field(client: FlaskClient, mutate: Any, field: str) -> None:
    problem = small_problem()
    mutate(problem)
    response = client.post("/api/v1/solve", json=problem, headers=DISPATCHER)
    assert response.status_code == 422, response.get_json()
    assert field in [e["field"] for e in response.get_json()["errors"]]


def test_an_infeasible_day_names_its_dropped_stops(client: FlaskClient) -> None:
    problem = small_problem()
    problem["stops"].append({"id": "FAR", "lat": 36.5, "lon": 117.5, "window": ["08:00", "08:30"], "deliver": {"ambient": 10}})
    plan = client.post("/api/v1/solve", json=problem, headers=DISPATCHER).get_json()
    assert plan["status"] == "partial"
    assert [u["id"] for u in plan["unassigned"]] == ["FAR"] and plan["unassigned"][0]["reason"]


def test_shipment_events_and_manual_shipments(client: FlaskClient, ctx: ServiceContext) -> None:
    data = {"shipment_id": "SH-1", "site_code": "CW-T01", "ready_at": "2026-11-22T08:00:00Z", "priority": 2,
            "lines": [{"item_code": "YP000001", "quantity": 240, "compartment": "ambient", "volume_l": 6.0},
                      {"item_code": "YP000300", "quantity": 10, "compartment": "cold", "volume_l": 1.5}]}  # fmt: skip
    event = new_event("procurement.shipment.ready", data, source="/countyhub/procurement")
    assert handle_event(SPEC, ctx, event) is True
    assert handle_event(SPEC, ctx, event) is False  # a redelivery changes nothing
    pending = client.get("/api/v1/shipments", headers=DISPATCHER).get_json()
    assert [(s["id"], s["deliver_l"]) for s in pending] == [("SH-1", {"ambient": 6.0, "cold": 1.5})]

    urgent = client.post(
        "/api/v1/shipments",
        json={"site_code": "CW-T02", "deliver": {"cold": 4}, "pickup": {"specimen": 1}, "priority": 3, "note": "急救药品"},
        headers={**DISPATCHER, "Idempotency-Key": "urgent-1"},
    )
    assert urgent.status_code == 201
    before = table_dump(ctx)
    for body, field in (
        ({"site_code": "CW-T02", "deliver": {"cold": -1}}, "deliver.cold"),
        ({"site_code": "CW-T02"}, "deliver"),
        ({"site_code": "CW-T02", "deliver": {"specimen": 1}}, "deliver"),
        ({"site_code": "NOWHERE", "deliver": {"ambient": 1}}, "site_code"),
        ({"site_code": "CW-H01", "deliver": {"ambient": 1}}, "site_code"),
    ):
        response = client.post("/api/v1/shipments", json=body, headers=DISPATCHER)
        assert response.status_code == 422, body
        assert field in [e["field"] for e in response.get_json()["errors"]], response.get_json()
    assert table_dump(ctx) == before
    assert client.post("/api/v1/shipments", json={"site_code": "CW-T02", "deliver": {"cold": 1}},
                       headers=bearer("storekeeper", site="CW-T02")).status_code == 403  # fmt: skip


def run_queued(ctx: ServiceContext) -> None:
    """What the worker does: claim and solve every queued plan."""
    while (plan_id := worker.claim_plan(ctx, "test-worker")) is not None:
        worker.run_plan(ctx, plan_id, "test-worker")


def outbox_types(ctx: ServiceContext) -> list[dict[str, Any]]:
    """Events dispatch wrote."""
    table = ctx.metadata.tables["outbox"]
    with ctx.factory() as session:
        return [json.loads(r.envelope) for r in session.execute(select(table).order_by(table.c.id))]


def test_day_plan_replan_publish_and_proof_of_delivery(client: FlaskClient, ctx: ServiceContext) -> None:
    queued = client.post("/api/v1/plans", json={"date": MONDAY.isoformat(), "time_limit_s": 3, "workers": 1}, headers=DISPATCHER)
    assert queued.status_code == 202 and queued.get_json()["status"] == "queued"
    plan_id = queued.get_json()["id"]
    run_queued(ctx)
    plan = client.get(f"/api/v1/plans/{plan_id}", headers=DISPATCHER).get_json()
    assert plan["status"] == "solved", plan["error"]
    result = plan["result"]
    townships = [s for s in plan["request"]["stops"] if s["id"].startswith("CW-T") and "-V" not in s["id"]]
    assert len(townships) == 13  # every township centre has its daily linen, instrument and specimen round
    served = {s["id"] for r in result["routes"] for s in r["stops"]}
    assert served | {u["id"] for u in result["unassigned"]} == {s["id"] for s in plan["request"]["stops"]}
    assert plan["progress"]

    # An urgent order arrives; the dispatcher locks one route and re-plans from the current plan.
    client.post("/api/v1/shipments", json={"site_code": "CW-T05", "deliver": {"cold": 3}, "priority": 3}, headers=DISPATCHER)
    kept = result["routes"][0]
    again = client.post(
        f"/api/v1/plans/{plan_id}/replan", json={"locked_routes": [kept["vehicle"]], "time_limit_s": 5}, headers=DISPATCHER
    )
    assert again.status_code == 202
    run_queued(ctx)
    new = client.get(f"/api/v1/plans/{again.get_json()['id']}", headers=DISPATCHER).get_json()
    assert new["status"] == "solved", new["error"]
    new_route = next(r for r in new["result"]["routes"] if r["vehicle"] == kept["vehicle"])
    assert [s["id"] for s in new_route["stops"]][: len(kept["stops"])] == [s["id"] for s in kept["stops"]]
    assert "CW-T05" in {s["id"] for r in new["result"]["routes"] for s in r["stops"]}

    published = client.post(f"/api/v1/plans/{new['id']}/publish", headers=DISPATCHER)
    assert published.status_code == 200
    assert client.post(f"/api/v1/plans/{new['id']}/publish", headers=DISPATCHER).status_code == 409
    first_stop = new["result"]["routes"][0]["stops"][0]["id"]
    done = client.post(
        f"/api/v1/plans/{new['id']}/stops/{first_stop}/complete", json={"received_by": "王药师"}, headers=DISPATCHER
    )
    assert done.status_code == 200
    assert client.post(f"/api/v1/plans/{new['id']}/stops/{first_stop}/complete", json={}, headers=DISPATCHER).status_code == 409
    confirmed = client.get(f"/api/v1/plans/{new['id']}/completions", headers=DISPATCHER).get_json()
    assert [c["stop_id"] for c in confirmed] == [first_stop] and confirmed[0]["received_by"] == "王药师"
    types = [e["type"] for e in outbox_types(ctx)]
    assert types == ["dispatch.plan.published", "dispatch.stop.completed"]
    geo = client.get(f"/api/v1/plans/{new['id']}/geojson", headers=DISPATCHER).get_json()
    assert geo["type"] == "FeatureCollection" and any(f["geometry"]["type"] == "LineString" for f in geo["features"])


def test_vehicles_out_keep_their_routes(client: FlaskClient, ctx: ServiceContext) -> None:
    plan_id = client.post("/api/v1/plans", json={"date": MONDAY.isoformat(), "time_limit_s": 2, "workers": 1},
                          headers=DISPATCHER).get_json()["id"]  # fmt: skip
    run_queued(ctx)
    first = client.get(f"/api/v1/plans/{plan_id}", headers=DISPATCHER).get_json()["result"]
    out = first["routes"][0]
    replanned = client.post(
        f"/api/v1/plans/{plan_id}/replan", json={"vehicles_out": [out["vehicle"]], "time_limit_s": 1}, headers=DISPATCHER
    ).get_json()
    run_queued(ctx)
    result = client.get(f"/api/v1/plans/{replanned['id']}", headers=DISPATCHER).get_json()["result"]
    same = [r for r in result["routes"] if r["vehicle"] == out["vehicle"]]
    assert same == [out]
    others = {s["id"] for r in result["routes"] if r["vehicle"] != out["vehicle"] for s in r["stops"]}
    assert not others & {s["id"] for s in out["stops"]}
    bad = client.post(f"/api/v1/plans/{plan_id}/replan", json={"vehicles_out": ["NOPE"]}, headers=DISPATCHER)
    assert bad.status_code == 422


def test_day_preview_lists_rounds_and_shipments_without_queuing(client: FlaskClient, ctx: ServiceContext) -> None:
    client.post("/api/v1/shipments", json={"site_code": "CW-T05", "deliver": {"cold": 3}, "priority": 3}, headers=DISPATCHER)
    preview = client.get(f"/api/v1/days/{MONDAY.isoformat()}/stops", headers=DISPATCHER).get_json()
    by_id = {s["id"]: s for s in preview["stops"]}
    assert by_id["CW-T05"]["deliver"]["cold"] == 3 and by_id["CW-T05"]["priority"] == 3
    assert by_id["CW-T01"]["pickup"]["specimen"] > 0  # the township's daily specimen round
    assert client.get("/api/v1/plans", headers=DISPATCHER).get_json() == []
    assert client.get("/api/v1/days/monday/stops", headers=DISPATCHER).status_code == 422
