"""County-scale routing benchmark: generated days of 50 to 2,000 stops with every compartment.

    python -m bench.county_scale [--sizes 50,100,300,350,1000,2000] [--workers 2] [--replan 350]

Prints, per size: time to the first plan and to the first plan serving every stop, plan cost after
10/30/60 s (and 300 s for the largest), stops left out (by rule), regions used, peak memory, and
whether the checker accepts the plan; then a re-plan after a small change (one urgent stop added,
one route locked) warm-started from the current plan; then each figure against issue 8's target:

* re-plan of 350 stops + 1 urgent, one route locked: a complete checked plan in <= 5 s wall
* 1,000 stops: every stop served within 30 s
* 2,000 stops: every stop served within 60 s, first plan serving every stop within 10 s (one search
  of the whole day since 2026-12-06; sectors only above Options.region_max_stops)

The machine is shared: wall times include waiting for the CPU. The generator is deterministic per
seed; nothing here is a timed assertion.
"""

from __future__ import annotations

import argparse
import math
import random
import resource
import time
from dataclasses import replace

import numpy as np

from services.dispatch.routing import (
    AMBIENT,
    CLEAN,
    COLD,
    SOILED,
    SPECIMEN,
    Break,
    Options,
    Priority,
    Problem,
    Solution,
    Stop,
    TimeWindow,
    Vehicle,
    check,
    solve,
)
from services.dispatch.routing.matrix import GreatCircleMatrix, Point

DEPOT = (36.20, 117.48)  # a county seat in Shandong
H = 3600


def county_problem(n_stops: int, seed: int = 1, options: Options | None = None) -> Problem:
    """A generated county day: township centres and village clinics around the county hospital."""
    rng = random.Random(seed)
    n_town = max(3, n_stops // 25)
    towns = [_offset(DEPOT, rng.uniform(8, 40), rng.uniform(0, 2 * math.pi)) for _ in range(n_town)]
    points = [Point(*DEPOT, road_class="county")]
    stops: list[Stop] = []
    k = 0
    while len(stops) < n_stops:
        town = k % n_town
        is_centre = k < n_town
        lat, lon = towns[town] if is_centre else _offset(towns[town], rng.expovariate(1 / 4.0), rng.uniform(0, 6.3))
        points.append(Point(lat, lon, road_class="county" if is_centre else "village"))
        stops.append(_stop(rng, f"{'T' if is_centre else 'V'}{k:04d}", is_centre))
        if is_centre and len(stops) < n_stops:
            # the laundry round is its own visit at the same site (a different vehicle type serves it)
            points.append(Point(lat, lon, road_class="county"))
            stops.append(_linen_stop(rng, f"L{k:04d}"))
        k += 1
    gc = GreatCircleMatrix(circuity=1.3, speed_kmh=45, road_speeds_kmh={"county": 45, "village": 25})
    mats = gc.matrices(points)
    dist, dur = mats.to_int()
    opts = options or Options()
    opts = replace(opts, specimen_max_ride_s=4 * H)
    return Problem(
        stops=tuple(stops), vehicles=tuple(_fleet(rng, n_stops)), distance=dist, duration=dur,
        distance_real=mats.distance_m / 1000.0, distance_scale=1000.0,
        coords=np.array([[p.lon, p.lat] for p in points]), options=opts, name=f"county-{n_stops}",
    )


def _offset(origin: tuple[float, float], km: float, bearing: float) -> tuple[float, float]:
    lat = origin[0] + km / 111.2 * math.cos(bearing)
    lon = origin[1] + km / (111.2 * math.cos(math.radians(origin[0]))) * math.sin(bearing)
    return lat, lon


def _stop(rng: random.Random, sid: str, centre: bool) -> Stop:
    deliver = {AMBIENT: rng.randint(1, 6 if centre else 3)}
    pickup: dict[str, int] = {}
    if rng.random() < (0.5 if centre else 0.15):
        deliver[COLD] = rng.randint(1, 3)
    if rng.random() < (0.9 if centre else 0.2):
        pickup[SPECIMEN] = rng.randint(1, 2)
    if rng.random() < 0.1:
        pickup[AMBIENT] = 1  # returns of expired or recalled stock
    volume = sum(deliver.values()) + sum(pickup.values())
    window = None
    r = rng.random()
    if r < 0.45:
        window = TimeWindow(8 * H, 11 * H + 1800)
    elif r < 0.75:
        window = TimeWindow(14 * H, 17 * H + 1800)
    elif r < 0.85:
        window = TimeWindow(8 * H, 17 * H)
    priority = Priority.URGENT if rng.random() < 0.03 else Priority.HIGH if centre else Priority.NORMAL
    return Stop(sid, deliver, pickup, window, service=300 + 20 * volume, priority=priority)


def _linen_stop(rng: random.Random, sid: str) -> Stop:
    """Clean linen and sterile sets out, soiled linen and used instruments back."""
    deliver = {CLEAN: rng.randint(4, 14)}
    pickup = {SOILED: rng.randint(4, 14)}
    window = TimeWindow(8 * H, 16 * H) if rng.random() < 0.7 else None
    return Stop(sid, deliver, pickup, window, service=600 + 15 * (deliver[CLEAN] + pickup[SOILED]),
                priority=Priority.NORMAL)


def _fleet(rng: random.Random, n_stops: int) -> list[Vehicle]:
    lunch = Break(11 * H + 1800, 13 * H + 1800, 45 * 60)
    kinds = [
        ("CC", {AMBIENT: 40, COLD: 12, SPECIMEN: 10}, 30000, 320),  # refrigerated van (fen, fen/km)
        ("AV", {AMBIENT: 60, SPECIMEN: 10}, 22000, 260),  # dry van
        ("LT", {CLEAN: 80, SOILED: 80, AMBIENT: 20, SPECIMEN: 6}, 35000, 380),  # linen truck
        ("EV", {AMBIENT: 25, SPECIMEN: 4}, 12000, 120),  # small electric van
    ]
    count = max(5, math.ceil(n_stops / 9) + 1)
    mix = [0, 1, 2, 3, 0, 1, 0, 1, 3, 1]  # mostly drug vans; one linen truck in ten
    out = []
    for i in range(count):
        code, cap, fixed, per_km = kinds[mix[i % len(mix)]]
        out.append(Vehicle(f"{code}{i:03d}", cap, shift_start=7 * H + 1800, shift_end=18 * H, rest_break=lunch,
                           max_duration=10 * H, fixed_cost=fixed, cost_per_km=per_km))
    return out


def _cost_at(solution: Solution, t: float) -> int | None:
    best = [obj for at, obj in solution.stats.progress if at <= t]
    return min(best) if best else None


def _mb(kb: int) -> float:
    return kb / 1024.0


TARGETS: list[str] = []


def run_size(n: int, workers: int, budgets: list[float]) -> None:
    """Solve one generated day at several budgets and print one line."""
    base = county_problem(n, options=Options(workers=workers, time_limit_s=max(budgets)))
    line = [f"{n:5d} stops {len(base.vehicles):4d} vehicles"]
    first = None
    why = ""
    for budget in budgets:
        problem = base.with_options(time_limit_s=budget)
        t0 = time.monotonic()
        sol = solve(problem)
        wall = time.monotonic() - t0
        report = check(problem, sol)
        if first is None:
            first = sol.stats.first_solution_seconds
            complete = sol.stats.complete_seconds
            line.append(f"first plan {first if first is not None else float('nan'):6.2f}s, every stop served "
                        f"from {complete if complete is not None else float('nan'):6.2f}s")
            if n == 2000:
                ok = complete is not None and complete <= 10.0
                TARGETS.append(f"2000 stops: first plan serving every stop within 10 s: "
                               f"{'MET' if ok else 'NOT MET'} ({complete if complete is not None else 'never'} s)")
        yuan = sol.cost / 100.0
        if budget == budgets[-1] and sol.unassigned:
            reasons: dict[str, int] = {}
            for u in sol.unassigned:
                reasons[u.rule] = reasons.get(u.rule, 0) + 1
            why = "; ".join(f"{n} x {r}" for r, n in sorted(reasons.items(), key=lambda x: -x[1]))
        line.append(f"@{budget:g}s: {yuan:10.1f} yuan {sol.vehicles_used:3d} veh {len(sol.unassigned):3d} left "
                    f"({wall:5.1f}s wall, {sol.stats.regions} region(s), check {'ok' if report.ok else 'FAIL'})")
        for size, limit in ((1000, 30.0), (2000, 60.0)):
            if n == size and budget == limit:
                ok = not sol.unassigned and report.ok
                TARGETS.append(f"{size} stops: every stop served within {limit:g} s: {'MET' if ok else 'NOT MET'} "
                               f"({len(sol.unassigned)} left, {wall:.1f} s wall, cost {yuan:.1f} yuan)")
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    line.append(f"peak RSS {_mb(self_kb):6.0f} MB (workers {_mb(child_kb):6.0f} MB)")
    print(" | ".join(line), flush=True)
    if why:
        print(f"       left out at {budgets[-1]:g}s: {why}", flush=True)


def run_replan(n: int, workers: int, budget: float, replan_budget: float) -> None:
    """Plan a day, then add one urgent stop and lock one route; re-plan warm-started from the plan."""
    problem = county_problem(n, options=Options(workers=workers, time_limit_s=budget))
    plan = solve(problem)
    routes = plan.routes_by_vehicle()
    locked_vehicle = max(routes, key=lambda v: len(routes[v]))
    rng = random.Random(7)
    lat, lon = _offset(DEPOT, 15.0, rng.uniform(0, 6.3))
    urgent = Stop("URGENT", deliver={COLD: 1, AMBIENT: 1}, window=TimeWindow(9 * H, 16 * H), service=420,
                  priority=Priority.URGENT)
    assert problem.coords is not None
    pts = [Point(lat=float(xy[1]), lon=float(xy[0])) for xy in problem.coords]
    pts.append(Point(lat, lon, road_class="village"))
    mats = GreatCircleMatrix(circuity=1.3, speed_kmh=45, road_speeds_kmh={"county": 45, "village": 25}).matrices(pts)
    dist, dur = mats.to_int()
    old = problem.num_nodes
    dist[:old, :old], dur[:old, :old] = problem.distance, problem.duration
    changed = replace(
        problem, stops=(*problem.stops, urgent), distance=dist, duration=dur, distance_real=mats.distance_m / 1000.0,
        coords=np.vstack([problem.coords, [[lon, lat]]]), initial_routes=routes,
        locked_prefixes={locked_vehicle: routes[locked_vehicle]},
        options=replace(problem.options, time_limit_s=replan_budget),
    )
    t0 = time.monotonic()
    again = solve(changed)
    wall = time.monotonic() - t0
    report = check(changed, again)
    served = any("URGENT" in r.stop_ids for r in again.routes)
    kept = again.routes_by_vehicle().get(locked_vehicle, ())[: len(routes[locked_vehicle])] == routes[locked_vehicle]
    complete = served and report.ok and kept and not again.unassigned
    TARGETS.append(f"re-plan {n} + 1 urgent, one route locked: complete checked plan in <= 5 s: "
                   f"{'MET' if complete and wall <= 5.0 else 'NOT MET'} ({wall:.1f} s wall, "
                   f"{len(again.unassigned)} left, urgent {'served' if served else 'NOT served'})")
    print(f"re-plan {n} stops + 1 urgent, route {locked_vehicle} locked: {wall:.1f}s wall (budget {replan_budget:g}s), "
          f"urgent served {'yes' if served else 'no'}, locked route kept {'yes' if kept else 'no'}, "
          f"cost {plan.cost / 100:.1f} -> {again.cost / 100:.1f} yuan, left {len(plan.unassigned)} -> "
          f"{len(again.unassigned)}, phases {', '.join(again.stats.phases)}, check {'ok' if report.ok else 'FAIL'}",
          flush=True)
    for err in again.stats.errors:
        print(f"   search error: {err}", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="50,100,300,350,1000,2000")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--budgets", default="10,30,60")
    ap.add_argument("--replan", type=int, default=350, help="size of the re-plan scenario (0 = skip)")
    ap.add_argument("--replan-budget", type=float, default=4.0)
    ap.add_argument("--replan-runs", type=int, default=3, help="repeat the re-plan (the target is every time)")
    args = ap.parse_args(argv)
    budgets = [float(b) for b in args.budgets.split(",")]
    for n in (int(s) for s in args.sizes.split(",") if s):
        run_size(n, args.workers, budgets + ([300.0] if n >= 2000 else []))
    if args.replan:
        for _ in range(args.replan_runs):
            run_replan(args.replan, args.workers, 30.0, args.replan_budget)
    print("\nagainst issue 8's targets:")
    for line in TARGETS:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
