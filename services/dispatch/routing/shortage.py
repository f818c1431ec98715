"""When a search leaves a stop out that fits a vehicle alone: is the fleet provably short, or did the
search simply not find room in its time limit?

A dispatcher acts differently on the two (issue 8 §3): a shortage needs another vehicle or a later
day; a short search needs a longer time limit. The search itself cannot tell them apart, so a
shortage is claimed only when a lower bound proves it, for the stop's priority and every higher one
(the stops that outrank it and must be served first):

* **capacity**: for some compartment, the stops' deliveries (or pickups) add up to more than every
  vehicle's compartment together (each vehicle of the core makes one trip; a van's second trip is a
  vehicle of its own, dayplan.py);
* **time**: the stops' service times plus, for each stop, the shortest drive into it from anywhere
  (the hub or another stop) add up to more than the vehicles' working times together, less their
  owed breaks and within their route-duration limits.

Both bounds are relaxations (every real plan needs at least that much), so a proof is never wrong.

Before any of that, ``binding_rule`` tries the stop in the final plan as it stands, on every vehicle
allowed to serve it and at every position, under every rule (compartments and loads, maximum
distance, windows and receiving periods, the owed break, maximum duration, specimen rides; the
independent checker confirms a fit). A stop that fits is a short search (``time_limit``: "a longer
time limit would serve it"). One that fits nowhere is kept out by a rule, and the reason names it
(issue 8 §3, session 17: a 45-minute break in a 2-hour shift, a 20 km limit with two 14.5 km round
trips and a 60-minute specimen ride limit were all reported as "a longer time limit may serve it",
which no time limit could make true):

* ``not_enough_vehicles`` with a proof: the bounds above, or ``conflict_shortage`` -- stops no two
  of which can share a route (pairs tried alone under every rule) outnumber the vehicles that can
  serve them;
* otherwise the binding rule itself (``break``, ``max_distance``, ``ride_time``, ``window`` ...):
  "no route of this plan has room for it", one more vehicle would serve it, no shortage claimed.

The reason step that puts these together for every stop left out, within a time allowance that
grows with their number, is left_out.py.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .checker import check_route
from .guard import failure_of
from .problem import Problem, Vehicle
from .timing import (
    RULE_BREAK,
    RULE_CAPACITY,
    RULE_COMPARTMENT,
    RULE_MAX_DISTANCE,
    RULE_MAX_DURATION,
    RULE_RIDE,
    RULE_SERVICE,
    RULE_TRAVEL,
    RULE_WINDOW,
    Failure,
    route_distance,
    schedule,
)


def proven_shortage(problem: Problem, active: Iterable[int], priority: int,
                    compartments: Iterable[str] | None = None) -> str | None:
    """Why the fleet cannot serve every active stop of ``priority`` or higher, or None without proof.

    ``compartments``: the capacity bound looks only at these (a stop's own: a shortage of cold room
    is no reason for an ambient-only stop to be left out, fresh eyes 2026-12-06); None for all. The
    time bound always counts every stop: working time is shared by all of them.

    ``problem`` is prepared (shifts are working times, breaks owed ones, routing/prepare.py);
    ``active`` are stop positions that went into the model (screen.py). Times in the problem's
    time units (seconds in the service), volumes in its volume units (millilitres in the service);
    the reason speaks the problem's units (``Problem.units``: litres, minutes).
    """
    chosen = [k for k in active if problem.stops[k].priority >= priority]
    if not chosen or not problem.vehicles:
        return None
    say = problem.units.volume_text
    comps = {c for k in chosen for c in problem.stops[k].compartments()}
    if compartments is not None:
        comps &= set(compartments)
    for comp in sorted(comps):
        room = sum(v.cap(comp) for v in problem.vehicles)
        for side in ("deliver", "pickup"):
            need = sum(getattr(problem.stops[k], side).get(comp, 0) for k in chosen)
            if need > room:
                return (f"not enough vehicles: the {comp} {'deliveries' if side == 'deliver' else 'collections'} "
                        f"of this and higher-priority stops ({say(need)}) exceed every vehicle's {comp} "
                        f"compartment together ({say(room)})")
    need_time = _shortest_drives_in(problem.duration, np.array([k + 1 for k in chosen]))
    need_time += sum(problem.stops[k].service for k in chosen)
    available = sum(_working(v) for v in problem.vehicles)
    if need_time > available:
        rests = " less their owed breaks" if any(v.rest_break for v in problem.vehicles) else ""
        return (f"not enough vehicles: service and the shortest drives of this and higher-priority stops "
                f"({problem.units.duration_text(need_time, ' s')}) exceed the vehicles' working time together"
                f"{rests} ({problem.units.duration_text(available, ' s')})")
    return None


def _shortest_drives_in(duration: np.ndarray, nodes: np.ndarray, chunk: int = 256) -> int:
    """Sum over ``nodes`` of the shortest drive into each from any other node, read ``chunk`` columns
    at a time (a copy of every column at once was ~32 MB on a 2,000-stop day, once per priority)."""
    total = 0
    for lo in range(0, len(nodes), chunk):
        cols = nodes[lo:lo + chunk]
        into = duration[:, cols].astype(np.int64)
        into[cols, np.arange(len(cols))] = np.iinfo(np.int64).max  # not from itself
        total += int(into.min(axis=0).sum())
    return total


def _working(vehicle: Vehicle) -> int:
    """A vehicle's time for stops: its working time less an owed break, within its duration limit."""
    brk = vehicle.rest_break
    span = max(0, vehicle.shift_end - vehicle.shift_start - (brk.duration if brk is not None else 0))
    return min(span, vehicle.max_duration) if vehicle.max_duration is not None else span


# What keeps a stop that fits a vehicle alone off every route of the plan: rule -> the shortage it names.
SHORT_OF = {
    RULE_COMPARTMENT: "the vehicles each may use",
    RULE_CAPACITY: "the compartments' room",
    RULE_MAX_DISTANCE: "the vehicles' maximum route distance",
    RULE_TRAVEL: "the vehicles' working time",
    RULE_SERVICE: "the vehicles' working time",
    RULE_WINDOW: "the vehicles' working time with the receiving periods",
    RULE_BREAK: "the vehicles' working time with the owed break",
    RULE_MAX_DURATION: "the vehicles' maximum route duration",
    RULE_RIDE: "the specimen ride limit",
}
_RANK = {r: i for i, r in enumerate((RULE_CAPACITY, RULE_MAX_DISTANCE, RULE_TRAVEL, RULE_SERVICE, RULE_WINDOW,
                                     RULE_BREAK, RULE_MAX_DURATION, RULE_RIDE))}  # how far a try got


class OutOfBudget(Exception):
    """The search for a fit tried no route whole (no allowed vehicle, or no time): no answer either way."""


@dataclass(frozen=True)
class Binding:
    """Why a stop fits no route of a plan: the rule most routes tried came closest to failing on,
    an example (vehicle id, failure), and how many of the allowed routes were tried (``tried`` <
    ``routes`` when the deadline came first: the routes nearest the stop were tried)."""

    vehicle_id: str
    failure: Failure
    tried: int
    routes: int

    @property
    def complete(self) -> bool:
        return self.tried == self.routes


def binding_rule(problem: Problem, allowed: Sequence[int], plan: Mapping[int, Sequence[int]], node: int,
                 deadline: float, min_routes: int = 1, hard_deadline: float = math.inf) -> Binding | None:
    """None when stop ``node`` fits the plan as it stands (an idle allowed vehicle, or some position
    of an allowed vehicle's route under every rule, the checker agreeing); else the Binding: the rule
    that keeps it off the routes tried. ``plan``: vehicle position -> its route's nodes; ``problem``
    prepared (prepare.py). Routes nearest the stop are tried first; past ``deadline``
    (time.monotonic()) no further route is begun once ``min_routes`` have been tried whole, so a stop
    has evidence from its nearest route(s) -- until ``hard_deadline``, past which nothing more is
    tried. Raises OutOfBudget when no route was tried whole (none to try, or ``hard_deadline``).
    """
    if any(not plan.get(v) for v in allowed):
        return None  # an idle vehicle that can serve it alone (screen.py)
    near = sorted(allowed, key=lambda v: min(int(problem.duration[n, node]) for n in plan[v]))
    per_route: list[tuple[str, Failure]] = []
    for v in near:
        if len(per_route) >= min_routes and time.monotonic() > deadline:
            break
        vehicle = problem.vehicles[v]
        route = list(plan[v])
        fixed = len(problem.locked_prefixes.get(vehicle.id, ()))
        best: Failure | None = None
        for p in range(fixed, len(route) + 1):
            if time.monotonic() > hard_deadline:
                break
            why = _refusal(problem, vehicle, route[:p] + [node] + route[p:])
            if why is None:
                return None
            if best is None or _RANK.get(why.rule, -1) > _RANK.get(best.rule, -1):
                best = why
        else:  # every position of this route tried
            if best is not None:
                per_route.append((vehicle.id, best))
            continue
        break  # past the hard deadline: this route is not evidence
    if not per_route:  # nothing tried whole (no vehicle, or no time): no answer either way
        raise OutOfBudget
    counts = Counter(f.rule for _, f in per_route)
    rule = max(counts, key=lambda r: (counts[r], _RANK.get(r, -1)))
    vehicle_id, failure = next(x for x in per_route if x[1].rule == rule)
    return Binding(vehicle_id, failure, len(per_route), len(near))


def _refusal(problem: Problem, vehicle: Vehicle, nodes: list[int]) -> Failure | None:
    """The first rule the route breaks (loads, distance, schedule), or None when the checker accepts it."""
    stops = [problem.stops[n - 1] for n in nodes]
    say = problem.units.volume_text
    for comp in sorted({c for s in stops for c in s.compartments()}):
        cap, load = vehicle.cap(comp), sum(s.deliver.get(comp, 0) for s in stops)
        worst = load
        for s in stops:
            load += s.pickup.get(comp, 0) - s.deliver.get(comp, 0)
            worst = max(worst, load)
        if worst > cap:
            return Failure(RULE_CAPACITY, f"{comp} load {say(worst)}, compartment {say(cap)}")
    distance = route_distance(problem, nodes)
    if vehicle.max_distance is not None and distance > vehicle.max_distance:
        km = problem.units.distance_text
        return Failure(RULE_MAX_DISTANCE, f"the route would be {km(distance, problem.distance_scale)}, maximum "
                       f"{km(vehicle.max_distance, problem.distance_scale)}")
    timed = schedule(problem, vehicle, nodes)
    if isinstance(timed, Failure):
        return timed
    found = check_route(problem, vehicle.id, [s.id for s in stops])
    return failure_of(found[0]) if found else None


def conflict_shortage(problem: Problem, allowed: Mapping[int, Sequence[int]], active: Iterable[int], k: int,
                      deadline: float) -> tuple[list[str], int, str, Failure] | None:
    """A proof that stop position ``k`` and stops of its priority or higher need more vehicles than
    can serve them: a set of stops no two of which can share a route (each pair tried alone, in both
    orders, on every vehicle type allowed to serve both; sharing no allowed vehicle counts too) needs
    one vehicle each. Returns (stop ids, vehicles able to serve them, vehicle id, the rule that keeps
    ``k`` apart) or None. Built greedily around ``k`` until ``deadline`` (time.monotonic()).

    Sound when travel obeys the triangle inequality (great-circle matrices do, up to rounding):
    adding stops to a route never makes a pair fit that could not fit alone."""
    prio = problem.stops[k].priority
    clique, apart = [k], None
    for j in sorted((j for j in active if j != k and problem.stops[j].priority >= prio),
                    key=lambda j: int(problem.duration[k + 1, j + 1])):
        if time.monotonic() > deadline:
            break
        found = [_pair_apart(problem, allowed, i, j) for i in clique]
        if all(f is not None for f in found):
            apart = apart or found[0]
            clique.append(j)
    vehicles = {v for i in clique for v in allowed.get(i, ())}
    if apart is None or len(clique) <= len(vehicles):
        return None
    return [problem.stops[i].id for i in clique], len(vehicles), apart[0], apart[1]


def _pair_apart(problem: Problem, allowed: Mapping[int, Sequence[int]], i: int,
                j: int) -> tuple[str, Failure] | None:
    """None when stops i and j (positions) can share some allowed vehicle's route; else an example
    (vehicle id, the rule that got furthest)."""
    both = sorted(set(allowed.get(i, ())) & set(allowed.get(j, ())))
    if not both:
        return "", Failure(RULE_COMPARTMENT, "no vehicle can serve both")
    best: tuple[str, Failure] | None = None
    seen: set[tuple[object, ...]] = set()
    for v in both:
        vehicle = problem.vehicles[v]
        kind = (tuple(sorted(vehicle.capacity.items())), vehicle.shift_start, vehicle.shift_end,
                vehicle.rest_break, vehicle.max_duration, vehicle.max_distance)
        if kind in seen:
            continue
        seen.add(kind)
        for nodes in ([i + 1, j + 1], [j + 1, i + 1]):
            why = _refusal(problem, vehicle, nodes)
            if why is None:
                return None
            if best is None or _RANK.get(why.rule, -1) > _RANK.get(best[1].rule, -1):
                best = (vehicle.id, why)
    return best
