"""The solver side's own schedule of one route in plain Python: earliest service starts, the break,
and the shortest duration -- used to screen stops and locked routes before the search and to time
plans built without OR-Tools (the re-plan fallback).

It works on a *prepared* vehicle (prepare.py): shift = working time (shift intersected with depot
hours), break = the owed break or none. The independent checker (checker.py) has its own code for
the same rules; tests sweep both against each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .problem import SPECIMEN, Problem, Vehicle

# Rule names, in the order a stop is screened against a vehicle (first failing one is reported).
RULE_COMPARTMENT = "compartment"
RULE_CAPACITY = "capacity"
RULE_DEPOT_HOURS = "depot_hours"
RULE_WINDOW = "window"
RULE_TRAVEL = "travel_time"  # the round trip alone is longer than the working time (too far)
RULE_SERVICE = "service_time"
RULE_BREAK = "break"
RULE_MAX_DURATION = "max_duration"
RULE_MAX_DISTANCE = "max_distance"
RULE_RIDE = "ride_time"
RULE_LOCK = "lock"
RULE_SHORTAGE = "not_enough_vehicles"
RULE_TIME_LIMIT = "time_limit"
RULE_NOT_CHECKED = "not_checked"  # left out; the reason step ran out of time before trying any route
RULE_NO_VEHICLES = "no_vehicles"


@dataclass(frozen=True)
class Timed:
    """A feasible schedule: departure, service starts, return, and the break start (None: no break
    owed, or taken at the depot after the route is back)."""

    depart: int
    starts: tuple[int, ...]
    end: int
    break_start: int | None


@dataclass(frozen=True)
class Failure:
    """Why no schedule exists: a rule name and a sentence for the dispatcher."""

    rule: str
    message: str


def schedule(problem: Problem, vehicle: Vehicle, nodes: Sequence[int]) -> Timed | Failure:
    """Best schedule of the route (problem nodes, depot excluded) on a prepared vehicle.

    Tries the break in every gap (before leaving, on each leg or while waiting, after returning) and
    keeps the feasible schedule with the shortest duration; otherwise the most telling failure.
    """
    plain = _earliest(problem, vehicle, nodes, None)
    if isinstance(plain, Failure):
        return plain  # windows/working time fail even without a break
    brk = vehicle.rest_break
    candidates: list[Timed] = []
    limit_failure: Failure | None = None
    for gap in ([None] if brk is None else range(-1, len(nodes) + 2)):
        timed = _earliest(problem, vehicle, nodes, gap)
        if isinstance(timed, Failure):
            continue
        why = _limits(problem, vehicle, nodes, timed, gap)
        if why is not None:
            limit_failure = limit_failure or why
            continue
        candidates.append(timed)
    if candidates:
        return min(candidates, key=lambda t: (t.end - t.depart, t.end))
    if limit_failure is not None:
        return limit_failure
    assert brk is not None
    units = problem.units
    return Failure(RULE_BREAK, f"no placement of the break ({units.duration_text(brk.duration, ' s')}) within "
                   f"{units.clock_text(brk.window_start)}-{units.clock_text(brk.window_end)} fits around the "
                   "services inside the working time")


def _earliest(problem: Problem, vehicle: Vehicle, nodes: Sequence[int], gap: int | None) -> Timed | Failure:
    brk = vehicle.rest_break if gap is not None else None
    t = vehicle.shift_start
    break_start: int | None = None
    if gap == -1 and brk is not None:
        b = max(t, brk.window_start)
        if b + brk.duration > brk.window_end:
            return Failure(RULE_BREAK, "the break cannot be taken before leaving")
        break_start, t = b, b + brk.duration
    starts: list[int] = []
    prev, leave = 0, t
    end = t
    seq = [*nodes, 0]
    for k, n in enumerate(seq):
        arrive = leave + int(problem.duration[prev, n])
        if gap == k and brk is not None:
            b = max(leave, brk.window_start)
            if b + brk.duration > brk.window_end:
                return Failure(RULE_BREAK, "the break window has passed before this leg")
            break_start = b
            arrive = max(arrive + brk.duration, b + brk.duration)
        if n == 0:
            end = arrive
            break
        stop = problem.stops[n - 1]
        begin = stop.open_from(arrive)
        if begin is None:
            return Failure(RULE_WINDOW, f"stop {stop.id}: every receiving period has closed on arrival")
        starts.append(begin)
        prev, leave = n, begin + stop.service
    if end > vehicle.shift_end:
        return Failure(RULE_SERVICE if len(nodes) == 1 else RULE_WINDOW,
                       "back at the depot after the end of the working time")
    if gap == len(nodes) + 1 and brk is not None:
        b = max(end, brk.window_start)
        if b + brk.duration > brk.window_end:
            return Failure(RULE_BREAK, "no room for the break after returning")
        break_start = b
    latest = _latest_starts(problem, vehicle, nodes, gap, end)
    if latest is None or latest[0] < t or any(x < e for x, e in zip(latest[1:], starts, strict=True)):
        return Timed(t, tuple(starts), end, break_start)  # cannot happen; keep the earliest schedule
    depart = latest[0]
    if brk is not None and gap is not None and 0 <= gap <= len(nodes):
        leave = depart if gap == 0 else latest[gap] + problem.stops[nodes[gap - 1] - 1].service
        break_start = max(leave, brk.window_start)
    return Timed(depart, tuple(latest[1:]), end, break_start)


def _latest_starts(problem: Problem, vehicle: Vehicle, nodes: Sequence[int], gap: int | None,
                   end: int) -> list[int] | None:
    """Latest departure (index 0) and service starts that still return by ``end``: the schedule that
    leaves as late as possible and keeps durations and specimen rides shortest."""
    brk = vehicle.rest_break if gap is not None else None
    out = [0] * (len(nodes) + 1)
    nxt_node, nxt_start = 0, end
    for k in range(len(nodes), -1, -1):
        here = nodes[k - 1] if k else 0
        service = problem.stops[here - 1].service if k else 0
        leave = nxt_start - int(problem.duration[here, nxt_node])
        if gap == k and brk is not None:
            leave = min(leave - brk.duration, brk.window_end - brk.duration)
        start: int | None = leave - service
        if k:
            start = problem.stops[here - 1].open_until(leave - service)
            if start is None:
                return None
        else:
            start = min(leave, vehicle.shift_end)
        out[k] = start
        nxt_node, nxt_start = here, start
    return out


def _limits(problem: Problem, vehicle: Vehicle, nodes: Sequence[int], timed: Timed, gap: int | None) -> Failure | None:
    say = problem.units.duration_text
    if vehicle.max_duration is not None and timed.end - timed.depart > vehicle.max_duration:
        return Failure(RULE_MAX_DURATION, f"the route takes {say(timed.end - timed.depart, ' s')}, longer than the "
                       f"vehicle's maximum {say(vehicle.max_duration, ' s')}")
    limit = problem.options.specimen_max_ride_s
    if limit is not None:
        for n, start in zip(nodes, timed.starts, strict=True):
            stop = problem.stops[n - 1]
            if stop.pickup.get(SPECIMEN, 0) > 0 and timed.end - start > limit:
                return Failure(RULE_RIDE, f"specimens from {stop.id} would ride {say(timed.end - start, ' s')}, "
                               f"limit {say(limit, ' s')}")
    return None


def route_distance(problem: Problem, nodes: Sequence[int]) -> int:
    """Integer distance of depot -> nodes -> depot."""
    seq = [0, *nodes, 0]
    return sum(int(problem.distance[a, b]) for a, b in zip(seq, seq[1:], strict=False)) if nodes else 0
