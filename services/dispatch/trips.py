"""A van's trips in a day: the trip vehicles a day plan solves with (a morning and an afternoon round
sharing one shift, ``<vehicle>~<k>``), and the costs and labels of the routes they come back as."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from services.dispatch.model import minutes

TRIP_SEPARATOR = "~"  # "<vehicle>~<k>": the vehicle's k-th trip of the day
MIN_TRIP_MIN = 60  # a trip shorter than this is not worth a reload


def _hhmm(total: int) -> str:
    return f"{total // 60:02d}:{total % 60:02d}"


def trip_vehicles(vehicle: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A vehicle's day as two trips that share its shift: out in the morning, back at the hub for the
    driver's break (and a reload), out again in the afternoon.

    Modelled as duplicate vehicles with times linked at the break: trip 1 works from the shift's
    start until the break must begin (break window end − break minutes), trip 2 from the break
    window's end to the shift's end; the break is taken at the hub between them, inside its window.
    Chosen over a chain of routes in the solver because every rule of the core (windows,
    compartments, specimen ride time, the independent checker) then holds per trip unchanged, and
    specimens collected in the morning reach the laboratory at noon. The turnaround is fixed at the
    break rather than chosen by the search (a known simplification). Each trip has its own max_km
    and at most max_route_min. A vehicle without a break, or whose break leaves a trip under
    MIN_TRIP_MIN minutes, keeps one trip (and its break).

    Fixed cost: in the search each trip carries half the vehicle's fixed cost, so a van used for both
    trips costs its fixed cost once but a van used for one trip only costs half of it. That is the
    model's approximation, kept on purpose: a fixed cost shared by two model vehicles ("pay once if
    either is used") cannot be expressed in the OR-Tools model, whose fixed cost is per vehicle;
    charging the whole cost on trip 1 (or on both) would instead forbid afternoon-only vans or price
    the second trip of a van already out as a new van. What the plan REPORTS is exact:
    ``charge_fixed_once`` charges each used van its whole fixed cost once (``vehicle_fixed_cost``
    on each trip says what that is).
    """
    rest = vehicle.get("break_")
    if not rest:
        return [dict(vehicle)]
    start, end = (minutes(t) for t in vehicle["shift"])
    back_by = minutes(rest["window"][1]) - int(rest["minutes"])
    out_again = minutes(rest["window"][1])
    if back_by - start < MIN_TRIP_MIN or end - out_again < MIN_TRIP_MIN:
        return [dict(vehicle)]
    trips = []
    for k, (a, b) in enumerate(((start, back_by), (out_again, end)), start=1):
        limit = vehicle.get("max_route_min")
        trips.append({**vehicle, "id": f"{vehicle['id']}{TRIP_SEPARATOR}{k}", "shift": [_hhmm(a), _hhmm(b)], "break_": None,
                      "fixed_cost": vehicle["fixed_cost"] / 2, "vehicle_fixed_cost": vehicle["fixed_cost"],
                      "max_route_min": min(limit, b - a) if limit else None})  # fmt: skip
    return trips


def base_vehicle(trip_id: str) -> tuple[str, int]:
    """The vehicle and trip number of a trip vehicle's id (trip 1 for a vehicle planned as one trip)."""
    base, sep, k = trip_id.rpartition(TRIP_SEPARATOR)
    return (base, int(k)) if sep and k.isdigit() else (trip_id, 1)


def _fen(yuan: Any) -> int:
    """Yuan as whole fen, rounded as the solve request rounds them (planning.MONEY_SCALE)."""
    return int(round(float(yuan or 0) * 100))


def charge_fixed_once(result: dict[str, Any], vehicles: Iterable[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """Report each used vehicle's fixed cost exactly once, whatever number of trips it makes.

    The solver's route cost is the trip's share of the fixed cost (half, ``trip_vehicles``) plus
    its distance cost. For each route of a trip in ``vehicles`` (the request's trips, with their
    ``fixed_cost`` share and ``vehicle_fixed_cost``) this records ``distance_cost`` and
    ``vehicle_fixed_cost``; then the vehicle's first trip on the plan is charged its whole fixed cost
    (``fixed_cost`` on the route), its later trips none, each route's ``cost`` is its distance cost
    plus that, and ``totals.cost`` the sum of the routes' costs (yuan). A route that already carries
    ``distance_cost`` (a route kept from an earlier plan) is charged the same way again. A kept trip
    from a plan made before costs were charged (no ``distance_cost``) whose other trip is still
    planned has the same share as that trip; any other route that carries nothing keeps its cost.
    """
    trips = {str(v["id"]): v for v in vehicles or ()}
    split = {base_vehicle(i)[0]: v for i, v in trips.items() if base_vehicle(i)[0] != i}  # a van's trips share alike
    routes = result["routes"]
    for route in routes:
        van = base_vehicle(route["vehicle"])[0]
        trip = trips.get(route["vehicle"]) or (split.get(van) if van != route["vehicle"] else None)
        if "distance_cost" in route or trip is None:
            continue
        route["distance_cost"] = (_fen(route.get("cost")) - _fen(trip.get("fixed_cost"))) / 100
        route["vehicle_fixed_cost"] = _fen(trip.get("vehicle_fixed_cost", trip.get("fixed_cost"))) / 100
    charged: set[str] = set()
    for route in sorted(routes, key=lambda r: base_vehicle(r["vehicle"])):  # each van's trips in order
        if "distance_cost" not in route:
            continue
        van = base_vehicle(route["vehicle"])[0]
        route["fixed_cost"] = 0.0 if van in charged else float(route["vehicle_fixed_cost"])
        charged.add(van)
        route["cost"] = (_fen(route["distance_cost"]) + _fen(route["fixed_cost"])) / 100
    result.setdefault("totals", {})["cost"] = sum(_fen(r.get("cost")) for r in routes) / 100
    return result


def annotate_trips(result: dict[str, Any], vehicles: Iterable[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """Mark each route and stop of a solved day with its vehicle and trip; totals count vehicles, not
    trips. With the request's ``vehicles`` (trips), costs charge each van's fixed cost once
    (``charge_fixed_once``)."""
    for route in result["routes"]:
        base, trip = base_vehicle(route["vehicle"])
        route["vehicle_id"], route["trip"] = base, trip
        for stop in route["stops"]:
            stop["trip"] = trip
    result["routes"].sort(key=lambda r: (r["vehicle_id"], r["trip"]))
    totals = result.get("totals") or {}
    totals["trips"] = len(result["routes"])
    totals["vehicles"] = len({r["vehicle_id"] for r in result["routes"]})
    if vehicles is not None or any("distance_cost" in r for r in result["routes"]):
        charge_fixed_once(result, vehicles)
    return result
