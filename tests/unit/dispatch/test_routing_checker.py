"""The checker must catch every kind of violation in hand-made plans (and pass good ones)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from services.dispatch.routing import Break, Options, Stop, TimeWindow, check
from services.dispatch.routing.problem import SPECIMEN


def _constraints(report: object) -> set[str]:
    return {v.constraint for v in report.violations}  # type: ignore[attr-defined]


def test_feasible_plan_passes_and_figures_are_recomputed(plane: Any, van: Any) -> None:
    p = plane((0, 0), [(Stop("a", deliver={"ambient": 5}), (100, 0)),
                               (Stop("b", deliver={"ambient": 5}), (100, 100))],
                      [van("v1", fixed_cost=50, cost_per_km=2000)])
    report = check(p, {"v1": ["a", "b"]})
    assert report.ok, report.messages()
    assert report.distance == 100 + 100 + 141
    assert report.cost == 50 + 2 * 341
    assert report.routes[0].duration == 341


def test_capacity_overflow_is_named(plane: Any, van: Any) -> None:
    p = plane((0, 0), [(Stop("a", deliver={"ambient": 60}), (10, 0)),
                               (Stop("b", deliver={"ambient": 60}), (20, 0))], [van("v1")])
    report = check(p, {"v1": ["a", "b"]})
    assert "capacity" in _constraints(report)
    assert any("leaves the depot with 120 ambient, capacity 100" in m for m in report.messages())


def test_pickup_before_delivery_overflows_shared_compartment(plane: Any, van: Any) -> None:
    p = plane((0, 0), [(Stop("give", deliver={"ambient": 8}), (10, 0)),
                               (Stop("take", pickup={"ambient": 8}), (20, 0))],
                      [van("v1", capacity={"ambient": 10})])
    assert check(p, {"v1": ["give", "take"]}).ok
    bad = check(p, {"v1": ["take", "give"]})
    assert any("ambient load 16 after stop take" in m for m in bad.messages())


def test_cold_stop_on_ambient_van_is_caught(plane: Any, van: Any) -> None:
    p = plane((0, 0), [(Stop("vaccines", deliver={"cold": 2}), (10, 0))], [van("dry")])
    report = check(p, {"dry": ["vaccines"]})
    assert "compartment" in _constraints(report)
    assert any("needs a cold compartment, vehicle dry has none" in m for m in report.messages())


def test_window_and_shift_violations(plane: Any, van: Any) -> None:
    p = plane((0, 0), [(Stop("early", window=TimeWindow(0, 50)), (100, 0))],
                      [van("v1", shift_end=150)])
    report = check(p, {"v1": ["early"]})
    assert {"window", "shift"} <= _constraints(report)
    assert any("stop early reached at 100, after every receiving period [0, 50]" in m for m in report.messages())
    assert any("after shift end 150" in m for m in report.messages())


def test_duplicate_unknown_and_lock_violations(plane: Any, van: Any) -> None:
    p = plane((0, 0), [(Stop("a"), (10, 0)), (Stop("b"), (20, 0))], [van("v1"), van("v2")],
                      locks={"a": "v2"}, locked_prefixes={"v1": ("b",)})
    report = check(p, {"v1": ["a", "b"], "v2": ["b", "zz"]})
    c = _constraints(report)
    assert {"duplicate", "unknown", "lock"} <= c
    msgs = " | ".join(report.messages())
    assert "stop b served twice" in msgs
    assert "unknown stop zz" in msgs
    assert "stop a is locked to vehicle v2 but served by v1" in msgs
    assert "route v1 must start with b but starts with a" in msgs


def test_break_that_cannot_fit_is_caught(plane: Any, van: Any) -> None:
    # the only stop is busy for the whole break window, and the shift ends right after
    brk = Break(window_start=100, window_end=160, duration=60)
    p = plane((0, 0), [(Stop("long", service=200, window=TimeWindow(50, 50)), (50, 0))],
                      [van("v1", shift_end=310, rest_break=brk)])
    report = check(p, {"v1": ["long"]})
    assert "break" in _constraints(report) or "shift" in _constraints(report)
    roomy = replace(p, vehicles=(van("v1", shift_end=400, rest_break=Break(300, 400, 60)),))
    assert check(roomy, {"v1": ["long"]}).ok


def test_max_duration_and_distance(plane: Any, van: Any) -> None:
    p = plane((0, 0), [(Stop("far"), (300, 0))], [van("v1", max_duration=500, max_distance=550)])
    report = check(p, {"v1": ["far"]})
    assert {"max_duration", "max_distance"} <= _constraints(report)
    assert any("takes at least 600, max 500" in m for m in report.messages())


def test_duration_ignores_waiting_at_the_depot(plane: Any, van: Any) -> None:
    p = plane((0, 0), [(Stop("late", window=TimeWindow(1000, 1100)), (100, 0))],
                      [van("v1", max_duration=250)])
    assert check(p, {"v1": ["late"]}).ok  # leave at 900, back at 1100


def test_specimen_ride_time(plane: Any, van: Any) -> None:
    opts = Options(time_limit_s=0.5, workers=1, specimen_max_ride_s=350)
    p = plane((0, 0), [(Stop("lab", pickup={SPECIMEN: 1}), (100, 0)),
                               (Stop("far", deliver={"ambient": 1}), (300, 0))],
                      [van("v1", capacity={"ambient": 10, SPECIMEN: 10})], options=opts)
    bad = check(p, {"v1": ["lab", "far"]})
    assert any("specimens from stop lab ride 500, limit 350" in m for m in bad.messages())
    assert check(p, {"v1": ["far", "lab"]}).ok


def test_reported_schedule_is_verified(plane: Any, van: Any) -> None:
    from services.dispatch.routing.solution import Route, Solution, SolveStats, Visit

    p = plane((0, 0), [(Stop("a", window=TimeWindow(0, 500)), (100, 0))], [van("v1")])
    fake = Route("v1", (Visit("a", 1, 10, 10, 10, {}),), 0, 20, {}, 200, 200.0, 200)
    sol = Solution((fake,), (), 200, SolveStats("feasible", "x", 0.0, None, 1))
    msgs = " | ".join(check(p, sol).messages())
    assert "reported start 10 earlier than reachable (100)" in msgs
    assert "reported return 20 impossible" in msgs
