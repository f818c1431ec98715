"""Each constraint on a tiny problem where it binds; the independent checker confirms the plan holds it."""

from __future__ import annotations

from typing import Any

from services.dispatch.routing import (
    Break,
    Options,
    Priority,
    Solution,
    Stop,
    TimeWindow,
    check,
    solve,
)
from services.dispatch.routing.problem import CLEAN, COLD, SOILED, SPECIMEN, Problem


def _solve_checked(problem: Problem) -> Solution:
    solution = solve(problem)
    report = check(problem, solution)
    assert report.ok, report.messages()
    return solution


def _route_of(solution: Solution, stop_id: str) -> str:
    return next(r.vehicle_id for r in solution.routes if stop_id in r.stop_ids)


def test_per_compartment_capacity_splits_the_load(plane: Any, van: Any) -> None:
    stops = [(Stop(f"s{i}", deliver={"ambient": 6}), (100 + 10 * i, 0)) for i in range(3)]
    p = plane((0, 0), stops, [van("a", capacity={"ambient": 10}), van("b", capacity={"ambient": 10}),
                              van("c", capacity={"ambient": 10})])
    sol = _solve_checked(p)
    assert not sol.unassigned
    assert all(r.load_out["ambient"] <= 10 for r in sol.routes)
    assert sol.vehicles_used == 3  # 18 units, 10 per van, 6 per stop: one stop per van


def test_cold_goes_only_in_refrigerated_vehicles(plane: Any, van: Any) -> None:
    # the ambient van is cheaper and right there, but it has no cold compartment
    stops = [(Stop("insulin", deliver={COLD: 2}), (50, 0)), (Stop("gauze", deliver={"ambient": 2}), (60, 0))]
    p = plane((0, 0), stops, [van("dry", capacity={"ambient": 50}),
                              van("fridge", capacity={"ambient": 50, COLD: 10}, fixed_cost=5000)])
    sol = _solve_checked(p)
    assert _route_of(sol, "insulin") == "fridge"


def test_no_cold_vehicle_means_a_named_reason(plane: Any, van: Any) -> None:
    p = plane((0, 0), [(Stop("insulin", deliver={COLD: 2}), (50, 0))], [van("dry")])
    sol = _solve_checked(p)
    assert [(u.stop_id, u.reason) for u in sol.unassigned] == [("insulin", "no vehicle has a cold compartment")]


def test_clean_and_soiled_are_separate_compartments(plane: Any, van: Any) -> None:
    # clean linen out fits one van (10 of 10), but soiled linen back (8 + 8) does not fit its 10
    stops = [(Stop(f"ward{i}", deliver={CLEAN: 5}, pickup={SOILED: 8}), (100, 10 * i)) for i in range(2)]
    laundry = {CLEAN: 10, SOILED: 10}
    p = plane((0, 0), stops, [van("l1", capacity=laundry), van("l2", capacity=laundry)])
    sol = _solve_checked(p)
    assert sol.vehicles_used == 2 and not sol.unassigned


def test_simultaneous_pickup_and_delivery_orders_the_route(plane: Any, van: Any) -> None:
    # going to "take" first is shorter, but 8 on board + 8 picked up would overflow the 10-unit van
    stops = [(Stop("give", deliver={"ambient": 8}), (200, 0)), (Stop("take", pickup={"ambient": 8}), (100, 5))]
    p = plane((0, 0), stops, [van("v", capacity={"ambient": 10})])
    sol = _solve_checked(p)
    assert sol.routes[0].stop_ids == ("give", "take")
    assert [v.load_after["ambient"] for v in sol.routes[0].visits] == [0, 8]


def test_windows_force_the_order(plane: Any, van: Any) -> None:
    stops = [(Stop("near", window=TimeWindow(500, 600)), (100, 0)),
             (Stop("far", window=TimeWindow(0, 250)), (200, 0))]
    p = plane((0, 0), stops, [van("v")])
    sol = _solve_checked(p)
    assert sol.routes[0].stop_ids == ("far", "near")
    assert 500 <= sol.routes[0].visits[1].start <= 600


def test_shift_end_binds(plane: Any, van: Any) -> None:
    # one van cannot do both 400 m round trips in a 500 s shift
    stops = [(Stop("e"), (200, 0)), (Stop("w"), (-200, 0))]
    p = plane((0, 0), stops, [van("v1", shift_end=500), van("v2", shift_end=500)])
    sol = _solve_checked(p)
    assert sol.vehicles_used == 2 and all(r.end <= 500 for r in sol.routes)


def test_break_is_taken_inside_its_window(plane: Any, van: Any) -> None:
    brk = Break(window_start=150, window_end=260, duration=100)
    stops = [(Stop("a", service=10), (100, 0)), (Stop("b", service=10), (200, 0))]
    p = plane((0, 0), stops, [van("v", rest_break=brk, shift_end=1000)])
    sol = _solve_checked(p)
    r = sol.routes[0]
    assert r.break_start is not None and 150 <= r.break_start <= 160
    assert r.end >= 420 + 100  # 400 m driving + 20 s service + the break


def test_max_duration_splits_routes(plane: Any, van: Any) -> None:
    stops = [(Stop("e"), (200, 0)), (Stop("w"), (-200, 0))]
    p = plane((0, 0), stops, [van("v1", max_duration=450), van("v2", max_duration=450)])
    sol = _solve_checked(p)
    assert sol.vehicles_used == 2 and all(r.duration <= 450 for r in sol.routes)


def test_specimen_ride_time_puts_the_lab_pickup_last(plane: Any, van: Any) -> None:
    # visiting the specimen stop first is shorter overall but the sample would ride 500 s (limit 350)
    opts = Options(time_limit_s=0.6, workers=1, specimen_max_ride_s=350)
    stops = [(Stop("clinic", pickup={SPECIMEN: 1}), (100, 0)), (Stop("shop", deliver={"ambient": 1}), (300, 0))]
    p = plane((0, 0), stops, [van("v", capacity={"ambient": 5, SPECIMEN: 5})], options=opts)
    sol = _solve_checked(p)
    assert sol.routes[0].stop_ids == ("shop", "clinic")


def test_heterogeneous_fleet_picks_the_cheaper_vehicle(plane: Any, van: Any) -> None:
    stops = [(Stop("a"), (100, 0)), (Stop("b"), (120, 20))]
    p = plane((0, 0), stops, [van("truck", fixed_cost=900, cost_per_km=4000),
                              van("tricycle", fixed_cost=100, cost_per_km=500)])
    sol = _solve_checked(p)
    assert [r.vehicle_id for r in sol.routes] == ["tricycle"]
    assert sol.cost == 100 + round(sum(r.distance for r in sol.routes) * 0.5)


def test_infeasible_day_names_dropped_stops_and_keeps_priorities(plane: Any, van: Any) -> None:
    stops = [
        (Stop("routine", deliver={"ambient": 6}, priority=Priority.LOW), (100, 0)),
        (Stop("urgent", deliver={"ambient": 6}, priority=Priority.URGENT), (300, 0)),
        (Stop("huge", deliver={"ambient": 500}), (50, 0)),
        (Stop("midnight", window=TimeWindow(5000, 5100)), (50, 50)),
    ]
    p = plane((0, 0), stops, [van("v", capacity={"ambient": 10}, shift_end=3000)])
    sol = _solve_checked(p)
    reasons = {u.stop_id: u.reason for u in sol.unassigned}
    rules = {u.stop_id: u.rule for u in sol.unassigned}
    assert _route_of(sol, "urgent") == "v"
    assert rules["routine"] == "not_enough_vehicles" and reasons["routine"].startswith("not enough vehicles")
    assert reasons["huge"] == "capacity: ambient demand 500 exceeds every vehicle (largest 10)"
    assert rules["midnight"] == "window" and reasons["midnight"].startswith("no receiving period can be reached")
    assert sol.stats.status == "partial"


def test_locks_and_locked_prefix_are_kept(plane: Any, van: Any) -> None:
    stops = [(Stop(c), (100 * (i + 1), 0)) for i, c in enumerate("abcd")]
    p = plane((0, 0), stops, [van("v1"), van("v2", fixed_cost=1000)],
              locks={"d": "v2"}, locked_prefixes={"v1": ("c", "a")})
    sol = _solve_checked(p)
    routes = sol.routes_by_vehicle()
    assert routes["v1"][:2] == ("c", "a")
    assert "d" in routes["v2"]


def test_warm_start_returns_the_initial_plan_or_better(plane: Any, van: Any) -> None:
    stops = [(Stop(f"s{i}", deliver={"ambient": 3}), (50 * (i % 5), 40 * (i // 5))) for i in range(12)]
    p = plane((1, 1), stops, [van("v1", capacity={"ambient": 20}), van("v2", capacity={"ambient": 20})])
    first = _solve_checked(p)
    again = _solve_checked(p.__class__(**{**p.__dict__, "initial_routes": first.routes_by_vehicle()}))
    assert again.objective <= first.objective
    assert "warm-start" in again.stats.phases


def test_replan_with_urgent_stop_and_locked_route(plane: Any, van: Any) -> None:
    stops = [(Stop(f"s{i}"), (60 * i, 30)) for i in range(6)]
    p = plane((0, 0), stops, [van("v1"), van("v2")])
    first = _solve_checked(p)
    plan = first.routes_by_vehicle()
    locked_vehicle, locked_route = next(iter(plan.items()))
    urgent = (Stop("urgent", priority=Priority.URGENT), (10, 200))
    p2 = plane((0, 0), [*stops, urgent], [van("v1"), van("v2")], initial_routes=plan,
               locked_prefixes={locked_vehicle: locked_route})
    second = _solve_checked(p2)
    assert not second.unassigned
    assert second.routes_by_vehicle()[locked_vehicle][: len(locked_route)] == locked_route


def test_progress_callback_and_parallel_workers(plane: Any, van: Any) -> None:
    stops = [(Stop(f"s{i}", deliver={"ambient": 2}), ((i * 37) % 200, (i * 53) % 200)) for i in range(15)]
    seen: list[tuple[float, int]] = []
    p = plane((100, 100), stops, [van("v1", capacity={"ambient": 20}), van("v2", capacity={"ambient": 20})],
              options=Options(time_limit_s=1.0, workers=2))
    sol = solve(p, progress=lambda t, obj: seen.append((t, obj)))
    assert check(p, sol).ok and not sol.unassigned
    assert seen and seen[-1][1] >= sol.objective - 0
    assert [o for _, o in seen] == sorted((o for _, o in seen), reverse=True)
    assert sol.stats.workers == 2 and sol.stats.first_solution_seconds is not None


def test_textbook_config_still_runs(plane: Any, van: Any) -> None:
    stops = [(Stop(f"s{i}"), (30 * i, 10)) for i in range(5)]
    p = plane((0, 0), stops, [van("v1")], options=Options(time_limit_s=0.5, config="textbook"))
    sol = _solve_checked(p)
    assert sol.stats.config == "textbook" and not sol.unassigned


def test_fewest_vehicles_objective_removes_routes(plane: Any, van: Any) -> None:
    # two clusters; with a large fixed cost per vehicle one van does both clusters
    stops = [(Stop(f"e{i}"), (300 + 5 * i, 0)) for i in range(3)] + [(Stop(f"w{i}"), (-300, 5 * i)) for i in range(3)]
    opts = Options(time_limit_s=0.8, workers=1, minimize_vehicles=True)
    p = plane((0, 0), stops, [van(f"v{i}", fixed_cost=100_000) for i in range(3)], options=opts)
    sol = _solve_checked(p)
    assert sol.vehicles_used == 1 and not sol.unassigned
    assert "route-elimination" in sol.stats.phases


def test_shift_too_short_reason_for_stop_without_window(plane: Any, van: Any) -> None:
    p = plane((0, 0), [(Stop("remote"), (5000, 0))], [van("v", shift_end=3000)])
    sol = _solve_checked(p)
    assert [u.rule for u in sol.unassigned] == ["travel_time"]  # too far, not a service problem
    assert sol.unassigned[0].reason == ("too far: the round trip alone (10000 s) is longer than the working "
                                        "time (3000 s)")
