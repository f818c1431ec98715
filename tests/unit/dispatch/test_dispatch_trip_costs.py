"""A van's fixed cost is reported once per van used, whatever number of trips it makes.

The search gives each of a van's two trips half its fixed cost (trips.trip_vehicles); the plan
reports route costs and ``totals.cost`` with the whole fixed cost charged once, on the van's first
trip of the day: a van out only in the morning, only in the afternoon or on both trips costs its
fixed cost once, plus its distance costs. Re-plans that keep the routes of vans already out
(merge_kept) are charged the same way over the whole day.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.dispatch.dayplan import day_request, merge_kept
from services.dispatch.model import Shipment, SiteInfo
from services.dispatch.trips import annotate_trips, base_vehicle, charge_fixed_once, trip_vehicles

SHIFT = {"shift": ["07:30", "17:30"], "max_route_min": 600, "max_km": 400.0,
         "compartments": {"ambient": 2500, "cold": 400, "clean": 1500, "soiled": 1500, "specimen": 60}}  # fmt: skip
BREAK = {"window": ["11:30", "13:30"], "minutes": 45}


def van(vid: str, fixed: float, per_km: float = 2.5, rest: bool = True) -> dict[str, Any]:
    return {**SHIFT, "id": vid, "fixed_cost": fixed, "cost_per_km": per_km, "break_": dict(BREAK) if rest else None}


def fen(yuan: float) -> int:
    return int(round(yuan * 100))


def solved(trips: list[dict[str, Any]], used: dict[str, float]) -> dict[str, Any]:
    """What planning.to_plan hands back for trips used with these km: each route's cost is its
    trip's fixed-cost share plus its distance cost (fen, as the solver counts), totals their sum."""
    routes = []
    for trip in trips:
        if trip["id"] not in used:
            continue
        km = used[trip["id"]]
        cost = fen(trip["fixed_cost"]) + fen(km * trip["cost_per_km"])
        routes.append({"vehicle": trip["id"], "stops": [{"id": f"S-{trip['id']}"}], "distance_km": km, "cost": cost / 100})
    return {"routes": routes, "totals": {"vehicles": len(routes), "distance_km": round(sum(used.values()), 2),
                                          "cost": sum(fen(r["cost"]) for r in routes) / 100,
                                          "stops_served": len(routes)}}  # fmt: skip


def expected_fen(vans: list[dict[str, Any]], trips: list[dict[str, Any]], used: dict[str, float]) -> int:
    """Distance costs of every trip used plus each used van's whole fixed cost, once."""
    per_km = {t["id"]: t["cost_per_km"] for t in trips}
    distance = sum(fen(km * per_km[t]) for t, km in used.items())
    vans_used = {base_vehicle(t)[0] for t in used}
    return distance + sum(fen(v["fixed_cost"]) for v in vans if v["id"] in vans_used)


MORNING_ONLY, AFTERNOON_ONLY, BOTH = {"LC-1~1": 42.0}, {"LC-1~2": 37.5}, {"LC-1~1": 42.0, "LC-1~2": 37.5}


@pytest.mark.parametrize("used", [MORNING_ONLY, AFTERNOON_ONLY, BOTH], ids=["morning-only", "afternoon-only", "both"])
def test_a_van_costs_its_fixed_cost_once_however_many_trips_it_makes(used: dict[str, float]) -> None:
    lc1 = van("LC-1", 260.0, 2.8)
    trips = trip_vehicles(lc1)
    assert [t["fixed_cost"] for t in trips] == [130.0, 130.0]  # the search's split: half per trip
    result = annotate_trips(solved(trips, used), trips)
    distance = sum(fen(km * 2.8) for km in used.values())
    assert fen(result["totals"]["cost"]) == distance + fen(260.0)
    assert sum(fen(r["cost"]) for r in result["routes"]) == fen(result["totals"]["cost"])
    first, *later = result["routes"]  # sorted by trip: the van's first trip of the day is charged
    assert first["fixed_cost"] == 260.0 and all(r["fixed_cost"] == 0 for r in later)
    assert all(fen(r["distance_cost"]) == fen(used[r["vehicle"]] * 2.8) for r in result["routes"])
    assert (result["totals"]["vehicles"], result["totals"]["trips"]) == (1, len(used))


def test_a_van_planned_as_one_trip_and_an_unused_van_are_charged_as_before() -> None:
    fleet = [van("PT-1", 180.0, 2.2, rest=False), van("PT-2", 150.0, rest=False)]
    trips = [t for v in fleet for t in trip_vehicles(v)]
    result = annotate_trips(solved(trips, {"PT-1": 30.0}), trips)
    assert fen(result["totals"]["cost"]) == fen(180.0) + fen(30.0 * 2.2)
    assert [r["vehicle_id"] for r in result["routes"]] == ["PT-1"]


def test_without_the_request_vehicles_the_costs_are_left_as_the_solver_gave_them() -> None:
    trips = trip_vehicles(van("LC-1", 260.0))
    result = annotate_trips(solved(trips, MORNING_ONLY))
    assert result["totals"]["cost"] == pytest.approx(130.0 + 42.0 * 2.5)
    assert "distance_cost" not in result["routes"][0]


fleets = st.lists(
    st.tuples(st.integers(0, 100_000).map(lambda f: f / 100), st.integers(0, 1000).map(lambda c: c / 100), st.booleans()),
    min_size=1, max_size=4,
)  # fmt: skip


@st.composite
def days(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, float]]:
    """A fleet (fixed cost, cost per km, with a break or not) and which trips of it a plan uses, with their km."""
    vans = [van(f"V{i}", fixed, per_km, rest) for i, (fixed, per_km, rest) in enumerate(draw(fleets))]
    trips = [t for v in vans for t in trip_vehicles(v)]
    used = {t["id"]: draw(st.integers(0, 40_000)) / 100 for t in trips if draw(st.booleans())}
    return vans, trips, used


@settings(max_examples=300, deadline=None)
@given(day=days())
def test_any_use_of_trips_reports_distance_costs_plus_each_used_vans_fixed_cost_once(
    day: tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, float]],
) -> None:
    vans, trips, used = day
    result = annotate_trips(solved(trips, used), trips)
    assert fen(result["totals"]["cost"]) == expected_fen(vans, trips, used)
    assert sum(fen(r["cost"]) for r in result["routes"]) == fen(result["totals"]["cost"])
    charged: dict[str, float] = {}
    for route in result["routes"]:
        charged[route["vehicle_id"]] = charged.get(route["vehicle_id"], 0) + route["fixed_cost"]
    assert charged == {v["id"]: v["fixed_cost"] for v in vans if v["id"] in charged}
    # Charging again (the board reloading a stored plan, a kept route) changes nothing.
    again = charge_fixed_once({**result, "routes": [dict(r) for r in result["routes"]]}, trips)
    assert again["totals"]["cost"] == result["totals"]["cost"]


@settings(max_examples=300, deadline=None)
@given(day=days(), data=st.data())
def test_a_replan_keeping_the_trips_already_out_counts_each_vans_fixed_cost_once_over_the_day(
    day: tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, float]], data: st.DataObject,
) -> None:
    """Some trips are out (their routes kept from the base plan, charged there); the others are
    re-planned without them (service.replan leaves trips already out out of the request)."""
    vans, trips, used = day
    out = data.draw(st.sets(st.sampled_from([t["id"] for t in trips])))
    base = annotate_trips(solved(trips, {t: km for t, km in used.items() if t in out}), trips)
    kept = base["routes"]
    left = [t for t in trips if t["id"] not in out]
    result = merge_kept(solved(left, {t: km for t, km in used.items() if t not in out}), kept, left)
    assert fen(result["totals"]["cost"]) == expected_fen(vans, trips, used)
    assert sum(fen(r["cost"]) for r in result["routes"]) == fen(result["totals"]["cost"])
    assert result["totals"]["stops_served"] == len(used) == result["totals"]["trips"]
    assert result["totals"]["vehicles"] == len({base_vehicle(t)[0] for t in used})


def test_a_van_whose_morning_trip_is_out_and_afternoon_trip_replanned_costs_its_fixed_cost_once() -> None:
    trips = trip_vehicles(van("LC-1", 260.0, 2.8))
    base = annotate_trips(solved(trips, {"LC-1~1": 42.0}), trips)
    assert base["totals"]["cost"] == pytest.approx(260.0 + 42.0 * 2.8)
    result = merge_kept(solved(trips[1:], {"LC-1~2": 37.5}), base["routes"], trips[1:])
    assert result["totals"]["cost"] == pytest.approx(260.0 + (42.0 + 37.5) * 2.8)
    assert [(r["trip"], r["fixed_cost"]) for r in result["routes"]] == [(1, 260.0), (2, 0.0)]


HUB = SiteInfo("HUB", "县物流中心", "county_hospital", 34.95, 115.89, (("06:00", "20:00"),), is_hub=True)
MORNING = SiteInfo("T-AM", "上午收货卫生院", "township", 34.99, 115.85, (("08:00", "11:00"),))
AFTERNOON = SiteInfo("T-PM", "下午收货卫生院", "township", 34.91, 115.93, (("14:30", "17:00"),))


def test_a_solved_day_reports_the_solvers_distance_costs_plus_the_vans_fixed_cost_once() -> None:
    """The real search: one van with a break, a morning-only and an afternoon-only site, so both
    trips run; the reported cost is the routes' distance costs plus the van's fixed cost once."""
    from services.dispatch.planning import solve_request

    shipments = [Shipment("S-AM", "T-AM", {"cold": 20.0}), Shipment("S-PM", "T-PM", {"cold": 20.0})]
    request, _ = day_request(date(2026, 12, 13), [HUB, MORNING, AFTERNOON], shipments,
                             [van("LC-1", 260.0, 2.8)], {"time_limit_s": 1.0, "speed_kmh": 40.0, "circuity": 1.3,
                                                         "specimen_max_ride_min": 240, "workers": 1}, {})  # fmt: skip
    result = merge_kept(solve_request(request), [], request["vehicles"])
    assert [(r["vehicle"], [s["id"] for s in r["stops"]]) for r in result["routes"]] == [("LC-1~1", ["T-AM"]), ("LC-1~2", ["T-PM"])]
    distance = sum(fen(r["distance_km"] * 2.8) for r in result["routes"])
    assert abs(fen(result["totals"]["cost"]) - distance - fen(260.0)) <= len(result["routes"])  # km rounding
    assert [r["fixed_cost"] for r in result["routes"]] == [260.0, 0.0]


def test_a_kept_trip_from_a_plan_made_before_costs_were_charged_takes_its_other_trips_share() -> None:
    """A plan stored before this reporting (route cost = half the fixed cost + distance, no
    distance_cost) re-planned with its morning trip out: the van is still charged once."""
    trips = trip_vehicles(van("LC-1", 260.0, 2.8))
    legacy = solved(trips, {"LC-1~1": 42.0})["routes"]
    assert legacy[0]["cost"] == pytest.approx(130.0 + 42.0 * 2.8) and "distance_cost" not in legacy[0]
    result = merge_kept(solved(trips[1:], {"LC-1~2": 37.5}), legacy, trips[1:])
    assert result["totals"]["cost"] == pytest.approx(260.0 + (42.0 + 37.5) * 2.8)
    whole_van_out = merge_kept(solved([], {}), solved(trips, {"LC-1~1": 42.0})["routes"], [])
    assert whole_van_out["totals"]["cost"] == pytest.approx(130.0 + 42.0 * 2.8)  # nothing known: left as it was
