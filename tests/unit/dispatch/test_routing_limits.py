"""Any numbers within routing/limits.py's documented ranges solve without int64 overflow (issue 8 §2)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.dispatch.routing import Break, Options, Problem, Stop, TimeWindow, Vehicle, check, limits, solve
from services.dispatch.routing.model import arc_costs
from services.dispatch.routing.screen import screen

INT64_MAX = 2**63 - 1


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    n = draw(st.integers(1, 4))
    nv = draw(st.integers(1, 3))
    extreme = st.sampled_from([0, 1, 10**3, 10**6])
    dist = np.array([[0 if i == j else draw(st.one_of(extreme, st.integers(0, limits.ARC_DISTANCE_MAX)))
                      for j in range(n + 1)] for i in range(n + 1)], dtype=np.int64)
    dur = np.array([[0 if i == j else draw(st.integers(0, 4 * 3600)) for j in range(n + 1)]
                    for i in range(n + 1)], dtype=np.int64)
    stops = []
    for k in range(n):
        a = draw(st.integers(0, limits.TIME_MAX))
        b = draw(st.integers(a, limits.TIME_MAX))
        stops.append(Stop(
            f"s{k}",
            deliver={"ambient": draw(st.integers(0, limits.DEMAND_MAX))},
            window=draw(st.sampled_from([None, TimeWindow(a, b)])),
            service=draw(st.integers(0, limits.SERVICE_MAX)),
            priority=draw(st.integers(0, 3)),
        ))
    vehicles = []
    for v in range(nv):
        s0 = draw(st.integers(0, limits.TIME_MAX))
        s1 = draw(st.integers(s0, limits.TIME_MAX))
        rest = None
        if draw(st.booleans()):
            w0 = draw(st.integers(0, limits.TIME_MAX))
            dur_b = draw(st.integers(0, limits.BREAK_MAX))
            w1 = draw(st.integers(w0, limits.TIME_MAX))
            rest = Break(w0, max(w1, w0 + dur_b), dur_b) if w0 + dur_b <= limits.TIME_MAX else None
        vehicles.append(Vehicle(
            f"v{v}", capacity={"ambient": draw(st.integers(0, limits.CAPACITY_MAX))},
            shift_start=s0, shift_end=s1, rest_break=rest,
            fixed_cost=draw(st.one_of(st.just(limits.FIXED_COST_MAX), st.integers(0, limits.FIXED_COST_MAX))),
            cost_per_km=draw(st.one_of(st.just(limits.COST_PER_KM_MAX), st.integers(0, limits.COST_PER_KM_MAX))),
        ))
    base = draw(st.one_of(st.none(), st.integers(1, limits.DROP_PENALTY_BASE_MAX)))
    depot = draw(st.one_of(st.none(), st.just(TimeWindow(7 * 3600, 19 * 3600))))
    return Problem(stops=tuple(stops), vehicles=tuple(vehicles), distance=dist, duration=dur,
                   options=Options(time_limit_s=0.1, workers=1, drop_penalty_base=base), depot_hours=depot)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_any_problem_within_the_ranges_solves_and_checks(problem: Problem) -> None:
    solution = solve(problem)
    assert check(problem, solution).ok
    assert solution.stats.status in ("feasible", "partial")
    served = {s for r in solution.routes for s in r.stop_ids}
    assert served | {u.stop_id for u in solution.unassigned} == {s.id for s in problem.stops}


@settings(max_examples=50, deadline=None)
@given(st.integers(1, limits.STOPS_MAX), st.integers(1, limits.VEHICLES_MAX),
       st.integers(0, limits.FIXED_COST_MAX), st.integers(0, limits.COST_PER_KM_MAX))
def test_scaled_model_numbers_fit_int64_at_full_size(n: int, nv: int, fixed: int, cpk: int) -> None:
    """The bound the model is scaled by, at full instance size: every penalty locked (10^5), every arc
    the longest, every vehicle at the largest costs."""
    longest = limits.ARC_DISTANCE_MAX
    base = 10 * (fixed + 2 * longest * cpk // 1000 + 1)
    penalties = {k: base * 10**5 for k in range(n)}
    worst = sum(penalties.values()) + nv * (fixed + (n + 1) * (longest * cpk // 1000 + 1))
    divisor = limits.divisor_for(worst)
    assert worst // divisor <= limits.MAX_MODEL_OBJECTIVE
    arcs = arc_costs(np.array([[0, longest], [longest, 0]], dtype=np.int64), cpk, divisor)
    assert int(arcs.max()) * (n + 1) <= INT64_MAX


def test_issue_example_fixed_cost_and_cost_per_km_scale_the_model() -> None:
    dist = np.array([[0, 5000], [5000, 0]], dtype=np.int64)
    p = Problem(stops=(Stop("a"),), vehicles=(Vehicle("v", {"ambient": 1}, fixed_cost=10**13 * 100,
                                                              cost_per_km=10**9 * 100),),
                distance=dist, duration=dist // 10, options=Options(time_limit_s=0.1, workers=1))
    assert screen(p).cost_divisor > 1
    sol = solve(p)
    assert check(p, sol).ok and not sol.unassigned
    assert sol.objective == 10**15 + 10_000 * 10**11 // 1000
