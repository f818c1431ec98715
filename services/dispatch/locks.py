"""Locks screened before a solve: a lock no vehicle could keep is refused, naming the lock.

Two kinds (see the solve request): ``locks`` pins a stop to a vehicle; ``locked_routes`` keeps a
vehicle's current stops (``initial_routes``) in their order. Each is checked on its own, with the
travel times the solver uses, optimistically (no break, no other stops): when even that fails the
lock can never hold, and the solver would otherwise spend its whole budget and answer with no plan.
Rules checked: the vehicle has the compartments and room for the load; service can start inside a
receiving period after driving from the depot at the start of the vehicle's working time
(shift ∩ depot hours), and in the locked order; the vehicle is back by the end of that working time;
the route's distance and its driving plus service time stay within the vehicle's maxima.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.dispatch.model import VOLUME_SCALE
from services.dispatch.routing.problem import Problem, Stop, Vehicle
from services.dispatch.trips import base_vehicle


@dataclass(frozen=True)
class LockProblem:
    """A lock that cannot hold: the request field naming it and why (dispatcher's words)."""

    field: str
    reason: str


def _clock(t: int) -> str:
    """Seconds from midnight as HH:MM; a time past midnight reads as the next day's (never "29:16")."""
    day, rest = divmod(t, 24 * 3600)
    hhmm = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}"
    return hhmm if day == 0 else f"次日 {hhmm} (+{day} d)"


def _fits(vehicle: Vehicle, stops: Sequence[Stop]) -> str | None:
    for side in ("deliver", "pickup"):
        totals: dict[str, int] = {}
        for stop in stops:
            for compartment, qty in getattr(stop, side).items():
                totals[compartment] = totals.get(compartment, 0) + qty
        for compartment, qty in totals.items():
            if qty > vehicle.cap(compartment):
                have = vehicle.cap(compartment) / VOLUME_SCALE
                return (f"{vehicle.id} cannot carry {qty / VOLUME_SCALE:g} L {compartment} "
                        f"(its compartment holds {have:g} L)")
    return None


def _timeline(problem: Problem, vehicle: Vehicle, stops: Sequence[Stop]) -> str | None:
    node = problem.stop_node()
    t, here = vehicle.shift_start, 0
    previous: Stop | None = None
    for stop in stops:
        t += int(problem.duration[here, node[stop.id]])
        start = stop.open_from(t)
        if start is None:
            closes = _clock(stop.windows[-1].end) if stop.windows else "?"
            after = f" after {previous.id}" if previous is not None else ""
            return f"{stop.id} closes at {closes} but {vehicle.id} cannot get there{after} before {_clock(t)}"
        t, here, previous = start + stop.service, node[stop.id], stop
    back = t + int(problem.duration[here, 0])
    if back > vehicle.shift_end:
        return f"{vehicle.id} would be back at {_clock(back)}, after its working time ends at {_clock(vehicle.shift_end)}"
    nodes = [0, *(node[s.id] for s in stops), 0]
    metres = sum(int(problem.distance[a, b]) for a, b in zip(nodes, nodes[1:], strict=False))
    if vehicle.max_distance is not None and metres > vehicle.max_distance:
        return f"{vehicle.id} would drive {metres / 1000:.1f} km, over its maximum of {vehicle.max_distance / 1000:g} km"
    driving = sum(int(problem.duration[a, b]) for a, b in zip(nodes, nodes[1:], strict=False)) + sum(s.service for s in stops)
    if vehicle.max_duration is not None and driving > vehicle.max_duration:
        return f"{vehicle.id} would need {driving // 60} min, over its maximum route time of {vehicle.max_duration // 60} min"
    return None


def screen_locks(request: Mapping[str, Any], problem: Problem) -> list[LockProblem]:
    """Every lock in the request that can never hold, each with its field name and reason."""
    stops = {s.id: s for s in problem.stops}
    vehicles = {v.id: v for v in problem.vehicles}
    problems: list[LockProblem] = []
    for i, vehicle_id in enumerate(request.get("locked_routes") or ()):
        route = [stops[s] for s in (request.get("initial_routes") or {}).get(vehicle_id, ()) if s in stops]
        vehicle = vehicles.get(vehicle_id)
        if vehicle is None or not route:
            continue
        reason = _fits(vehicle, route) or _timeline(problem, vehicle, route)
        if reason:
            problems.append(LockProblem(f"locked_routes[{i}]", f"the locked order cannot be kept: {reason}"))
    for stop_id, vehicle_id in (request.get("locks") or {}).items():
        stop, vehicle = stops.get(stop_id), vehicles.get(vehicle_id)
        if stop is None or vehicle is None:
            continue
        reason = _fits(vehicle, [stop]) or _timeline(problem, vehicle, [stop])
        if reason:
            problems.append(LockProblem(f"locks.{stop_id}", f"{stop_id} cannot ride with {vehicle_id}: {reason}"))
    return problems


def trip_words(trip: str, sent: Sequence[str] | set[str]) -> str:
    """A trip id as the dispatcher knows it: as sent, else "<van> 第k趟 (trip k)" ("PT-1~1" of "PT-1")."""
    van, k = base_vehicle(trip)
    return trip if trip in sent or van == trip else f"{van} 第{k}趟 (trip {k})"


def in_user_terms(
    problems: Sequence[LockProblem], request: Mapping[str, Any], locks_sent: Mapping[str, str], routes_sent: Sequence[str]
) -> dict[str, str]:
    """A re-plan's lock problems named as its request named things (field -> reason, first one wins).

    A re-plan expands what the dispatcher sent: a van of ``locked_routes`` becomes its trips
    (``request["locked_routes"]``) and each stop on them a lock (``request["locks"]``). A problem of
    such a trip or derived lock is the van's own ``locked_routes[i]``, never a field the request did
    not have; a trip id the dispatcher did not write ("PT-1~1" of "PT-1") reads "PT-1 第1趟 (trip 1)".
    """
    def sent_index(trip: str) -> int:
        van = base_vehicle(trip)[0]
        return next((i for i, v in enumerate(routes_sent) if v in (trip, van)), 0)

    sent = {*locks_sent.values(), *routes_sent}
    trips = sorted({str(v["id"]) for v in request.get("vehicles") or ()} - sent, key=len, reverse=True)

    def words(text: str) -> str:
        for trip in trips:
            text = re.sub(rf"(?<![\w~-]){re.escape(trip)}(?![\w~])", trip_words(trip, sent), text)
        return text

    named: dict[str, str] = {}
    for problem in problems:
        field = problem.field
        if field.startswith("locked_routes["):
            field = f"locked_routes[{sent_index(request['locked_routes'][int(field[len('locked_routes['):-1])])}]"
        elif field.startswith("locks.") and field[len("locks."):] not in locks_sent:
            field = f"locked_routes[{sent_index(request['locks'][field[len('locks.'):]])}]"
        named.setdefault(field, words(problem.reason))
    return named
