"""Before screening: apply depot hours and owed breaks to each vehicle, leave out vehicles that cannot
work, and screen locked routes -- so one bad vehicle or one impossible lock never takes the solve down.

* A vehicle whose shift does not overlap the depot's hours (``working_time`` is None) is left out
  with a named reason; the others plan. Stops locked to it are left out with a lock reason.
* Every other vehicle gets shift := working time and break := ``owed_break`` (possibly none).
* A locked route prefix that cannot be driven on its own (windows, working time, break, limits,
  loads, compartments: the checker's rules) is removed with its stops, each reported with rule
  ``lock`` and the cause; the rest is planned.

``prepare`` is idempotent: preparing a prepared problem changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .checker import check_route
from .problem import Problem, Vehicle, owed_break, working_time
from .timing import RULE_LOCK, Failure, schedule


@dataclass(frozen=True)
class Prepared:
    """The problem the search works on, and what was left out before it."""

    problem: Problem  # prepared vehicles; left-out stops and vehicles removed
    stops_out: dict[str, tuple[str, str]]  # stop id -> (rule, reason)
    vehicles_out: dict[str, str]  # vehicle id -> reason


def vehicle_unavailable(vehicle: Vehicle, problem: Problem) -> str | None:
    """Why the vehicle cannot work at all that day (None when it can).

    The service may call this at validation time to answer 4xx ``vehicles[i].shift`` instead.
    """
    if working_time(vehicle, problem.depot_hours) is None:
        hours = problem.depot_hours
        where = f" {_hhmm(hours.start)}-{_hhmm(hours.end)}" if hours is not None else ""
        return (f"shift {_hhmm(vehicle.shift_start)}-{_hhmm(vehicle.shift_end)} lies outside the depot's "
                f"hours{where}")
    return None


def prepared_vehicle(vehicle: Vehicle, problem: Problem) -> Vehicle:
    """Shift narrowed to the working time and break to the owed break (vehicle must be available)."""
    work = working_time(vehicle, problem.depot_hours)
    assert work is not None
    return replace(vehicle, shift_start=work[0], shift_end=work[1],
                   rest_break=owed_break(vehicle, problem.depot_hours))


def prepare(problem: Problem) -> Prepared:
    """Apply the working-time rules and screen locks (see the module docstring)."""
    vehicles_out = {v.id: why for v in problem.vehicles if (why := vehicle_unavailable(v, problem)) is not None}
    locked = problem.locked_vehicle_of()
    stops_out: dict[str, tuple[str, str]] = {}
    for stop_id, vehicle_id in locked.items():
        if vehicle_id in vehicles_out:
            stops_out[stop_id] = (RULE_LOCK, f"locked to vehicle {vehicle_id}, which is left out: "
                                             f"{vehicles_out[vehicle_id]}")
    vehicles = tuple(prepared_vehicle(v, problem) if v.id not in vehicles_out else v for v in problem.vehicles)
    work = replace(problem, vehicles=vehicles)
    node, vpos = work.stop_node(), work.vehicle_index()
    for vehicle_id, prefix in work.locked_prefixes.items():
        if vehicle_id in vehicles_out or not prefix:
            continue
        timed = schedule(work, work.vehicles[vpos[vehicle_id]], [node[s] for s in prefix])
        # then loads, compartments and limits (the checker's own rules): stops added after the prefix
        # only add load and distance, so a prefix that fails alone fails in every plan
        found = check_route(work, vehicle_id, prefix) if not isinstance(timed, Failure) else []
        if isinstance(timed, Failure) or found:
            why = timed.message if isinstance(timed, Failure) else found[0].message
            text = f"locked route {vehicle_id} ({' -> '.join(prefix)}) cannot be driven in that order: {why}"
            for stop_id in prefix:
                stops_out[stop_id] = (RULE_LOCK, text)
    if not stops_out and not vehicles_out:
        return Prepared(work, {}, {})
    keep_stops = [s.id for s in work.stops if s.id not in stops_out]
    keep_vehicles = [v.id for v in work.vehicles if v.id not in vehicles_out]
    sub = work.subproblem(keep_stops, keep_vehicles)
    # a prefix that lost a stop is no longer the locked order: drop the prefix, keep plain locks
    prefixes = {v: p for v, p in sub.locked_prefixes.items()
                if p and len(p) == len(work.locked_prefixes.get(v, ()))}
    sub = replace(sub, locked_prefixes=prefixes)
    return Prepared(sub, stops_out, vehicles_out)


def _hhmm(seconds: int) -> str:
    minutes = seconds // 60
    day, rest = divmod(minutes, 24 * 60)
    text = f"{rest // 60:02d}:{rest % 60:02d}"
    return text if day == 0 else f"{text}+{day}d"
