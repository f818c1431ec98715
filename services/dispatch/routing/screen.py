"""Before any search: which vehicles could serve each stop at all, and honest reasons when none can.

A stop no vehicle could serve even on a dedicated round trip is kept out of the model (it would only
slow the search) and reported with the first constraint that rules it out.
"""

from __future__ import annotations

from dataclasses import dataclass

from .problem import LOCKED_WEIGHT, PRIORITY_WEIGHT, SPECIMEN, Problem, Stop, Vehicle


@dataclass(frozen=True)
class Screening:
    """Result of screening: stops that go into the model, their allowed vehicles, excluded stops."""

    active: tuple[int, ...]  # positions in problem.stops that go into the model
    allowed: dict[int, tuple[int, ...]]  # stop position -> vehicle positions able to serve it
    excluded: dict[str, str]  # stop id -> reason
    penalties: dict[int, int]  # stop position -> drop penalty (every stop)


def screen(problem: Problem) -> Screening:
    """Check each stop against every vehicle alone; compute allowed vehicles and drop penalties."""
    locked = problem.locked_vehicle_of()
    vehicle_pos = problem.vehicle_index()
    active: list[int] = []
    allowed: dict[int, tuple[int, ...]] = {}
    excluded: dict[str, str] = {}
    for k, stop in enumerate(problem.stops):
        node = k + 1
        candidates: list[int] = []
        reasons: list[str] = []
        for v, vehicle in enumerate(problem.vehicles):
            why = vehicle_cannot_serve(problem, stop, node, vehicle)
            if why is None:
                candidates.append(v)
            else:
                reasons.append(why)
        if stop.id in locked:
            lock_v = vehicle_pos[locked[stop.id]]
            if lock_v not in candidates:
                why = vehicle_cannot_serve(problem, stop, node, problem.vehicles[lock_v]) or "unknown"
                excluded[stop.id] = f"locked to vehicle {locked[stop.id]}, which cannot serve it: {why}"
                continue
            candidates = [lock_v]
        if not candidates:
            excluded[stop.id] = _summarise(problem, stop, reasons)
            continue
        active.append(k)
        allowed[k] = tuple(candidates)
    base = drop_penalty_base(problem)
    penalties = {
        k: base * (LOCKED_WEIGHT if s.id in locked else PRIORITY_WEIGHT[s.priority])
        for k, s in enumerate(problem.stops)
    }
    return Screening(tuple(active), allowed, excluded, penalties)


def vehicle_cannot_serve(problem: Problem, stop: Stop, node: int, vehicle: Vehicle) -> str | None:
    """Why this vehicle could not serve the stop even on a round trip of its own (None if it could)."""
    for comp in sorted(stop.compartments()):
        need = max(stop.deliver.get(comp, 0), stop.pickup.get(comp, 0))
        if vehicle.cap(comp) <= 0:
            return f"no {comp} compartment"
        if need > vehicle.cap(comp):
            return f"capacity: {comp} demand {need} exceeds {vehicle.cap(comp)}"
    go, back = int(problem.duration[0, node]), int(problem.duration[node, 0])
    arrive = vehicle.shift_start + go
    begin = max(arrive, stop.window.start) if stop.window else arrive
    if stop.window is not None and begin > stop.window.end:
        return "window unreachable from depot within shift"
    if begin + stop.service + back > vehicle.shift_end:
        if stop.window is None:
            return "shift too short for a round trip to this stop"
        return "window unreachable from depot within shift"
    if vehicle.max_duration is not None and go + stop.service + back > vehicle.max_duration:
        return "max route duration shorter than the round trip"
    if vehicle.max_distance is not None and problem.distance[0, node] + problem.distance[node, 0] > vehicle.max_distance:
        return "max route distance shorter than the round trip"
    limit = problem.options.specimen_max_ride_s
    if limit is not None and stop.pickup.get(SPECIMEN, 0) > 0 and stop.service + back > limit:
        return "specimen ride time limit shorter than the direct trip back"
    return None


def _summarise(problem: Problem, stop: Stop, reasons: list[str]) -> str:
    """One reason for the whole fleet, naming the most telling constraint."""
    for comp in sorted(stop.compartments()):
        if all(v.cap(comp) <= 0 for v in problem.vehicles):
            return f"no vehicle has {comp} compartment"
    for comp in sorted(stop.compartments()):
        need = max(stop.deliver.get(comp, 0), stop.pickup.get(comp, 0))
        best = max((v.cap(comp) for v in problem.vehicles), default=0)
        if need > best:
            return f"capacity: {comp} demand {need} exceeds every vehicle (largest {best})"
    if not problem.vehicles:
        return "no vehicles"
    # the remaining reasons are per vehicle; report the most common one
    counts: dict[str, int] = {}
    for r in reasons:
        counts[r] = counts.get(r, 0) + 1
    top = max(counts, key=lambda r: counts[r])
    if top.startswith("no ") or top.startswith("capacity"):
        return "no vehicle has the compartments and capacity this stop needs"
    return top


def drop_penalty_base(problem: Problem) -> int:
    """Penalty unit for dropping a NORMAL/10 stop: more than serving it alone could ever cost."""
    if problem.options.drop_penalty_base is not None:
        return problem.options.drop_penalty_base
    if not problem.vehicles or not problem.stops:
        return 1
    round_trip = int((problem.distance[0, 1:] + problem.distance[1:, 0]).max())
    worst = max(v.fixed_cost + round_trip * v.cost_per_km // 1000 + 1 for v in problem.vehicles)
    return 10 * worst
