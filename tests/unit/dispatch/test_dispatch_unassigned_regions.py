"""A stop a region-split day leaves out carries the reason the normal path gives (routing/regions.py).

Days above ``Options.region_max_stops`` are planned sector by sector, then either re-optimised as one
day or, when too big (``merge_max_stops``) or short of time, given a mop-up on idle vehicles. The mop-up
used to call every stop a sector dropped "left out by the search within its time limit ... a longer time
limit may serve it" unless the whole day proved a shortage -- also a stop the distance limit keeps off
every route, which no time limit could serve. Its stops now go through the same rule as the normal
path (routing/left_out.py): ``time_limit`` only when the stop still fits the final plan under
every rule, else a proven shortage or the binding rule.

Days on a plane in metres at 10 m/s, in the service's units (litres, km, minutes).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_routing_session17_reasons import _fits_plan  # same folder (pytest puts it on sys.path)

from services.dispatch import planning
from services.dispatch.routing import Options, Problem, Stop, TimeWindow, Vehicle, check, solve
from services.dispatch.routing.prepare import prepare
from services.dispatch.routing.regions import solve_by_region
from services.dispatch.routing.solution import Solution, Unassigned

H, M = 3600, 60


def _day(
    points: list[tuple[float, float]],
    stops: list[Stop],
    vehicles: list[Vehicle],
    *,
    limit: float,
    region_max_stops: int,
) -> Problem:
    pts = [(0.0, 0.0), *points]
    real = np.array([[math.dist(a, b) for b in pts] for a in pts])
    return Problem(
        stops=tuple(stops),
        vehicles=tuple(vehicles),
        distance=np.rint(real).astype(np.int64),
        duration=np.rint(real / 10).astype(np.int64),
        distance_scale=1000.0,
        units=planning.UNITS,
        coords=np.array(pts),
        options=Options(time_limit_s=limit, workers=1, region_max_stops=region_max_stops),
    )


def _by_region(problem: Problem, *, merge: bool) -> tuple[Problem, Solution]:
    """The region path as solve() runs it (on the prepared problem); ``merge=False`` forces the mop-up."""
    work = prepare(problem).problem
    return work, solve_by_region(work, merge_max_stops=len(problem.stops) if merge else 0)


def _whole(problem: Problem) -> Solution:
    """The normal path: one search for the whole day, however many stops it has."""
    return solve(replace(problem, options=replace(problem.options, region_max_stops=10_000)))


# --- a stop the distance limit keeps off every route, on a day split into two sectors -----------------

# East: A and C 5 km out, B 7 km out between them. Any two fit a 17.2 km route (at most 16.2 km); all
# three need 18.5 km. West is its mirror image. East stops are cold goods (only the cold van), west ones
# clean linen (only the linen van): no stop of one side can ride with one of the other.
EAST = [(4000.0, -3000.0), (7000.0, 0.0), (4000.0, 3000.0)]
WEST = [(-x, y) for x, y in EAST]


def _two_sides(limit: float = 3.0) -> Problem:
    stops = [Stop(f"E{i}", deliver={"cold": 5}, service=5 * M) for i in range(3)]
    stops += [Stop(f"W{i}", deliver={"clean": 5}, service=5 * M) for i in range(3)]
    vans = [
        Vehicle("cold-van", {"cold": 100}, shift_start=7 * H, shift_end=18 * H, max_distance=17_200),
        Vehicle("linen-van", {"clean": 100}, shift_start=7 * H, shift_end=18 * H, max_distance=17_200),
    ]
    return _day(EAST + WEST, stops, vans, limit=limit, region_max_stops=3)


def test_a_stop_the_distance_limit_keeps_off_every_route_is_named_so_on_a_region_split_day() -> None:
    problem = _two_sides()
    normal = _whole(problem)
    assert normal.stats.regions == 1
    for merge in (False, True):
        work, solution = _by_region(problem, merge=merge)
        assert check(work, solution).ok
        assert solution.stats.regions == 2 and ("merged" in solution.stats.phases) == merge
        assert len(solution.unassigned) == 2, solution.unassigned  # one per side: each van serves two
        routes = {r.vehicle_id: list(r.stop_ids) for r in solution.routes}
        for left in solution.unassigned:
            assert not _fits_plan(work, left.stop_id, routes), (left, routes)
            assert left.rule == "max_distance", left
            assert "longer time limit" not in left.reason and "sector" not in left.reason, left
            assert left.reason.startswith(
                "no route of this plan has room for it: the vehicles' maximum route "
                "distance keeps it off every route"
            ), left
            assert "maximum 17.2 km" in left.reason, left
        same = {u.stop_id: u for u in normal.unassigned}
        for left in solution.unassigned:  # the middle stop of each side, on both paths
            if left.stop_id in same:
                assert left == same[left.stop_id]


# --- property: the region path's reason is the normal path's ----------------------------------------------


def _window_day(n: int, vans: int, seed: int, far: int, cold: int, region_max_stops: int) -> Problem:
    """``n`` stops sharing one 10-minute receiving period with 20 minutes' service: no two can share a
    route, so ``vans`` vans serve ``vans`` stops and the rest are short of vehicles (a proof that names
    the stops, the same on any plan). ``far`` stops are out of every van's reach (travel time) and
    ``cold`` stops need a compartment no van has: both are left out before any search."""
    rng = np.random.default_rng(seed)
    period = (TimeWindow(10 * H, 10 * H + 10 * M),)
    points = [(float(rng.uniform(-8000, 8000)), float(rng.uniform(-8000, 8000))) for _ in range(n)]
    stops = [Stop(f"s{k}", deliver={"ambient": 5}, service=20 * M, windows=period) for k in range(n)]
    for k in range(far):
        points.append((float(rng.uniform(-1, 1)) * 200_000, 200_000.0))  # 20 000 s away: beyond an 8 h shift
        stops.append(Stop(f"far{k}", deliver={"ambient": 5}, service=5 * M))
    for k in range(cold):
        points.append((float(rng.uniform(-3000, 3000)), float(rng.uniform(-3000, 3000))))
        stops.append(Stop(f"cold{k}", deliver={"cold": 5}, service=5 * M))
    fleet = [Vehicle(f"v{i}", {"ambient": 100}, shift_start=8 * H, shift_end=16 * H) for i in range(vans)]
    return _day(points, stops, fleet, limit=0.8, region_max_stops=region_max_stops)


@settings(max_examples=12, deadline=None, derandomize=True)
@given(
    n=st.integers(2, 6),
    vans=st.integers(1, 3),
    seed=st.integers(0, 999),
    far=st.integers(0, 1),
    cold=st.integers(0, 1),
    split=st.integers(1, 4),
)
def test_the_region_path_gives_the_normal_paths_reason_for_a_stop_both_leave_out(
    n: int, vans: int, seed: int, far: int, cold: int, split: int
) -> None:
    problem = _window_day(n, vans, seed, far, cold, region_max_stops=split)
    normal = _whole(problem)
    work, regional = _by_region(problem, merge=False)
    assert check(work, regional).ok
    routes = {r.vehicle_id: list(r.stop_ids) for r in regional.routes}
    for left in regional.unassigned:  # time_limit exactly when the stop still fits the final plan
        assert (left.rule == "time_limit") == _fits_plan(work, left.stop_id, routes), (left, routes)
    theirs: dict[str, Unassigned] = {u.stop_id: u for u in normal.unassigned}
    both = [u for u in regional.unassigned if u.stop_id in theirs]
    assert len(both) >= far + cold  # those no van could serve alone, at least
    for left in both:
        assert left == theirs[left.stop_id], (left, theirs[left.stop_id])
    assert {u.rule for u in both} <= {"not_enough_vehicles", "travel_time", "compartment", "time_limit"}


# --- the mop-up keeps locks ----------------------------------------------------------------------------


def test_the_mop_up_never_gives_a_locked_stop_to_another_vehicle() -> None:
    """Three stops locked to the cold van, whose distance limit takes any two of them but not all three;
    the two other vans go to the west sector, where one of them is enough. The locked stop the east
    sector leaves out used to be retried on the idle van without its lock (the subproblem drops locks
    to vehicles it leaves out) and rode with it, breaking the lock."""
    stops = [Stop(f"E{i}", deliver={"ambient": 5}, service=5 * M) for i in range(3)]
    stops.append(Stop("W", deliver={"ambient": 5}, service=5 * M))
    locked = Vehicle("cold-van", {"ambient": 100}, shift_start=7 * H, shift_end=18 * H, max_distance=17_200)
    spare = [Vehicle(f"van-{i}", {"ambient": 100}, shift_start=7 * H, shift_end=18 * H) for i in (1, 2)]
    problem = _day([*EAST, (-7000.0, 0.0)], stops, [locked, *spare], limit=4.0, region_max_stops=3)
    problem = replace(problem, locks={f"E{i}": "cold-van" for i in range(3)})
    work, solution = _by_region(problem, merge=False)
    report = check(work, solution)
    assert report.ok, report.messages()
    [left] = solution.unassigned
    assert left.stop_id.startswith("E") and left.rule == "lock", left
    assert all(r.vehicle_id == "cold-van" for r in solution.routes if set(r.stop_ids) & {"E0", "E1", "E2"})
