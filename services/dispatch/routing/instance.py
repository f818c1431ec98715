"""The routing model flattened for the insertion search: per-node and per-vehicle arrays (Instance),
receiving-period lookups and each node's nearest customers (insertion.py's input, split from it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .model import RoutingBuild, arc_costs
from .problem import SPECIMEN

INF = 1 << 60


@dataclass
class Instance:
    """Flat per-node and per-vehicle arrays of one RoutingBuild, for pure-Python speed."""

    n: int
    travel: list[list[int]]
    service: list[int]
    early: list[int]
    late: list[int]
    periods: list[tuple[tuple[int, int], ...] | None]  # receiving periods when a node has several
    deliver: list[list[int]]  # [node][compartment]
    pickup: list[list[int]]
    comps_of: list[list[int]]  # compartments a node touches
    specimen: list[bool]
    allowed: list[frozenset[int] | None]  # model vehicles allowed per node, None = any
    penalty: list[int]
    nv: int
    cost: list[list[list[int]]]  # per vehicle, arc cost matrix (shared between equal classes)
    scale: list[float]  # per vehicle, multiplier of its cost matrix (1.0, or cost/km on distances)
    dist: list[list[int]]
    fixed: list[int]
    cap: list[list[int]]
    shift: list[tuple[int, int]]
    brk: list[tuple[int, int, int] | None]
    max_dur: list[int | None]
    max_dist: list[int | None]
    ride_limit: int | None
    prefix: list[int]  # locked leading stops per vehicle
    exact: list[bool]  # vehicle needs the whole-route check
    near: list[list[int]]  # customers by increasing distance, per node
    vclass: list[int]  # per vehicle, a class number: idle vehicles of one class offer identical insertions
    # insertion.route_cache's store: (vehicle, *stops) -> RouteCache of the routes seen recently
    route_caches: dict[tuple[int, ...], Any] = field(default_factory=dict, repr=False, compare=False)

    @staticmethod
    def from_build(build: RoutingBuild, exact_costs_up_to: int = 1 << 30) -> Instance:
        """Extract the arrays from a built model (model node/vehicle numbering). Above
        ``exact_costs_up_to`` nodes, arc costs are distance x cost/km (not rounded per arc as in the
        OR-Tools model): one matrix in memory instead of one per cost class."""
        problem, scr = build.problem, build.screening
        comps = list(problem.compartments)
        n = len(build.nodes)
        stops = [None] + [problem.stops[k] for k in scr.active]
        horizon = problem.horizon()
        early, late = [0] * n, [horizon] * n
        periods: list[tuple[tuple[int, int], ...] | None] = [None] * n
        deliver = [[0] * len(comps) for _ in range(n)]
        pickup = [[0] * len(comps) for _ in range(n)]
        specimen = [False] * n
        allowed: list[frozenset[int] | None] = [None] * n
        penalty = [0] * n
        all_v = set(build.vehicles)
        for m in range(1, n):
            s = stops[m]
            assert s is not None
            k = scr.active[m - 1]
            if s.window is not None:
                early[m], late[m] = s.window.start, s.window.end
            if len(s.windows) > 1:
                periods[m] = tuple((w.start, w.end) for w in s.windows)
            for c, name in enumerate(comps):
                deliver[m][c] = s.deliver.get(name, 0)
                pickup[m][c] = s.pickup.get(name, 0)
            specimen[m] = s.pickup.get(SPECIMEN, 0) > 0
            ok = set(scr.allowed[k]) & all_v
            if ok != all_v:
                allowed[m] = frozenset(build.model_vehicle_of[v] for v in ok)
            penalty[m] = scr.model_penalty(k)
        comps_of = [[c for c in range(len(comps)) if deliver[m][c] or pickup[m][c]] for m in range(n)]
        dist = build.dist.tolist()
        by_cpk: dict[int, list[list[int]]] = {}
        vehicles = [problem.vehicles[p] for p in build.vehicles]
        cost = []
        scale: list[float] = []
        exact_costs = n <= exact_costs_up_to
        for v in vehicles:
            if not exact_costs:  # big days: one shared matrix (memory), costs as distance x factor
                cost.append(dist)
                scale.append(v.cost_per_km / 1000.0 / scr.cost_divisor)
                continue
            if v.cost_per_km not in by_cpk:
                by_cpk[v.cost_per_km] = arc_costs(build.dist, v.cost_per_km, scr.cost_divisor).tolist()
            cost.append(by_cpk[v.cost_per_km])
            scale.append(1.0)
        ride = problem.options.specimen_max_ride_s
        has_time = build.has_time
        prefix_len = [0] * len(vehicles)
        vpos = problem.vehicle_index()
        for vid, pre in problem.locked_prefixes.items():
            p = vpos[vid]
            if p in build.model_vehicle_of:
                prefix_len[build.model_vehicle_of[p]] = len(pre)
        exact = [
            has_time and (v.rest_break is not None or v.max_duration is not None or ride is not None)
            or v.max_distance is not None
            for v in vehicles
        ]
        near = _nearest(build.dist, 100)
        classes: dict[tuple[object, ...], int] = {}
        vclass = [
            classes.setdefault((id(cost[v]), scale[v], tuple(sorted(v_.capacity.items())), v_.shift_start, v_.shift_end, v_.rest_break,
                                v_.max_duration, v_.max_distance, v_.fixed_cost), len(classes))
            for v, v_ in enumerate(vehicles)
        ]
        return Instance(
            n=n, travel=build.travel.tolist() if has_time else [[0] * n for _ in range(n)],
            service=build.service.tolist() if has_time else [0] * n,
            early=early if has_time else [0] * n, late=late if has_time else [INF] * n,
            periods=periods if has_time else [None] * n,
            deliver=deliver, pickup=pickup, comps_of=comps_of, specimen=specimen, allowed=allowed,
            penalty=penalty, nv=len(vehicles), cost=cost, scale=scale, dist=dist,
            fixed=[v.fixed_cost // scr.cost_divisor if build.settings.fixed_costs else 0 for v in vehicles],
            cap=[[v.cap(c) for c in comps] for v in vehicles],
            shift=[(v.shift_start, v.shift_end) if has_time else (0, INF) for v in vehicles],
            brk=[(b.window_start, b.window_end, b.duration) if (b := v.rest_break) and has_time else None
                 for v in vehicles],
            max_dur=[v.max_duration if has_time else None for v in vehicles],
            max_dist=[v.max_distance for v in vehicles],
            ride_limit=ride if has_time else None, prefix=prefix_len, exact=exact, near=near, vclass=vclass,
        )


def open_from(periods: tuple[tuple[int, int], ...] | None, t: int) -> int:
    """Earliest start >= t inside one of the periods (INF when all have closed)."""
    for lo, hi in periods or ((-INF, INF),):
        if t <= hi:
            return t if t >= lo else lo
    return INF


def open_until(periods: tuple[tuple[int, int], ...] | None, t: int) -> int:
    """Latest start <= t inside one of the periods (-INF when none has opened)."""
    for lo, hi in reversed(periods or ((-INF, INF),)):
        if t >= lo:
            return t if t <= hi else hi
    return -INF


def _nearest(dist: np.ndarray, k: int) -> list[list[int]]:
    """Per node, up to k other customers (never the depot) by increasing distance."""
    n = dist.shape[0]
    d = dist.astype(np.float64)
    d[:, 0] = np.inf
    np.fill_diagonal(d, np.inf)
    m = max(0, min(k, n - 2))
    if m == 0:
        return [[] for _ in range(n)]
    part = np.argpartition(d, m - 1, axis=1)[:, :m] if m < n - 1 else np.tile(np.arange(n), (n, 1))
    rows = np.take_along_axis(d, part, axis=1)
    order = np.take_along_axis(part, np.argsort(rows, axis=1, kind="stable"), axis=1)
    return [[int(j) for j in order[i] if j != 0 and j != i][:m] for i in range(n)]
