"""Fresh eyes (session 16): vans whose fleet id looks like a trip ("K~2") are refused, and a re-plan
of a re-plan keeps the trips already out (both were faults: "K~2" was reported as trip 2 of van K,
"A~2" beside van A failed every plan with duplicate vehicle ids, and a second re-plan put trips
already out back at the hub)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.runtime import ServiceContext
from tests.e2e.test_fresh_eyes_session16_trips import (
    COMPARTMENTS,
    DISPATCHER,
    FLEET2,
    _second_replan_setup,
    day,
    expected_cost,
    order,
    plan,
    replan,
    van,
)

__all__ = ["day"]  # fixture


@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(vid=st.sampled_from(["K~2", "A~1", "~", "LC-1~", "Ｋ～２", "K\uff5e2"]))
def test_a_fleet_van_whose_id_looks_like_a_trip_is_a_422_naming_id(
    day: tuple[ServiceContext, FlaskClient], vid: str
) -> None:
    """"~" joins a van and its trip number in a day plan ("K~2" = trip 2 of van K): a fleet id with it
    (in any spelling NFKC makes "~") would be read as another van's trip, or share its id."""
    _, client = day
    before = client.get("/api/v1/vehicles", headers=DISPATCHER).get_json()
    body = {"id": vid, "name": "车", "fixed_cost": 100.0, "cost_per_km": 1.0, "compartments_l": COMPARTMENTS}
    response = client.put("/api/v1/vehicles", json=body, headers=DISPATCHER)
    assert response.status_code == 422, response.get_json()
    assert [e["field"] for e in response.get_json()["errors"]] == ["id"]
    assert client.get("/api/v1/vehicles", headers=DISPATCHER).get_json() == before


def test_a_fleet_beside_van_a_cannot_add_a_van_named_like_its_trip(day: tuple[ServiceContext, FlaskClient]) -> None:
    ctx, client = day
    van(client, "A", 300.0, 3.0)  # with a break: trips A~1, A~2
    body = {"id": "A~2", "name": "车", "fixed_cost": 100.0, "cost_per_km": 1.0, "compartments_l": COMPARTMENTS}
    assert client.put("/api/v1/vehicles", json=body, headers=DISPATCHER).status_code == 422
    order(client, "CW-T01", "CW-T03", "CW-T02")
    p = plan(ctx, client)
    ids = [x["id"] for x in p["request"]["vehicles"]]
    assert len(ids) == len(set(ids)) and p["status"] != "failed", p.get("error")


def test_a_second_replan_may_name_the_trips_already_out_again(
    day: tuple[ServiceContext, FlaskClient],
) -> None:
    """The plan being re-planned carries the out trips' kept routes: naming them out again is not an unknown vehicle."""
    ctx, client = day
    _, second, morning = _second_replan_setup(day)
    assert {r["vehicle"] for r in second["result"]["routes"]} >= set(morning)
    response = client.post(
        f"/api/v1/plans/{second['id']}/replan",
        json={"vehicles_out": morning, "time_limit_s": 1},
        headers=DISPATCHER,
    )
    assert response.status_code in (200, 201, 202), response.get_json()


def test_a_second_replan_keeps_the_routes_already_out(day: tuple[ServiceContext, FlaskClient]) -> None:
    """A van that is out stays out: a re-plan of the re-plan (nothing more named) does not hand its stops to others."""
    ctx, client = day
    _, second, morning = _second_replan_setup(day)
    kept = [r for r in second["result"]["routes"] if r["vehicle"] in morning]
    order(client, "CW-T02")
    third = replan(ctx, client, second["id"], {})
    planned_again = {x["id"] for x in third["request"]["vehicles"]} & set(morning)
    assert not planned_again, f"trips already out are planned again from the hub: {planned_again}"
    now = {r["vehicle"]: r for r in third["result"]["routes"]}
    for route in kept:
        assert [s["id"] for s in now.get(route["vehicle"], {"stops": []})["stops"]] == [
            s["id"] for s in route["stops"]
        ], (route["vehicle"], third["result"]["routes"])
    result = third["result"]
    assert result["totals"]["cost"] == pytest.approx(expected_cost(result, FLEET2), abs=0.05)
