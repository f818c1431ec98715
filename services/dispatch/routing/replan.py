"""The re-plan safety net: when no search returned a plan in time, keep the current plan and insert the
new stops cheapest-first, in plain Python -- never answer a re-plan with an empty plan.

The current plan is ``Problem.initial_routes``; locked prefixes stay first and unchanged, vehicles
that are no longer in the problem (out of service) lose their routes, and a route that no longer
holds (a stop removed, windows changed) is cut back from its end until it does. Stops not served
then (the urgent order, and anything cut) are inserted most important first at the cheapest
position that keeps every rule (timing.schedule, loads, distance). Each route is timed by
timing.schedule; the independent checker verifies the result like any other plan.
"""

from __future__ import annotations

import time

from .model import RawPlan, RawRoute
from .problem import Problem
from .screen import Screening
from .timing import Failure, Timed, route_distance, schedule
from .worker import WorkerResult

_INSERT_BUDGET_S = 2.0  # the safety net itself must stay quick


def fallback_plan(problem: Problem, screening: Screening, started: float) -> WorkerResult | None:
    """Current plan plus cheapest insertion of unserved stops (see module docstring); None if there is
    no current plan."""
    if problem.initial_routes is None:
        return None
    node, vpos = problem.stop_node(), problem.vehicle_index()
    allowed = {k + 1: set(vs) for k, vs in screening.allowed.items()}
    routes: dict[int, list[int]] = {}
    used: set[int] = set()
    for vid in list(problem.locked_prefixes) + list(problem.initial_routes):
        if vid not in vpos or vpos[vid] in routes:
            continue
        v = vpos[vid]
        prefix = [node[s] for s in problem.locked_prefixes.get(vid, ()) if s in node and node[s] in allowed]
        rest = [node[s] for s in problem.initial_routes.get(vid, ()) if s in node]
        nodes = prefix + [n for n in rest if n in allowed and v in allowed[n] and n not in prefix]
        nodes = [n for n in nodes if n not in used]
        while len(nodes) > len(prefix) and not _fits(problem, v, nodes):
            nodes.pop()
        if nodes and not _fits(problem, v, nodes):
            continue  # even the locked prefix fails: leave this vehicle's stops to the reasons
        routes[v] = nodes
        used.update(nodes)
    todo = sorted((n for n in allowed if n not in used), key=lambda n: -screening.penalties[n - 1])
    deadline = time.monotonic() + _INSERT_BUDGET_S
    for n in todo:
        if time.monotonic() > deadline:
            break
        best: tuple[int, int, int] | None = None  # (added distance x cost, vehicle, position)
        for v in sorted(allowed[n]):
            route = routes.get(v, [])
            vehicle = problem.vehicles[v]
            lo = len([s for s in problem.locked_prefixes.get(vehicle.id, ()) if s in node])
            for pos in range(min(lo, len(route)), len(route) + 1):
                prev = route[pos - 1] if pos else 0
                nxt = route[pos] if pos < len(route) else 0
                delta = (int(problem.distance[prev, n]) + int(problem.distance[n, nxt])
                         - int(problem.distance[prev, nxt])) * vehicle.cost_per_km + (
                    0 if route else vehicle.fixed_cost * 1000)
                if best is not None and delta >= best[0]:
                    continue
                if _fits(problem, v, route[:pos] + [n] + route[pos:]):
                    best = (delta, v, pos)
        if best is not None:
            _, v, pos = best
            routes.setdefault(v, []).insert(pos, n)
    raw: list[RawRoute] = []
    for v, nodes in sorted(routes.items()):
        if not nodes:
            continue
        timed = schedule(problem, problem.vehicles[v], nodes)
        assert isinstance(timed, Timed)
        raw.append(RawRoute(v, tuple(nodes), timed.starts, timed.depart, timed.end, timed.break_start))
    return WorkerResult("fallback", RawPlan(tuple(raw), 0), time.monotonic(), phases=("fallback-insertion",))


def _fits(problem: Problem, v: int, nodes: list[int]) -> bool:
    """Loads per compartment (simultaneous pickups and deliveries), distance limit and schedule."""
    vehicle = problem.vehicles[v]
    stops = [problem.stops[n - 1] for n in nodes]
    for comp in {c for s in stops for c in s.compartments()}:
        cap = vehicle.cap(comp)
        load = sum(s.deliver.get(comp, 0) for s in stops)
        if load > cap:
            return False
        for s in stops:
            load += s.pickup.get(comp, 0) - s.deliver.get(comp, 0)
            if load > cap:
                return False
    if vehicle.max_distance is not None and route_distance(problem, nodes) > vehicle.max_distance:
        return False
    return not isinstance(schedule(problem, vehicle, nodes), Failure)
