# ruff: noqa: F811  (pytest fixtures imported from test_review_api)
"""Fresh-eyes reliability cases (issue 13): hostile input a new user found that the earlier suites
did not send. Each case failed before its fix.

- CDS Hooks order-sign: a MedicationRequest whose numbers are finite JSON but overflow or underflow
  when turned into days (expectedSupplyDuration 1e308 years) or administrations per day
  (timing.repeat.period 5e-324 hours) was a 500; now a 422 naming the path.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.e2e.test_review_api import HIS, client, review_ctx, template_db  # noqa: F401  (fixtures)
from tests.e2e.test_review_cds import HOOK, call, order

ENTRY = "context.draftOrders.entry[0].resource"


@pytest.mark.parametrize("duration", [
    {"value": 1e308, "unit": "a"},    # 1e308 years: inf days
    {"value": 1e308, "code": "mo"},
    {"value": 1e307, "unit": "wk", "code": "a"},  # the code wins: 3.65e309 days
])  # fmt: skip
def test_a_supply_duration_that_overflows_is_a_422_naming_it(client: FlaskClient, duration: dict[str, Any]) -> None:
    o = order(dispenseRequest={"quantity": {"value": 7}, "expectedSupplyDuration": duration})
    r = client.post(HOOK, json=call(o), headers=HIS)
    assert r.status_code == 422, r.get_json()
    assert r.content_type == "application/problem+json"
    assert [e["field"] for e in r.get_json()["errors"]] == [f"{ENTRY}.dispenseRequest.expectedSupplyDuration.value"]


@pytest.mark.parametrize("repeat", [
    {"frequency": 1, "period": 5e-324, "periodUnit": "h"},   # period x 1/24 day underflows to 0
    {"frequency": 1, "period": 1e-320, "periodUnit": "s"},
    {"frequency": 1e308, "period": 1e-308, "periodUnit": "h"},
])  # fmt: skip
def test_a_timing_repeat_that_underflows_is_never_a_server_error(client: FlaskClient, repeat: dict[str, Any]) -> None:
    o = order()
    o["dosageInstruction"][0]["timing"] = {"repeat": repeat}
    r = client.post(HOOK, json=call(o), headers=HIS)
    assert r.status_code in (200, 422), r.get_json()
    if r.status_code == 422:
        assert r.content_type == "application/problem+json"
        assert r.get_json()["errors"][0]["field"].startswith(f"{ENTRY}.dosageInstruction")
