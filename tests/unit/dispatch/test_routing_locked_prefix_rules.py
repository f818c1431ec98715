"""A locked route prefix is screened against every rule the checker holds (routing/prepare.py).

Fresh eyes (round 2, 2026-12-06), in the routing core (the HTTP API refuses these with a 422 first):
a prefix whose loads exceed its van (22 + 38 L on a 40 L van) passed the time-only screen and the
whole day came out "no first solution", every stop ``time_limit``; a prefix whose first stop needs a
compartment its van lacks gave a plan the project's own checker refused (the prefix's stops served
out of order). Rule: a prefix that fails any rule alone fails in every plan (stops added after it
only add load and distance), so its stops are left out with ``lock`` naming the cause, and the rest
of the day is planned and passes the checker. Property: over random prefixes of random days.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from services.dispatch import planning
from services.dispatch.routing import Options, Problem, Stop, Vehicle, check, solve
from services.dispatch.routing.checker import check_route
from services.dispatch.routing.timing import RULE_LOCK

H, M = 3600, 60


def _day(points: list[tuple[float, float]], stops: list[Stop], vehicles: list[Vehicle],
         prefixes: dict[str, tuple[str, ...]]) -> Problem:
    pts = [(0.0, 0.0), *points]
    real = np.array([[math.dist(a, b) for b in pts] for a in pts])
    problem = Problem(stops=tuple(stops), vehicles=tuple(vehicles), distance=np.rint(real).astype(np.int64),
                      duration=np.rint(real / 10).astype(np.int64), distance_scale=1000.0, units=planning.UNITS,
                      options=Options(time_limit_s=0.5, workers=1))
    return replace(problem, locked_prefixes=prefixes)


def _assert_prefix_out_rest_planned(problem: Problem, prefix: tuple[str, ...], others: set[str]) -> None:
    solution = solve(problem)
    report = check(problem, solution)
    assert report.ok, report.messages()
    out = {u.stop_id: u for u in solution.unassigned}
    assert set(prefix) <= set(out) and all(out[s].rule == RULE_LOCK for s in prefix), out
    assert "cannot be driven in that order" in out[prefix[0]].reason
    served = {s for r in solution.routes for s in r.stop_ids}
    assert others <= served, (others, served, out)


def test_a_prefix_over_its_van_s_room_leaves_its_stops_out_and_the_day_is_planned() -> None:
    stops = [Stop("a", deliver={"ambient": 22000}, service=5 * M), Stop("b", deliver={"ambient": 38000}, service=5 * M),
             Stop("c", deliver={"ambient": 1000}, service=5 * M)]
    fleet = [Vehicle(f"v{i}", {"ambient": 40000}, shift_start=8 * H, shift_end=17 * H) for i in range(2)]
    problem = _day([(5000.0, 0.0), (10000.0, 0.0), (0.0, 3000.0)], stops, fleet, {"v0": ("a", "b")})
    _assert_prefix_out_rest_planned(problem, ("a", "b"), {"c"})


def test_a_prefix_stop_its_van_has_no_compartment_for_leaves_the_prefix_out_and_the_plan_checks() -> None:
    stops = [Stop("s0", deliver={"ambient": 1000}, pickup={"specimen": 1000}, service=5 * M),
             Stop("s1", deliver={"ambient": 1000}, service=5 * M), Stop("s2", deliver={"ambient": 1000}, service=5 * M)]
    fleet = [Vehicle("v0", {"ambient": 40000}, shift_start=8 * H, shift_end=17 * H)]
    problem = _day([(5000.0, 0.0), (10000.0, 0.0), (1000.0, 0.0)], stops, fleet, {"v0": ("s0", "s1")})
    _assert_prefix_out_rest_planned(problem, ("s0", "s1"), {"s2"})


@settings(max_examples=25, deadline=None, derandomize=True)
@given(loads=st.lists(st.integers(1, 30), min_size=2, max_size=4), cap=st.integers(20, 60),
       km=st.integers(10, 60), limit_km=st.sampled_from([None, 40, 80]))
def test_any_prefix_the_checker_refuses_alone_is_left_out_whole_and_the_plan_checks(
        loads: list[int], cap: int, km: int, limit_km: int | None) -> None:
    n = len(loads)
    stops = [Stop(f"p{i}", deliver={"ambient": 1000 * q}, service=5 * M) for i, q in enumerate(loads)]
    stops.append(Stop("free", deliver={"ambient": 1000}, service=5 * M))
    points = [(1000.0 * km * (i + 1) / n, 0.0) for i in range(n)] + [(0.0, 2000.0)]
    fleet = [Vehicle(f"v{i}", {"ambient": 1000 * cap}, shift_start=8 * H, shift_end=17 * H,
                     max_distance=None if limit_km is None else 1000 * limit_km) for i in range(2)]
    prefix = tuple(f"p{i}" for i in range(n))
    problem = _day(points, stops, fleet, {"v0": prefix})
    if check_route(problem, "v0", prefix):
        _assert_prefix_out_rest_planned(problem, prefix, {"free"})
    else:
        solution = solve(problem)
        assert check(problem, solution).ok
        assert all(u.rule != RULE_LOCK for u in solution.unassigned)
