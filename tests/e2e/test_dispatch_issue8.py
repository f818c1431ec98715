"""Issue 8's API-side examples (§2, §4 lunch/splits, §5, §6) and issue 9's site scope, over HTTP.

No input the solve schema accepts yields a 5xx (a hypothesis property over the schema's ranges).
"""

from __future__ import annotations

import json
from typing import Any

from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.dispatch import schemas
from shared.runtime import ServiceContext
from tests.e2e.dispatch_support import DISPATCHER, MONDAY, client, ctx, run_queued, small_problem
from tests.support.web import bearer, table_dump

__all__ = ["client", "ctx"]  # fixtures

HUB = {"id": "HUB", "lat": 34.95, "lon": 115.89, "open": "07:00", "close": "19:00"}
VAN = {"compartments": {"ambient": 3000, "cold": 400, "specimen": 50}, "shift": ["07:30", "17:30"]}


def _van(vid: str, **extra: Any) -> dict[str, Any]:
    return {"id": vid, **VAN, **extra}


def _stop(sid: str, lat: float, lon: float, **extra: Any) -> dict[str, Any]:
    return {"id": sid, "lat": lat, "lon": lon, "deliver": {"ambient": 10}, "service_min": 5, **extra}


def _errors(response: Any) -> list[str]:
    return [e["field"] for e in response.get_json().get("errors") or []]


# --- §2: one bad vehicle or number never takes the solve down ----------------------------------


def test_a_vehicle_whose_shift_lies_after_the_depot_closes_is_a_4xx_naming_it(client: FlaskClient) -> None:
    problem = {"depot": HUB, "vehicles": [_van("LATE", shift=["19:30", "22:00"]), _van("V2")],
               "stops": [_stop("A", 34.97, 115.9), _stop("B", 34.9, 115.85)], "options": {"time_limit_s": 0.5}}  # fmt: skip
    response = client.post("/api/v1/solve", json=problem, headers=DISPATCHER)
    assert response.status_code == 422, response.get_json()
    assert _errors(response) == ["vehicles[0].shift"]
    problem["vehicles"] = problem["vehicles"][1:]  # the normal vehicle alone plans the day
    assert client.post("/api/v1/solve", json=problem, headers=DISPATCHER).get_json()["status"] == "solved"


def test_huge_costs_within_the_documented_ranges_still_plan(client: FlaskClient) -> None:
    problem = {"depot": HUB, "vehicles": [_van("V1", fixed_cost=1e13, cost_per_km=1e9), _van("V2")],
               "stops": [_stop("A", 34.97, 115.9), _stop("B", 34.9, 115.85)], "options": {"time_limit_s": 0.5}}  # fmt: skip
    response = client.post("/api/v1/solve", json=problem, headers=DISPATCHER)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["totals"]["stops_served"] == 2
    problem["vehicles"][0]["fixed_cost"] = schemas.FIXED_COST_MAX * 10
    over = client.post("/api/v1/solve", json=problem, headers=DISPATCHER)
    assert over.status_code == 422 and _errors(over) == ["vehicles[0].fixed_cost"]


def test_a_locked_route_in_an_impossible_order_is_a_4xx_naming_the_lock(client: FlaskClient) -> None:
    problem = {
        "depot": HUB, "vehicles": [_van("V1"), _van("V2")],
        "stops": [_stop("A", 34.97, 115.9, window=["07:30", "09:00"]), _stop("B", 34.9, 115.85, window=["15:00", "17:00"]),
                  _stop("C", 34.99, 115.8), _stop("D", 35.0, 115.95)],
        "initial_routes": {"V1": ["B", "A"]}, "locked_routes": ["V1"], "options": {"time_limit_s": 0.5},
    }  # fmt: skip
    response = client.post("/api/v1/solve", json=problem, headers=DISPATCHER)
    assert response.status_code == 422, response.get_json()
    assert _errors(response) == ["locked_routes[0]"]
    assert "A closes at 09:00" in response.get_json()["errors"][0]["message"]
    problem["initial_routes"] = {"V1": ["A", "B"]}  # the same lock in a possible order plans everything
    plan = client.post("/api/v1/solve", json=problem, headers=DISPATCHER).get_json()
    assert plan["status"] == "solved"
    v1 = next(r for r in plan["routes"] if r["vehicle"] == "V1")
    assert [s["id"] for s in v1["stops"]][:2] == ["A", "B"]


def test_a_load_larger_than_any_compartment_names_the_stop_and_compartment(client: FlaskClient) -> None:
    problem = small_problem()
    problem["stops"][0]["deliver"]["cold"] = 500
    response = client.post("/api/v1/solve", json=problem, headers=DISPATCHER)
    assert response.status_code == 422
    error = response.get_json()["errors"][0]
    assert error["field"] == "stops[0].deliver.cold" and "T01" in error["message"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fixed=st.floats(0, schemas.FIXED_COST_MAX), per_km=st.floats(0, schemas.COST_PER_KM_MAX),
    litres=st.floats(0, 400), service=st.floats(0, schemas.SERVICE_MAX_MIN), priority=st.integers(0, 3),
    dlat=st.floats(-8.9, 8.9), dlon=st.floats(-8.9, 8.9), circuity=st.floats(1, schemas.CIRCUITY_MAX),
    speed=st.floats(5, 130), max_km=st.one_of(st.none(), st.floats(1, 2000)),
)  # fmt: skip
def test_no_input_the_schema_accepts_yields_a_5xx(
    client: FlaskClient, fixed: float, per_km: float, litres: float, service: float, priority: int,
    dlat: float, dlon: float, circuity: float, speed: float, max_km: float | None,
) -> None:  # fmt: skip
    problem = {
        "depot": HUB, "vehicles": [_van("V1", fixed_cost=fixed, cost_per_km=per_km, max_km=max_km), _van("V2")],
        "stops": [_stop("A", HUB["lat"] + dlat, HUB["lon"] + dlon, deliver={"cold": litres}, service_min=service,
                        priority=priority), _stop("B", 34.9, 115.85)],
        "options": {"time_limit_s": 0.2, "circuity": circuity, "speed_kmh": speed},
    }  # fmt: skip
    response = client.post("/api/v1/solve", json=problem, headers=DISPATCHER)
    assert response.status_code < 500, response.get_json()


# --- §4: lunch closures; the maximum route distance binds -------------------------------------


def test_a_stop_is_never_served_inside_its_lunch_closure(client: FlaskClient) -> None:
    # Too far to reach before the morning period ends: it must wait for the afternoon one, not 12:30.
    problem = {"depot": {**HUB, "open": "07:00"}, "vehicles": [_van("V1", shift=["07:30", "18:00"])],
               "stops": [_stop("CLINIC", 35.6, 116.4, windows=[["08:00", "08:30"], ["14:00", "17:00"]])],
               "options": {"time_limit_s": 0.5}}  # fmt: skip
    plan = client.post("/api/v1/solve", json=problem, headers=DISPATCHER).get_json()
    assert plan["status"] == "solved", plan
    stop = plan["routes"][0]["stops"][0]
    assert "14:00" <= stop["start"] <= "17:00"


def test_the_maximum_route_distance_binds(client: FlaskClient) -> None:
    stops = [_stop("N", 35.15, 115.89), _stop("S", 34.75, 115.89)]  # ~22 km north and south of the hub
    free = {"depot": HUB, "vehicles": [_van("V1", fixed_cost=1000), _van("V2", fixed_cost=1000)], "stops": stops,
            "options": {"time_limit_s": 0.5}}  # fmt: skip
    plan = client.post("/api/v1/solve", json=free, headers=DISPATCHER).get_json()
    assert plan["totals"]["vehicles"] == 1  # one van does both when nothing stops it (fixed costs dominate)
    longest = plan["routes"][0]["distance_km"]
    limited = json.loads(json.dumps(free))
    for v in limited["vehicles"]:
        v["max_km"] = round(longest * 0.8, 1)
    plan = client.post("/api/v1/solve", json=limited, headers=DISPATCHER).get_json()
    assert plan["status"] == "solved" and plan["totals"]["vehicles"] == 2
    assert all(r["distance_km"] <= longest * 0.8 for r in plan["routes"])


# --- §6: shipments are resources; per-stop locks on a re-plan through the API -------------------


def test_shipments_have_a_resource_get_and_cancel_while_pending(client: FlaskClient, ctx: ServiceContext) -> None:
    created = client.post("/api/v1/shipments", json={"site_code": "CW-T02", "deliver": {"cold": 2}, "priority": 3},
                          headers=DISPATCHER)  # fmt: skip
    location = created.headers["Location"]
    got = client.get(location, headers=DISPATCHER)
    assert got.status_code == 200 and got.get_json()["id"] == created.get_json()["id"]
    assert client.get("/api/v1/shipments/M-none", headers=DISPATCHER).status_code == 404
    assert client.get(location, headers=bearer("storekeeper", site="CW-T03")).status_code == 403
    assert client.post(f"{location}/cancel", headers=bearer("storekeeper", site="CW-T02")).status_code == 403
    cancelled = client.post(f"{location}/cancel", headers=DISPATCHER)
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    before = table_dump(ctx)
    again = client.post(f"{location}/cancel", headers=DISPATCHER)
    assert again.status_code == 409 and table_dump(ctx) == before


def test_per_stop_locks_on_a_replan_through_the_api(client: FlaskClient, ctx: ServiceContext) -> None:
    plan_id = client.post("/api/v1/plans", json={"date": MONDAY.isoformat(), "time_limit_s": 2, "workers": 1},
                          headers=DISPATCHER).get_json()["id"]  # fmt: skip
    run_queued(ctx)
    first = client.get(f"/api/v1/plans/{plan_id}", headers=DISPATCHER).get_json()["result"]
    stop = first["routes"][0]["stops"][-1]["id"]
    target = next(r["vehicle"] for r in first["routes"][1:]) if len(first["routes"]) > 1 else "PT-3"
    bad = client.post(f"/api/v1/plans/{plan_id}/replan", json={"locks": {stop: "NOPE"}}, headers=DISPATCHER)
    assert bad.status_code == 422 and _errors(bad) == [f"locks.{stop}"]
    again = client.post(f"/api/v1/plans/{plan_id}/replan", json={"locks": {stop: target}, "time_limit_s": 2},
                        headers=DISPATCHER)  # fmt: skip
    assert again.status_code == 202, again.get_json()
    run_queued(ctx)
    new = client.get(f"/api/v1/plans/{again.get_json()['id']}", headers=DISPATCHER).get_json()
    assert {s["id"]: r["vehicle"] for r in new["result"]["routes"] for s in r["stops"]}[stop] == target
    diff = client.get(f"/api/v1/plans/{new['id']}/compare", headers=DISPATCHER).get_json()
    assert diff["before_plan_id"] == plan_id and stop in {m["stop_id"] for m in diff["moved"]}


def test_progress_polls_are_small_and_the_objective_never_rises(client: FlaskClient, ctx: ServiceContext) -> None:
    plan_id = client.post("/api/v1/plans", json={"date": MONDAY.isoformat(), "time_limit_s": 2, "workers": 1},
                          headers=DISPATCHER).get_json()["id"]  # fmt: skip
    queued = client.get(f"/api/v1/plans/{plan_id}/progress", headers=DISPATCHER)
    assert queued.get_json()["status"] == "queued" and queued.get_json()["has_routes"] is False
    run_queued(ctx)
    full = client.get(f"/api/v1/plans/{plan_id}", headers=DISPATCHER)
    poll = client.get(f"/api/v1/plans/{plan_id}/progress", headers=DISPATCHER)
    assert poll.get_json()["status"] == "solved" and poll.get_json()["totals"]["stops_served"] > 0
    assert len(poll.data) < 4096 < len(full.data)
    objectives = [o for _, o in poll.get_json()["progress"]]
    assert objectives and objectives == sorted(objectives, reverse=True)


# --- issue 9: a storekeeper sees their own site's shipments and stops only ---------------------


def test_a_storekeeper_sees_only_their_own_sites_shipments_and_stops(client: FlaskClient) -> None:
    for site in ("CW-T02", "CW-T03"):
        client.post("/api/v1/shipments", json={"site_code": site, "deliver": {"ambient": 4}}, headers=DISPATCHER)
    for roles in ("storekeeper",):
        keeper = bearer(roles, site="CW-T02")
        seen = client.get("/api/v1/shipments?status=all", headers=keeper).get_json()
        assert {s["site_code"] for s in seen} == {"CW-T02"}
        stops = client.get(f"/api/v1/days/{MONDAY.isoformat()}/stops", headers=keeper).get_json()
        assert {s["id"] for s in stops["stops"]} == {"CW-T02"} and stops["vehicles"] == []
        assert client.get("/api/v1/shipments?status=all&site=CW-T03", headers=keeper).status_code == 403
    everyone = client.get("/api/v1/shipments?status=all", headers=DISPATCHER).get_json()
    assert {s["site_code"] for s in everyone} == {"CW-T02", "CW-T03"}


def test_a_storekeeper_reads_plans_only_for_their_own_site(client: FlaskClient, ctx: ServiceContext) -> None:
    plan_id = client.post("/api/v1/plans", json={"date": MONDAY.isoformat(), "time_limit_s": 1, "workers": 1},
                          headers=DISPATCHER).get_json()["id"]  # fmt: skip
    run_queued(ctx)
    keeper = bearer("storekeeper", site="CW-T02")
    assert client.get("/api/v1/plans", headers=keeper).status_code == 403  # summaries span every site
    mine = client.get(f"/api/v1/plans/{plan_id}", headers=keeper).get_json()
    assert set(mine["stop_refs"]) == {"CW-T02"} and mine["request"] == {}
    assert {s["id"] for r in mine["result"]["routes"] for s in r["stops"]} <= {"CW-T02"}
    geo = client.get(f"/api/v1/plans/{plan_id}/geojson", headers=keeper).get_json()
    assert {f["properties"]["site"] for f in geo["features"] if f["geometry"]["type"] == "Point"} <= {"CW-T02"}
    for path in ("manifests/LC-1", "compare", "publish-preview", "completions", "progress"):
        assert client.get(f"/api/v1/plans/{plan_id}/{path}", headers=keeper).status_code == 403


_HHMM = st.integers(0, 23 * 60 + 59).map(lambda m: f"{m // 60:02d}:{m % 60:02d}")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shift=st.tuples(_HHMM, _HHMM).filter(lambda s: s[0] < s[1]), rest=st.one_of(st.none(), st.tuples(_HHMM, _HHMM, st.integers(1, 240))),
    route_min=st.one_of(st.none(), st.integers(30, 1440)), max_km=st.one_of(st.none(), st.floats(1, 2000)),
    fixed=st.floats(0, schemas.FIXED_COST_MAX), per_km=st.floats(0, schemas.COST_PER_KM_MAX),
    cold=st.floats(0, 2000),
)  # fmt: skip
def test_any_vehicle_the_fleet_schema_accepts_still_gives_a_day_plan(
    client: FlaskClient, ctx: ServiceContext, shift: tuple[str, str], rest: tuple[str, str, int] | None,
    route_min: int | None, max_km: float | None, fixed: float, per_km: float, cold: float,
) -> None:  # fmt: skip
    body: dict[str, Any] = {"id": "ODD", "name": "试验车", "compartments_l": {"ambient": 1000, "cold": cold, "specimen": 20},
                            "shift_start": shift[0], "shift_end": shift[1], "max_route_min": route_min, "max_km": max_km,
                            "fixed_cost": fixed, "cost_per_km": per_km,
                            "break_start": rest[0] if rest else None, "break_end": rest[1] if rest else None,
                            "break_min": rest[2] if rest else None}  # fmt: skip
    put = client.put("/api/v1/vehicles", json=body, headers=DISPATCHER)
    if put.status_code == 422:
        return  # refused naming the field: nothing stored
    assert put.status_code == 200, put.get_json()
    queued = client.post("/api/v1/plans", json={"date": MONDAY.isoformat(), "time_limit_s": 0.5, "workers": 1},
                         headers=DISPATCHER)  # fmt: skip
    assert queued.status_code == 202, queued.get_json()
    run_queued(ctx)
    plan = client.get(f"/api/v1/plans/{queued.get_json()['id']}/progress", headers=DISPATCHER).get_json()
    assert plan["status"] == "solved", plan["error"]


def test_a_locked_route_over_the_vehicles_maximum_distance_is_a_4xx_naming_the_lock(client: FlaskClient) -> None:
    problem = {
        "depot": HUB, "vehicles": [_van("V1", max_km=70), _van("V2")],
        "stops": [_stop("N", 35.15, 115.89), _stop("S", 34.75, 115.89), _stop("C", 34.96, 115.9)],
        "initial_routes": {"V1": ["N", "S"]}, "locked_routes": ["V1"], "options": {"time_limit_s": 0.5},
    }  # fmt: skip
    response = client.post("/api/v1/solve", json=problem, headers=DISPATCHER)
    assert response.status_code == 422 and _errors(response) == ["locked_routes[0]"]
    assert "maximum of 70 km" in response.get_json()["errors"][0]["message"]
    problem["locks"], problem["locked_routes"], problem["initial_routes"] = {"N": "V1"}, [], None
    plan = client.post("/api/v1/solve", json=problem, headers=DISPATCHER).get_json()  # one stop alone fits
    assert {s["id"]: r["vehicle"] for r in plan["routes"] for s in r["stops"]}["N"] == "V1"
