"""One rule for a plan result's ``status`` on every path (dayplan.plan_status): computed from the FINAL
result, the routes once a re-plan's kept routes are merged (dayplan.merge_kept) and every entry of
``unassigned`` (stops left out and shipments no stop carries). "solved" when nothing is left out,
"partial" when something is served and something left out, "infeasible" only when nothing is served
and something is left out.

Fresh-eyes fault A: a re-plan with every van out served 50 stops on the kept routes, left one
shipment to an unknown site out, and said "infeasible" (无法安排): planning.to_plan decided from the
solver's routes alone and merge_kept did not decide again.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.dispatch.dayplan import day_options, day_request, merge_kept, plan_status, settle_status
from services.dispatch.model import Shipment, SiteInfo
from services.dispatch.planning import solve_request


def _rule(served: int, left_out: int) -> str:
    """The rule as the brief states it, written out apart from the code under test."""
    if left_out == 0:
        return "solved"
    return "partial" if served > 0 else "infeasible"


def _route(vehicle: str, stops: list[str]) -> dict[str, Any]:
    return {
        "vehicle": vehicle,
        "stops": [{"id": s} for s in stops],
        "distance_km": 1.5 * len(stops),
        "cost": 10.0,
    }


def _result(solved: int, stop_left: int, shipment_left: int) -> dict[str, Any]:
    """A solver result as planning.to_plan gives it: its status from its own routes only."""
    routes = [_route("LC-2", [f"S{i}" for i in range(solved)])] if solved else []
    unassigned: list[dict[str, Any]] = [
        {"id": f"L{i}", "reason": "no room", "rule": "capacity"} for i in range(stop_left)
    ]
    unassigned += [{"id": f"SH{i}", "reason": "收货单位 ZZ 未知 (site ZZ is unknown to dispatch)", "rule": "site_unknown",
                    "shipment_id": f"SH{i}", "site": "ZZ"} for i in range(shipment_left)]  # fmt: skip
    return {"status": plan_status(solved, len(unassigned)), "routes": routes, "unassigned": unassigned,
            "totals": {"stops_served": solved, "distance_km": 0.0, "cost": 0.0}}  # fmt: skip


counts = st.integers(min_value=0, max_value=6)


@settings(max_examples=200, deadline=None)
@given(served=st.integers(min_value=0, max_value=500), left_out=st.integers(min_value=0, max_value=500))
def test_plan_status_follows_the_rule(served: int, left_out: int) -> None:
    assert plan_status(served, left_out) == _rule(served, left_out)


@settings(max_examples=200, deadline=None)
@given(solved=counts, kept=st.lists(counts, max_size=3), stop_left=counts, shipment_left=counts)
def test_status_after_kept_routes_counts_the_whole_day(
    solved: int, kept: list[int], stop_left: int, shipment_left: int
) -> None:
    kept_routes = [_route(f"OUT-{k}", [f"K{k}-{i}" for i in range(n)]) for k, n in enumerate(kept)]
    merged = merge_kept(_result(solved, stop_left, shipment_left), kept_routes)
    served = solved + sum(kept)
    assert merged["totals"]["stops_served"] == served
    assert merged["status"] == _rule(served, stop_left + shipment_left)


def test_every_van_out_with_a_shipment_left_is_partial_not_infeasible() -> None:
    """The fresh-eyes case: the solver has no stop (every van out), the kept routes serve 50."""
    solver = _result(0, 0, 1)
    assert solver["status"] == "infeasible"
    merged = merge_kept(solver, [_route("PT-1", [f"K{i}" for i in range(50)])])
    assert merged["status"] == "partial"


@given(solved=counts, stop_left=counts, shipment_left=counts)
def test_settle_status_corrects_a_stale_status(solved: int, stop_left: int, shipment_left: int) -> None:
    result = {**_result(solved, stop_left, shipment_left), "status": "stale"}
    assert settle_status(result)["status"] == _rule(solved, stop_left + shipment_left)


MONDAY = date(2027, 1, 4)
HOURS = (("08:00", "17:00"),)
HUB = SiteInfo("HUB", "中心", "county_hospital", 34.95, 115.9, (("06:00", "20:00"),), is_hub=True)
OPEN = SiteInfo("T01", "一号卫生院", "township", 34.97, 115.92, HOURS)
ROOM = {"ambient": 2500, "cold": 400, "clean": 1500, "soiled": 1500, "specimen": 50}
VAN = {"id": "LC-1", "compartments": ROOM, "shift": ["07:30", "17:30"], "break_": None, "fixed_cost": 200,
       "cost_per_km": 2.5, "max_route_min": None, "max_km": None}  # fmt: skip


def test_the_solver_path_uses_the_same_rule() -> None:
    """planning.to_plan through a real solve: a shipment to an unknown site beside a served stop."""
    request, _ = day_request(MONDAY, [HUB, OPEN], [Shipment("S-1", "T01", {"ambient": 5}, {}, 1),
                             Shipment("S-2", "ZZ", {"ambient": 5}, {}, 1)], [VAN], day_options({"time_limit_s": 0.3}), ROOM)  # fmt: skip
    result = solve_request(request)
    served = sum(len(r["stops"]) for r in result["routes"])
    assert served >= 1 and [u["shipment_id"] for u in result["unassigned"]] == ["S-2"]
    assert result["status"] == "partial"
    kept = merge_kept(result, [_route("PT-9", ["K1"])])
    assert kept["status"] == "partial" and kept["totals"]["stops_served"] == served + 1
