"""Shipments no stop can carry: each with its own rule and reason (dayplan.unplanned_shipments), and in
the plan result's ``unassigned`` with the status saying not everything was planned (planning.to_plan)."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.dispatch.dayplan import day_options, day_request
from services.dispatch.model import Shipment, SiteInfo
from services.dispatch.planning import solve_request

MONDAY = date(2027, 1, 4)
HOURS = (("08:00", "17:00"),)
HUB = SiteInfo("HUB", "中心", "county_hospital", 34.95, 115.9, (("06:00", "20:00"),), is_hub=True)
OPEN = SiteInfo("T01", "一号卫生院", "township", 34.97, 115.92, HOURS)
QUIET = SiteInfo("Q01", "门诊部", "clinic", 34.96, 115.91, HOURS)  # a level with no rounds
CLOSED = SiteInfo("T09", "九号卫生院（停用）", "township", 35.1, 116.0, HOURS, active=False)
ROOM = {"ambient": 2500, "cold": 400, "clean": 1500, "soiled": 1500, "specimen": 50}
VAN = {
    "id": "LC-1",
    "compartments": ROOM,
    "shift": ["07:30", "17:30"],
    "break_": None,
    "fixed_cost": 200,
    "cost_per_km": 2.5,
    "max_route_min": None,
    "max_km": None,
}
# where a shipment may be addressed -> the rule when no stop carries it (None: a stop carries it)
TARGETS = {"T01": None, "T09": "site_inactive", "ZZ99": "site_unknown", "HUB": "site_is_hub"}


def _request(shipments: list[Shipment]) -> dict[str, Any]:
    request, _ = day_request(
        MONDAY, [HUB, OPEN, QUIET, CLOSED], shipments, [VAN], day_options({"time_limit_s": 0.3}), ROOM
    )
    return request


def test_each_shipment_no_stop_carries_names_its_own_cause() -> None:
    ship = [Shipment(f"S-{code}", code, {"ambient": 5}, {}, 1) for code in TARGETS]
    ship.append(Shipment("S-EMPTY", "Q01", {}, {}, 1))  # nothing to drop or collect, at a site without rounds
    ship.append(Shipment("S-RIDES", "T01", {}, {}, 1))  # nothing either, but the site's rounds make a stop
    listed = {x["shipment_id"]: x for x in _request(ship)["unplanned_shipments"]}
    assert {i: x["rule"] for i, x in listed.items()} == {
        "S-T09": "site_inactive",
        "S-ZZ99": "site_unknown",
        "S-HUB": "site_is_hub",
        "S-EMPTY": "nothing_to_move",
    }
    assert listed["S-T09"]["reason"] == "收货单位 T09 未启用 (site T09 is inactive)"
    assert listed["S-ZZ99"]["reason"] == "收货单位 ZZ99 未知 (site ZZ99 is unknown to dispatch)"
    assert "hub" in listed["S-HUB"]["reason"] and listed["S-HUB"]["site"] == "HUB"
    assert "nothing to deliver or collect" in listed["S-EMPTY"]["reason"]


@settings(max_examples=15, deadline=None, derandomize=True)
@given(targets=st.lists(st.sampled_from(sorted(TARGETS)), min_size=1, max_size=5))
def test_the_plan_result_lists_every_shipment_no_stop_carries_and_is_partial_then(targets: list[str]) -> None:
    ship = [Shipment(f"S{i}", code, {"ambient": 5}, {}, 1) for i, code in enumerate(targets)]
    request = _request(ship)
    result = solve_request(request)
    served = {s["id"] for r in result["routes"] for s in r["stops"]}
    stops_left = {u["id"] for u in result["unassigned"] if "shipment_id" not in u}
    assert served | stops_left == {s["id"] for s in request["stops"]}
    unplanned = {u["shipment_id"]: u["rule"] for u in result["unassigned"] if "shipment_id" in u}
    assert unplanned == {f"S{i}": TARGETS[code] for i, code in enumerate(targets) if TARGETS[code]}
    assert all(
        u["id"] == u["shipment_id"] and u["reason"] for u in result["unassigned"] if "shipment_id" in u
    )
    if not result["unassigned"]:
        assert result["status"] == "solved"
    else:
        assert result["status"] == ("partial" if served else "infeasible")
    assert (result["status"] == "solved") == (not unplanned and not stops_left)


def test_a_request_queued_before_shipments_had_a_rule_still_lists_them() -> None:
    request = _request([Shipment("S0", "T01", {"ambient": 5}, {}, 1)])
    request["unplanned_shipments"] = [
        {
            "shipment_id": "OLD",
            "site": "T09",
            "reason": "收货单位 T09 未启用或未知 (site T09 is inactive or unknown to dispatch)",
        }
    ]
    result = solve_request(request)
    assert [u for u in result["unassigned"] if u["id"] == "OLD"] == [
        {
            "id": "OLD",
            "shipment_id": "OLD",
            "site": "T09",
            "rule": "site_inactive",
            "reason": "收货单位 T09 未启用或未知 (site T09 is inactive or unknown to dispatch)",
        }
    ]
    assert result["status"] == "partial"
