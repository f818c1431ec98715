"""A re-plan with every van out says ``partial``, not ``infeasible``, through the HTTP API (fresh-eyes
fault A): the kept routes serve the base plan's stops, and a shipment to a site dispatch has never
heard of is left out. The status is computed from the final result (dayplan.plan_status), kept routes
included, on every path: the first plan and its re-plan alike."""

from __future__ import annotations

from flask.testing import FlaskClient

from shared.runtime import ServiceContext
from tests.e2e.dispatch_support import MONDAY, client, ctx, ship, solved

__all__ = ["client", "ctx"]  # fixtures


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
