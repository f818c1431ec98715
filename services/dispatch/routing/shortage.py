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

Both bounds are relaxations (every real plan needs at least that much), so a proof is never wrong;
a stop left out without one is reported as ``time_limit`` ("no proof of a shortage"). A shortage
that only windows cause (two stops both due at 09:00, far apart) has no such proof and is reported
as a short search: the honest answer when the search cannot prove otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .problem import Problem, Vehicle


def proven_shortage(problem: Problem, active: Iterable[int], priority: int) -> str | None:
    """Why the fleet cannot serve every active stop of ``priority`` or higher, or None without proof.

    ``problem`` is prepared (shifts are working times, breaks owed ones, routing/prepare.py);
    ``active`` are stop positions that went into the model (screen.py). Times in the problem's
    time units (seconds in the service), volumes in its volume units (decilitres in the service).
    """
    chosen = [k for k in active if problem.stops[k].priority >= priority]
    if not chosen or not problem.vehicles:
        return None
    for comp in sorted({c for k in chosen for c in problem.stops[k].compartments()}):
        room = sum(v.cap(comp) for v in problem.vehicles)
        for side in ("deliver", "pickup"):
            need = sum(getattr(problem.stops[k], side).get(comp, 0) for k in chosen)
            if need > room:
                return (f"not enough vehicles: the {comp} {'deliveries' if side == 'deliver' else 'collections'} "
                        f"of this and higher-priority stops ({need}) exceed every vehicle's {comp} compartment "
                        f"together ({room})")
    need_time = _shortest_drives_in(problem.duration, np.array([k + 1 for k in chosen]))
    need_time += sum(problem.stops[k].service for k in chosen)
    available = sum(_working(v) for v in problem.vehicles)
    if need_time > available:
        return (f"not enough vehicles: service and the shortest drives of this and higher-priority stops "
                f"({need_time} s) exceed the vehicles' working time together ({available} s)")
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
