"""Last line of defence (issue 8): ``solve()`` never returns a plan the independent checker refuses.

Every search path (OR-Tools first plan, warm start, polish, Python insertion, re-plan fallback,
regions) already holds the rules; this runs the checker (checker.py) on the finished Solution and,
for any route it refuses, drops stops until the route passes -- each dropped stop is reported as
``Unassigned`` with the rule that refused it (``ride_time``, ``max_duration`` ...), and the route is
re-timed by timing.schedule. A feasible day is thus never answered with no plan, nor with a plan
the product's own checker refuses.

Works on the *prepared* problem (prepare.py): shifts are working times, breaks the owed ones; the
checker re-derives both with its own code, so the result is the same on the caller's problem.
"""

from __future__ import annotations

from dataclasses import replace

from .checker import Violation, check, check_route
from .model import RawRoute
from .problem import Problem
from .screen import screen
from .solution import Route, Solution, Unassigned
from .timing import (
    RULE_BREAK,
    RULE_CAPACITY,
    RULE_COMPARTMENT,
    RULE_LOCK,
    RULE_MAX_DISTANCE,
    RULE_MAX_DURATION,
    RULE_RIDE,
    RULE_WINDOW,
    Failure,
    Timed,
    schedule,
)

# checker constraint name -> Unassigned.rule (timing.RULE_*)
_RULE_OF = {
    "specimen_ride": RULE_RIDE, "max_duration": RULE_MAX_DURATION, "max_distance": RULE_MAX_DISTANCE,
    "break": RULE_BREAK, "capacity": RULE_CAPACITY, "compartment": RULE_COMPARTMENT, "lock": RULE_LOCK,
    "window": RULE_WINDOW, "schedule": RULE_WINDOW, "shift": RULE_WINDOW,
}


def enforce_checked(problem: Problem, solution: Solution) -> Solution:
    """The solution unchanged when the checker accepts it; else refused routes repaired (see module)."""
    report = check(problem, solution)
    if report.ok:
        return solution
    refused = {v.vehicle_id for v in report.violations if v.vehicle_id is not None}
    routes: list[Route] = []
    dropped: list[Unassigned] = []
    for route in solution.routes:
        if route.vehicle_id not in refused:
            routes.append(route)
            continue
        fixed, out = _repair(problem, route)
        dropped.extend(out)
        if fixed is not None:
            routes.append(fixed)
    penalties = screen(problem).penalties if dropped else {}
    position = {s.id: k for k, s in enumerate(problem.stops)}
    old_cost = sum(r.cost for r in solution.routes)
    objective = (solution.objective - old_cost + sum(r.cost for r in routes)
                 + sum(penalties.get(position[u.stop_id], 0) for u in dropped))
    status = "partial" if dropped and solution.stats.status == "feasible" else solution.stats.status
    return replace(solution, routes=tuple(routes), unassigned=solution.unassigned + tuple(dropped),
                   objective=objective, stats=replace(solution.stats, status=status))


def _repair(problem: Problem, route: Route) -> tuple[Route | None, list[Unassigned]]:
    """Drop stops until the checker accepts the route; the re-timed route (None if empty) and the
    dropped stops with the rule that refused them."""
    from .solver import build_route  # solver imports this module

    vpos = problem.vehicle_index()[route.vehicle_id]
    nodes = [v.node for v in route.visits]
    locked = problem.locked_prefixes.get(route.vehicle_id, ())
    out: list[Unassigned] = []
    while nodes:
        timed, why, named = _verdict(problem, route.vehicle_id, nodes)
        if timed is not None:
            return build_route(problem, RawRoute(vpos, tuple(nodes), timed.starts, timed.depart, timed.end,
                                                 timed.break_start)), out
        assert why is not None
        victim = _victim(problem, route.vehicle_id, nodes, locked, named)
        stop = problem.stops[nodes.pop(victim) - 1]
        out.append(Unassigned(stop.id, f"left out of the route of {route.vehicle_id}: {why.message}", why.rule))
    return None, out


def _verdict(problem: Problem, vehicle_id: str, nodes: list[int]) -> tuple[Timed | None, Failure | None, str | None]:
    """The solver's schedule when both it and the checker accept the route; else the failure (the
    solver's own rule first) and the stop the checker names, if any."""
    vehicle = problem.vehicles[problem.vehicle_index()[vehicle_id]]
    timed = schedule(problem, vehicle, nodes)
    found = check_route(problem, vehicle_id, [problem.stops[n - 1].id for n in nodes])
    named = next((v.stop_id for v in found if v.stop_id is not None), None)
    if isinstance(timed, Failure):
        return None, timed, named
    if not found:
        return timed, None, None
    return None, failure_of(found[0]), named


def failure_of(violation: Violation) -> Failure:
    """The checker's violation as the solver's rule (timing.RULE_*) and message."""
    return Failure(_RULE_OF.get(violation.constraint, violation.constraint), violation.message)


def _victim(problem: Problem, vehicle_id: str, nodes: list[int], locked: tuple[str, ...], named: str | None) -> int:
    """Position to drop: among stops whose removal alone makes the route pass, the stop the checker
    names, else the least important (latest first); else the named stop or the last one outside
    the locked prefix."""
    free = [k for k in range(len(nodes)) if problem.stops[nodes[k] - 1].id not in locked] or list(range(len(nodes)))
    fixes = [k for k in free if _verdict(problem, vehicle_id, nodes[:k] + nodes[k + 1:])[0] is not None]
    pool = fixes or free
    return min(pool, key=lambda k: (problem.stops[nodes[k] - 1].id != named,
                                    problem.stops[nodes[k] - 1].priority if fixes else 0, -k))
