"""A day's request, pure: split loads, trips linked at the break, vehicles outside the depot's hours."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.dispatch.dayplan import screen_vehicle
from services.dispatch.model import MAX_PARTS, MIN_SPLIT_L, DayStop, SiteInfo, minutes, split_oversized
from services.dispatch.trips import annotate_trips, base_vehicle, trip_vehicles

SITE = SiteInfo("T01", "一号卫生院", "township", 35.0, 115.9, (("08:00", "11:30"), ("14:00", "17:00")))
VAN = {"id": "LC-1", "compartments": {"ambient": 2500, "cold": 400}, "shift": ["07:30", "17:30"],
       "break_": {"window": ["11:30", "13:30"], "minutes": 45}, "fixed_cost": 260.0, "cost_per_km": 2.8,
       "max_route_min": 600, "max_km": 400.0}  # fmt: skip


@given(litres=st.floats(0.1, 5000), cap=st.floats(2 * MIN_SPLIT_L, 3000), other=st.floats(0, 50))
def test_split_parts_add_up_fit_a_compartment_and_are_never_tiny(litres: float, cap: float, other: float) -> None:
    stop = DayStop(SITE, {"cold": litres, "ambient": other}, {"specimen": 1.5}, ["S1"], ["linen"], 3)
    parts = split_oversized(stop, {"cold": cap, "ambient": 2500, "specimen": 60})
    assert sum(p.deliver_l.get("cold", 0) for p in parts) == pytest.approx(litres, abs=0.051)
    assert sum(p.deliver_l.get("ambient", 0) for p in parts) == pytest.approx(other, abs=0.051)
    if litres <= cap or math.ceil(litres / cap - 1e-9) > MAX_PARTS:
        assert parts == [stop] and stop.stop_id == "T01"  # fits, or too big to split: the solver names it
        return
    assert all(p.deliver_l["cold"] <= cap + 0.1 for p in parts)  # whole decilitres
    assert all(p.deliver_l["cold"] >= max(MIN_SPLIT_L, cap / 2) - 0.1 for p in parts)
    assert [p.stop_id for p in parts] == [f"T01~{k}" for k in range(1, len(parts) + 1)]
    assert all((p.parts, p.priority, p.shipment_ids) == (len(parts), 3, ["S1"]) for p in parts)
    assert sum(p.pickup_l.get("specimen", 0) for p in parts) == pytest.approx(1.5)


def test_a_compartment_no_vehicle_has_is_left_whole_for_the_solver_to_name() -> None:
    stop = DayStop(SITE, {"cold": 900})
    assert split_oversized(stop, {"ambient": 2500}) == [stop]


def test_a_vans_day_is_a_morning_and_an_afternoon_trip_linked_at_the_break() -> None:
    morning, afternoon = trip_vehicles(VAN)
    assert (morning["id"], afternoon["id"]) == ("LC-1~1", "LC-1~2")
    assert morning["shift"] == ["07:30", "12:45"] and afternoon["shift"] == ["13:30", "17:30"]
    assert morning["break_"] is None and afternoon["break_"] is None  # taken at the hub between them
    assert morning["fixed_cost"] + afternoon["fixed_cost"] == VAN["fixed_cost"]
    assert base_vehicle("LC-1~2") == ("LC-1", 2) and base_vehicle("PT-3") == ("PT-3", 1)


@given(start=st.integers(5 * 60, 14 * 60), length=st.integers(60, 12 * 60), bstart=st.integers(6 * 60, 16 * 60),
       span=st.integers(30, 240), rest=st.integers(10, 120))  # fmt: skip
def test_trips_always_lie_inside_the_shift_and_leave_room_for_the_break(
    start: int, length: int, bstart: int, span: int, rest: int
) -> None:
    end = min(start + length, 23 * 60 + 59)
    rest = min(rest, span)
    hhmm = lambda m: f"{m // 60:02d}:{m % 60:02d}"  # noqa: E731
    van = {**VAN, "shift": [hhmm(start), hhmm(end)],
           "break_": {"window": [hhmm(bstart), hhmm(min(bstart + span, 23 * 60 + 59))], "minutes": rest}}  # fmt: skip
    trips = trip_vehicles(van)
    if len(trips) == 1:
        assert trips[0] == van
        return
    (a, b), (c, d) = (tuple(minutes(t) for t in trip["shift"]) for trip in trips)
    assert start <= a < b <= c < d <= end
    assert c - b == rest  # exactly the break, at the hub
    assert minutes(van["break_"]["window"][0]) <= b and c <= minutes(van["break_"]["window"][1])


def test_a_shift_outside_the_depot_hours_is_screened_with_its_reason() -> None:
    late = {**VAN, "shift": ["19:30", "22:00"]}
    left = screen_vehicle(late, "07:00", "19:00")
    assert left is not None and left.field == "shift" and "19:30–22:00" in left.reason
    assert screen_vehicle(VAN, "07:00", "19:00") is None


def test_annotated_trips_count_vehicles_not_trips() -> None:
    result = {"routes": [{"vehicle": "LC-1~2", "stops": [{"id": "A"}]}, {"vehicle": "LC-1~1", "stops": [{"id": "B"}]},
                         {"vehicle": "PT-1", "stops": [{"id": "C"}]}], "totals": {"vehicles": 3}}  # fmt: skip
    annotate_trips(result)
    assert [(r["vehicle_id"], r["trip"]) for r in result["routes"]] == [("LC-1", 1), ("LC-1", 2), ("PT-1", 1)]
    assert result["totals"] == {"vehicles": 2, "trips": 3}
    assert result["routes"][1]["stops"][0]["trip"] == 2


@given(priority=st.integers(0, 3), offset=st.one_of(st.none(), st.integers(-3, 3)))
def test_a_shipment_due_on_the_planned_day_is_at_least_high_priority(priority: int, offset: int | None) -> None:
    """deliver_by ≤ the planned day lifts the stop to HIGH; later or no deadline leaves it as ordered."""
    from datetime import date, timedelta

    from services.dispatch.model import Shipment, build_day_stops

    day = date(2026, 12, 7)
    due = None if offset is None else day + timedelta(days=offset)
    site = SiteInfo("V01", "一号村卫生室", "village", 35.0, 115.9, ())
    [stop] = build_day_stops(day, [site], [Shipment("S1", "V01", {"cold": 2}, priority=priority, deliver_by=due)])
    expected = max(priority, 2) if due is not None and due <= day else priority
    assert stop.priority == max(expected, 1)  # a site's stop is at least NORMAL (its own rounds)
