"""Readers for benchmark instances (Solomon VRPTW text, CVRPLIB/TSPLIB .vrp) into a Problem.

Distances are scaled to integers so OR-Tools' integer arithmetic stays exact enough:

* ``exact`` (Solomon, hierarchical literature): x1000, distance rounded, travel time rounded UP so a
  plan feasible in integers is feasible in real arithmetic too.
* ``dimacs`` (Solomon, distance-only BKS of DIMACS/PyVRP/HGS): x10 truncated, for distance and time.
* ``rounded`` (CVRPLIB): nearest integer per arc, as TSPLIB's EUC_2D.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

from .problem import LOAD, Options, Problem, Stop, TimeWindow, Vehicle

Convention = Literal["exact", "dimacs", "rounded"]
Objective = Literal["distance", "hierarchical"]
UNLIMITED = 2**40  # shift end meaning "no time limit at all"

_SCALE: dict[str, int] = {"exact": 1000, "dimacs": 10, "rounded": 1}


@dataclass(frozen=True)
class _Row:
    cust: int
    x: float
    y: float
    demand: int
    ready: int
    due: int
    service: int


def euclidean(coords: np.ndarray) -> np.ndarray:
    """All-pairs Euclidean distances of an (n, 2) array."""
    diff = coords[:, None, :] - coords[None, :, :]
    return np.sqrt((diff**2).sum(axis=2))


def scaled_matrices(real: np.ndarray, convention: Convention) -> tuple[np.ndarray, np.ndarray, int]:
    """(distance, travel time, scale) integer matrices for a real distance matrix."""
    scale = _SCALE[convention]
    if convention == "exact":
        dist = np.rint(real * scale)
        # a hair of tolerance so exact integers are not bumped up by float noise
        time = np.ceil(real * scale - 1e-7)
    elif convention == "dimacs":
        dist = np.floor(real * scale + 1e-9)
        time = dist
    else:
        dist = np.floor(real + 0.5)
        time = dist
    return dist.astype(np.int64), time.astype(np.int64), scale


def hierarchical_fixed_cost(dist: np.ndarray) -> int:
    """A vehicle cost larger than any plan's total distance, so fewer vehicles always win."""
    return int(2 * dist[0, 1:].sum() + 1)


def read_solomon(
    path: str | Path,
    convention: Convention = "exact",
    objective: Objective = "distance",
    options: Options | None = None,
) -> Problem:
    """Read a Solomon VRPTW instance (vehicles must start service within [ready, due])."""
    text = Path(path).read_text()
    lines = [ln.strip() for ln in text.splitlines()]
    name = next(ln for ln in lines if ln)
    num_vehicles = capacity = None
    rows: list[_Row] = []
    section = ""
    for ln in lines:
        upper = ln.upper()
        if upper.startswith("VEHICLE"):
            section = "vehicle"
            continue
        if upper.startswith("CUSTOMER"):
            section = "customer"
            continue
        parts = ln.split()
        if not parts or not all(_is_number(p) for p in parts):
            continue
        if section == "vehicle" and num_vehicles is None and len(parts) >= 2:
            num_vehicles, capacity = int(parts[0]), int(parts[1])
        elif section == "customer" and len(parts) >= 7:
            c, x, y, q, r, d, s = parts[:7]
            rows.append(_Row(int(c), float(x), float(y), int(float(q)), int(float(r)), int(float(d)), int(float(s))))
    if num_vehicles is None or capacity is None or not rows or rows[0].cust != 0:
        raise ValueError(f"{path}: not a Solomon instance")
    coords = np.array([[r.x, r.y] for r in rows], dtype=np.float64)
    real = euclidean(coords)
    dist, time, scale = scaled_matrices(real, convention)
    horizon = rows[0].due * scale
    stops = tuple(
        Stop(
            id=str(r.cust),
            deliver={LOAD: r.demand},
            window=TimeWindow(r.ready * scale, r.due * scale),
            service=r.service * scale,
        )
        for r in rows[1:]
    )
    fixed = hierarchical_fixed_cost(dist) if objective == "hierarchical" else 0
    vehicles = tuple(
        Vehicle(id=f"v{k + 1}", capacity={LOAD: capacity}, shift_start=rows[0].ready * scale,
                shift_end=horizon, fixed_cost=fixed, cost_per_km=1000)
        for k in range(num_vehicles)
    )
    opts = options or Options()
    if objective == "hierarchical":
        opts = replace(opts, minimize_vehicles=True)
    return Problem(
        stops=stops, vehicles=vehicles, distance=dist, duration=time, distance_real=real,
        distance_scale=float(scale), time_scale=float(scale), options=opts, coords=coords, name=name,
    )


def read_vrplib(path: str | Path, options: Options | None = None, extra_vehicles: int | None = None) -> Problem:
    """Read a CVRPLIB/TSPLIB .vrp file (EUC_2D, distances rounded to the nearest integer per arc)."""
    text = Path(path).read_text()
    header: dict[str, str] = {}
    coords_by_id: dict[int, tuple[float, float]] = {}
    demand_by_id: dict[int, int] = {}
    depots: list[int] = []
    section = ""
    for raw in text.splitlines():
        ln = raw.strip()
        if not ln:
            continue
        key = ln.split()[0].rstrip(":").upper()
        if key.endswith("_SECTION"):
            section = key
            continue
        if key == "EOF":
            break
        if ":" in ln and not _is_number(ln.split()[0]):
            k, v = ln.split(":", 1)
            header[k.strip().upper()] = v.strip().strip('"')
            section = ""
            continue
        parts = ln.split()
        if section == "NODE_COORD_SECTION":
            coords_by_id[int(parts[0])] = (float(parts[1]), float(parts[2]))
        elif section == "DEMAND_SECTION":
            demand_by_id[int(parts[0])] = int(parts[1])
        elif section == "DEPOT_SECTION" and int(parts[0]) >= 0:
            depots.append(int(parts[0]))
    if header.get("EDGE_WEIGHT_TYPE", "EUC_2D") != "EUC_2D":
        raise ValueError(f"{path}: only EUC_2D is supported")
    capacity = int(header["CAPACITY"])
    depot = depots[0] if depots else min(coords_by_id)
    ids = [depot] + sorted(i for i in coords_by_id if i != depot)
    coords = np.array([coords_by_id[i] for i in ids], dtype=np.float64)
    real = euclidean(coords)
    dist, time, scale = scaled_matrices(real, "rounded")
    stops = tuple(Stop(id=str(i), deliver={LOAD: demand_by_id.get(i, 0)}) for i in ids[1:])
    total = sum(demand_by_id.get(i, 0) for i in ids[1:])
    k_min = math.ceil(total / capacity)
    match = re.search(r"-k(\d+)", header.get("NAME", Path(path).stem))
    if match:
        k_min = max(k_min, int(match.group(1)))
    # distance-optimal CVRP plans rarely use many more vehicles than the minimum
    num_vehicles = k_min + (extra_vehicles if extra_vehicles is not None else max(3, math.ceil(0.15 * k_min)))
    vehicles = tuple(
        Vehicle(id=f"v{k + 1}", capacity={"load": capacity}, shift_end=UNLIMITED, cost_per_km=1000)
        for k in range(num_vehicles)
    )
    return Problem(
        stops=stops, vehicles=vehicles, distance=dist, duration=time, distance_real=real,
        distance_scale=float(scale), time_scale=float(scale), options=options or Options(),
        coords=coords, name=header.get("NAME", Path(path).stem),
    )


def read_instance(path: str | Path, convention: Convention | None = None,
                  objective: Objective = "distance", options: Options | None = None) -> Problem:
    """Read a Solomon .txt or CVRPLIB .vrp instance by its extension."""
    p = Path(path)
    if p.suffix.lower() == ".vrp":
        return read_vrplib(p, options=options)
    return read_solomon(p, convention=convention or "exact", objective=objective, options=options)


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True

