"""Issue 8 §1-§3 and receiving hours with a lunch closure: ordinary working days that must plan.

Times are seconds after midnight; the plane is in metres and vehicles drive 10 m/s (36 km/h).
Every plan is verified by the independent checker.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pytest

from services.dispatch.routing import Break, Options, Problem, Stop, TimeWindow, Vehicle, check, solve
from services.dispatch.routing.checker import check_route
from services.dispatch.routing.prepare import prepare
from services.dispatch.routing.replan import fallback_plan
from services.dispatch.routing.screen import screen
from services.dispatch.routing.solution import Solution

H = 3600
M = 60
QUICK = Options(time_limit_s=0.3, workers=1)


def hm(text: str) -> int:
    h, m = text.split(":")
    return int(h) * H + int(m) * M


def tw(a: str, b: str) -> TimeWindow:
    return TimeWindow(hm(a), hm(b))


def day(stops: Sequence[tuple[Stop, tuple[float, float]]], vehicles: Sequence[Vehicle], *,
        depot_hours: TimeWindow | None = None, options: Options = QUICK, **extra: object) -> Problem:
    points = [(0.0, 0.0)] + [xy for _, xy in stops]
    n = len(points)
    real = np.array([[math.dist(points[i], points[j]) for j in range(n)] for i in range(n)])
    dist = np.rint(real).astype(np.int64)
    return Problem(stops=tuple(s for s, _ in stops), vehicles=tuple(vehicles), distance=dist,
                   duration=np.rint(real / 10).astype(np.int64), coords=np.array(points),
                   options=options, depot_hours=depot_hours, **extra)  # type: ignore[arg-type]


def van(vid: str, shift: tuple[str, str], brk: tuple[str, str, int] | None = None, **kw: object) -> Vehicle:
    rest = Break(hm(brk[0]), hm(brk[1]), brk[2] * M) if brk else None
    kw.setdefault("capacity", {"ambient": 100})
    return Vehicle(vid, shift_start=hm(shift[0]), shift_end=hm(shift[1]), rest_break=rest, **kw)  # type: ignore[arg-type]


def solved(problem: Problem) -> Solution:
    solution = solve(problem)
    report = check(problem, solution)
    assert report.ok, report.messages()
    for route in solution.routes:  # never a break shown after the vehicle is back
        assert route.break_start is None or route.break_start < route.end
    return solution


def served(solution: Solution) -> set[str]:
    return {s for r in solution.routes for s in r.stop_ids}


# --- §1 breaks and shifts of every shape ------------------------------------------------------------


def test_morning_shift_with_a_break_window_after_it_plans_without_a_break() -> None:
    stops = [(Stop("a", window=tw("08:00", "10:30")), (3000, 0)), (Stop("b", window=tw("08:00", "10:30")), (0, 4000))]
    p = day(stops, [van("m", ("07:30", "11:00"), ("12:00", "13:30", 30))])
    sol = solved(p)
    assert served(sol) == {"a", "b"}
    assert all(r.break_start is None for r in sol.routes)  # no break is owed within 07:30-11:00
    assert all(r.break_note.startswith("no break owed") for r in sol.routes)


@pytest.mark.parametrize("minutes", [30, 45])
def test_half_day_depot_with_the_usual_break_plans_three_morning_stops(minutes: int) -> None:
    stops = [(Stop(c, window=tw("07:30", "11:00")), xy) for c, xy in zip("xyz", [(2000, 0), (0, 2500), (-3000, 0)],
                                                                           strict=True)]
    vans = [van(f"v{i}", ("07:30", "17:30"), ("11:30", "13:30", minutes)) for i in range(2)]
    sol = solved(day(stops, vans, depot_hours=tw("07:00", "12:00")))
    assert served(sol) == {"x", "y", "z"}
    for r in sol.routes:
        assert r.end <= hm("12:00")


def test_afternoon_shift_with_the_usual_break_takes_it_at_the_start_or_not_at_all() -> None:
    stops = [(Stop(c, window=tw("13:00", "18:00")), xy) for c, xy in zip("pq", [(5000, 0), (0, 6000)], strict=True)]
    sol = solved(day(stops, [van("pm", ("13:00", "19:00"), ("11:30", "13:30", 30))]))
    assert served(sol) == {"p", "q"}


def test_break_window_partly_overlapping_the_shift() -> None:
    stops = [(Stop(c, window=tw("11:00", "16:00"), service=20 * M), xy)
             for c, xy in zip("rst", [(9000, 0), (0, 9000), (-9000, 0)], strict=True)]
    sol = solved(day(stops, [van("v", ("11:00", "17:00"), ("10:00", "12:00", 60))]))
    assert served(sol) == {"r", "s", "t"}


def test_break_is_kept_when_the_route_runs_through_the_window() -> None:
    # long services keep the van out all day: the break must be on the route, inside 11:30-13:30
    stops = [(Stop(c, service=2 * H), xy) for c, xy in zip("abc", [(3000, 0), (3000, 3000), (0, 3000)], strict=True)]
    sol = solved(day(stops, [van("v", ("08:00", "17:00"), ("11:30", "13:30", 45))]))
    route = sol.routes[0]
    assert route.break_start is not None and hm("11:30") <= route.break_start <= hm("12:45")
    assert route.break_note.startswith("break taken on the route")


SHIFTS = {"morning": ("07:30", "11:00"), "day": ("07:30", "17:30"), "afternoon": ("13:00", "19:00"),
          "late": ("19:30", "22:00")}
BREAKS = {"none": None, "usual": ("11:30", "13:30", 45), "after-morning": ("12:00", "13:30", 30),
          "partial": ("10:00", "12:00", 60), "outside": ("05:00", "06:00", 30)}
DEPOTS = {"always": None, "day": ("07:00", "19:00"), "half-day": ("07:00", "12:00"), "afternoon": ("12:00", "19:00")}


@pytest.mark.parametrize(("shift", "brk", "depot"), list(itertools.product(SHIFTS, BREAKS, DEPOTS)))
def test_sweep_every_feasible_day_gets_a_checked_plan(shift: str, brk: str, depot: str) -> None:
    """Shift x break window x depot hours: every stop a vehicle could serve alone is served, and the
    checker accepts the plan (model and checker agree on the break rule)."""
    stops = [
        (Stop("early", window=tw("08:00", "10:30"), service=10 * M), (4000, 0)),
        (Stop("midday", window=tw("11:00", "14:00"), service=30 * M), (0, 5000)),
        (Stop("late", window=tw("15:00", "18:30"), service=10 * M), (-6000, 0)),
        (Stop("any", service=15 * M), (2000, 2000)),
    ]
    # one van per stop, so "fits alone" means "must be served"
    vans = [van(f"v{i}", SHIFTS[shift], BREAKS[brk]) for i in range(len(stops))]
    open_close = DEPOTS[depot]
    hours = tw(*open_close) if open_close is not None else None
    p = day(stops, vans, depot_hours=hours, options=Options(time_limit_s=0.15, workers=1))
    sol = solved(p)
    fits_alone = {s.id for s, _ in stops if not check_route(p, "v0", [s.id])}
    assert served(sol) == fits_alone
    if fits_alone:
        assert not sol.vehicles_out
    else:
        assert sol.unassigned


# --- §2 one bad vehicle or number never takes the solve down ----------------------------------------


def test_vehicle_shift_after_depot_closes_is_left_out_and_the_other_plans() -> None:
    stops = [(Stop("a", window=tw("09:00", "12:00")), (3000, 0))]
    vans = [van("night", ("19:30", "22:00")), van("day", ("07:30", "17:30"))]
    sol = solved(day(stops, vans, depot_hours=tw("07:00", "19:00")))
    assert served(sol) == {"a"}
    assert set(sol.vehicles_out) == {"night"}
    assert "outside the depot's hours" in sol.vehicles_out["night"]


def test_only_vehicle_outside_depot_hours_gives_reasons_not_an_error() -> None:
    p = day([(Stop("a"), (3000, 0))], [van("night", ("19:30", "22:00"))], depot_hours=tw("07:00", "19:00"))
    sol = solved(p)
    assert not sol.routes and sol.unassigned[0].stop_id == "a" and "night" in sol.vehicles_out


def test_huge_costs_do_not_overflow() -> None:
    stops = [(Stop(c), xy) for c, xy in zip("ab", [(3000, 0), (0, 3000)], strict=True)]
    vans = [van("v", ("07:30", "17:30"), fixed_cost=10**13 * 100, cost_per_km=10**9 * 100),
            van("w", ("07:30", "17:30"), fixed_cost=10**13, cost_per_km=10**9)]
    sol = solved(day(stops, vans))
    assert served(sol) == {"a", "b"}
    assert sol.objective == sum(r.cost for r in sol.routes)


def test_impossible_locked_order_drops_only_the_locked_stops() -> None:
    stops = [
        (Stop("A", window=tw("07:30", "09:00")), (3000, 0)),
        (Stop("B", window=tw("15:00", "17:00")), (0, 3000)),
        (Stop("C"), (-3000, 0)),
        (Stop("D"), (0, -3000)),
    ]
    vans = [van("V1", ("07:30", "17:30")), van("V2", ("07:30", "17:30"))]
    p = day(stops, vans, locked_prefixes={"V1": ("B", "A")})
    sol = solved(p)
    assert served(sol) == {"C", "D"}
    out = {u.stop_id: u for u in sol.unassigned}
    assert set(out) == {"A", "B"} and all(u.rule == "lock" for u in out.values())
    assert "B -> A" in out["A"].reason


# --- §3 a dropped stop's reason is its true cause ----------------------------------------------------


def test_eight_hour_service_spanning_the_break_is_a_break_problem() -> None:
    stops = [(Stop("ward", service=8 * H, window=tw("08:00", "09:00")), (3000, 0)), (Stop("ok"), (0, 3000))]
    sol = solved(day(stops, [van("v", ("07:30", "17:30"), ("11:30", "13:30", 60))]))
    out = {u.stop_id: u for u in sol.unassigned}
    assert set(out) == {"ward"} and out["ward"].rule == "break"
    assert "break" in out["ward"].reason


@pytest.mark.parametrize(("stop", "vehicle", "rule"), [
    (Stop("cold", deliver={"cold": 5}), van("v", ("07:30", "17:30")), "compartment"),
    (Stop("big", deliver={"ambient": 500}), van("v", ("07:30", "17:30")), "capacity"),
    (Stop("closed", window=tw("05:00", "06:00")), van("v", ("07:30", "17:30")), "window"),
    (Stop("long", service=11 * H), van("v", ("07:30", "17:30")), "service_time"),
    (Stop("far"), van("v", ("07:30", "17:30"), max_duration=10 * M), "max_duration"),
    (Stop("far2"), van("v", ("07:30", "17:30"), max_distance=1000), "max_distance"),
    (Stop("blood", pickup={"specimen": 1}, service=30 * M),
     van("v", ("07:30", "17:30"), capacity={"specimen": 5}), "ride_time"),
    (Stop("after", window=tw("12:30", "13:30")), van("v", ("07:30", "17:30")), "depot_hours"),
])
def test_each_rule_is_named_when_it_alone_rules_a_stop_out(stop: Stop, vehicle: Vehicle, rule: str) -> None:
    hours = tw("07:00", "12:00") if rule == "depot_hours" else None
    opts = Options(time_limit_s=0.2, workers=1, specimen_max_ride_s=20 * M)
    p = day([(stop, (5000, 0))], [vehicle], depot_hours=hours, options=opts)
    sol = solved(p)
    expected = "window" if rule == "depot_hours" else rule  # depot hours narrow the working time
    assert [(u.stop_id, u.rule) for u in sol.unassigned] == [(stop.id, expected)]


def test_mixed_fleet_reports_the_closest_vehicle_s_reason() -> None:
    # the dry van lacks a cold compartment; the cold van has it but its shift is over before the window
    stop = Stop("insulin", deliver={"cold": 2}, window=tw("15:00", "16:00"))
    vans = [van("dry", ("07:30", "17:30")), van("fridge", ("07:30", "12:00"), capacity={"cold": 10})]
    sol = solved(day([(stop, (3000, 0))], vans))
    assert sol.unassigned[0].rule == "window"


def test_stops_that_fit_alone_but_not_together_are_a_shortage() -> None:
    stops = [(Stop(c, deliver={"ambient": 6}), xy) for c, xy in zip("ab", [(3000, 0), (0, 3000)], strict=True)]
    sol = solved(day(stops, [van("v", ("07:30", "17:30"), capacity={"ambient": 10})]))
    assert [u.rule for u in sol.unassigned] == ["not_enough_vehicles"]


# --- receiving hours with a lunch closure ------------------------------------------------------------


def test_lunch_closure_is_never_a_service_time() -> None:
    # leaving at 11:00, the clinic is reached at 13:00, inside its 11:30-14:00 closure
    clinic = Stop("clinic", windows=(tw("08:00", "11:30"), tw("14:00", "17:00")), service=10 * M)
    p = day([(clinic, (72000, 0))], [van("v", ("11:00", "17:30"), ("15:00", "16:00", 30))],
            options=Options(time_limit_s=0.3, workers=1))
    sol = solved(p)
    start = sol.routes[0].visits[0].start
    assert start >= hm("14:00")
    # the checker refuses a reported start inside the closure
    bad = sol.routes[0]
    from dataclasses import replace
    visit = replace(bad.visits[0], start=hm("12:30"), arrival=hm("12:10"))
    forged = replace(sol, routes=(replace(bad, visits=(visit,)),))
    assert any(v.constraint == "window" for v in check(p, forged).violations)


def test_several_windows_across_many_stops_plan_in_the_right_periods() -> None:
    lunch = (tw("08:00", "11:30"), tw("14:00", "17:00"))
    stops = [(Stop(f"s{i}", windows=lunch, service=20 * M), (1500 * (i % 4), 1500 * (i // 4))) for i in range(12)]
    sol = solved(day(stops, [van(f"v{i}", ("07:30", "17:30"), ("11:30", "13:30", 45)) for i in range(3)],
                     options=Options(time_limit_s=0.6, workers=1)))
    assert served(sol) == {s.id for s, _ in stops}


def test_a_stop_whose_periods_all_miss_the_shift_is_a_window_problem() -> None:
    clinic = Stop("clinic", windows=(tw("06:00", "07:00"), tw("18:00", "19:00")))
    sol = solved(day([(clinic, (2000, 0))], [van("v", ("07:30", "17:30"))]))
    assert sol.unassigned[0].rule == "window"


# --- re-plan safety net -----------------------------------------------------------------------------


def test_fallback_keeps_the_current_plan_and_inserts_the_urgent_stop() -> None:
    stops = [(Stop(f"s{i}"), (1000 * (i + 1), 500 * (i % 3))) for i in range(6)] + [
        (Stop("urgent", priority=3, window=tw("09:00", "12:00")), (2500, 2500))]
    vans = [van("v1", ("07:30", "17:30")), van("v2", ("07:30", "17:30"))]
    current = {"v1": ("s0", "s1", "s2"), "v2": ("s3", "s4", "s5")}
    p = day(stops, vans, initial_routes=current, locked_prefixes={"v1": ("s0", "s1")})
    work = prepare(p).problem
    result = fallback_plan(work, screen(work), 0.0)
    assert result is not None and result.plan is not None
    from services.dispatch.routing.solver import build_route
    routes = {r.vehicle_id: r for r in (build_route(work, raw) for raw in result.plan.routes)}
    assert routes["v1"].stop_ids[:2] == ("s0", "s1")
    plan = {v: r.stop_ids for v, r in routes.items()}
    assert "urgent" in {s for ids in plan.values() for s in ids}
    assert check(p, plan).ok


def test_a_stop_too_far_for_the_day_is_a_travel_problem_not_a_service_one() -> None:
    """The round trip alone outlasts the working day: `travel_time`, whatever its service time."""
    for service in (0, 5 * M):
        far = Stop("far", service=service)
        sol = solved(day([(far, (200_000, 0)), (Stop("near"), (1000, 0))], [van("v", ("07:30", "17:30"))]))
        assert [(u.stop_id, u.rule) for u in sol.unassigned] == [("far", "travel_time")]
        assert "too far" in sol.unassigned[0].reason


def test_a_day_longer_than_the_fleet_s_working_time_is_a_proven_shortage() -> None:
    """Three 4-hour services for one 10-hour van: the time bound (shortage.py) proves the shortage."""
    stops = [(Stop(c, service=4 * H), xy) for c, xy in zip("abc", [(3000, 0), (0, 3000), (-3000, 0)], strict=True)]
    sol = solved(day(stops, [van("v", ("07:30", "17:30"))]))
    assert [u.rule for u in sol.unassigned] == ["not_enough_vehicles"]
    assert "working time together" in sol.unassigned[0].reason


def test_without_a_proof_a_left_out_stop_is_a_short_search_not_a_shortage() -> None:
    """The bound finds room for every stop: whatever the search leaves out is not called a shortage."""
    from services.dispatch.routing.shortage import proven_shortage

    stops = [(Stop(f"s{k}", service=10 * M), (1000 * k, 500)) for k in range(6)]
    problem = day(stops, [van("v", ("07:30", "17:30"))])
    assert proven_shortage(problem, range(6), 0) is None
    tight = day(stops, [van("v", ("07:30", "08:00"))])
    assert proven_shortage(tight, range(6), 0) is not None


def test_a_stop_needing_compartments_no_single_vehicle_has_says_so() -> None:
    stop = Stop("mixed", deliver={"ambient": 5, "cold": 5})
    vans = [van("dry", ("07:30", "17:30")), van("fridge", ("07:30", "17:30"), capacity={"cold": 10})]
    sol = solved(day([(stop, (3000, 0))], vans))
    assert sol.unassigned[0].rule == "compartment"
    assert sol.unassigned[0].reason == "no vehicle has all the compartments this stop needs (ambient, cold)"
