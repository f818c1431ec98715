"""A re-plan with every van out says ``partial``, not ``infeasible``, through the HTTP API (fresh-eyes
fault A): the kept routes serve the base plan's stops, and a shipment to a site dispatch has never
heard of is left out. The status is computed from the final result (dayplan.plan_status), kept routes
included, on every path: the first plan and its re-plan alike."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from services.dispatch.app import SPEC
from shared.events.envelope import new_event
from shared.runtime import ServiceContext, handle_event
from tests.e2e.dispatch_support import DISPATCHER, MONDAY, client, ctx, run_queued

__all__ = ["client", "ctx"]  # fixtures


def ship(ctx: ServiceContext, shipment_id: str, site: str, volume_l: float = 6.0) -> None:
    """procurement.shipment.ready for one line of ambient goods to ``site``."""
    data = {"shipment_id": shipment_id, "site_code": site, "ready_at": "2026-11-22T08:00:00Z", "priority": 2,
            "lines": [{"item_code": "YP000001", "quantity": 24, "compartment": "ambient", "volume_l": volume_l}]}  # fmt: skip
    assert handle_event(
        SPEC, ctx, new_event("procurement.shipment.ready", data, source="/countyhub/procurement")
    )


def solved(client: FlaskClient, ctx: ServiceContext, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """Queue a plan (or re-plan), run the worker, and read the plan back."""
    queued = client.post(path, json=body, headers=DISPATCHER)
    assert queued.status_code == 202, queued.get_json()
    run_queued(ctx)
    plan = client.get(f"/api/v1/plans/{queued.get_json()['id']}", headers=DISPATCHER)
    assert plan.status_code == 200
    return plan.get_json()  # type: ignore[no-any-return]


def test_replan_with_every_van_out_is_partial(ctx: ServiceContext, client: FlaskClient) -> None:
    ship(ctx, "SH-NOWHERE", "CW-ZZ98")  # a site dispatch has never heard of
    base = solved(client, ctx, "/api/v1/plans", {"date": MONDAY.isoformat(), "time_limit_s": 2, "workers": 1})
    result = base["result"]
    served = result["totals"]["stops_served"]
    assert served > 0 and [u["shipment_id"] for u in result["unassigned"]] == ["SH-NOWHERE"]
    assert result["status"] == "partial"
    vans = sorted({r["vehicle_id"] for r in result["routes"]})
    again = solved(
        client, ctx, f"/api/v1/plans/{base['id']}/replan", {"vehicles_out": vans, "time_limit_s": 1}
    )
    assert again["status"] == "solved", again["error"]
    assert again["request"]["stops"] == []  # nothing left for the solver: every stop is on a kept route
    res = again["result"]
    assert res["totals"]["stops_served"] == served == sum(len(r["stops"]) for r in res["routes"])
    assert [(u["shipment_id"], u["rule"]) for u in res["unassigned"]] == [("SH-NOWHERE", "site_unknown")]
    assert res["status"] == "partial"  # was "infeasible" (无法安排) with 50 stops served
