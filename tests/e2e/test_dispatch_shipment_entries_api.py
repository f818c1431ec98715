"""Shipment entries of a plan's ``unassigned`` through the HTTP API, with a shipment id that equals a
stop id (fresh-eyes fault B): a storekeeper reads their own site's shipment left out, never another
site's, whatever its id (presentation.for_site)."""

from __future__ import annotations

from flask.testing import FlaskClient

from shared.runtime import ServiceContext
from tests.e2e.dispatch_support import MONDAY, client, ctx
from tests.e2e.test_dispatch_status_replan_api import ship, solved
from tests.support.web import bearer

__all__ = ["client", "ctx"]  # fixtures


def test_storekeepers_see_their_own_shipment_entries(ctx: ServiceContext, client: FlaskClient) -> None:
    ship(ctx, "SH-ZERO-VOL", "CW-T01-V02", volume_l=0.0)  # an active village, nothing to move, no round today
    ship(ctx, "CW-T02", "CW-ZZ98")  # a shipment named like township CW-T02's stop, to an unknown site
    plan = solved(client, ctx, "/api/v1/plans", {"date": MONDAY.isoformat(), "time_limit_s": 2, "workers": 1})
    result = plan["result"]
    entries = {u["shipment_id"]: u for u in result["unassigned"] if "shipment_id" in u}
    assert {i: (u["site"], u["rule"]) for i, u in entries.items()} == {
        "SH-ZERO-VOL": ("CW-T01-V02", "nothing_to_move"), "CW-T02": ("CW-ZZ98", "site_unknown")}  # fmt: skip
    assert "CW-T02" in {
        s["id"] for r in result["routes"] for s in r["stops"]
    }  # the stop is served all the same

    township = client.get(
        f"/api/v1/plans/{plan['id']}", headers=bearer("storekeeper", site="CW-T02")
    ).get_json()
    assert township["result"]["unassigned"] == []  # the foreign shipment named CW-T02 is not theirs
    assert [s["id"] for r in township["result"]["routes"] for s in r["stops"]] == ["CW-T02"]

    village = client.get(
        f"/api/v1/plans/{plan['id']}", headers=bearer("storekeeper", site="CW-T01-V02")
    ).get_json()
    assert [(u["shipment_id"], u["rule"]) for u in village["result"]["unassigned"]] == [
        ("SH-ZERO-VOL", "nothing_to_move")
    ]

    nobody = client.get(
        f"/api/v1/plans/{plan['id']}", headers=bearer("storekeeper", site="CW-T01")
    ).get_json()
    assert not [u for u in nobody["result"]["unassigned"] if "shipment_id" in u]
