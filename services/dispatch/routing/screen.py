"""Before any search: which vehicles could serve each stop at all, and honest reasons when none can.

A stop no vehicle could serve even on a dedicated round trip is kept out of the model (it would only
slow the search) and reported with the first constraint that rules it out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .limits import divisor_for, worst_objective
from .problem import LOCKED_WEIGHT, PRIORITY_WEIGHT, Problem, Stop, Vehicle
from .timing import (
    RULE_BREAK,
    RULE_CAPACITY,
    RULE_COMPARTMENT,
    RULE_LOCK,
    RULE_MAX_DISTANCE,
    RULE_MAX_DURATION,
    RULE_NO_VEHICLES,
    RULE_RIDE,
    RULE_SERVICE,
    RULE_TRAVEL,
    RULE_WINDOW,
    Failure,
    schedule,
)


@dataclass(frozen=True)
class Screening:
    """Result of screening: stops that go into the model, their allowed vehicles, excluded stops."""

    active: tuple[int, ...]  # positions in problem.stops that go into the model
    allowed: dict[int, tuple[int, ...]]  # stop position -> vehicle positions able to serve it
    excluded: dict[str, str]  # stop id -> reason
    penalties: dict[int, int]  # stop position -> drop penalty (every stop), in cost units
    rules: dict[str, str] = field(default_factory=dict)  # stop id -> rule name (timing.RULE_*)
    cost_divisor: int = 1  # model costs and penalties are divided by this (limits.py: never overflow)

    def model_penalty(self, k: int) -> int:
        """Drop penalty of stop position k in model units (at least 1)."""
        return max(1, self.penalties[k] // self.cost_divisor)


RULE_ORDER = (RULE_COMPARTMENT, RULE_CAPACITY, RULE_TRAVEL, RULE_SERVICE, RULE_WINDOW, RULE_BREAK, RULE_MAX_DURATION,
              RULE_MAX_DISTANCE, RULE_RIDE)


def screen(problem: Problem) -> Screening:
    """Check each stop against every vehicle alone; compute allowed vehicles and drop penalties.

    ``problem`` is a prepared problem (prepare.py: shifts are working times, breaks are owed ones).
    """
    locked = problem.locked_vehicle_of()
    vehicle_pos = problem.vehicle_index()
    active: list[int] = []
    allowed: dict[int, tuple[int, ...]] = {}
    excluded: dict[str, str] = {}
    rules: dict[str, str] = {}
    types: dict[tuple[object, ...], list[int]] = {}
    for v, vehicle in enumerate(problem.vehicles):
        types.setdefault(_type_key(vehicle), []).append(v)
    for k, stop in enumerate(problem.stops):
        node = k + 1
        candidates: list[int] = []
        failures: list[Failure] = []
        for members in types.values():
            why = vehicle_cannot_serve(problem, stop, node, problem.vehicles[members[0]])
            if why is None:
                candidates.extend(members)
            else:
                failures.append(why)
        candidates.sort()
        if stop.id in locked:
            lock_v = vehicle_pos[locked[stop.id]]
            if lock_v not in candidates:
                why = vehicle_cannot_serve(problem, stop, node, problem.vehicles[lock_v])
                excluded[stop.id] = (f"locked to vehicle {locked[stop.id]}, which cannot serve it: "
                                     f"{why.message if why else 'unknown'}")
                rules[stop.id] = RULE_LOCK
                continue
            candidates = [lock_v]
        if not candidates:
            rule, reason = _summarise(problem, stop, failures)
            excluded[stop.id], rules[stop.id] = reason, rule
            continue
        active.append(k)
        allowed[k] = tuple(candidates)
    base = drop_penalty_base(problem)
    penalties = {
        k: base * (LOCKED_WEIGHT if s.id in locked else PRIORITY_WEIGHT[s.priority])
        for k, s in enumerate(problem.stops)
    }
    return Screening(tuple(active), allowed, excluded, penalties, rules, cost_divisor(problem, penalties))


def _type_key(v: Vehicle) -> tuple[object, ...]:
    return (tuple(sorted(v.capacity.items())), v.shift_start, v.shift_end, v.rest_break, v.max_duration,
            v.max_distance)


def vehicle_cannot_serve(problem: Problem, stop: Stop, node: int, vehicle: Vehicle) -> Failure | None:
    """The first rule (RULE_ORDER) that stops this vehicle serving the stop even on a round trip of its
    own, or None when it could. ``vehicle`` is prepared (shift = working time, break = owed break)."""
    units = problem.units
    for comp in sorted(stop.compartments()):
        if vehicle.cap(comp) <= 0:
            return Failure(RULE_COMPARTMENT, f"no {comp} compartment")
    for comp in sorted(stop.compartments()):
        need = max(stop.deliver.get(comp, 0), stop.pickup.get(comp, 0))
        if need > vehicle.cap(comp):
            return Failure(RULE_CAPACITY, f"{comp} demand {units.volume_text(need)} exceeds capacity "
                           f"{units.volume_text(vehicle.cap(comp))}")
    go, back = int(problem.duration[0, node]), int(problem.duration[node, 0])
    lo, hi = vehicle.shift_start, vehicle.shift_end
    if go + back > hi - lo:
        return Failure(RULE_TRAVEL, f"too far: the round trip alone ({units.duration_text(go + back, ' s')}) is longer "
                       f"than the working time ({units.duration_text(hi - lo, ' s')})")
    if go + stop.service + back > hi - lo:
        return Failure(RULE_SERVICE, f"service ({units.duration_text(stop.service, ' s')}) plus the round trip "
                       f"({units.duration_text(go + back, ' s')}) is longer than the working time "
                       f"({units.duration_text(hi - lo, ' s')})")
    begin = stop.open_from(lo + go)
    if begin is None or begin + stop.service + back > hi:
        periods = ", ".join(f"{units.clock_text(w.start)}-{units.clock_text(w.end)}" for w in stop.windows)
        return Failure(RULE_WINDOW, "no receiving period can be reached and the service finished within the "
                       f"working time (shift within depot hours): receiving {periods}, working time "
                       f"{units.clock_text(lo)}-{units.clock_text(hi)}")
    timed = schedule(problem, vehicle, [node])
    if isinstance(timed, Failure):
        return timed
    if vehicle.max_distance is not None and problem.distance[0, node] + problem.distance[node, 0] > vehicle.max_distance:
        trip = int(problem.distance[0, node] + problem.distance[node, 0])
        return Failure(RULE_MAX_DISTANCE, f"the round trip ({units.distance_text(trip, problem.distance_scale)}) is "
                       f"longer than the vehicle's maximum route distance "
                       f"({units.distance_text(vehicle.max_distance, problem.distance_scale)})")
    return None


def _summarise(problem: Problem, stop: Stop, failures: list[Failure]) -> tuple[str, str]:
    """One rule and reason for the whole fleet: the failure of the vehicle type that came closest
    (passed the most rules in RULE_ORDER), so a cold stop whose only cold van cannot fit the break is
    reported as a break problem, not as a missing compartment on the dry vans."""
    if not problem.vehicles or not failures:
        return RULE_NO_VEHICLES, "no vehicle can work that day"
    rank = {r: i for i, r in enumerate(RULE_ORDER)}
    best = max(failures, key=lambda f: rank.get(f.rule, -1))
    if best.rule == RULE_COMPARTMENT:
        if any(f.rule != RULE_COMPARTMENT or f.message != best.message for f in failures):
            # each vehicle lacks a different one: no single vehicle has them all
            return best.rule, (f"no vehicle has all the compartments this stop needs "
                               f"({', '.join(sorted(stop.compartments()))})")
        what = best.message.removeprefix("no ")  # "cold compartment"
        return best.rule, f"no vehicle has {'an' if what[:1] in 'aeiou' else 'a'} {what}"
    if best.rule == RULE_CAPACITY:
        comp = best.message.split(" demand ")[0]
        need = max(stop.deliver.get(comp, 0), stop.pickup.get(comp, 0))
        say = problem.units.volume_text
        # Only vehicles with every compartment the stop needs count: a bigger compartment on a vehicle
        # lacking another one the stop needs does not make "exceeds every vehicle" false.
        fitting = [v for v in problem.vehicles if all(v.cap(c) > 0 for c in stop.compartments())]
        largest = max(v.cap(comp) for v in fitting) if fitting else 0
        if len(fitting) == len(problem.vehicles):
            return best.rule, f"capacity: {comp} demand {say(need)} exceeds every vehicle (largest {say(largest)})"
        return best.rule, (f"capacity: {comp} demand {say(need)} is more than any vehicle with all the compartments "
                           f"this stop needs can carry ({', '.join(sorted(stop.compartments()))}; largest {comp} "
                           f"{say(largest)})")
    everyone = all(f.rule == best.rule for f in failures)
    return best.rule, best.message if everyone else f"{best.message} (the closest-fitting vehicles)"


def cost_divisor(problem: Problem, penalties: dict[int, int]) -> int:
    """Divisor that keeps the model's worst-case objective below limits.MAX_MODEL_OBJECTIVE."""
    return divisor_for(worst_objective(problem, penalties))


def drop_penalty_base(problem: Problem) -> int:
    """Penalty unit for dropping a NORMAL/10 stop: more than serving it alone could ever cost."""
    if problem.options.drop_penalty_base is not None:
        return problem.options.drop_penalty_base
    if not problem.vehicles or not problem.stops:
        return 1
    round_trip = int((problem.distance[0, 1:] + problem.distance[1:, 0]).max())
    worst = max(v.fixed_cost + round_trip * v.cost_per_km // 1000 + 1 for v in problem.vehicles)
    return 10 * worst
