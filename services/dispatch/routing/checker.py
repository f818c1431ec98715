"""Independent feasibility checker: recomputes a plan from the Problem and the routes alone.

It shares no code with the solver (no OR-Tools, no insertion heuristics): loads per compartment along
each route, vehicle-compartment compatibility, windows, shifts, breaks (every placement is tried),
route duration and distance limits, specimen ride times, stops served at most once, and locks. When
given a Solution it also verifies the schedule and totals the solver reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from .problem import SPECIMEN, Break, Problem, Stop, Vehicle
from .solution import Route, Solution

# --- the working-time rules, written out again here (not imported from the solver) -----------------


def _work(problem: Problem, vehicle: Vehicle) -> tuple[int, int] | None:
    """Shift within depot hours; None when the vehicle cannot work at all."""
    lo, hi = vehicle.shift_start, vehicle.shift_end
    if problem.depot_hours is not None:
        lo = max(lo, problem.depot_hours.start)
        hi = min(hi, problem.depot_hours.end)
    return None if hi <= lo else (lo, hi)


def _owed(problem: Problem, vehicle: Vehicle) -> Break | None:
    """The break owed: its window cut to the working time, or none when that cannot hold it."""
    work, brk = _work(problem, vehicle), vehicle.rest_break
    if work is None or brk is None or brk.duration <= 0:
        return None
    lo, hi = max(work[0], brk.window_start), min(work[1], brk.window_end)
    return Break(lo, hi, brk.duration) if hi - lo >= brk.duration else None


def _first_open(stop: Stop, t: int) -> int | None:
    periods = stop.windows or ((stop.window,) if stop.window is not None else ())
    if not periods:
        return t
    return next((max(t, w.start) for w in periods if t <= w.end), None)


def _last_open(stop: Stop, t: int) -> int:
    periods = stop.windows or ((stop.window,) if stop.window is not None else ())
    if not periods:
        return t
    return next((min(t, w.end) for w in reversed(periods) if t >= w.start), -(1 << 60))


def _is_open(stop: Stop, t: int) -> bool:
    periods = stop.windows or ((stop.window,) if stop.window is not None else ())
    return not periods or any(w.start <= t <= w.end for w in periods)


def _periods_text(problem: Problem, stop: Stop) -> str:
    clock = problem.units.clock_text
    return ", ".join(f"[{clock(w.start)}, {clock(w.end)}]" for w in stop.windows)


@dataclass(frozen=True)
class Violation:
    """One broken rule, named by route (vehicle id), stop and constraint."""

    constraint: str
    message: str
    vehicle_id: str | None = None
    stop_id: str | None = None

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class RouteFigures:
    """Recomputed totals of one route (duration is the shortest feasible one)."""

    vehicle_id: str
    distance: int
    distance_real: float
    duration: int | None
    cost: int


@dataclass(frozen=True)
class CheckReport:
    """Violations (empty = feasible) and recomputed figures."""

    violations: list[Violation] = field(default_factory=list)
    routes: list[RouteFigures] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no rule is broken."""
        return not self.violations

    @property
    def distance(self) -> int:
        """Total integer distance."""
        return sum(r.distance for r in self.routes)

    @property
    def distance_real(self) -> float:
        """Total real-valued distance in reporting units."""
        return sum(r.distance_real for r in self.routes)

    @property
    def cost(self) -> int:
        """Total cost (fixed + distance)."""
        return sum(r.cost for r in self.routes)

    @property
    def duration(self) -> int:
        """Sum of shortest feasible route durations (infeasible routes count 0)."""
        return sum(r.duration or 0 for r in self.routes)

    def messages(self) -> list[str]:
        """Human-readable messages."""
        return [v.message for v in self.violations]


Plan = Solution | Mapping[str, Sequence[str]]


def check(problem: Problem, plan: Plan) -> CheckReport:
    """Check a plan (a Solution, or vehicle id -> stop ids in visiting order) against every rule."""
    routes = plan.routes_by_vehicle() if isinstance(plan, Solution) else {v: list(s) for v, s in plan.items()}
    report = CheckReport()
    vehicles = {v.id: v for v in problem.vehicles}
    node = problem.stop_node()
    seen: dict[str, str] = {}
    for vehicle_id, stop_ids in routes.items():
        if vehicle_id not in vehicles:
            report.violations.append(Violation("unknown", f"route of unknown vehicle {vehicle_id}", vehicle_id))
            continue
        ok_ids: list[str] = []
        for sid in stop_ids:
            if sid not in node:
                report.violations.append(Violation("unknown", f"route {vehicle_id}: unknown stop {sid}", vehicle_id, sid))
            elif sid in seen:
                report.violations.append(Violation(
                    "duplicate", f"stop {sid} served twice (routes {seen[sid]} and {vehicle_id})", vehicle_id, sid))
            else:
                seen[sid] = vehicle_id
                ok_ids.append(sid)
        report.routes.append(_check_route(problem, vehicles[vehicle_id], ok_ids, report.violations))
    _check_locks(problem, routes, seen, report.violations)
    if isinstance(plan, Solution):
        for route in plan.routes:
            if route.vehicle_id in vehicles:
                _check_reported(problem, vehicles[route.vehicle_id], route, report.violations)
    return report


# --- one route -------------------------------------------------------------------------------------


def _check_route(problem: Problem, vehicle: Vehicle, stop_ids: list[str], out: list[Violation]) -> RouteFigures:
    node = problem.stop_node()
    nodes = [node[s] for s in stop_ids]
    stops = [problem.stops[n - 1] for n in nodes]
    vid = vehicle.id
    for s in stops:
        for comp in sorted(s.compartments()):
            if vehicle.cap(comp) <= 0:
                out.append(Violation("compartment", f"route {vid}: stop {s.id} needs {'an' if comp[:1] in 'aeiou' else 'a'} {comp} compartment, "
                                     f"vehicle {vid} has none", vid, s.id))
    vol = problem.units.volume_text
    for comp in problem.compartments:
        load = sum(s.deliver.get(comp, 0) for s in stops)
        cap = vehicle.cap(comp)
        if load > cap and load > 0:
            out.append(Violation("capacity", f"route {vid}: leaves the depot with {vol(load)} {comp}, "
                                 f"capacity {vol(cap)}", vid))
        for s in stops:
            load += s.pickup.get(comp, 0) - s.deliver.get(comp, 0)
            if load > cap or load < 0:
                out.append(Violation("capacity", f"route {vid}: {comp} load {vol(load)} after stop {s.id} "
                                     f"outside [0, {vol(cap)}]", vid, s.id))
    arcs = list(zip([0, *nodes], [*nodes, 0], strict=True)) if nodes else []
    distance = sum(int(problem.distance[i, j]) for i, j in arcs)
    real = sum(problem.real_distance(i, j) for i, j in arcs)
    cost = (vehicle.fixed_cost if nodes else 0) + sum(
        round(int(problem.distance[i, j]) * vehicle.cost_per_km / 1000) for i, j in arcs)
    def km(d: int) -> str:
        return problem.units.distance_text(d, problem.distance_scale)

    if vehicle.max_distance is not None and distance > vehicle.max_distance:
        out.append(Violation("max_distance", f"route {vid}: distance {km(distance)} exceeds max "
                             f"{km(vehicle.max_distance)}",
                             vid))
    work = _work(problem, vehicle)
    if work is None and nodes:
        out.append(Violation("shift", f"route {vid}: the vehicle's shift lies outside the depot's hours", vid))
        return RouteFigures(vid, distance, real, None, int(cost))
    duration = _check_schedule(problem, _effective(problem, vehicle), nodes, out) if nodes else 0
    return RouteFigures(vid, distance, real, duration, int(cost))


def _effective(problem: Problem, vehicle: Vehicle) -> Vehicle:
    """The vehicle as the rules see it: shift = working time, break = owed break (or none)."""
    work = _work(problem, vehicle)
    assert work is not None
    return replace(vehicle, shift_start=work[0], shift_end=work[1], rest_break=_owed(problem, vehicle))


def check_route(problem: Problem, vehicle_id: str, stop_ids: Sequence[str]) -> list[Violation]:
    """Violations of one route on its own (loads, compartments, time, limits); [] when it is feasible."""
    out: list[Violation] = []
    vehicle = next(v for v in problem.vehicles if v.id == vehicle_id)
    _check_route(problem, vehicle, list(stop_ids), out)
    return out


@dataclass
class _Attempt:
    problems: list[Violation]
    duration: int | None = None


def _check_schedule(problem: Problem, vehicle: Vehicle, nodes: list[int], out: list[Violation]) -> int | None:
    """Try every break placement; keep the first that satisfies everything, else the least-bad one."""
    gaps: list[int | None] = [None] if vehicle.rest_break is None else list(range(-1, len(nodes) + 2))
    attempts = [_schedule(problem, vehicle, nodes, g) for g in gaps]
    good = [a for a in attempts if not a.problems]
    if good:
        return min(a.duration for a in good if a.duration is not None)
    worst = min(attempts, key=lambda a: len(a.problems))
    out.extend(worst.problems)
    return None


def _schedule(problem: Problem, vehicle: Vehicle, nodes: list[int], gap: int | None) -> _Attempt:
    """Earliest schedule with the break in leg ``gap`` (-1: before leaving, len+1: after returning),
    then the latest starts that still end as early, which give the shortest duration and rides."""
    vid = vehicle.id
    clock = problem.units.clock_text
    brk: Break | None = vehicle.rest_break
    stops = [problem.stops[n - 1] for n in nodes]
    seq = [*nodes, 0]
    found: list[Violation] = []
    t = vehicle.shift_start
    if gap == -1 and brk is not None:
        b = max(t, brk.window_start)
        if b + brk.duration > brk.window_end:
            return _Attempt([Violation("break", f"route {vid}: break cannot be taken before leaving", vid)])
        t = b + brk.duration
    starts: list[int] = []
    prev, leave = 0, t
    for k, n in enumerate(seq):
        arrive = leave + int(problem.duration[prev, n])
        if gap == k and brk is not None:
            b = max(leave, brk.window_start)
            if b + brk.duration > brk.window_end:
                return _Attempt([Violation("break", f"route {vid}: break window passes before leg {k}", vid)])
            arrive = max(arrive + brk.duration, b + brk.duration)
        if n == 0:
            t = arrive
            break
        s = stops[k]
        opened = _first_open(s, arrive)
        begin = arrive if opened is None else opened
        if opened is None:
            found.append(Violation("window", f"route {vid}: stop {s.id} reached at {clock(arrive)}, after every "
                                   f"receiving period {_periods_text(problem, s)}", vid, s.id))
        starts.append(begin)
        prev, leave = n, begin + s.service
    end = t
    if end > vehicle.shift_end:
        found.append(Violation("shift", f"route {vid}: back at the depot at {clock(end)}, after shift end "
                               f"{clock(vehicle.shift_end)}", vid))
    if gap == len(nodes) + 1 and brk is not None:
        b = max(end, brk.window_start)
        if b + brk.duration > min(brk.window_end, vehicle.shift_end):
            found.append(Violation("break", f"route {vid}: no room for the break after returning", vid))
    if found:
        return _Attempt(found)
    latest = _latest_starts(problem, vehicle, nodes, gap, end)
    say = problem.units.duration_text
    depart = latest[0]
    duration = end - depart
    if vehicle.max_duration is not None and duration > vehicle.max_duration:
        found.append(Violation("max_duration", f"route {vid}: takes at least {say(duration)}, max "
                               f"{say(vehicle.max_duration)}", vid))
    limit = problem.options.specimen_max_ride_s
    if limit is not None:
        for k, s in enumerate(stops):
            ride = end - latest[k + 1]
            if s.pickup.get(SPECIMEN, 0) > 0 and ride > limit:
                found.append(Violation("specimen_ride", f"route {vid}: specimens from stop {s.id} ride {say(ride)}, "
                                       f"limit {say(limit)}", vid, s.id))
    return _Attempt(found, duration)


def _latest_starts(problem: Problem, vehicle: Vehicle, nodes: list[int], gap: int | None, end: int) -> list[int]:
    """Latest departure (index 0) and latest service starts that still reach the depot by ``end``."""
    brk = vehicle.rest_break
    stops = [problem.stops[n - 1] for n in nodes]
    latest = [0] * (len(nodes) + 1)
    nxt_node, nxt_start = 0, end
    for k in range(len(nodes), -1, -1):
        here = nodes[k - 1] if k else 0
        service = stops[k - 1].service if k else 0
        leave = nxt_start - int(problem.duration[here, nxt_node])
        if gap == k and brk is not None:
            leave = min(leave - brk.duration, brk.window_end - brk.duration)
        start = leave - service
        start = _last_open(stops[k - 1], start) if k else min(start, vehicle.shift_end)
        latest[k] = start
        nxt_node, nxt_start = here, start
    return latest


# --- locks and reported schedules ------------------------------------------------------------------


def _check_locks(problem: Problem, routes: Mapping[str, Sequence[str]], served_by: dict[str, str],
                 out: list[Violation]) -> None:
    for stop_id, vehicle_id in problem.locks.items():
        if stop_id in served_by and served_by[stop_id] != vehicle_id:
            out.append(Violation("lock", f"stop {stop_id} is locked to vehicle {vehicle_id} but served by "
                                 f"{served_by[stop_id]}", served_by[stop_id], stop_id))
    for vehicle_id, whole in problem.locked_prefixes.items():
        # a locked stop may be left out (with its reason); the served ones keep their order, first
        prefix = [s for s in whole if s in served_by]
        actual = list(routes.get(vehicle_id, ()))[: len(prefix)]
        if actual != prefix:
            out.append(Violation("lock", f"route {vehicle_id} must start with {', '.join(prefix)} but starts "
                                 f"with {', '.join(actual) or 'nothing'}", vehicle_id))


def _check_reported(problem: Problem, vehicle: Vehicle, route: Route, out: list[Violation]) -> None:
    """The solver's own times must be consistent with travel times, windows, working time and break."""
    vid = vehicle.id
    clock = problem.units.clock_text
    if _work(problem, vehicle) is None:
        return  # already reported by _check_route
    vehicle = _effective(problem, vehicle)
    brk = vehicle.rest_break
    prev, leave = 0, route.start
    if route.start < vehicle.shift_start:
        out.append(Violation("schedule", f"route {vid}: reported start {clock(route.start)} before the working time", vid))
    legs: list[tuple[int, int, int]] = []  # (leave previous, start of next, travel) per leg, for the break
    node_of = problem.stop_node()
    for visit in route.visits:
        if visit.stop_id not in node_of:
            continue  # already reported as an unknown stop
        here = node_of[visit.stop_id]
        stop = problem.stops[here - 1]
        need = leave + int(problem.duration[prev, here])
        if visit.start < need:
            out.append(Violation("schedule", f"route {vid}: stop {stop.id} reported start {clock(visit.start)} "
                                 f"earlier than reachable ({clock(need)})", vid, stop.id))
        if not _is_open(stop, visit.start):
            out.append(Violation("window", f"route {vid}: stop {stop.id} reported start {clock(visit.start)} outside "
                                 f"its receiving periods {_periods_text(problem, stop)}", vid, stop.id))
        legs.append((leave, visit.start, int(problem.duration[prev, here])))
        prev, leave = here, visit.start + stop.service
    need_end = leave + int(problem.duration[prev, 0])
    legs.append((leave, route.end, int(problem.duration[prev, 0])))
    if route.end < need_end or route.end > vehicle.shift_end:
        out.append(Violation("schedule", f"route {vid}: reported return {clock(route.end)} impossible "
                             f"(earliest {clock(need_end)}, end of working time {clock(vehicle.shift_end)})", vid))
    b = route.break_start
    if brk is None:
        if b is not None:
            out.append(Violation("break", f"route {vid}: a break is shown though none is owed within the "
                                 "working time", vid))
        return
    if b is None:
        # not shown on the route: allowed only when the driver can take it at the depot afterwards
        if max(route.end, brk.window_start) + brk.duration > brk.window_end:
            out.append(Violation("break", f"route {vid}: no break scheduled and no room for it after "
                                 "returning", vid))
        return
    if b < brk.window_start or b + brk.duration > brk.window_end:
        out.append(Violation("break", f"route {vid}: break at {clock(b)} outside its window (within working time)",
                             vid))
    if b >= route.end:
        out.append(Violation("break", f"route {vid}: a break is shown after the vehicle is back at the depot",
                             vid))
        return
    before = b + brk.duration <= route.start
    leg_ok = any(lo <= b and b + brk.duration <= hi and hi - lo >= brk.duration + travel for lo, hi, travel in legs)
    if not (before or leg_ok):
        out.append(Violation("break", f"route {vid}: break at {clock(b)} overlaps a service or leaves no time to drive",
                             vid))
