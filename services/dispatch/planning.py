"""Between the dispatch API's problem/plan JSON and the routing core's integer model.

The API speaks the dispatcher's units (HH:MM, litres, kilometres, yuan); the routing core works
in integers (seconds after midnight, millilitres, metres, fen) so OR-Tools' arithmetic is exact,
and its reasons speak the API's units back (``Problem.units``: litres, km, minutes, HH:MM).

Volumes are exact whole millilitres for every volume given to 0.001 L, never rounded up (issue 8:
three orders of 33.33 L rounded up to decilitres no longer fitted a 100 L van), so a load that fits
as the dispatcher wrote it fits the model. Finer volumes (the schemas do not refuse them yet) are
rounded up to the next millilitre.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from services.dispatch.dayplan import SITE_INACTIVE, plan_status
from services.dispatch.model import (  # volumes: whole millilitres, exact for 0.001 L steps
    VOLUME_SCALE,
    minutes,
)
from services.dispatch.routing.checker import check
from services.dispatch.routing.matrix import GreatCircleMatrix, MatrixProvider, Point
from services.dispatch.routing.problem import Break, Options, Problem, Stop, TimeWindow, Units, Vehicle
from services.dispatch.routing.solution import Solution
from services.dispatch.routing.solver import solve

UNITS = Units(volume="L", volume_scale=VOLUME_SCALE, distance="km", clock=True)  # how reasons speak
MONEY_SCALE = 100  # fen


class PlanCheckFailed(RuntimeError):
    """The independent checker found a violation in a plan the solver returned: never shown."""

    def __init__(self, violations: list[str]) -> None:
        super().__init__("; ".join(violations[:10]))
        self.violations = violations


def seconds(hhmm: str) -> int:
    """Seconds after midnight."""
    return minutes(hhmm) * 60


def hhmm(value: float) -> str:
    """HH:MM of seconds after midnight (rounded to the minute; past midnight wraps to +1d)."""
    total = int(round(value / 60))
    day, rest = divmod(total, 24 * 60)
    text = f"{rest // 60:02d}:{rest % 60:02d}"
    return text if day == 0 else f"{text}+{day}d"


def millilitres(volumes: Mapping[str, float]) -> dict[str, int]:
    """Litres as whole millilitres: exact for every volume given to 0.001 L (floating-point noise such
    as 33.33 x 1000 = 33330.000000000004 is not a fraction), a finer volume rounded up to the next
    millilitre (a compartment holds what it says; a stop never gets less room than it asked)."""
    out: dict[str, int] = {}
    for c, v in volumes.items():
        exact = v * VOLUME_SCALE
        whole = round(exact)
        amount = whole if abs(exact - whole) <= 1e-6 * max(1.0, abs(exact)) else math.ceil(exact)
        if amount > 0:
            out[c] = int(amount)
    return out


def _litres(volumes: Mapping[str, int]) -> dict[str, float]:
    return {c: v / VOLUME_SCALE for c, v in volumes.items()}


def to_problem(request: Mapping[str, Any], matrix: MatrixProvider | None = None) -> Problem:
    """Build the routing problem from a validated solve request (SolveIn's output)."""
    options = request["options"]
    depot = request["depot"]
    points = [Point(depot["lat"], depot["lon"])] + [Point(s["lat"], s["lon"]) for s in request["stops"]]
    provider = matrix or GreatCircleMatrix(circuity=options["circuity"], speed_kmh=options["speed_kmh"])
    travel = provider.matrices(points)
    distance_m, duration_s = travel.to_int()
    depot_open, depot_close = seconds(depot["open"]), seconds(depot["close"])
    stops = tuple(
        Stop(
            id=s["id"],
            deliver=millilitres(s["deliver"]),
            pickup=millilitres(s["pickup"]),
            window=TimeWindow(seconds(s["window"][0]), seconds(s["window"][1])) if s.get("window") and not s.get("windows") else None,
            windows=tuple(TimeWindow(seconds(a), seconds(b)) for a, b in s.get("windows") or ()),
            service=int(round(s["service_min"] * 60)),
            priority=s["priority"],
        )
        for s in request["stops"]
    )
    vehicles = tuple(_vehicle(v) for v in request["vehicles"])
    initial = request.get("initial_routes")
    locked_prefixes = {v: tuple((initial or {}).get(v, ())) for v in request.get("locked_routes", [])}
    return Problem(
        stops=stops,
        vehicles=vehicles,
        distance=distance_m,
        duration=duration_s,
        distance_real=travel.distance_m / 1000.0,
        distance_scale=1000.0,
        options=Options(
            time_limit_s=options["time_limit_s"],
            workers=options.get("workers", 1),  # the solver caps it: ROUTING_MAX_WORKERS (routing/solver.py)
            specimen_max_ride_s=options["specimen_max_ride_min"] * 60 if options.get("specimen_max_ride_min") else None,
            minimize_vehicles=options.get("minimize_vehicles", False),
        ),
        locks=dict(request.get("locks") or {}),
        locked_prefixes={v: p for v, p in locked_prefixes.items() if p},
        initial_routes={v: tuple(r) for v, r in initial.items()} if initial else None,
        coords=np.array([(p.lon, p.lat) for p in points]),
        depot_hours=TimeWindow(depot_open, depot_close),  # the core narrows shifts and owes breaks (prepare.py)
        name="county-day",
        units=UNITS,
    )


def _vehicle(v: Mapping[str, Any]) -> Vehicle:
    """The vehicle as declared: its shift is narrowed to the depot's hours by the routing core
    (routing/prepare.py), which also decides which break is owed (routing/README.md)."""
    rest = v.get("break_")
    return Vehicle(
        id=v["id"],
        capacity=millilitres(v["compartments"]),
        shift_start=seconds(v["shift"][0]),
        shift_end=seconds(v["shift"][1]),
        rest_break=Break(seconds(rest["window"][0]), seconds(rest["window"][1]), rest["minutes"] * 60) if rest else None,
        max_duration=v["max_route_min"] * 60 if v.get("max_route_min") else None,
        max_distance=int(v["max_km"] * 1000) if v.get("max_km") else None,
        fixed_cost=int(round(v["fixed_cost"] * MONEY_SCALE)),
        cost_per_km=int(round(v["cost_per_km"] * MONEY_SCALE)),
    )


def to_plan(request: Mapping[str, Any], problem: Problem, solution: Solution) -> dict[str, Any]:
    """The plan JSON for a checked solution. ``unassigned`` lists the stops left out and the day's
    shipments no stop carries (``unplanned``); ``status`` follows dayplan.plan_status ("solved" when
    nothing is left out, else "partial" when some stop is served and "infeasible" when none is)."""
    names = {s["id"]: s.get("name") for s in request["stops"]}
    routes: list[dict[str, Any]] = []
    for route in solution.routes:
        routes.append(
            {
                "vehicle": route.vehicle_id,
                "start": hhmm(route.start),
                "end": hhmm(route.end),
                "break": hhmm(route.break_start) if route.break_start is not None else None,
                "break_note": route.break_note,  # which break rule applied (routing README)
                "break_code": route.break_code,  # the same rule as a code (presentation.TERMS["break_note"])
                "load_out": _litres(route.load_out),
                "stops": [
                    {
                        "id": visit.stop_id,
                        "name": names.get(visit.stop_id),
                        "arrival": hhmm(visit.arrival),
                        "start": hhmm(visit.start),
                        "departure": hhmm(visit.departure),
                        "load_after": _litres(visit.load_after),
                    }
                    for visit in route.visits
                ],
                "distance_km": round(route.distance_real, 2),
                "duration_min": round(route.duration / 60, 1),
                "cost": round(route.cost / MONEY_SCALE, 2),
            }
        )
    served = sum(len(r["stops"]) for r in routes)
    unassigned = [{"id": u.stop_id, "reason": u.reason, "rule": u.rule} for u in solution.unassigned]
    unassigned += unplanned(request)
    return {
        "status": plan_status(served, len(unassigned)),  # computed again once kept routes join (merge_kept)
        "routes": routes,
        "unassigned": unassigned,
        "objective": solution.objective,
        "totals": {
            "vehicles": solution.vehicles_used,
            "distance_km": round(solution.distance_real, 2),
            "cost": round(solution.cost / MONEY_SCALE, 2),
            "stops_served": served,
        },
        "stats": {
            "solve_s": round(solution.stats.solve_seconds, 3),
            "first_solution_s": (
                round(solution.stats.first_solution_seconds, 3) if solution.stats.first_solution_seconds is not None else None
            ),
            "workers": solution.stats.workers,
            "regions": solution.stats.regions,
            "progress": [[round(t, 2), obj] for t, obj in solution.stats.progress],
        },
        "checked": True,
    }


def unplanned(request: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The day's shipments no stop carries (``request["unplanned_shipments"]``, dayplan.unplanned_shipments)
    as entries of the plan's ``unassigned``: its ``rule`` code (``site_inactive``, ``site_unknown`` ...)
    and reason, the ``shipment_id`` that identifies it and the ``site`` it belongs to. ``id`` repeats
    the shipment id for readers that list ids, and may equal a stop's id (shipment ids are the
    sender's): readers tell a shipment entry by its ``shipment_id`` (presentation.for_site, the
    board's left-out table and map). Requests
    queued before shipments had a rule say ``site_inactive`` (their reason: inactive or unknown)."""
    return [
        {
            "id": x["shipment_id"],
            "reason": x["reason"],
            "rule": x.get("rule") or SITE_INACTIVE,
            "shipment_id": x["shipment_id"],
            "site": x["site"],
        }
        for x in request.get("unplanned_shipments") or ()
    ]


def solve_request(
    request: Mapping[str, Any], progress: Callable[[float, int], None] | None = None, problem: Problem | None = None
) -> dict[str, Any]:
    """Solve a validated request and return the plan, after the independent checker passed it.

    ``problem`` is ``to_problem(request)`` when the caller built it already. Raises PlanCheckFailed."""
    problem = problem or to_problem(request)
    solution = solve(problem, progress)
    report = check(problem, solution)
    if not report.ok:
        raise PlanCheckFailed([str(v) for v in report.violations])
    return to_plan(request, problem, solution)
