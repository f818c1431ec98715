"""A day plan's reported cost counts the van's fixed cost once, through the API and the plan worker.

One van with a lunch break (two trips, each half the fixed cost in the search) and orders only at
a morning-only centre, only at an afternoon-only centre, or at both: the plan's route costs and
``totals.cost`` are the distance costs plus the van's whole fixed cost, once, in every case.

The plan worker hands the request's trips to ``dayplan.merge_kept`` (services/dispatch/worker.py);
before it did, a van used on one trip was reported at half its fixed cost (141.34 against 271.34).
"""

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
FIXED, PER_KM = 260.0, 2.8
HOURS = {"CW-T01": [("08:00", "11:00")], "CW-T03": [("14:30", "17:00")]}  # morning-only, afternoon-only


@pytest.fixture()
def day(tmp_path: Path) -> Iterator[tuple[ServiceContext, FlaskClient]]:
    """A dispatch database with the hub, the two centres (their hours narrowed) and one van."""
    ctx = hub_and_sites(tmp_path, HOURS)
    client = SPEC.create_app(ctx).test_client()
    van = {"id": "LC-1", "name": "两趟车", "fixed_cost": FIXED, "cost_per_km": PER_KM,
           "compartments_l": {"ambient": 2500, "cold": 400, "clean": 1500, "soiled": 1500, "specimen": 60}}  # fmt: skip
    assert client.put("/api/v1/vehicles", json=van, headers=DISPATCHER).status_code == 200
    yield ctx, client
    ctx.engine.dispose()


def planned(ctx: ServiceContext, client: FlaskClient, sites: tuple[str, ...]) -> dict[str, Any]:
    """Orders at these sites only (a Sunday: no rounds make stops elsewhere), planned and solved."""
    for code in sites:
        order = {"site_code": code, "deliver": {"cold": 20}, "priority": 2}
        assert client.post("/api/v1/shipments", json=order, headers=DISPATCHER).status_code == 201
    sunday = service.today() + timedelta(days=7 + 6 - service.today().weekday())
    response = client.post("/api/v1/plans", json={"date": sunday.isoformat(), "time_limit_s": 2, "workers": 1},
                           headers=DISPATCHER)  # fmt: skip
    assert response.status_code in (200, 201, 202), response.get_json()
    run_queued(ctx)
    plan = client.get(f"/api/v1/plans/{response.get_json()['id']}", headers=DISPATCHER).get_json()
    assert plan["status"] == "solved", plan.get("error")
    return dict(plan["result"])


@pytest.mark.parametrize(
    ("sites", "trips"),
    [
        pytest.param(("CW-T01",), [1], id="morning-only"),
        pytest.param(("CW-T03",), [2], id="afternoon-only"),
        pytest.param(("CW-T01", "CW-T03"), [1, 2], id="both"),
    ],
)
def test_the_plan_reports_distance_costs_plus_the_vans_fixed_cost_once(
    day: tuple[ServiceContext, FlaskClient], sites: tuple[str, ...], trips: list[int]
) -> None:
    result = planned(*day, sites)
    assert [r["trip"] for r in result["routes"]] == trips and not result["unassigned"]
    km = sum(r["distance_km"] for r in result["routes"])
    assert result["totals"]["cost"] == pytest.approx(FIXED + km * PER_KM, abs=0.05)
    assert sum(r["cost"] for r in result["routes"]) == pytest.approx(result["totals"]["cost"], abs=0.011)
