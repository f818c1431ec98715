"""Issue 8 §3 (session 17, fresh eyes): a dropped stop's reason is its true cause, in the user's units.

Through POST /api/v1/solve (the Flask test client): a stop that fits a van alone but not beside the
others is "out of time" only when it still fits the final plan; otherwise the reason names the rule
the shortage comes from (the break, the distance limit, the specimen ride limit). Loads are exact
(millilitres), and reasons speak litres, km, minutes and HH:MM.
"""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.e2e.dispatch_support import DISPATCHER, client, ctx

__all__ = ["client", "ctx"]  # fixtures

DEPOT = {"id": "HUB", "lat": 34.95, "lon": 115.9}
TIME_OUT = "longer time limit may serve it"


def _van(vid: str = "V1", **extra: Any) -> dict[str, Any]:
    return {"id": vid, "compartments": {"ambient": 500, "cold": 100}, "shift": ["07:30", "17:30"], **extra}


def _stop(sid: str, dlat: float = 0.02, dlon: float = 0.02, **extra: Any) -> dict[str, Any]:
    return {"id": sid, "lat": 34.95 + dlat, "lon": 115.9 + dlon, "deliver": {"ambient": 10}, **extra}


def _solve(client: FlaskClient, problem: dict[str, Any], limit: float = 1) -> dict[str, Any]:
    problem.setdefault("options", {}).update(time_limit_s=limit, workers=1)
    response = client.post("/api/v1/solve", json=problem, headers=DISPATCHER)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


# --- fault 7: fits alone, not together: the binding rule, never "a longer time limit" ---------------


def test_a_break_that_leaves_no_room_for_both_stops_is_a_shortage_naming_the_break(client: FlaskClient) -> None:
    # 120 min working time, a 45 min break, 2 x 30 min service and ~24 min driving: one van cannot do both
    brk: dict[str, Any] = {"break": {"window": ["11:30", "13:30"], "minutes": 45}}
    plan = _solve(client, {"depot": DEPOT, "vehicles": [_van(shift=["12:00", "14:00"], **brk)],
                           "stops": [_stop("A", service_min=30), _stop("B", dlat=-0.03, service_min=30)]})
    [left] = plan["unassigned"]
    assert left["rule"] == "not_enough_vehicles", left
    assert TIME_OUT not in left["reason"] and "break" in left["reason"], left


def test_a_distance_limit_that_leaves_no_room_for_both_stops_names_the_distance(client: FlaskClient) -> None:
    # each stop alone ~14.5 km there and back, both ~29 km > max_km 20
    plan = _solve(client, {"depot": DEPOT, "vehicles": [_van(max_km=20)],
                           "stops": [_stop("A", dlat=0.05), _stop("B", dlat=-0.05)]})
    [left] = plan["unassigned"]
    assert left["rule"] == "not_enough_vehicles", left
    assert TIME_OUT not in left["reason"] and "distance" in left["reason"] and " km" in left["reason"], left


def test_a_specimen_ride_limit_that_keeps_two_stops_apart_names_the_ride_limit(client: FlaskClient) -> None:
    # A's specimens (11:00-11:30) would ride > 60 min if the one van also served B (13:30-14:00)
    van = _van(compartments={"ambient": 100, "specimen": 50})
    plan = _solve(client, {"depot": DEPOT, "vehicles": [van], "options": {"specimen_max_ride_min": 60},
                           "stops": [_stop("A", deliver={}, pickup={"specimen": 2}, window=["11:00", "11:30"], dlat=0.1),
                                     _stop("B", window=["13:30", "14:00"], dlat=0.1, dlon=0.05)]})  # fmt: skip
    [left] = plan["unassigned"]
    assert left["rule"] == "not_enough_vehicles", left
    assert TIME_OUT not in left["reason"] and "ride" in left["reason"] and " min" in left["reason"], left


def test_a_duration_limit_that_keeps_two_stops_apart_names_the_duration(client: FlaskClient) -> None:
    # each stop alone fits a 60 min route; both do not
    plan = _solve(client, {"depot": DEPOT, "vehicles": [_van(max_route_min=60)],
                           "stops": [_stop("A", service_min=20), _stop("B", dlat=-0.03, service_min=20)]})
    [left] = plan["unassigned"]
    assert left["rule"] == "not_enough_vehicles", left
    assert TIME_OUT not in left["reason"] and "duration" in left["reason"], left


def test_windows_that_keep_two_far_stops_apart_are_a_shortage_not_a_short_search(client: FlaskClient) -> None:
    # both due 09:00-09:10, ~40 km apart: a van serves one of them
    plan = _solve(client, {"depot": DEPOT, "vehicles": [_van()],
                           "stops": [_stop("A", dlat=0.18, window=["09:00", "09:10"]),
                                     _stop("B", dlat=-0.18, window=["09:00", "09:10"])]})  # fmt: skip
    [left] = plan["unassigned"]
    assert left["rule"] == "not_enough_vehicles" and TIME_OUT not in left["reason"], left


# --- fault 8: exact volumes, reasons in litres --------------------------------------------------------


def test_three_orders_of_33_33_litres_fit_a_100_litre_van(client: FlaskClient) -> None:
    plan = _solve(client, {"depot": DEPOT, "vehicles": [_van(compartments={"ambient": 100})],
                           "stops": [_stop("A", deliver={"ambient": 33.33}), _stop("B", dlat=0.01, deliver={"ambient": 33.33}),
                                     _stop("C", dlat=-0.01, deliver={"ambient": 33.33})]})  # fmt: skip
    assert plan["unassigned"] == [] and plan["routes"][0]["load_out"] == {"ambient": 99.99}, plan


def test_a_capacity_shortage_speaks_litres(client: FlaskClient) -> None:
    plan = _solve(client, {"depot": DEPOT, "vehicles": [_van(compartments={"ambient": 100})],
                           "stops": [_stop("A", deliver={"ambient": 40}), _stop("B", dlat=0.01, deliver={"ambient": 40}),
                                     _stop("C", dlat=-0.01, deliver={"ambient": 40})]})  # fmt: skip
    [left] = plan["unassigned"]
    assert "120 L" in left["reason"] and "100 L" in left["reason"] and "1200" not in left["reason"], left


def test_a_load_too_big_for_every_van_speaks_litres(client: FlaskClient) -> None:
    problem = {"depot": DEPOT, "vehicles": [_van(compartments={"ambient": 100, "cold": 10})],
               "stops": [_stop("A", deliver={"ambient": 5}), _stop("B", deliver={"cold": 2.5}, dlat=0.01)]}
    plan = _solve(client, problem)
    assert plan["unassigned"] == []


# --- fault 10: the break note, minutes not seconds --------------------------------------------------


def test_a_break_before_departure_is_not_called_on_the_route(client: FlaskClient) -> None:
    brk: dict[str, Any] = {"break": {"window": ["11:30", "13:30"], "minutes": 45}}
    plan = _solve(client, {"depot": dict(DEPOT, open="12:00", close="19:00"), "vehicles": [_van(**brk)],
                           "stops": [_stop("A", service_min=30), _stop("B", dlat=-0.03, service_min=30)]})
    route = plan["routes"][0]
    if route["break"] is not None and _minutes(route["break"]) < _minutes(route["start"]):
        assert "before the route leaves" in route["break_note"], route
    else:
        assert "on the route" in route["break_note"] or route["break"] is None, route


def test_a_duration_limit_reason_speaks_minutes(client: FlaskClient) -> None:
    plan = _solve(client, {"depot": DEPOT, "vehicles": [_van(max_route_min=1)], "stops": [_stop("A")]})
    reason = plan["unassigned"][0]["reason"]
    assert " min" in reason and " s," not in reason and not reason.rstrip().endswith(" s"), reason

