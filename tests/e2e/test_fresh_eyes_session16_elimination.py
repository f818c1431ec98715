"""Fresh eyes (session 16): route elimination (options.minimize_vehicles) on /api/v1/solve with locks,
locked routes, cold chain, mixed vehicles, lunch-closed windows: every plan is checked, never a 5xx."""

from __future__ import annotations

import random
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.e2e.dispatch_support import DISPATCHER, client, ctx

__all__ = ["client", "ctx"]  # fixtures


def busy_problem(seed: int, n: int = 36) -> dict[str, Any]:
    """Many vans (cold and ambient-only, different costs and shifts, breaks), stops with one or two
    windows (lunch-closed), some cold, some with specimens to pick up."""
    rng = random.Random(seed)
    vehicles = []
    for k in range(8):
        cold = k % 3 == 0
        comp = {"ambient": rng.choice([300, 500, 800]), "clean": 500, "soiled": 500, "specimen": 20}
        if cold:
            comp["cold"] = rng.choice([60, 200])
        v: dict[str, Any] = {
            "id": f"V{k}",
            "compartments": comp,
            "shift": [rng.choice(["07:30", "08:00"]), rng.choice(["16:00", "17:30"])],
            "fixed_cost": rng.choice([100, 200, 400]),
            "cost_per_km": rng.choice([1.5, 2.5, 3.5]),
        }
        if k % 2:
            v["break"] = {"window": ["11:30", "13:30"], "minutes": 45}
        if k % 4 == 1:
            v["max_route_min"] = 420
        vehicles.append(v)
    stops = []
    for i in range(n):
        s: dict[str, Any] = {
            "id": f"S{i:02d}",
            "lat": 34.95 + rng.uniform(-0.15, 0.15),
            "lon": 115.89 + rng.uniform(-0.15, 0.15),
            "service_min": rng.choice([5, 10, 15]),
            "deliver": {"ambient": rng.choice([40, 80, 120])},
        }
        shape = rng.random()
        if shape < 0.4:
            s["windows"] = [["08:00", "11:30"], ["14:00", "17:00"]]  # closed at lunch
        elif shape < 0.6:
            s["window"] = ["08:00", "12:00"]
        elif shape < 0.7:
            s["window"] = ["13:30", "16:30"]
        else:
            s["window"] = ["08:00", "17:00"]
        if rng.random() < 0.25:
            s["deliver"]["cold"] = rng.choice([5, 15])
        if rng.random() < 0.3:
            s["pickup"] = {"specimen": 1, "soiled": 10}
        stops.append(s)
    return {
        "depot": {"id": "HUB", "lat": 34.95, "lon": 115.89, "open": "07:00", "close": "19:00"},
        "vehicles": vehicles,
        "stops": stops,
        "options": {
            "time_limit_s": 1,
            "speed_kmh": 40,
            "circuity": 1.3,
            "specimen_max_ride_min": 240,
            "minimize_vehicles": True,
        },
    }


def solved(client: FlaskClient, problem: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/solve", json=problem, headers=DISPATCHER)
    assert response.status_code == 200, response.get_json()
    plan = response.get_json()
    assert plan["checked"] is True and plan["status"] in ("solved", "partial"), plan
    return dict(plan)


def routes_of(plan: dict[str, Any]) -> dict[str, list[str]]:
    return {r["vehicle"]: [s["id"] for s in r["stops"]] for r in plan["routes"]}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_elimination_with_locks_keeps_them_and_is_checked(client: FlaskClient, seed: int) -> None:
    problem = busy_problem(seed)
    free = solved(client, {**problem, "options": {**problem["options"], "minimize_vehicles": False}})
    first = routes_of(free)
    # lock one stop of each route to its vehicle
    problem["locks"] = {stops[0]: v for v, stops in first.items() if stops}
    plan = solved(client, problem)
    where = {s: v for v, ss in routes_of(plan).items() for s in ss}
    for stop, vehicle in problem["locks"].items():
        assert where.get(stop) == vehicle, (stop, vehicle, where.get(stop))


@pytest.mark.parametrize("seed", [4, 5])
def test_elimination_with_locked_routes_keeps_their_order(client: FlaskClient, seed: int) -> None:
    problem = busy_problem(seed)
    first = routes_of(
        solved(client, {**problem, "options": {**problem["options"], "minimize_vehicles": False}})
    )
    kept = sorted(first)[:2]
    problem["initial_routes"] = {v: first[v] for v in first}
    problem["locked_routes"] = kept
    plan = solved(client, problem)
    now = routes_of(plan)
    for v in kept:
        assert now[v][: len(first[v])] == first[v], (v, first[v], now.get(v))


def test_elimination_when_only_one_van_is_cold(client: FlaskClient) -> None:
    problem = busy_problem(7, n=24)
    for v in problem["vehicles"]:
        v["compartments"].pop("cold", None)
    problem["vehicles"][0]["compartments"]["cold"] = 200
    plan = solved(client, problem)
    cold_stops = {s["id"] for s in problem["stops"] if s["deliver"].get("cold")}
    where = {s: v for v, ss in routes_of(plan).items() for s in ss}
    assert all(where.get(s) in (None, "V0") for s in cold_stops)
    assert {u["id"] for u in plan["unassigned"]} <= cold_stops


def test_elimination_with_an_initial_plan_that_uses_every_van(client: FlaskClient) -> None:
    """A warm start that spreads the stops one or two per van: elimination should empty vans, checked."""
    problem = busy_problem(8, n=16)
    vans = [v["id"] for v in problem["vehicles"]]
    problem["initial_routes"] = {vans[i % len(vans)]: [] for i in range(len(vans))}
    for i, s in enumerate(problem["stops"]):
        if not s["deliver"].get("cold"):
            problem["initial_routes"][vans[1 + i % (len(vans) - 1)]].append(s["id"])
    problem["initial_routes"] = {v: r for v, r in problem["initial_routes"].items() if r}
    plan = solved(client, problem)
    assert len(plan["routes"]) <= len(problem["initial_routes"]) + 1
