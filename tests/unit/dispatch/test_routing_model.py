"""Problem validation, region split, and the search heuristic's feasibility view vs the checker."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.dispatch.routing import Break, Options, Problem, Stop, TimeWindow, Vehicle, check, solve
from services.dispatch.routing.insertion import Instance, insert_all, route_ok
from services.dispatch.routing.model import BuildSettings, RoutingBuild
from services.dispatch.routing.problem import COLD
from services.dispatch.routing.regions import sector_of_stops, share_vehicles
from services.dispatch.routing.screen import screen


def test_problem_validation() -> None:
    v = Vehicle("v", {"ambient": 1})
    with pytest.raises(ValueError, match="2x2"):
        Problem((Stop("a"),), (v,), np.zeros((3, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="duplicate stop"):
        Problem((Stop("a"), Stop("a")), (v,), np.zeros((3, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="unknown"):
        Problem((Stop("a"),), (v,), np.zeros((2, 2)), np.zeros((2, 2)), locks={"a": "nope"})
    with pytest.raises(ValueError):
        TimeWindow(5, 1)
    with pytest.raises(ValueError):
        Break(0, 10, 20)


def test_subproblem_slices_matrices_and_locks(plane: Any, van: Any) -> None:
    p = plane((0, 0), [(Stop(c), (10 * i, 0)) for i, c in enumerate("abc", 1)], [van("v1"), van("v2")],
              locks={"c": "v2"})
    sub = p.subproblem(["c", "a"], ["v2"])
    assert [s.id for s in sub.stops] == ["c", "a"]
    assert sub.distance.tolist() == [[0, 30, 10], [30, 0, 20], [10, 20, 0]]
    assert sub.locks == {"c": "v2"}


def test_sectors_and_vehicle_shares(plane: Any, van: Any) -> None:
    ring = [(Stop(f"s{i}", deliver={COLD: 1} if i % 10 == 0 else {"ambient": 1}),
             (100 * np.cos(i / 40 * 2 * np.pi), 100 * np.sin(i / 40 * 2 * np.pi))) for i in range(40)]
    fleet = [van(f"a{i}") for i in range(6)] + [van("f1", capacity={COLD: 10, "ambient": 10}),
                                                van("f2", capacity={COLD: 10, "ambient": 10})]
    p = plane((0, 0), ring, fleet)
    sectors = sector_of_stops(p, 10)
    assert sorted(k for s in sectors for k in s) == list(range(40)) and all(len(s) <= 10 for s in sectors)
    shares = share_vehicles(p, sectors)
    assert sorted(v for s in shares for v in s) == list(range(8))
    cold_sectors = [i for i, s in enumerate(sectors) if any(p.stops[k].deliver.get(COLD) for k in s)]
    assert all(any(p.vehicles[v].cap(COLD) for v in shares[i]) for i in cold_sectors[:2])


def test_region_split_plans_every_stop(plane: Any, van: Any) -> None:
    rng = random.Random(3)
    stops = [(Stop(f"s{i}", deliver={"ambient": 1}), (rng.uniform(-500, 500), rng.uniform(-500, 500)))
             for i in range(60)]
    opts = Options(time_limit_s=2.0, workers=1, region_max_stops=25)
    p = plane((0, 0), stops, [van(f"v{i}", capacity={"ambient": 12}) for i in range(8)], options=opts)
    sol = solve(p)
    assert sol.stats.regions == 3
    assert check(p, sol).ok and not sol.unassigned


def _random_problem(seed: int) -> Problem:
    rng = random.Random(seed)
    n = 8
    pts = [(rng.uniform(0, 100), rng.uniform(0, 100)) for _ in range(n + 1)]
    dist = np.array([[round(((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5) for b in pts] for a in pts])
    stops = []
    for i in range(n):
        start = rng.randrange(0, 300)
        stops.append(Stop(f"s{i}", deliver={"ambient": rng.randrange(0, 4)}, pickup={"ambient": rng.randrange(0, 4)},
                          window=TimeWindow(start, start + rng.randrange(20, 200)), service=rng.randrange(0, 15)))
    vehicles = (Vehicle("v", {"ambient": 8}, shift_end=600, rest_break=Break(100, 260, 30), max_duration=450),)
    return Problem(tuple(stops), vehicles, dist, dist.copy(), options=Options(specimen_max_ride_s=None))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), order_seed=st.integers(0, 10_000))
def test_heuristic_feasibility_is_never_looser_than_the_checker(seed: int, order_seed: int) -> None:
    """Whatever the search's own insertion check accepts, the independent checker accepts too."""
    p = _random_problem(seed)
    build = RoutingBuild(p, screen(p), BuildSettings(vehicles=(0,)))
    inst = Instance.from_build(build)
    routes: list[list[int]] = [[]]
    rng = random.Random(order_seed)
    pool = list(range(1, inst.n))
    rng.shuffle(pool)
    insert_all(inst, routes, pool, rng, blink=0.0)
    ids = [p.stops[build.nodes[m] - 1].id for m in routes[0]]
    assert route_ok(inst, 0, routes[0])
    report = check(p, {"v": ids})
    assert report.ok, (ids, report.messages())
