"""The dispatch API end to end on SQLite: solve, shipments, day plans through the worker, re-plan, publish."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from services.dispatch import service
from services.dispatch.app import SPEC
from shared.events.envelope import new_event
from shared.runtime import ServiceContext, handle_event
from tests.e2e.dispatch_support import DISPATCHER, MONDAY, client, ctx, run_queued, small_problem
from tests.support.web import bearer, table_dump

__all__ = ["client", "ctx"]  # fixtures


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
        ({"site_code": "CW-T02", "pickup": {"specimen": 5000}}, "pickup.specimen"),  # 84 loads of 60 L: too many parts
    ):
        response = client.post("/api/v1/shipments", json=body, headers=DISPATCHER)
        assert response.status_code == 422, body
        assert field in [e["field"] for e in response.get_json()["errors"]], response.get_json()
    assert table_dump(ctx) == before
    assert client.post("/api/v1/shipments", json={"site_code": "CW-T02", "deliver": {"cold": 1}},
                       headers=bearer("storekeeper", site="CW-T02")).status_code == 403  # fmt: skip


def outbox_types(ctx: ServiceContext) -> list[dict[str, Any]]:
    """Events dispatch wrote."""
    table = ctx.metadata.tables["outbox"]
    with ctx.factory() as session:
        return [json.loads(r.envelope) for r in session.execute(select(table).order_by(table.c.id))]


def test_day_plan_replan_publish_and_proof_of_delivery(client: FlaskClient, ctx: ServiceContext,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
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
    # Going back to the older plan is never a silent swap of what the drivers have.
    older = client.post(f"/api/v1/plans/{plan_id}/publish", headers=DISPATCHER)
    assert older.status_code == 409 and older.get_json()["errors"][0]["field"] == "plan_id", older.get_json()
    assert new["id"] in older.get_json()["detail"]
    first_stop = new["result"]["routes"][0]["stops"][0]["id"]
    # Proof of delivery comes on the day of the round, not before it (the plan is for next Monday).
    early = client.post(f"/api/v1/plans/{new['id']}/stops/{first_stop}/complete", json={}, headers=DISPATCHER)
    assert early.status_code == 409 and "plan_id" in [e["field"] for e in early.get_json()["errors"]]
    assert client.get(f"/api/v1/plans/{new['id']}/completions", headers=DISPATCHER).get_json() == []
    monkeypatch.setattr(service, "today", lambda: MONDAY)  # it is Monday now
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
