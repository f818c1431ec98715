"""Volumes finer than 1 mL through the API: 422 problem+json naming the field, nothing written.

Before: POST /shipments with 12.3456 L of cold goods stored it and planned 12.346 L (rounded up
without a word), PUT /vehicles did the same to a compartment and /solve to a stop or a van. The
schema-level property over every volume field is tests/unit/dispatch/test_dispatch_volume_fields.py.
"""

from __future__ import annotations

from decimal import Decimal

from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.dispatch.schemas_volumes import VOLUME_MAX
from shared.runtime import ServiceContext
from tests.e2e.dispatch_support import DISPATCHER, client, ctx, small_problem
from tests.support.web import table_dump

__all__ = ["client", "ctx"]  # fixtures

SUB_ML = st.builds(lambda ml, finer: float(Decimal(ml) / 1000 + Decimal(finer) / 10**7),
                   st.integers(0, int(VOLUME_MAX * 1000) - 1), st.integers(1, 9999))  # fmt: skip
FIXTURES_OK = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _refused(response: object, field: str) -> None:
    assert response.status_code == 422, response.get_json()  # type: ignore[attr-defined]
    assert response.mimetype == "application/problem+json"  # type: ignore[attr-defined]
    errors = response.get_json()["errors"]  # type: ignore[attr-defined]
    assert [e for e in errors if e["field"] == field and "finer than 1 mL" in e["message"]], errors


@FIXTURES_OK
@given(litres=SUB_ML)
def test_a_hand_made_shipment_or_a_vehicle_finer_than_a_millilitre_is_refused_and_writes_nothing(
    client: FlaskClient, ctx: ServiceContext, litres: float
) -> None:
    before = table_dump(ctx)
    _refused(client.post("/api/v1/shipments", json={"site_code": "CW-T01", "deliver": {"cold": litres}}, headers=DISPATCHER),
             "deliver.cold")  # fmt: skip
    _refused(client.post("/api/v1/shipments", json={"site_code": "CW-T01", "pickup": {"specimen": litres}}, headers=DISPATCHER),
             "pickup.specimen")  # fmt: skip
    _refused(client.put("/api/v1/vehicles", json={"id": "LC-9", "name": "测试车", "compartments_l": {"ambient": litres}},
                        headers=DISPATCHER), "compartments_l.ambient")  # fmt: skip
    assert table_dump(ctx) == before


@FIXTURES_OK
@given(litres=SUB_ML.filter(lambda v: v <= 400))  # within the cold van's 400 L
def test_a_solve_names_the_stop_or_van_whose_volume_is_finer_than_a_millilitre(
    client: FlaskClient, litres: float
) -> None:
    problem = small_problem()
    problem["stops"].append({"id": "T04", "lat": 34.9, "lon": 115.9, "deliver": {"cold": litres}})
    _refused(client.post("/api/v1/solve", json=problem, headers=DISPATCHER), "stops[3].deliver.cold")
    problem = small_problem()
    problem["vehicles"][1]["compartments"]["ambient"] = 3000 + litres
    _refused(
        client.post("/api/v1/solve", json=problem, headers=DISPATCHER), "vehicles[1].compartments.ambient"
    )


def test_a_whole_millilitre_volume_is_stored_exactly(client: FlaskClient) -> None:
    made = client.post(
        "/api/v1/shipments", json={"site_code": "CW-T01", "deliver": {"cold": 12.345}}, headers=DISPATCHER
    )
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["deliver_l"] == {"cold": 12.345}
    van = client.put("/api/v1/vehicles", json={"id": "LC-9", "name": "测试车", "compartments_l": {"cold": 399.999}},
                     headers=DISPATCHER)  # fmt: skip
    assert van.status_code == 200 and van.get_json()["compartments_l"] == {"cold": 399.999}
