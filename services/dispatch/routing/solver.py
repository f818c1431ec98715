"""solve(): screen the stops, run one search per worker process, keep the best plan, explain what is left out."""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from .guard import enforce_checked
from .left_out import left_out_reasons
from .model import RawPlan, RawRoute
from .prepare import Prepared, prepare
from .problem import LOCKED_WEIGHT, Problem, owed_break, working_time
from .replan import fallback_plan
from .screen import Screening, drop_penalty_base, screen
from .search import SearchConfig, config_named
from .solution import Route, Solution, SolveStats, Unassigned, Visit
from .timing import RULE_LOCK, RULE_TIME_LIMIT
from .worker import WorkerResult, run_search

ProgressCallback = Callable[[float, int], None]  # (seconds since start, best objective so far)

_GRACE_S = 5.0  # how long past the deadline to wait for a worker that is still writing its answer
# while no search has reported any plan yet (an overloaded machine can make the first plan of a big
# day late), wait this much longer: a late plan beats none, as with a single worker, which is
# always waited for. Well inside the day-plan worker's stuck-search limit (time limit + 120 s).
_FIRST_PLAN_PATIENCE_S = 60.0
_SEND_S = 2.0  # once a search has reported a plan, how long it may take to finish and send it


def solve(problem: Problem, progress: ProgressCallback | None = None) -> Solution:
    """Plan routes for the problem within ``problem.options.time_limit_s``; never raises on infeasibility.

    Vehicles that cannot work (shift outside depot hours) and impossible locked routes are left out
    first with named reasons (prepare.py); every other stop is planned. See routing/README.md.
    """
    started = time.monotonic()
    prepared = prepare(problem)
    work = prepared.problem
    left_out_penalty = _left_out_penalty(problem, work, prepared)
    solution = _solve_prepared(work, progress, started, left_out_penalty)
    solution = enforce_checked(work, solution)  # never a plan the checker refuses (issue 8)
    solution = replace(solution, routes=tuple(_with_break_note(problem, r) for r in solution.routes))
    if not prepared.stops_out and not prepared.vehicles_out:
        return solution
    extra = tuple(Unassigned(sid, reason, rule) for sid, (rule, reason) in prepared.stops_out.items())
    return replace(solution, unassigned=solution.unassigned + extra,
                   objective=solution.objective + left_out_penalty,
                   vehicles_out=dict(prepared.vehicles_out),
                   stats=replace(solution.stats, status=_status(solution.stats.status, bool(extra))))


# Which break rule a route followed (routing/README.md "Working time and breaks"): a stable code per
# outcome, for the pages and the manifest to label in any language (presentation.TERMS["break_note"]),
# and the English sentence the /solve answer has always carried in ``break_note``.
BREAK_ON_ROUTE = "break taken on the route, inside its window and the working time"
BREAK_BEFORE_DEPARTURE = "break taken at the depot before the route leaves, inside its window and the working time"
BREAK_AFTER_RETURN = "back before the break is due: the break is taken at the depot after this route"
BREAK_NOT_OWED = "no break owed: its window does not leave room for it within the working time"
BREAK_NOT_OWED_OUTSIDE = "no break owed: its window lies wholly outside the working time"
BREAK_NOTES: dict[str, str] = {
    "break_on_route": BREAK_ON_ROUTE,  # owed; taken on the road or while waiting at a stop
    "break_before_departure": BREAK_BEFORE_DEPARTURE,  # owed; over at the depot before the route leaves
    "break_after_return": BREAK_AFTER_RETURN,  # owed; the route is back first, the break follows at the depot
    "break_not_owed_short_window": BREAK_NOT_OWED,  # window ∩ working time shorter than the break
    "break_not_owed_outside_working_time": BREAK_NOT_OWED_OUTSIDE,  # window ∩ working time empty
}
# Every code; "" (no code) when the vehicle has no break (as a trip of a van's day: dispatch/trips.py).
BREAK_CODES = tuple(BREAK_NOTES)


def break_code(problem: Problem, route: Route) -> str:
    """The code of the break rule ``route`` followed (BREAK_CODES), "" when its vehicle has no break."""
    vehicle = next((v for v in problem.vehicles if v.id == route.vehicle_id), None)
    if vehicle is None or vehicle.rest_break is None:
        return ""
    if owed_break(vehicle, problem.depot_hours) is None:
        work = working_time(vehicle, problem.depot_hours)
        brk = vehicle.rest_break
        overlap = 0 if work is None else min(brk.window_end, work[1]) - max(brk.window_start, work[0])
        return "break_not_owed_outside_working_time" if overlap <= 0 else "break_not_owed_short_window"
    if route.break_start is None:
        return "break_after_return"
    if route.break_start < route.start:  # over before the vehicle leaves (the checker allows no overlap)
        return "break_before_departure"
    return "break_on_route"


def _with_break_note(problem: Problem, route: Route) -> Route:
    code = break_code(problem, route)
    return replace(route, break_code=code, break_note=BREAK_NOTES.get(code, ""))


def _status(status: str, more_left_out: bool) -> str:
    return "partial" if status == "feasible" and more_left_out else status


def _left_out_penalty(problem: Problem, work: Problem, prepared: Prepared) -> int:
    if not prepared.stops_out:
        return 0
    base = drop_penalty_base(work if work.stops else problem)
    return sum(base * LOCKED_WEIGHT for _ in prepared.stops_out)


def _solve_prepared(problem: Problem, progress: ProgressCallback | None, started: float,
                    offset_extra: int = 0) -> Solution:
    screening = screen(problem)
    if len(screening.active) > problem.options.region_max_stops:
        from .regions import solve_by_region

        return solve_by_region(problem, progress)
    config = config_named(problem.options.config)
    deadline = started + max(0.05, problem.options.time_limit_s)
    workers = _worker_count(problem, config)
    # progress reports the same objective as the final Solution, which also counts screened-out stops
    offset = offset_extra + sum(screening.penalties[k] for k, s in enumerate(problem.stops)
                                if s.id in screening.excluded)
    tracker = _Progress(started, progress, offset, screening.cost_divisor)
    if not screening.active:
        results = [WorkerResult("empty", RawPlan((), 0), started)]
    elif workers == 1:
        results = [_run_guarded(problem, screening, config, deadline, tracker)]
    else:
        results = _run_parallel(problem, screening, config, workers, deadline, tracker)
    best = _best(results)
    if best is None and problem.initial_routes is not None:
        best = fallback_plan(problem, screening, started)
    return assemble(problem, screening, best, results, config, workers, started, tracker.samples)


def _run_guarded(problem: Problem, screening: Screening, config: SearchConfig, deadline: float,
                 tracker: _Progress) -> WorkerResult:
    try:
        return run_search(problem, screening, config, 0, deadline, tracker.report)
    except Exception as exc:  # a failed search must not take the plan down; the fallback takes over
        import traceback

        return WorkerResult(f"{config.name}#0", None, None, error=traceback.format_exc(limit=6) or repr(exc))


MAX_WORKERS_ENV = "ROUTING_MAX_WORKERS"


def max_workers(environ: Mapping[str, str] | None = None) -> int:
    """Most search processes one solve may start: ``ROUTING_MAX_WORKERS`` from the environment
    (a positive integer; set it to the CPUs the container may use), else ``os.cpu_count()``.

    Inside a pod ``os.cpu_count()`` is the node's CPU count, not the pod's limit (see
    shared/gunicorn_conf.py), so deployments set it explicitly. A value that is not a positive
    integer is ignored (the default applies) rather than taking the solve down."""
    raw = (os.environ if environ is None else environ).get(MAX_WORKERS_ENV, "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return os.cpu_count() or 1


def _worker_count(problem: Problem, config: SearchConfig) -> int:
    """Options.workers (the request's ``options.workers``; 0 = as many as allowed), at most max_workers()."""
    if not config.use_workers or mp.current_process().daemon:
        return 1  # a daemonic process (e.g. a pool worker) may not start children
    cap = max_workers()
    wanted = problem.options.workers if problem.options.workers > 0 else cap
    return max(1, min(wanted, cap))


class _Progress:
    """Merges objective reports from all searches into one best-so-far curve."""

    def __init__(self, started: float, callback: ProgressCallback | None, offset: int = 0,
                 divisor: int = 1) -> None:
        self.started = started
        self.callback = callback
        self.offset = offset
        self.divisor = divisor
        self.best: int | None = None
        self.first_at: float | None = None  # monotonic time the first plan was reported
        self.samples: list[tuple[float, int]] = []

    def report(self, at: float, objective: int) -> None:
        objective = objective * self.divisor + self.offset  # model units back to cost units
        if self.first_at is None:
            self.first_at = time.monotonic()
        if self.best is not None and objective >= self.best:
            return
        self.best = objective
        elapsed = round(at - self.started, 3)
        self.samples.append((elapsed, objective))
        if self.callback is not None:
            self.callback(elapsed, objective)


def _child(problem: Problem, screening: Screening, config: SearchConfig, worker: int, deadline: float,
           out: mp.Queue) -> None:  # type: ignore[type-arg]
    """Worker process body: report progress and the final result through the queue."""
    try:
        result = run_search(problem, screening, config, worker, deadline,
                            lambda at, obj: out.put(("progress", worker, at, obj)))
    except Exception as exc:  # a crashed search must not take the plan down with it
        import traceback

        result = WorkerResult(f"{config.name}#{worker}", None, None, error=traceback.format_exc(limit=6) or repr(exc))
    out.put(("done", worker, result, 0))


def _run_parallel(problem: Problem, screening: Screening, config: SearchConfig, workers: int,
                  deadline: float, tracker: _Progress) -> list[WorkerResult]:
    ctx: Any = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=_child, args=(problem, screening, config, w, deadline, out), daemon=True)
             for w in range(workers)]
    for p in procs:
        p.start()
    results: dict[int, WorkerResult] = {}
    while len(results) < workers:
        if any(r.plan is not None for r in results.values()):
            until = deadline + _GRACE_S
        elif tracker.first_at is not None:  # a plan exists: give its search the grace to send it
            until = min(max(deadline + _GRACE_S, tracker.first_at + _SEND_S),
                        deadline + _GRACE_S + _FIRST_PLAN_PATIENCE_S)
        else:
            until = deadline + _GRACE_S + _FIRST_PLAN_PATIENCE_S
        wait = until - time.monotonic()
        if wait <= 0:
            break
        try:
            kind, worker, payload, objective = out.get(timeout=min(wait, 0.5))
        except queue.Empty:
            if not any(p.is_alive() for p in procs) and out.empty():
                break
            continue
        if kind == "progress":
            tracker.report(payload, objective)
        else:
            results[worker] = payload
    for p in procs:
        p.join(timeout=0.5)
        if p.is_alive():
            p.terminate()
    return [results[w] for w in sorted(results)]


def _best(results: list[WorkerResult]) -> WorkerResult | None:
    found = [r for r in results if r.plan is not None]
    return min(found, key=lambda r: r.plan.objective) if found else None  # type: ignore[union-attr]


# --- turning a raw plan into a Solution ---------------------------------------------------------------


def assemble(
    problem: Problem,
    screening: Screening,
    best: WorkerResult | None,
    results: list[WorkerResult],
    config: SearchConfig,
    workers: int,
    started: float,
    samples: list[tuple[float, int]],
) -> Solution:
    """Build the Solution (schedules, loads, costs, reasons) from the winning raw plan."""
    routes = tuple(build_route(problem, raw) for raw in (best.plan.routes if best and best.plan else ()))
    served = {sid for r in routes for sid in r.stop_ids}
    locked = problem.locked_vehicle_of()
    insertable = {problem.stops[n - 1].id for n in (best.insertable if best else ())}
    found: list[Unassigned | int] = []  # a stop position: its reason comes from left_out.py
    plan = {r.vehicle: r.nodes for r in (best.plan.routes if best and best.plan else ())}
    for k, stop in enumerate(problem.stops):
        if stop.id in served:
            continue
        if stop.id in screening.excluded:
            found.append(Unassigned(stop.id, screening.excluded[stop.id], screening.rules.get(stop.id, "")))
        elif best is None or best.plan is None:
            found.append(Unassigned(stop.id, "no plan found within the time limit", RULE_TIME_LIMIT))
        elif stop.id in locked and stop.id not in insertable:  # one the search saw fit: left_out.py checks it
            found.append(Unassigned(stop.id, f"could not fit on locked vehicle {locked[stop.id]} together "
                                    "with its other stops", RULE_LOCK))
        else:
            found.append(k)
    reasons = left_out_reasons(problem, screening, plan, [k for k in found if isinstance(k, int)])
    unassigned = [reasons[u] if isinstance(u, int) else u for u in found]
    dropped_penalty = sum(screening.penalties.get(k, 0) for k, s in enumerate(problem.stops) if s.id not in served)
    objective = sum(r.cost for r in routes) + dropped_penalty
    firsts = [r.first_solution_at for r in results if r.first_solution_at is not None]
    completes = [r.complete_at for r in results if r.complete_at is not None]
    status = "no_solution" if best is None or best.plan is None else ("partial" if unassigned else "feasible")
    stats = SolveStats(
        status=status,
        config=config.name,
        solve_seconds=round(time.monotonic() - started, 3),
        first_solution_seconds=round(min(firsts) - started, 3) if firsts else None,
        workers=workers,
        progress=tuple(samples),
        phases=best.phases if best else (),
        winner=best.label if best else "",
        errors=tuple(f"{r.label}: {r.error}" for r in results if r.error),
        complete_seconds=round(min(completes) - started, 3) if completes else None,
    )
    return Solution(tuple(routes), tuple(unassigned), objective, stats, problem.distance_scale,
                    {"iterations": float(sum(r.iterations for r in results))})


def build_route(problem: Problem, raw: RawRoute) -> Route:
    """Schedule, loads, distance and cost of one raw route."""
    vehicle = problem.vehicles[raw.vehicle]
    comps = problem.compartments
    stops = [problem.stops[n - 1] for n in raw.nodes]
    load = {c: sum(s.deliver.get(c, 0) for s in stops) for c in comps}
    shown = [c for c in comps if vehicle.cap(c) > 0 or load[c]]  # the vehicle's compartments, even if empty
    load_out = {c: load[c] for c in shown}
    arcs = list(zip([0, *raw.nodes], [*raw.nodes, 0], strict=True))
    distance = int(sum(int(problem.distance[i, j]) for i, j in arcs))
    real = float(sum(problem.real_distance(i, j) for i, j in arcs))
    cost = vehicle.fixed_cost + sum(round(int(problem.distance[i, j]) * vehicle.cost_per_km / 1000) for i, j in arcs)
    brk = vehicle.rest_break
    break_start = raw.break_start
    end_guess = raw.back if raw.back is not None else None
    if brk is not None and break_start is not None and end_guess is not None and (
            break_start >= end_guess
            or (break_start + brk.duration > end_guess
                and max(end_guess, brk.window_start) + brk.duration <= brk.window_end)):
        # not finished before the vehicle is back: the driver takes it at the depot, not on the route
        break_start = None
    t = raw.depart if raw.depart is not None else vehicle.shift_start
    depart = t
    prev, prev_leave = 0, t
    visits: list[Visit] = []
    for k, (node, stop) in enumerate(zip(raw.nodes, stops, strict=True)):
        arrival = prev_leave + int(problem.duration[prev, node])
        start = raw.starts[k] if raw.starts is not None else arrival
        on_road = break_start is not None and prev_leave <= break_start < min(start, arrival)
        if on_road and brk is not None:  # the break was taken on the road, not while waiting
            arrival += brk.duration
        arrival = min(arrival, start)
        leave = start + stop.service
        for c in comps:
            load[c] += stop.pickup.get(c, 0) - stop.deliver.get(c, 0)
        visits.append(Visit(stop.id, node, arrival, start, leave, {c: load[c] for c in shown}))
        prev, prev_leave = node, leave
    end = raw.back if raw.back is not None else prev_leave + int(problem.duration[prev, 0])
    return Route(vehicle.id, tuple(visits), depart, end, load_out, distance, real, int(cost), break_start)
