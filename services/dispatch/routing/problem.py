"""A routing problem in abstract integer units, shared by county plans and benchmark instances.

Node 0 is the depot; stop ``k`` (0-based in ``Problem.stops``) is node ``k + 1`` in every matrix.
Distances are integers in "distance units" (metres for county problems, scaled instance units for
benchmarks) and times are integers in "time units" (seconds, or scaled instance units).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Any
from weakref import WeakKeyDictionary

import numpy as np
import numpy.typing as npt

from .limits import Units

IntMatrix = npt.NDArray[np.int64]
FloatMatrix = npt.NDArray[np.float64]

AMBIENT = "ambient"
COLD = "cold"
CLEAN = "clean"
SOILED = "soiled"
SPECIMEN = "specimen"
COUNTY_COMPARTMENTS: tuple[str, ...] = (AMBIENT, COLD, CLEAN, SOILED, SPECIMEN)
LOAD = "load"  # the single compartment of a benchmark instance

CONFIG_TEXTBOOK = "textbook"
CONFIG_TUNED = "tuned"


class Priority(IntEnum):
    """How much a stop matters when not every stop fits in the day."""

    LOW = 0
    NORMAL = 1
    HIGH = 2
    URGENT = 3


# Each level is worth ten of the level below, so one urgent stop outweighs nine high ones.
PRIORITY_WEIGHT: Mapping[int, int] = {p.value: 10**p.value for p in Priority}
LOCKED_WEIGHT = 10**5  # a locked stop is dropped only when nothing else works


@dataclass(frozen=True)
class TimeWindow:
    """Service must START within [start, end] (waiting before start is allowed)."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"time window end {self.end} before start {self.start}")


def _merge(windows: Sequence[TimeWindow]) -> tuple[TimeWindow, ...]:
    out: list[TimeWindow] = []
    for w in sorted(windows, key=lambda w: (w.start, w.end)):
        if out and w.start <= out[-1].end:
            out[-1] = TimeWindow(out[-1].start, max(out[-1].end, w.end))
        else:
            out.append(w)
    return tuple(out)


@dataclass(frozen=True)
class Break:
    """A driver break of ``duration`` lying wholly inside [window_start, window_end]."""

    window_start: int
    window_end: int
    duration: int

    def __post_init__(self) -> None:
        if self.duration < 0 or self.window_end - self.window_start < self.duration:
            raise ValueError("break window shorter than its duration")


@dataclass(frozen=True)
class Stop:
    """One visit: deliveries and pickups per compartment, time window(s), service time and priority.

    ``windows`` lists every receiving period (e.g. 08:00-11:30 and 14:00-17:00 around a lunch
    closure); service must START inside one of them. Periods are sorted and overlapping ones merged.
    ``window`` is then their hull (first opening to last closing), kept for code that only needs a
    bound; a stop given only ``window`` has that single period. Neither: the shift alone constrains it.
    """

    id: str
    deliver: Mapping[str, int] = field(default_factory=dict)
    pickup: Mapping[str, int] = field(default_factory=dict)
    window: TimeWindow | None = None
    service: int = 0
    priority: int = Priority.NORMAL
    windows: tuple[TimeWindow, ...] = ()

    def __post_init__(self) -> None:
        if self.windows:
            periods = _merge(self.windows)
            hull = TimeWindow(periods[0].start, periods[-1].end)
            if self.window is not None and self.window != hull:
                raise ValueError(f"stop {self.id}: window must be the hull of windows (or left out)")
            object.__setattr__(self, "windows", periods)
            object.__setattr__(self, "window", hull)
        elif self.window is not None:
            object.__setattr__(self, "windows", (self.window,))
        for kind, amounts in (("deliver", self.deliver), ("pickup", self.pickup)):
            for comp, qty in amounts.items():
                if qty < 0:
                    raise ValueError(f"stop {self.id}: negative {kind} {qty} in {comp}")
        if self.service < 0:
            raise ValueError(f"stop {self.id}: negative service time")
        if self.priority not in PRIORITY_WEIGHT:
            raise ValueError(f"stop {self.id}: unknown priority {self.priority}")

    def open_from(self, t: int) -> int | None:
        """Earliest moment >= t at which service may start (None: every period has closed)."""
        if not self.windows:
            return t
        for w in self.windows:
            if t <= w.end:
                return max(t, w.start)
        return None

    def open_until(self, t: int) -> int | None:
        """Latest moment <= t at which service may start (None: no period has opened by t)."""
        if not self.windows:
            return t
        for w in reversed(self.windows):
            if t >= w.start:
                return min(t, w.end)
        return None

    def compartments(self) -> set[str]:
        """Compartments this stop puts anything into or takes anything out of."""
        return {c for c, q in self.deliver.items() if q > 0} | {c for c, q in self.pickup.items() if q > 0}

    @property
    def has_specimen_pickup(self) -> bool:
        """True when specimens are collected here (their ride time to the depot is limited)."""
        return self.pickup.get(SPECIMEN, 0) > 0


@dataclass(frozen=True)
class Vehicle:
    """A vehicle with compartment capacities, a shift, an optional break and its costs.

    ``cost_per_km`` is cost units per 1000 distance units (per km when distances are metres);
    ``fixed_cost`` is charged once when the vehicle leaves the depot at all.
    """

    id: str
    capacity: Mapping[str, int]
    shift_start: int = 0
    shift_end: int = 24 * 3600
    rest_break: Break | None = None
    max_duration: int | None = None
    max_distance: int | None = None
    fixed_cost: int = 0
    cost_per_km: int = 1000

    def __post_init__(self) -> None:
        if self.shift_end < self.shift_start:
            raise ValueError(f"vehicle {self.id}: shift ends before it starts")
        if any(q < 0 for q in self.capacity.values()):
            raise ValueError(f"vehicle {self.id}: negative capacity")
        if self.fixed_cost < 0 or self.cost_per_km < 0:
            raise ValueError(f"vehicle {self.id}: negative cost")

    def cap(self, compartment: str) -> int:
        """Capacity of one compartment (0 when the vehicle does not have it)."""
        return self.capacity.get(compartment, 0)


@dataclass(frozen=True)
class Options:
    """How to solve: time budget, parallelism, objective shape and search configuration."""

    time_limit_s: float = 10.0
    workers: int = 1
    config: str = CONFIG_TUNED
    specimen_max_ride_s: int | None = None
    minimize_vehicles: bool = False  # hierarchical objective: fewest vehicles first, then cost
    seed: int = 0
    drop_penalty_base: int | None = None  # None: derived from costs so serving always pays
    # above this, solve angular sectors around the depot separately, then re-optimise the merged day
    # (regions.py). Up to it one search plans the whole day: its steps cost the same at any size
    # (nearby routes only) and it serves every stop sooner and cheaper than sectors do (2,000 stops,
    # bench/results/county_scale_2026-12-06.txt); above it, memory (matrices as lists) grows too much.
    region_max_stops: int = 2500


# per-problem lookups computed once (kept outside the instance: Problem's __dict__ holds its fields only)
_COMPARTMENTS: WeakKeyDictionary[Problem, tuple[str, ...]] = WeakKeyDictionary()
_STOP_NODES: WeakKeyDictionary[Problem, dict[str, int]] = WeakKeyDictionary()


@dataclass(frozen=True, eq=False)
class Problem:
    """Everything needed to plan routes; picklable so each worker process builds its own model."""

    stops: tuple[Stop, ...]
    vehicles: tuple[Vehicle, ...]
    distance: IntMatrix
    duration: IntMatrix
    distance_real: FloatMatrix | None = None  # reporting units, before scaling and rounding
    distance_scale: float = 1.0  # integer distance units per reporting unit
    time_scale: float = 1.0  # integer time units per reporting unit
    options: Options = field(default_factory=Options)
    locks: Mapping[str, str] = field(default_factory=dict)  # stop id -> vehicle id
    locked_prefixes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # vehicle -> first stops
    initial_routes: Mapping[str, tuple[str, ...]] | None = None  # vehicle -> stops, for warm starts
    coords: FloatMatrix | None = None  # (n+1, 2) x/y or lon/lat, used to split by region
    name: str = ""
    depot_hours: TimeWindow | None = None  # vehicles work only inside these hours (see working_time)
    units: Units = field(default_factory=Units)  # how reasons speak its integers

    def __post_init__(self) -> None:
        n = len(self.stops) + 1
        dist = _as_int_matrix(self.distance, n, "distance")
        dur = _as_int_matrix(self.duration, n, "duration")
        object.__setattr__(self, "distance", dist)
        object.__setattr__(self, "duration", dur)
        if self.distance_real is not None:
            real = np.array(self.distance_real, dtype=np.float64)
            if real.shape != (n, n):
                raise ValueError(f"distance_real must be {n}x{n}")
            real.setflags(write=False)
            object.__setattr__(self, "distance_real", real)
        if self.coords is not None:
            xy = np.array(self.coords, dtype=np.float64)
            if xy.shape != (n, 2):
                raise ValueError(f"coords must be {n}x2")
            xy.setflags(write=False)
            object.__setattr__(self, "coords", xy)
        self._validate_ids()

    def _validate_ids(self) -> None:
        stop_ids = [s.id for s in self.stops]
        if len(set(stop_ids)) != len(stop_ids):
            raise ValueError("duplicate stop ids")
        vehicle_ids = [v.id for v in self.vehicles]
        if len(set(vehicle_ids)) != len(vehicle_ids):
            raise ValueError("duplicate vehicle ids")
        known_stops, known_vehicles = set(stop_ids), set(vehicle_ids)
        for stop_id, vehicle_id in self.locks.items():
            if stop_id not in known_stops or vehicle_id not in known_vehicles:
                raise ValueError(f"lock {stop_id}->{vehicle_id} names an unknown stop or vehicle")
        seen: set[str] = set()
        for vehicle_id, prefix in self.locked_prefixes.items():
            if vehicle_id not in known_vehicles:
                raise ValueError(f"locked prefix for unknown vehicle {vehicle_id}")
            for stop_id in prefix:
                if stop_id not in known_stops or stop_id in seen:
                    raise ValueError(f"locked prefix of {vehicle_id}: unknown or repeated stop {stop_id}")
                seen.add(stop_id)

    # --- lookups -------------------------------------------------------------------------------

    @property
    def num_nodes(self) -> int:
        """Depot plus stops."""
        return len(self.stops) + 1

    @property
    def compartments(self) -> tuple[str, ...]:
        """Every compartment named by a stop or a vehicle, in a stable order (computed once per
        problem: the checker and the route builder ask for it per route, ~180 routes on 2,000 stops)."""
        cached = _COMPARTMENTS.get(self)
        if cached is not None:
            return cached
        names: set[str] = set()
        for s in self.stops:
            names |= set(s.deliver) | set(s.pickup)
        for v in self.vehicles:
            names |= set(v.capacity)
        ordered = [c for c in COUNTY_COMPARTMENTS if c in names]
        _COMPARTMENTS[self] = out = tuple(ordered + sorted(names - set(ordered)))
        return out

    def stop_node(self) -> dict[str, int]:
        """Map stop id -> node index in the matrices (a fresh copy; built once per problem)."""
        cached = _STOP_NODES.get(self)
        if cached is None:
            _STOP_NODES[self] = cached = {s.id: k + 1 for k, s in enumerate(self.stops)}
        return dict(cached)

    def vehicle_index(self) -> dict[str, int]:
        """Map vehicle id -> position in ``vehicles``."""
        return {v.id: k for k, v in enumerate(self.vehicles)}

    def real_distance(self, i: int, j: int) -> float:
        """Arc length in reporting units at full precision."""
        if self.distance_real is not None:
            return float(self.distance_real[i, j])
        return float(self.distance[i, j]) / self.distance_scale

    def locked_vehicle_of(self) -> dict[str, str]:
        """Stop -> vehicle for explicit locks and for stops in locked prefixes."""
        out = dict(self.locks)
        for vehicle_id, prefix in self.locked_prefixes.items():
            for stop_id in prefix:
                out[stop_id] = vehicle_id
        return out

    def horizon(self) -> int:
        """Latest moment any vehicle may still be working."""
        ends = [v.shift_end for v in self.vehicles] or [0]
        windows = [s.window.end for s in self.stops if s.window is not None] or [0]
        return int(max(max(ends), max(windows)))

    def with_options(self, **changes: Any) -> Problem:
        """Copy with some options changed."""
        return replace(self, options=replace(self.options, **changes))

    def subproblem(self, stop_ids: Sequence[str], vehicle_ids: Sequence[str]) -> Problem:
        """Problem restricted to some stops and vehicles (matrices sliced, locks filtered)."""
        node = self.stop_node()
        keep_nodes = [0] + [node[s] for s in stop_ids]
        idx = np.array(keep_nodes, dtype=np.int64)
        stop_set, vehicle_set = set(stop_ids), set(vehicle_ids)
        by_id = {s.id: s for s in self.stops}
        vehicles = tuple(v for v in self.vehicles if v.id in vehicle_set)
        initial = None
        if self.initial_routes is not None:
            initial = {
                v: tuple(s for s in route if s in stop_set)
                for v, route in self.initial_routes.items()
                if v in vehicle_set
            }
        return replace(
            self,
            stops=tuple(by_id[s] for s in stop_ids),
            vehicles=vehicles,
            distance=self.distance[np.ix_(idx, idx)],
            duration=self.duration[np.ix_(idx, idx)],
            distance_real=None if self.distance_real is None else self.distance_real[np.ix_(idx, idx)],
            coords=None if self.coords is None else self.coords[idx],
            locks={s: v for s, v in self.locks.items() if s in stop_set and v in vehicle_set},
            locked_prefixes={
                v: tuple(s for s in p if s in stop_set) for v, p in self.locked_prefixes.items() if v in vehicle_set
            },
            initial_routes=initial,
        )


def working_time(vehicle: Vehicle, depot_hours: TimeWindow | None) -> tuple[int, int] | None:
    """The vehicle's working time: its shift intersected with the depot's opening hours.

    None when they do not overlap (or touch only at one instant): the vehicle cannot work that day.
    Rule: a vehicle leaves the depot no earlier than max(shift start, depot opening) and is back no
    later than min(shift end, depot closing) -- the hub is staffed to load and unload only then.
    """
    lo, hi = vehicle.shift_start, vehicle.shift_end
    if depot_hours is not None:
        lo, hi = max(lo, depot_hours.start), min(hi, depot_hours.end)
    return (lo, hi) if hi > lo else None


def owed_break(vehicle: Vehicle, depot_hours: TimeWindow | None) -> Break | None:
    """The break the driver is owed: the break window intersected with the working time.

    Rule (routing/README.md, "Breaks"): a break is owed only inside the working time. When the
    intersection of its window with the working time is shorter than the break, no break is owed
    that day (e.g. a 07:30-11:00 morning shift with a 12:00-13:30 break window); otherwise the break
    is taken wholly inside that intersection -- before leaving, on the road, while waiting, or at the
    depot after the route is back (a plan then shows no break on the route).
    """
    brk = vehicle.rest_break
    work = working_time(vehicle, depot_hours)
    if brk is None or work is None:
        return None
    lo, hi = max(brk.window_start, work[0]), min(brk.window_end, work[1])
    if brk.duration <= 0 or hi - lo < brk.duration:
        return None
    return Break(lo, hi, brk.duration)


def _as_int_matrix(values: Any, n: int, what: str) -> IntMatrix:
    arr = np.array(values, dtype=np.int64)
    if arr.shape != (n, n):
        raise ValueError(f"{what} matrix must be {n}x{n} (depot + stops), got {arr.shape}")
    if (arr < 0).any():
        raise ValueError(f"{what} matrix has negative entries")
    arr.setflags(write=False)
    return arr
