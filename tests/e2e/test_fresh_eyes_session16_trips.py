"""Fresh eyes (session 16): a van's trips in day plans, re-plans and the comparison, through the API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from services.dispatch import service
from services.dispatch.app import SPEC
from shared.runtime import ServiceContext
from tests.e2e.dispatch_support import hub_and_sites, run_queued
from tests.support.web import bearer

DISPATCHER = bearer("dispatcher", name="调度员")
HOURS = {"CW-T01": [("08:00", "11:00")], "CW-T03": [("14:30", "17:00")], "CW-T02": [("08:00", "17:00")]}
SUNDAY = service.today() + timedelta(days=7 + 6 - service.today().weekday())
COMPARTMENTS = {"ambient": 2500, "cold": 400, "clean": 1500, "soiled": 1500, "specimen": 60}


@pytest.fixture()
def day(tmp_path: Path) -> Iterator[tuple[ServiceContext, FlaskClient]]:
    """A dispatch database with the hub and three centres (hours narrowed), no vehicle yet."""
    ctx = hub_and_sites(tmp_path, HOURS)
    yield ctx, SPEC.create_app(ctx).test_client()
    ctx.engine.dispose()


def van(client: FlaskClient, vid: str, fixed: float, per_km: float, **extra: Any) -> None:
    body = {
        "id": vid,
        "name": f"车 {vid}",
        "fixed_cost": fixed,
        "cost_per_km": per_km,
        "compartments_l": COMPARTMENTS,
        **extra,
    }
    response = client.put("/api/v1/vehicles", json=body, headers=DISPATCHER)
    assert response.status_code == 200, response.get_json()


def order(client: FlaskClient, *sites: str) -> None:
    for code in sites:
        body = {"site_code": code, "deliver": {"cold": 20}, "priority": 2}
        assert client.post("/api/v1/shipments", json=body, headers=DISPATCHER).status_code == 201


def plan(ctx: ServiceContext, client: FlaskClient) -> dict[str, Any]:
    response = client.post(
        "/api/v1/plans",
        json={"date": SUNDAY.isoformat(), "time_limit_s": 1, "workers": 1},
        headers=DISPATCHER,
    )
    assert response.status_code in (200, 201, 202), response.get_json()
    run_queued(ctx)
    got = client.get(f"/api/v1/plans/{response.get_json()['id']}", headers=DISPATCHER).get_json()
    assert got["status"] == "solved", got.get("error")
    return dict(got)


def replan(ctx: ServiceContext, client: FlaskClient, plan_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/plans/{plan_id}/replan", json={"time_limit_s": 1, **body}, headers=DISPATCHER
    )
    assert response.status_code in (200, 201, 202), response.get_json()
    run_queued(ctx)
    got = client.get(f"/api/v1/plans/{response.get_json()['id']}", headers=DISPATCHER).get_json()
    assert got["status"] == "solved", got.get("error")
    return dict(got)


def expected_cost(result: dict[str, Any], fleet: dict[str, tuple[float, float]]) -> float:
    used = {r["vehicle_id"] for r in result["routes"]}
    km = {v: sum(r["distance_km"] for r in result["routes"] if r["vehicle_id"] == v) for v in used}
    return sum(fleet[v][0] + km[v] * fleet[v][1] for v in used)


def test_two_vans_both_trips_each_van_charged_once(day: tuple[ServiceContext, FlaskClient]) -> None:
    ctx, client = day
    fleet = {"A": (300.0, 3.0), "B": (100.0, 1.0)}
    for vid, (fixed, per_km) in fleet.items():
        van(client, vid, fixed, per_km)
    order(client, "CW-T01", "CW-T03", "CW-T02")
    result = plan(ctx, client)["result"]
    assert not result["unassigned"]
    assert result["totals"]["cost"] == pytest.approx(expected_cost(result, fleet), abs=0.05)
    assert sum(r["cost"] for r in result["routes"]) == pytest.approx(result["totals"]["cost"], abs=0.011)
    for v in {r["vehicle_id"] for r in result["routes"]}:
        assert sum(r["fixed_cost"] for r in result["routes"] if r["vehicle_id"] == v) == fleet[v][0]


def test_a_van_without_a_break_makes_one_trip_at_its_whole_fixed_cost(
    day: tuple[ServiceContext, FlaskClient],
) -> None:
    ctx, client = day
    van(client, "NB", 250.0, 2.0, break_start=None, break_end=None, break_min=None)
    order(client, "CW-T01", "CW-T03")
    result = plan(ctx, client)["result"]
    assert [r["vehicle"] for r in result["routes"]] == ["NB"]
    assert result["totals"]["cost"] == pytest.approx(expected_cost(result, {"NB": (250.0, 2.0)}), abs=0.05)


def test_a_break_leaving_a_short_trip_keeps_one_trip(day: tuple[ServiceContext, FlaskClient]) -> None:
    ctx, client = day
    # shift 07:30-17:30, break window 15:00-17:00: trip 2 would be 30 min long
    van(client, "SH", 250.0, 2.0, break_start="15:00", break_end="17:00", break_min=30)
    order(client, "CW-T01", "CW-T03")
    p = plan(ctx, client)
    result = p["result"]
    assert [r["vehicle"] for r in result["routes"]] == ["SH"]
    assert result["totals"]["cost"] == pytest.approx(expected_cost(result, {"SH": (250.0, 2.0)}), abs=0.05)


@pytest.mark.parametrize("out", ["A~1"])
def test_replan_with_the_morning_trip_out_charges_the_van_once(
    day: tuple[ServiceContext, FlaskClient], out: str
) -> None:
    ctx, client = day
    fleet = {"A": (300.0, 3.0)}
    van(client, "A", 300.0, 3.0)
    order(client, "CW-T01", "CW-T03")
    first = plan(ctx, client)
    assert [r["vehicle"] for r in first["result"]["routes"]] == ["A~1", "A~2"]
    order(client, "CW-T02")
    second = replan(ctx, client, first["id"], {"vehicles_out": [out]})
    result = second["result"]
    assert result["totals"]["cost"] == pytest.approx(expected_cost(result, fleet), abs=0.05)
    assert sum(r["cost"] for r in result["routes"]) == pytest.approx(result["totals"]["cost"], abs=0.011)
    cmp = client.get(f"/api/v1/plans/{second['id']}/compare", headers=DISPATCHER).get_json()
    assert cmp["vehicles_added"] == [] and cmp["vehicles_removed"] == []
    manifest = client.get(f"/api/v1/plans/{second['id']}/manifests/A", headers=DISPATCHER)
    assert manifest.status_code == 200, manifest.get_json()
    m = manifest.get_json()
    assert m["distance_km"] == pytest.approx(sum(r["distance_km"] for r in result["routes"]), abs=0.02)


def test_replan_with_locked_routes_and_a_lock_charges_once(day: tuple[ServiceContext, FlaskClient]) -> None:
    ctx, client = day
    fleet = {"A": (300.0, 3.0), "B": (100.0, 1.0)}
    for vid, (fixed, per_km) in fleet.items():
        van(client, vid, fixed, per_km)
    order(client, "CW-T01", "CW-T03")
    first = plan(ctx, client)
    vans = sorted({r["vehicle_id"] for r in first["result"]["routes"]})
    order(client, "CW-T02")
    second = replan(ctx, client, first["id"], {"locked_routes": vans, "locks": {"CW-T02": "B"}})
    result = second["result"]
    assert result["totals"]["cost"] == pytest.approx(expected_cost(result, fleet), abs=0.05)


def test_locked_routes_naming_a_van_and_its_trip_is_not_a_5xx(
    day: tuple[ServiceContext, FlaskClient],
) -> None:
    ctx, client = day
    van(client, "A", 300.0, 3.0)
    order(client, "CW-T01", "CW-T03")
    first = plan(ctx, client)
    response = client.post(
        f"/api/v1/plans/{first['id']}/replan",
        json={"locked_routes": ["A", "A~1"], "time_limit_s": 1},
        headers=DISPATCHER,
    )
    assert response.status_code < 500, response.get_json()
    if response.status_code < 300:
        run_queued(ctx)
        got = client.get(f"/api/v1/plans/{response.get_json()['id']}", headers=DISPATCHER).get_json()
        assert got["status"] == "solved", got.get("error")
    else:
        assert "locked_routes[1]" in [e["field"] for e in response.get_json()["errors"]]


def test_vehicles_out_naming_a_van_and_its_trip(day: tuple[ServiceContext, FlaskClient]) -> None:
    ctx, client = day
    van(client, "A", 300.0, 3.0)
    van(client, "B", 100.0, 1.0)
    order(client, "CW-T01", "CW-T03")
    first = plan(ctx, client)
    response = client.post(
        f"/api/v1/plans/{first['id']}/replan",
        json={"vehicles_out": ["A", "A~1"], "time_limit_s": 1},
        headers=DISPATCHER,
    )
    assert response.status_code < 500, response.get_json()


def _second_replan_setup(
    day: tuple[ServiceContext, FlaskClient],
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    ctx, client = day
    for vid, (fixed, per_km) in FLEET2.items():
        van(client, vid, fixed, per_km)
    order(client, "CW-T01", "CW-T03")
    first = plan(ctx, client)
    morning = sorted(r["vehicle"] for r in first["result"]["routes"] if r["trip"] == 1)
    assert morning
    order(client, "CW-T02")
    second = replan(ctx, client, first["id"], {"vehicles_out": morning})
    return first, second, morning


FLEET2 = {"A": (300.0, 3.0), "B": (120.0, 1.5)}


def test_replan_costs_progress_and_publish_preview_agree(day: tuple[ServiceContext, FlaskClient]) -> None:
    ctx, client = day
    _, second, _ = _second_replan_setup(day)
    result = second["result"]
    assert result["totals"]["cost"] == pytest.approx(expected_cost(result, FLEET2), abs=0.05), result[
        "routes"
    ]
    assert result["totals"]["vehicles"] == len({r["vehicle_id"] for r in result["routes"]})
    progress = client.get(f"/api/v1/plans/{second['id']}/progress", headers=DISPATCHER).get_json()
    assert progress["totals"]["cost"] == result["totals"]["cost"]
    preview = client.get(f"/api/v1/plans/{second['id']}/publish-preview", headers=DISPATCHER)
    assert preview.status_code == 200, preview.get_json()
    assert preview.get_json()["totals"]["cost"] == result["totals"]["cost"]


@pytest.mark.parametrize("name", ["vehicles_out", "locked_routes"])
def test_a_trip_named_twice_in_two_spellings_is_a_422_naming_the_repeat(
    day: tuple[ServiceContext, FlaskClient], name: str
) -> None:
    ctx, client = day
    van(client, "A", 300.0, 3.0)
    van(client, "B", 100.0, 1.0)
    order(client, "CW-T01", "CW-T03")
    first = plan(ctx, client)
    body = {name: ["A~1", "Ａ～１"], "time_limit_s": 1}
    response = client.post(f"/api/v1/plans/{first['id']}/replan", json=body, headers=DISPATCHER)
    assert response.status_code == 422 and response.mimetype == "application/problem+json", (
        response.get_json()
    )
    assert [e["field"] for e in response.get_json()["errors"]] == [f"{name}[1]"]
