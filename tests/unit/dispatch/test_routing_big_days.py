"""The big-day search path (steps accepted in Python, nearby routes only, OR-Tools model built lazily)
on small instances, by lowering its size thresholds: every rule still holds per the checker.

The thresholds are configuration (search.CONFIGS), set here for the test's duration.
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from test_routing_days import day, hm, tw, van  # same folder (pytest puts it on sys.path)

from services.dispatch.routing import Options, Stop, check, search, solve
from services.dispatch.routing.problem import COLD, SPECIMEN, Problem


@pytest.fixture
def big_path(monkeypatch: pytest.MonkeyPatch) -> None:
    tuned = search.CONFIGS["tuned"]
    monkeypatch.setitem(search.CONFIGS, "tuned", replace(
        tuned, python_accept_above=5, construct_above=5, polish_max_nodes=30, near_routes=4))


def _county_like(n: int, seed: int = 3, **extra: object) -> Problem:
    rng = random.Random(seed)
    stops = []
    for i in range(n):
        kind = rng.random()
        windows = ((tw("08:00", "11:30"), tw("14:00", "17:00")) if kind < 0.3 else
                   (tw("08:00", "12:00"),) if kind < 0.5 else ())
        deliver = {"ambient": rng.randint(1, 4)}
        if rng.random() < 0.3:
            deliver[COLD] = rng.randint(1, 2)
        pickup = {SPECIMEN: 1} if rng.random() < 0.3 else {}
        stops.append((Stop(f"s{i}", deliver=deliver, pickup=pickup, windows=windows, service=10 * 60,
                           priority=rng.choice([1, 1, 2, 3])),
                      (rng.uniform(-15000, 15000), rng.uniform(-15000, 15000))))
    vans = [van(f"c{i}", ("07:30", "17:30"), ("11:30", "13:30", 45), capacity={"ambient": 20, COLD: 6, SPECIMEN: 5},
                max_duration=8 * 3600) for i in range(4)]
    vans += [van(f"a{i}", ("07:30", "17:30"), ("11:30", "13:30", 45), capacity={"ambient": 30, SPECIMEN: 5})
             for i in range(4)]
    opts = Options(time_limit_s=1.5, workers=1, specimen_max_ride_s=3 * 3600)
    return day(stops, vans, depot_hours=tw("07:00", "18:00"), options=opts, **extra)  # type: ignore[arg-type]


@pytest.mark.usefixtures("big_path")
def test_big_path_keeps_every_rule() -> None:
    p = _county_like(40)
    sol = solve(p)
    report = check(p, sol)
    assert report.ok, report.messages()
    assert "first:insertion" in sol.stats.phases
    served = {s for r in sol.routes for s in r.stop_ids}
    assert len(served) + len(sol.unassigned) == 40
    assert all(u.rule for u in sol.unassigned)
    for r in sol.routes:
        for v in r.visits:
            stop = next(s for s in p.stops if s.id == v.stop_id)
            assert any(w.start <= v.start <= w.end for w in stop.windows) or not stop.windows
            assert not hm("11:30") < v.start < hm("14:00") or len(stop.windows) != 2


@pytest.mark.usefixtures("big_path")
def test_big_path_replan_keeps_the_locked_route_and_serves_the_urgent_stop() -> None:
    p = _county_like(30, seed=5)
    first = solve(p)
    current = first.routes_by_vehicle()
    locked = max(current, key=lambda v: len(current[v]))
    urgent = Stop("urgent", deliver={"ambient": 1}, window=tw("09:00", "16:00"), priority=3)
    q = _county_like(30, seed=5)
    stops = [(s, (float(xy[0]), float(xy[1]))) for s, xy in zip(q.stops, q.coords[1:], strict=True)]  # type: ignore[index]
    stops.append((urgent, (1000.0, 1000.0)))
    vans = list(q.vehicles)
    r = day(stops, vans, depot_hours=q.depot_hours, options=q.options, initial_routes=current,
            locked_prefixes={locked: current[locked]})
    again = solve(r)
    assert check(r, again).ok
    plan = again.routes_by_vehicle()
    assert plan[locked][: len(current[locked])] == current[locked]
    assert any("urgent" in ids for ids in plan.values())
    assert "warm-start" in again.stats.phases


def test_region_split_reoptimises_the_merged_plan() -> None:
    p = _county_like(36, seed=7)
    p = replace(p, options=replace(p.options, region_max_stops=12, time_limit_s=3.0))
    sol = solve(p)
    assert check(p, sol).ok
    assert sol.stats.regions == 3 and "merged" in sol.stats.phases
    shown = [objective for _, objective in sol.stats.progress]
    assert shown == sorted(shown, reverse=True)  # the objective the board shows never rises
