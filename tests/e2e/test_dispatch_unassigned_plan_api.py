"""A day's shipments no stop can carry are in the plan result's ``unassigned``, through the HTTP API,
on SQLite and on PostgreSQL.

A shipment whose site is inactive or unknown to dispatch rides on no stop (model.build_day_stops).
It was listed in the plan's request and the day preview only, so a dispatcher reading the plan
(``GET /api/v1/plans/<id>``, the board) saw "all stops planned" while it waited at the hub. The plan
result now lists it (``id`` the shipment's, ``rule`` ``site_inactive`` / ``site_unknown``, the reason
in Chinese and English, ``shipment_id``, ``site``) and its status is ``partial``; a re-plan too.
"""

from __future__ import annotations

from typing import Any

import pytest

from services.dispatch.app import SPEC
from services.dispatch.fleet import seed_fleet_if_empty
from services.formulary.seed.county import generate_county
from services.formulary.seed.loader import site_payload
from shared.db import unit_of_work
from shared.events.envelope import new_event
from shared.runtime import ServiceContext, handle_event
from tests.e2e.dispatch_support import DISPATCHER, MONDAY, ship, solved
from tests.support.backends import Backend, backend

__all__ = ["backend"]  # fixture

INACTIVE = "CW-T05"


def _site_event(data: dict[str, Any]) -> Any:
    return new_event("formulary.site.upserted", data, source="/countyhub/formulary")


@pytest.fixture()
def ctx(backend: Backend) -> ServiceContext:
    """A dispatch database (SQLite, then PostgreSQL) that has heard of the Chengwu sites, with the
    default fleet; township CW-T05 is then closed (its site upserted inactive, version 2)."""
    context = backend.context(SPEC)
    for site in generate_county("chengwu").sites:
        data = {**site_payload(site), "version": 1, "catalogue_version": 1}
        handle_event(SPEC, context, _site_event(data))
        if site.code == INACTIVE:
            handle_event(SPEC, context, _site_event({**data, "version": 2, "active": False}))
    with unit_of_work(context.factory) as session:
        seed_fleet_if_empty(session)
    return context


def test_shipments_no_stop_can_carry_are_unassigned_in_the_plan_result(ctx: ServiceContext) -> None:
    client = SPEC.create_app(ctx).test_client()
    ship(ctx, "SH-CLOSED", INACTIVE)
    ship(ctx, "SH-NOWHERE", "CW-ZZ99")  # a site dispatch has never heard of
    ship(ctx, "SH-OK", "CW-T01")
    plan = solved(client, ctx, "/api/v1/plans", {"date": MONDAY.isoformat(), "time_limit_s": 2, "workers": 1})
    assert plan["status"] == "solved", plan["error"]
    result = plan["result"]
    served = {s["id"] for r in result["routes"] for s in r["stops"]}
    stops = {s["id"] for s in plan["request"]["stops"]}
    assert "CW-T01" in served and INACTIVE not in stops
    by_id = {u["id"]: u for u in result["unassigned"]}
    assert by_id["SH-CLOSED"] == {
        "id": "SH-CLOSED",
        "shipment_id": "SH-CLOSED",
        "site": INACTIVE,
        "rule": "site_inactive",
        "reason": f"收货单位 {INACTIVE} 未启用 (site {INACTIVE} is inactive)",
    }
    assert by_id["SH-NOWHERE"]["rule"] == "site_unknown" and by_id["SH-NOWHERE"]["site"] == "CW-ZZ99"
    assert "未知" in by_id["SH-NOWHERE"]["reason"] and "unknown to dispatch" in by_id["SH-NOWHERE"]["reason"]
    assert "SH-OK" not in by_id
    # every stop is on a route or unassigned; the shipments no stop carries are unassigned besides
    assert served | {u["id"] for u in result["unassigned"] if "shipment_id" not in u} == stops
    assert result["status"] == "partial"  # not everything of the day is planned
    assert all(u["reason"] and u["rule"] for u in result["unassigned"])
    # the day preview and the request list the same shipments with the same rule
    preview = client.get(f"/api/v1/days/{MONDAY.isoformat()}/stops", headers=DISPATCHER).get_json()
    listed = {(x["shipment_id"], x["rule"]) for x in preview["unplanned_shipments"]}
    assert listed == {("SH-CLOSED", "site_inactive"), ("SH-NOWHERE", "site_unknown")}
    assert {(x["shipment_id"], x["rule"]) for x in plan["request"]["unplanned_shipments"]} == listed

    # a re-plan of the day lists them too
    again = solved(client, ctx, f"/api/v1/plans/{plan['id']}/replan", {"time_limit_s": 1})
    assert again["status"] == "solved", again["error"]
    assert {u["id"]: u["rule"] for u in again["result"]["unassigned"] if "shipment_id" in u} == {
        "SH-CLOSED": "site_inactive",
        "SH-NOWHERE": "site_unknown",
    }
    assert again["result"]["status"] == "partial"

    # publishing names them apart from the stops left out (the event's unassigned lists stops only)
    preview = client.get(f"/api/v1/plans/{again['id']}/publish-preview", headers=DISPATCHER).get_json()
    assert sorted(preview["unplanned_shipments"]) == ["SH-CLOSED", "SH-NOWHERE"]
    assert not {"SH-CLOSED", "SH-NOWHERE"} & set(preview["unassigned"])
    published = client.post(f"/api/v1/plans/{again['id']}/publish", headers=DISPATCHER)
    assert published.status_code == 200, published.get_json()
    assert sorted(published.get_json()["unplanned_shipments"]) == ["SH-CLOSED", "SH-NOWHERE"]
    assert not {"SH-CLOSED", "SH-NOWHERE"} & set(published.get_json()["unassigned"])


def test_a_day_whose_every_shipment_is_planned_stays_solved(ctx: ServiceContext) -> None:
    client = SPEC.create_app(ctx).test_client()
    ship(ctx, "SH-OK", "CW-T01")
    plan = solved(client, ctx, "/api/v1/plans", {"date": MONDAY.isoformat(), "time_limit_s": 2, "workers": 1})
    assert plan["request"]["unplanned_shipments"] == []
    assert not [u for u in plan["result"]["unassigned"] if "shipment_id" in u]
    assert plan["result"]["status"] == ("solved" if not plan["result"]["unassigned"] else "partial")
