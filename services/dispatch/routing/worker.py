"""One search process: build the model from the Problem, find a first plan, improve it until the deadline.

Runs in the calling process or in a worker process (the OR-Tools model cannot be pickled, so each
process builds its own from the picklable Problem). Times are absolute ``time.monotonic()`` values,
which the parent and forked children share on Linux.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from .insertion import insert_all, route_feasible
from .lns import Incumbent, RuinRecreate, python_path
from .model import BuildSettings, RawPlan, RoutingBuild
from .problem import Problem
from .screen import Screening
from .search import SearchConfig, first_solution_params, metaheuristic_params

FINAL_INSERT_GRACE = 0.1
"""After the deadline, the last insertion of stops left out may take this share of the search's time."""

Report = Callable[[float, int], None]  # (monotonic time, objective of a new best plan)


@dataclass(frozen=True)
class WorkerResult:
    """What a search returns to the coordinator (picklable)."""

    label: str
    plan: RawPlan | None
    first_solution_at: float | None  # monotonic time of the first plan
    iterations: int = 0
    phases: tuple[str, ...] = ()
    error: str = ""
    insertable: tuple[int, ...] = ()  # problem nodes left out that still fit the plan (search ran short)
    complete_at: float | None = None  # monotonic time of the first plan serving every stop in the model


def run_search(
    problem: Problem,
    screening: Screening,
    config: SearchConfig,
    worker: int,
    deadline: float,
    report: Report | None = None,
) -> WorkerResult:
    """Search for the best plan until ``deadline``; worker number varies the seed and first strategy."""
    started = time.monotonic()
    label = f"{config.name}#{worker}"
    build = RoutingBuild(
        problem,
        screening,
        BuildSettings(
            vehicles=tuple(range(len(problem.vehicles))),
            droppable=config.droppable,
            python_callbacks=config.python_callbacks,
            model_breaks=config.metaheuristic != "lns",
        ),
        lazy=config.metaheuristic == "lns" and config.droppable
        and python_path(problem, len(screening.active) + 1, config),
    )
    first_at: list[float] = []

    def seen(objective: int) -> None:
        now = time.monotonic()
        if not first_at:
            first_at.append(now)
        if report is not None:
            report(now, objective)

    strategies = _rotate(config.first_solutions, worker)
    if config.metaheuristic != "lns":
        build.watch(seen)
        return _metaheuristic_only(build, config, strategies, deadline, label, first_at)

    def first(_: int) -> None:
        if not first_at:
            first_at.append(time.monotonic())

    build.watch(first)
    rng = random.Random(problem.options.seed * 7919 + worker)
    phases: list[str] = []
    rr = RuinRecreate(build, config, rng, on_best=seen)
    if rr.near_k and config.droppable:
        # big days start in Python: the locked prefixes, or the current plan for a re-plan (routes
        # that no longer hold cut back from their end), then every other stop inserted cheapest-first
        best, how = _python_start(rr, problem, deadline)
        phases.append(how)
    else:
        start = _warm_start(build, config, deadline) if problem.initial_routes is not None else None
        if start is not None:
            phases.append("warm-start")
        else:
            if problem.initial_routes is not None:
                phases.append("warm-start-failed")
            start = _first_plan(build, config, strategies, deadline)
            if start is not None:
                phases.append(f"first:{start[1]}")
        if start is None:
            return WorkerResult(label, None, None, error="no first solution")
        best = rr.incumbent_from(start[0])
    rr.mark(best)
    seen(best.objective)
    if problem.options.minimize_vehicles:
        best = _eliminate_routes(rr, best, deadline, config)
        phases.append("route-elimination")
    best = rr.improve(best, deadline)
    phases.append("ruin-recreate")
    best, insertable = _final_insert(rr, best, deadline + FINAL_INSERT_GRACE * max(0.0, deadline - started))
    if insertable:
        phases.append("out-of-time")
    return WorkerResult(label, best.plan, first_at[0] if first_at else None, rr.iterations, tuple(phases),
                        insertable=insertable, complete_at=rr.complete_at)


def _python_start(rr: RuinRecreate, problem: Problem, deadline: float) -> tuple[Incumbent, str]:
    build, inst = rr.build, rr.inst
    node, vpos = problem.stop_node(), problem.vehicle_index()
    routes: list[list[int]] = [[] for _ in range(inst.nv)]
    source = dict(problem.initial_routes or {})
    for vid, prefix in problem.locked_prefixes.items():
        rest = [s for s in source.get(vid, ()) if s not in prefix]
        source[vid] = (*prefix, *rest)
    used: set[int] = set()
    for vid, stops in source.items():
        p = vpos.get(vid)
        if p is None or p not in build.model_vehicle_of:
            continue
        v = build.model_vehicle_of[p]
        route = []
        for sid in stops:
            m = build.model_node_of.get(node[sid]) if sid in node else None
            if m is None or m in used or (inst.allowed[m] is not None and v not in inst.allowed[m]):  # type: ignore[operator]
                continue
            route.append(m)
            used.add(m)
        while len(route) > inst.prefix[v] and not route_feasible(inst, v, route):
            used.discard(route.pop())
        routes[v] = route
    pool = [u for u in range(1, inst.n) if u not in used]
    if problem.coords is not None:
        # sweep around the depot so each stop finds the routes of its neighbours already started
        xy = problem.coords
        angle = {u: math.atan2(xy[build.nodes[u], 1] - xy[0, 1], xy[build.nodes[u], 0] - xy[0, 0]) for u in pool}
        # stops only some vehicles can serve (cold chain) go first, so those vehicles are not used up
        # by stops any vehicle could serve
        choice = {u: len(inst.allowed[u] or ()) or inst.nv for u in pool}
        pool.sort(key=lambda u: (-inst.penalty[u] // max(1, min(inst.penalty[1:] or [1]) * 100), choice[u],
                                 angle[u]))
    else:
        pool.sort(key=lambda u: -inst.penalty[u])
    insert_all(inst, routes, pool, rr.rng, blink=0.0, near_k=rr.near_k, deadline=deadline)
    how = "warm-start" if problem.initial_routes is not None else "first:insertion"
    return Incumbent(routes, rr.cost(routes), rr.plan_of(routes)), how


def _final_insert(rr: RuinRecreate, best: Incumbent, deadline: float) -> tuple[Incumbent, tuple[int, ...]]:
    """After the search: insert every left-out stop that still fits (cheapest position, most
    important first, until ``deadline``) and polish once. Stops that fit but could not be kept are returned (as problem
    nodes) so their reason says the search ran out of time rather than that vehicles ran short."""
    missing = rr.missing(best.routes)
    if not missing:
        return best, ()
    routes = [list(r) for r in best.routes]
    order = sorted(missing, key=lambda u: -rr.inst.penalty[u])
    left = set(insert_all(rr.inst, routes, order, rr.rng, blink=0.0, near_k=rr.near_k, deadline=deadline))
    if len(left) < len(missing):
        # the insertion's own checks hold every rule: keep it even if OR-Tools cannot polish in time
        inserted = Incumbent(routes, rr.cost(routes), None)
        polished = rr.polish(routes, best.objective) if rr.inst.n <= rr.config.polish_max_nodes else None
        if polished is not None and polished.plan is not None and polished.objective <= inserted.objective:
            inserted = polished
        if inserted.objective < best.objective:
            best = inserted if inserted.plan is not None else Incumbent(routes, inserted.objective,
                                                                           rr.plan_of(routes))
            rr.mark(best)
            if rr.on_best is not None:
                rr.on_best(best.objective)
    still = rr.missing(best.routes)
    return best, tuple(rr.build.nodes[u] for u in still if u not in left)


def _rotate(items: tuple[str, ...], k: int) -> tuple[str, ...]:
    k %= max(1, len(items))
    return items[k:] + items[:k]


def _first_plan(build: RoutingBuild, config: SearchConfig, strategies: tuple[str, ...],
                deadline: float) -> tuple[object, str] | None:
    """First strategy that yields a plan, taken to a local optimum (capped at 30% of the time left)."""
    if build.problem.locked_prefixes or len(build.nodes) > config.construct_above:
        return _bare_start(build, config, deadline)
    for tried, strategy in enumerate(strategies):
        left = deadline - time.monotonic()
        if left <= 0 and tried:
            break  # out of time: the first strategy always gets its try (a late plan beats none)
        params = first_solution_params(strategy, max(0.05, 0.3 * left), config)
        solved = build.solve(params)
        if solved is not None:
            return solved, strategy
    return _bare_start(build, config, deadline)


def _bare_start(build: RoutingBuild, config: SearchConfig, deadline: float) -> tuple[object, str] | None:
    """Only the locked route prefixes, nothing else served: always valid with droppable stops, and
    the ruin-and-recreate search inserts everything else itself (OR-Tools' construction heuristics
    can fail around pinned prefixes, and are slow on big days)."""
    if not config.droppable:
        return None
    problem = build.problem
    node, vpos = problem.stop_node(), problem.vehicle_index()
    prefixes = {vpos[v]: [node[s] for s in stops] for v, stops in problem.locked_prefixes.items() if v in vpos}
    left = deadline - time.monotonic()
    params = first_solution_params(config.first_solutions[0], max(0.05, min(1.0, 0.1 * left)), config)
    solved = build.solve(params, initial=prefixes)
    return (solved, "prefixes-only") if solved is not None else None


def _warm_start(build: RoutingBuild, config: SearchConfig, deadline: float) -> tuple[object, str] | None:
    """Restore the problem's initial routes (new stops start unserved) and take them to a local optimum."""
    problem = build.problem
    node = problem.stop_node()
    vpos = problem.vehicle_index()
    routes = {
        vpos[v]: [node[s] for s in stops if s in node]
        for v, stops in (problem.initial_routes or {}).items()
        if v in vpos
    }
    for share in (0.5, 0.9):  # a big plan may need longer just to be restored; try once more
        left = deadline - time.monotonic()
        if left <= 0:
            break
        params = first_solution_params(config.first_solutions[0], max(0.05, share * left), config)
        solved = build.solve(params, initial=routes)
        if solved is not None:
            return solved, "warm"
    return None


def _metaheuristic_only(build: RoutingBuild, config: SearchConfig, strategies: tuple[str, ...],
                        deadline: float, label: str, first_at: list[float]) -> WorkerResult:
    """The textbook / gls configurations: one OR-Tools solve with its own metaheuristic."""
    for strategy in strategies:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        params = metaheuristic_params(strategy, left, config)
        solved = build.solve(params)
        if solved is not None:
            return WorkerResult(label, build.read(solved), first_at[0] if first_at else None,
                                phases=(f"{strategy}+{config.metaheuristic}",))
    return WorkerResult(label, None, None, error="no solution found")


def _eliminate_routes(rr: RuinRecreate, best: Incumbent, deadline: float, config: SearchConfig) -> Incumbent:
    """Remove one route at a time while every stop still fits (fewest-vehicles objective), within
    ``config.elimination_share`` of the time left, extended by ``elimination_extend`` after each
    route removed up to ``elimination_cap`` (same-run A/B on Gehring-Homberger 12 x 60 s, 2026-12-06:
    vehicles = best-known on 7/12 instead of 4/12, mean gap 3.63% instead of 3.74%,
    bench/results/homberger_ejection_ab_2026-12-06.txt; extension 0.1 -> 0.25 and 3,000 -> 2,000
    tries per route: rc1_4_1 37 instead of 38 vehicles, rc2_10_1 22 instead of 23, the other two
    hard instances as many, homberger_elimination_time_ab_2026-12-06.txt). When a route cannot be emptied, the next
    shortest is tried (until every route has failed once since the last success); big days keep
    the plan the search's own checks accept, smaller ones have it polished by OR-Tools."""
    begin = time.monotonic()
    budget = max(0.0, deadline - begin)
    stop_at = begin + config.elimination_share * budget
    failed: set[int] = set()
    while time.monotonic() < stop_at:
        routes, victim = rr.empty_one_route(best, stop_at, skip=frozenset(failed))
        if victim is None:
            break  # one route left, or every route has failed
        if routes is None:
            failed.add(victim)
            continue
        used = sum(1 for r in best.routes if r)
        found = None if rr.near_k else rr.polish(routes)
        if found is None:  # big day, or OR-Tools could not restore it: the search's own checks hold
            found = Incumbent(routes, rr.cost(routes), None)
        if sum(1 for r in found.routes if r) >= used or rr.missing(found.routes):
            failed.add(victim)
            continue
        best, failed = found, set()
        # a route gone is worth more than any distance: while routes keep going, keep at it
        stop_at = min(begin + config.elimination_cap * budget,
                      max(stop_at, time.monotonic() + config.elimination_extend * budget))
        rr.mark(best)
        if rr.on_best is not None:
            rr.on_best(best.objective)
    return best
