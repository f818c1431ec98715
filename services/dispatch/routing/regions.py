"""Split a large day into angular sectors around the depot, plan each sector, and merge the plans.

One model with thousands of stops is slow to build and to search; sectors of a few hundred stops
solve well and independently. Vehicles are shared out per vehicle type in proportion to the stops of
each sector that the type can serve, so cold-chain vans go where the cold stops are. The merged day is
then re-optimised as one (``solve``), or, on days too big for that or short of time, stops dropped in
their sector get a last chance on the vehicles no sector used; either way every stop left out carries
the normal path's reason on the final plan (``reasons``: left_out.py).
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np

from .left_out import left_out_reasons
from .problem import PRIORITY_WEIGHT, Problem, Vehicle
from .screen import Screening, drop_penalty_base, screen
from .solution import Route, Solution, SolveStats, Unassigned
from .timing import RULE_LOCK

MERGE_MAX_STOPS = 4000  # above this, one model of the whole day is too big to re-optimise in memory
MERGE_SHARE = 0.35  # of the time, for re-optimising the merged plan across sector borders
# seconds per 1,000 stops the merged phase needs just to set up (screening, matrices as lists); with
# less time left, dropped stops only get the mop-up on idle vehicles
MERGE_SETUP_S_PER_1000 = 2.0


def sector_of_stops(problem: Problem, max_stops: int) -> list[list[int]]:
    """Stop positions grouped into contiguous angular sectors of at most ``max_stops`` each."""
    n = len(problem.stops)
    parts = max(1, math.ceil(n / max_stops))
    if problem.coords is not None:
        xy = problem.coords
        angles = np.arctan2(xy[1:, 1] - xy[0, 1], xy[1:, 0] - xy[0, 0])
    else:
        # no coordinates: order stops by a nearest-neighbour sweep through the distance matrix
        angles = _sweep_order(problem).astype(np.float64)
    order = list(np.argsort(angles, kind="stable"))
    if problem.coords is not None and n > 1:
        # start the sweep at the widest empty angle so no sector straddles a dense area
        sorted_angles = angles[order]
        gaps = np.diff(np.concatenate([sorted_angles, sorted_angles[:1] + 2 * np.pi]))
        cut = int(np.argmax(gaps)) + 1
        order = order[cut:] + order[:cut]
    size = math.ceil(n / parts)
    sectors = [[int(k) for k in order[i:i + size]] for i in range(0, n, size)]
    return _keep_locked_together(problem, sectors)


def _keep_locked_together(problem: Problem, sectors: list[list[int]]) -> list[list[int]]:
    """Move every stop locked to a vehicle into the sector holding most of that vehicle's locked stops,
    so a locked route prefix is never cut in two."""
    locked = problem.locked_vehicle_of()
    if not locked:
        return sectors
    where = {k: s for s, stops in enumerate(sectors) for k in stops}
    by_vehicle: dict[str, list[int]] = {}
    for k, stop in enumerate(problem.stops):
        if stop.id in locked:
            by_vehicle.setdefault(locked[stop.id], []).append(k)
    for ks in by_vehicle.values():
        counts: dict[int, int] = {}
        for k in ks:
            counts[where[k]] = counts.get(where[k], 0) + 1
        home = max(counts, key=lambda s: counts[s])
        for k in ks:
            where[k] = home
    out: list[list[int]] = [[] for _ in sectors]
    for stops in sectors:
        for k in stops:
            out[where[k]].append(k)
    return [stops for stops in out if stops]


def _sweep_order(problem: Problem) -> np.ndarray:
    n = len(problem.stops)
    rank = np.zeros(n, dtype=np.int64)
    left = set(range(1, n + 1))
    current = 0
    for r in range(n):
        nxt = min(left, key=lambda j: int(problem.distance[current, j]))
        rank[nxt - 1] = r
        left.remove(nxt)
        current = nxt
    return rank


def share_vehicles(problem: Problem, sectors: list[list[int]]) -> list[list[int]]:
    """Vehicle positions per sector: each vehicle type split by the sector stops it can serve."""
    scr = screen(problem)
    groups: dict[tuple[object, ...], list[int]] = {}
    for v, vehicle in enumerate(problem.vehicles):
        groups.setdefault(_type_key(vehicle), []).append(v)
    shares: list[list[int]] = [[] for _ in sectors]
    locked = problem.locked_vehicle_of()
    vpos = problem.vehicle_index()
    pinned: dict[int, int] = {}  # vehicle -> sector, for vehicles with locked stops
    for s, stops in enumerate(sectors):
        for k in stops:
            vid = locked.get(problem.stops[k].id)
            if vid is not None:
                pinned.setdefault(vpos[vid], s)
    for members in groups.values():
        free = [v for v in members if v not in pinned]
        for v in members:
            if v in pinned:
                shares[pinned[v]].append(v)
        rep = members[0]
        weights = [sum(1 for k in stops if rep in scr.allowed.get(k, ())) for stops in sectors]
        for s, count in enumerate(_largest_remainder(weights, len(free))):
            shares[s].extend(free[:count])
            free = free[count:]
    return shares


def _type_key(v: Vehicle) -> tuple[object, ...]:
    return (tuple(sorted(v.capacity.items())), v.shift_start, v.shift_end, v.rest_break, v.max_duration,
            v.max_distance, v.fixed_cost, v.cost_per_km)


def _largest_remainder(weights: list[int], total: int) -> list[int]:
    if total <= 0:
        return [0] * len(weights)
    wsum = sum(weights)
    if wsum == 0:
        return [total // len(weights) + (1 if i < total % len(weights) else 0) for i in range(len(weights))]
    exact = [w * total / wsum for w in weights]
    counts = [int(x) for x in exact]
    for i in sorted(range(len(weights)), key=lambda i: exact[i] - counts[i], reverse=True)[: total - sum(counts)]:
        counts[i] += 1
    return counts


def solve_by_region(
    problem: Problem, progress: object = None, *, merge_max_stops: int = MERGE_MAX_STOPS
) -> Solution:
    """Plan each sector in turn (time shared by stop count), then re-optimise the merged day (up to
    ``merge_max_stops`` stops, time permitting) or retry dropped stops on idle vehicles."""
    from .solver import solve

    started = time.monotonic()
    opts = problem.options
    sectors = sector_of_stops(problem, opts.region_max_stops)
    shares = share_vehicles(problem, sectors)
    budget = max(0.5, opts.time_limit_s)
    merge = len(problem.stops) <= merge_max_stops
    # the merged re-optimisation (or, above merge_max_stops, the mop-up of dropped stops) gets the rest
    reserve = (MERGE_SHARE if merge else 0.1) * budget
    routes: list[Route] = []
    unassigned: list[Unassigned] = []
    samples: list[tuple[float, int]] = []
    first: float | None = None
    total_stops = sum(len(s) for s in sectors)
    objective = 0
    # stops of sectors not planned yet count as dropped, so the day's objective shown only falls
    base = drop_penalty_base(problem)
    pending = [sum(base * PRIORITY_WEIGHT[problem.stops[k].priority] for k in stops) for stops in sectors]
    for i, (stops, vehicles) in enumerate(zip(sectors, shares, strict=True)):
        elapsed = time.monotonic() - started
        share = (budget - reserve - elapsed) * len(stops) / max(1, total_stops)
        total_stops -= len(stops)
        sub = problem.subproblem([problem.stops[k].id for k in stops], [problem.vehicles[v].id for v in vehicles])
        sub = replace(sub, options=replace(opts, time_limit_s=max(0.2, share), region_max_stops=len(stops) + 1))
        part = solve(sub)
        if first is None and part.stats.first_solution_seconds is not None:
            first = elapsed + part.stats.first_solution_seconds
        routes.extend(_renumber(problem, r) for r in part.routes)
        unassigned.extend(part.unassigned)
        objective += part.objective
        samples.append((round(time.monotonic() - started, 3), objective + sum(pending[i + 1:])))
        if callable(progress):
            progress(*samples[-1])
    left = budget - (time.monotonic() - started)
    setup = MERGE_SETUP_S_PER_1000 * len(problem.stops) / 1000.0
    if merge and left >= max(setup, 0.15 * budget):  # else too little time to set up the whole day
        return _merged(problem, routes, samples, first, len(sectors), started, budget, progress)
    routes, unassigned = _mop_up(problem, routes, unassigned, started, budget)
    routes = [_renumber(problem, r) for r in routes]
    solution_objective = sum(r.cost for r in routes) + _penalty(problem, unassigned)
    status = "feasible" if not unassigned else "partial"
    stats = SolveStats(status=status, config=opts.config, solve_seconds=round(time.monotonic() - started, 3),
                       first_solution_seconds=first, workers=opts.workers, progress=tuple(samples),
                       regions=len(sectors), phases=("regions",))
    return Solution(tuple(routes), tuple(unassigned), solution_objective, stats, problem.distance_scale)


def _merged(problem: Problem, routes: list[Route], samples: list[tuple[float, int]], first: float | None,
            regions: int, started: float, budget: float, progress: object) -> Solution:
    """Re-optimise the merged sector plans as one day: warm-started from them, every stop a sector
    dropped is offered to every vehicle, and the search works across sector borders."""
    from .solver import solve

    elapsed = time.monotonic() - started
    left = max(0.5, budget - elapsed)

    def report(at: float, objective: int) -> None:
        if samples and objective >= samples[-1][1]:
            return  # the day's objective shown never rises
        samples.append((round(elapsed + at, 3), objective))
        if callable(progress):
            progress(round(elapsed + at, 3), objective)

    whole = replace(problem, initial_routes={r.vehicle_id: r.stop_ids for r in routes},
                    options=replace(problem.options, time_limit_s=left, region_max_stops=len(problem.stops) + 1))
    merged = solve(whole, progress=report)
    complete = merged.stats.complete_seconds
    stats = replace(merged.stats, solve_seconds=round(time.monotonic() - started, 3),
                    first_solution_seconds=first, progress=tuple(samples), regions=regions,
                    phases=("regions", "merged", *merged.stats.phases),
                    complete_seconds=None if complete is None else round(elapsed + complete, 3))
    return replace(merged, stats=stats)


def _renumber(problem: Problem, route: Route) -> Route:
    """Visits of a sector plan carry sector node numbers; give them the whole problem's."""
    node = problem.stop_node()
    return replace(route, visits=tuple(replace(v, node=node[v.stop_id]) for v in route.visits))


def _penalty(problem: Problem, unassigned: list[Unassigned]) -> int:
    scr = screen(problem)
    pos = {s.id: k for k, s in enumerate(problem.stops)}
    return sum(scr.penalties[pos[u.stop_id]] for u in unassigned)


def _mop_up(problem: Problem, routes: list[Route], unassigned: list[Unassigned], started: float,
            budget: float) -> tuple[list[Route], list[Unassigned]]:
    """Give stops left out inside their sector a chance on vehicles that no sector route used."""
    from .solver import solve

    scr = screen(problem)
    used = {r.vehicle_id for r in routes}
    idle = [v.id for v in problem.vehicles if v.id not in used]
    # a locked stop rides only with its own vehicle: retried only when that vehicle is idle (the
    # subproblem drops locks to vehicles it leaves out, which would free the stop to ride with any)
    locked = problem.locked_vehicle_of()
    retry = [
        u
        for u in unassigned
        if u.stop_id not in scr.excluded and (u.stop_id not in locked or locked[u.stop_id] in idle)
    ]
    left = budget - (time.monotonic() - started)
    served: set[str] = set()
    if retry and idle and left >= 0.2:
        sub = problem.subproblem([u.stop_id for u in retry], idle)
        sub = replace(sub, options=replace(problem.options, time_limit_s=left, region_max_stops=len(retry) + 1))
        extra = solve(sub)
        served = {sid for r in extra.routes for sid in r.stop_ids}
        routes = routes + list(extra.routes)
    return routes, reasons(problem, scr, routes, [u for u in unassigned if u.stop_id not in served])


def reasons(
    problem: Problem, scr: Screening, routes: list[Route], left: list[Unassigned]
) -> list[Unassigned]:
    """Why each stop of ``left`` is not in the final plan ``routes``, by the normal path's rule
    (solver.assemble and left_out.py) on the whole day, never a sector's view:
    a screened-out stop keeps the rule no vehicle could serve it under; a locked stop its sector could
    not fit on its locked vehicle keeps that (``lock``); any other is ``time_limit`` only when it still
    fits ``routes`` under every rule, else a proven shortage or the rule that keeps it off every route.
    ``problem`` is the prepared whole day; ``left`` what the sectors (and the mop-up) left out."""

    node, vpos = problem.stop_node(), problem.vehicle_index()
    plan = {vpos[r.vehicle_id]: tuple(node[sid] for sid in r.stop_ids) for r in routes}
    locked = problem.locked_vehicle_of()
    found: list[Unassigned | int] = []  # a stop position: its reason comes from left_out.py
    for u in left:
        if u.stop_id in scr.excluded:
            found.append(Unassigned(u.stop_id, scr.excluded[u.stop_id], scr.rules.get(u.stop_id, "")))
        elif u.stop_id in locked and u.rule == RULE_LOCK:
            found.append(u)
        else:
            found.append(node[u.stop_id] - 1)
    reasons = left_out_reasons(problem, scr, plan, [k for k in found if isinstance(k, int)])
    return [reasons[u] if isinstance(u, int) else u for u in found]
