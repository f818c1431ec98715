"""Session 17 fresh eyes over HTTP: re-plans keep the shipments of the plan they start from, a
superseded plan is not re-planned, late shipments are named, plan dates have a range, and a lock
refusal names only fields the request had (the use-case rules: tests/service/dispatch/test_replan_session17.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient

from shared.runtime import ServiceContext
from tests.e2e.dispatch_support import DISPATCHER, MONDAY, client, ctx, run_queued

__all__ = ["client", "ctx"]  # fixtures


def _ship(client: FlaskClient, body: dict[str, Any]) -> str:
    response = client.post("/api/v1/shipments", json=body, headers=DISPATCHER)
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["id"])


def _solved(client: FlaskClient, ctx: ServiceContext, response: Any) -> dict[str, Any]:
    assert response.status_code == 202, response.get_json()
    run_queued(ctx)
    plan = client.get(f"/api/v1/plans/{response.get_json()['id']}", headers=DISPATCHER).get_json()
    assert plan["status"] == "solved", plan["error"]
    return dict(plan)


def _published(client: FlaskClient, ctx: ServiceContext) -> dict[str, Any]:
    plan = _solved(client, ctx, client.post("/api/v1/plans", json={"date": MONDAY.isoformat(), "time_limit_s": 2, "workers": 1},
                                            headers=DISPATCHER))  # fmt: skip
    assert client.post(f"/api/v1/plans/{plan['id']}/publish", json={}, headers=DISPATCHER).status_code == 200
    return plan


def _replan(client: FlaskClient, plan_id: str, **body: Any) -> Any:
    return client.post(f"/api/v1/plans/{plan_id}/replan", json={"time_limit_s": 1, **body}, headers=DISPATCHER)


def _fields(response: Any) -> list[str]:
    return [e["field"] for e in response.get_json().get("errors") or []]


def test_a_replan_keeps_the_urgent_shipment_and_publishing_moves_it(client: FlaskClient, ctx: ServiceContext) -> None:
    sid = _ship(client, {"site_code": "CW-T05", "deliver": {"ambient": 30}, "priority": 3, "deliver_by": MONDAY.isoformat(),
                         "note": "急救药", "items": [{"name": "肾上腺素注射液", "quantity": 10, "unit": "支"}]})  # fmt: skip
    first = _published(client, ctx)
    assert sid in first["stop_refs"]["CW-T05"]["shipment_ids"]
    again = _solved(client, ctx, _replan(client, first["id"]))
    assert sid in again["stop_refs"]["CW-T05"]["shipment_ids"], again["stop_refs"]["CW-T05"]
    routed = "CW-T05" in {s["id"] for r in again["result"]["routes"] for s in r["stops"]}
    preview = client.get(f"/api/v1/plans/{again['id']}/publish-preview", headers=DISPATCHER).get_json()
    assert preview["shipments"] >= (1 if routed else 0) and preview["late_shipments"] == []
    assert client.post(f"/api/v1/plans/{again['id']}/publish", json={}, headers=DISPATCHER).status_code == 200
    shipment = client.get(f"/api/v1/shipments/{sid}", headers=DISPATCHER).get_json()
    assert (shipment["status"], shipment["plan_id"]) == (("planned", again["id"]) if routed else ("pending", None))


def test_replanning_a_superseded_plan_is_a_409_naming_the_plan_that_superseded_it(client: FlaskClient, ctx: ServiceContext) -> None:
    first = _published(client, ctx)
    vans = sorted({r["vehicle_id"] for r in first["result"]["routes"]})
    out = _solved(client, ctx, _replan(client, first["id"], vehicles_out=vans[:2]))
    assert client.post(f"/api/v1/plans/{out['id']}/publish", json={}, headers=DISPATCHER).status_code == 200
    refused = _replan(client, first["id"])
    assert refused.status_code == 409 and _fields(refused) == ["plan_id"]
    assert out["id"] in refused.get_json()["errors"][0]["message"]


def test_a_late_shipment_is_named_and_plan_dates_have_a_range(client: FlaskClient, ctx: ServiceContext) -> None:
    sid = _ship(client, {"site_code": "CW-T12", "deliver": {"ambient": 12}, "priority": 3, "deliver_by": MONDAY.isoformat()})
    later = MONDAY + timedelta(days=3)
    plan = _solved(client, ctx, client.post("/api/v1/plans", json={"date": later.isoformat(), "time_limit_s": 1, "workers": 1},
                                            headers=DISPATCHER))  # fmt: skip
    assert [(x["shipment_id"], x["deliver_by"]) for x in plan["request"]["late_shipments"]] == [(sid, MONDAY.isoformat())]
    preview = client.get(f"/api/v1/plans/{plan['id']}/publish-preview", headers=DISPATCHER).get_json()
    carried = any(sid in plan["stop_refs"][s["id"]]["shipment_ids"] for r in plan["result"]["routes"] for s in r["stops"])
    assert [x["shipment_id"] for x in preview["late_shipments"]] == ([sid] if carried else [])
    far = client.post("/api/v1/plans", json={"date": "9999-12-31", "time_limit_s": 1}, headers=DISPATCHER)
    assert far.status_code == 422 and _fields(far) == ["date"]
    due = client.post("/api/v1/shipments", json={"site_code": "CW-T12", "deliver": {"ambient": 1}, "deliver_by": "9999-12-31"},
                      headers=DISPATCHER)  # fmt: skip
    assert due.status_code == 422 and _fields(due) == ["deliver_by"]


def test_a_lock_refusal_names_the_locked_route_sent_and_the_van_as_sent(client: FlaskClient, ctx: ServiceContext) -> None:
    first = _published(client, ctx)
    route = next(r for r in first["result"]["routes"] if r["vehicle_id"].startswith("PT-") and r["stops"])
    van, stop = route["vehicle_id"], route["stops"][0]["id"]
    _ship(client, {"site_code": first["stop_refs"][stop]["site"], "deliver": {"cold": 4}, "priority": 3,
                   "deliver_by": MONDAY.isoformat()})  # fmt: skip
    refused = _replan(client, first["id"], locked_routes=[van])
    assert refused.status_code == 422 and _fields(refused) == ["locked_routes[0]"], refused.get_json()
    message = refused.get_json()["errors"][0]["message"]
    assert van in message and f"{van}~" not in message
