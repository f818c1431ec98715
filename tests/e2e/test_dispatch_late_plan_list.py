"""A plan's late shipments (carried after their deliver-by day) in the plan list and the publish preview.

Before: day plans recorded them (dayplan.late_shipments, in the plan's request), the publish preview
listed them undocumented, and the plan list (PlanSummaryOut) dropped them, so the board could not say
which plans deliver late. Now every listed plan carries ``late_shipments`` (a storekeeper: their own
site's only), and the publish preview documents its list, which the board's confirmation shows.
"""

from __future__ import annotations

from flask.testing import FlaskClient

from services.dispatch import reads, service
from shared.auth import Principal
from shared.runtime import ServiceContext
from tests.e2e.dispatch_support import DISPATCHER, MONDAY, client, ctx, run_queued
from tests.support.web import bearer

__all__ = ["client", "ctx"]  # fixtures


def _plan(client: FlaskClient, ctx: ServiceContext) -> str:
    queued = client.post(
        "/api/v1/plans",
        json={"date": MONDAY.isoformat(), "time_limit_s": 1, "workers": 1},
        headers=DISPATCHER,
    )
    assert queued.status_code == 202, queued.get_json()
    run_queued(ctx)
    return str(queued.get_json()["id"])


def test_the_plan_list_and_the_publish_preview_name_the_late_shipments(
    client: FlaskClient, ctx: ServiceContext
) -> None:
    on_time = _plan(client, ctx)  # nothing due before Monday yet
    today = service.today().isoformat()
    late = {}
    for site in ("CW-T02", "CW-T05"):
        made = client.post("/api/v1/shipments", json={"site_code": site, "deliver": {"ambient": 5}, "deliver_by": today},
                           headers=DISPATCHER)  # fmt: skip
        assert made.status_code == 201, made.get_json()
        late[made.get_json()["id"]] = site
    client.post(
        "/api/v1/shipments", json={"site_code": "CW-T03", "deliver": {"ambient": 5}}, headers=DISPATCHER
    )
    plan_id = _plan(client, ctx)

    listed = {
        p["id"]: p
        for p in client.get(f"/api/v1/plans?date={MONDAY.isoformat()}", headers=DISPATCHER).get_json()
    }
    assert listed[on_time]["late_shipments"] == []
    got = listed[plan_id]["late_shipments"]
    assert {x["shipment_id"]: x["site"] for x in got} == late
    assert all(x["deliver_by"] == today and x["stop"].startswith(x["site"]) for x in got)
    assert "request" not in listed[plan_id] and "stop_refs" not in listed[plan_id]  # still a light list

    # The list is county-wide (a storekeeper is refused it); a site-confined caller would see their own site's only.
    assert client.get("/api/v1/plans", headers=bearer("storekeeper", site="CW-T02")).status_code == 403
    confined = reads.plans_for(ctx, Principal("sk", ("storekeeper",), site="CW-T02"), MONDAY)
    assert [x["shipment_id"] for x in next(p for p in confined if p["id"] == plan_id)["late_shipments"]] == [
        i for i, s in late.items() if s == "CW-T02"
    ]

    preview = client.get(f"/api/v1/plans/{plan_id}/publish-preview", headers=DISPATCHER).get_json()
    assert {x["shipment_id"]: (x["site"], x["deliver_by"]) for x in preview["late_shipments"]} == {
        i: (s, today) for i, s in late.items()
    }
    assert (
        client.get(f"/api/v1/plans/{on_time}/publish-preview", headers=DISPATCHER).get_json()[
            "late_shipments"
        ]
        == []
    )
