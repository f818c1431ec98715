"""Procurement edge cases found by a fresh reviewer: odd decimals, text normalisation, dates, site stock never negative.

Each case is bad input that must be a 4xx problem+json naming the field and writing nothing (or,
for the dates, a violation code), never a 5xx.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.procurement.app import SPEC
from services.procurement.model.money import unit_price
from shared.migrate import upgrade
from shared.runtime import ServiceContext, build_context
from tests.e2e.test_procurement_api import MGR, T01, receipt_body
from tests.service.procurement.procurement_support import AMLO, AMOX, TOWNS, load_reference, today
from tests.support.web import make_settings, table_dump


@pytest.fixture()
def ctx(tmp_path: Path) -> Iterator[ServiceContext]:
    """A migrated procurement database that knows the small county."""
    made = build_context(SPEC, make_settings("procurement", f"sqlite:///{tmp_path}/procurement.sqlite3"))
    upgrade(SPEC.migrations, made.engine)
    load_reference(made)
    yield made
    made.engine.dispose()


@pytest.fixture()
def client(ctx: ServiceContext) -> FlaskClient:
    """A test client of the procurement app."""
    return SPEC.create_app(ctx).test_client()

ODD_DECIMALS = ["1e3", "1E+40", "1e30", "9" * 40, "1e999999999", "1_000", "NaN", "-Infinity", "0x10", "", " ", "1.2.3"]


def _price_bodies(value: str) -> list[tuple[str, Any, str]]:
    line_price = receipt_body()
    line_price["lines"][0]["unit_price"] = value
    invoice_price = receipt_body()
    invoice_price["invoices"][1]["lines"][0]["unit_price"] = value
    term = {"start": today().isoformat(), "end": (today() + timedelta(days=300)).isoformat()}
    return [
        ("/api/v1/receipts/check", line_price, "lines[0].unit_price"),
        ("/api/v1/receipts", invoice_price, "invoices[1].lines[0].unit_price"),
        ("/api/v1/vbp/contracts", {"item_code": AMLO, "price": value, "agreed_quantity": 28, **term}, "price"),
        ("/api/v1/vbp/contracts", {"item_code": AMLO, "price": "0.0500", "baseline_price": value, "agreed_quantity": 28, **term},
         "baseline_price"),
        ("/api/v1/prices/listed", {"item_code": AMOX, "price": value, "effective_from": today().isoformat()}, "price"),
        ("/api/v1/prices/negotiated", {"item_code": AMOX, "price": value, "effective_from": today().isoformat()}, "price"),
    ]  # fmt: skip


@pytest.mark.parametrize("value", ODD_DECIMALS)
def test_odd_decimals_are_422_naming_the_field_on_every_price(client: FlaskClient, ctx: ServiceContext, value: str) -> None:
    before = table_dump(ctx)
    for path, body, field in _price_bodies(value):
        r = client.post(path, json=body, headers=MGR)
        assert r.status_code == 422, (path, value, r.status_code, r.get_json())
        assert r.mimetype == "application/problem+json"
        assert field in [e["field"] for e in r.get_json()["errors"]], (path, r.get_json())
    assert table_dump(ctx) == before


def test_minus_zero_is_zero_and_full_width_digits_are_read() -> None:
    assert str(unit_price("-0")) == "0.0000"
    assert str(unit_price("１.２３")) == "1.2300"
    assert str(unit_price(" 1." + "0" * 200 + " ")) == "1.0000"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=60) | st.from_regex(r"[+-]?[0-9]{0,60}(\.[0-9]{0,60})?([eE][+-]?[0-9]{1,12})?", fullmatch=True))
def test_unit_price_only_ever_raises_value_error(text: str) -> None:
    try:
        price = unit_price(text)
    except ValueError:
        return
    assert price.is_finite() and price == price.quantize(price.__class__("0.0001")) and abs(price) < 10**15


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/distributors", {"name": "瑞康\x00医药", "tax_id": "913700007628000001", "items": "all"}, "name"),
        ("/api/v1/distributors", {"name": "\u3000 ", "tax_id": "913700007628000001", "items": "all"}, "name"),
        ("/api/v1/manufacturers", {"name": "石药\u202e集团", "tax_id": "911301001043000001", "agents": []}, "name"),
        ("/api/v1/manufacturers", {"name": "石药集团", "tax_id": "911301001043000001",
                                   "agents": [{"name": "\x07", "tax_id": "911301001043000002", "kind": "import_agent"}]}, "agents[0].name"),
    ],
)  # fmt: skip
def test_names_with_control_characters_or_blank_are_refused(
    client: FlaskClient, ctx: ServiceContext, path: str, body: Any, field: str
) -> None:
    before = table_dump(ctx)
    r = client.post(path, json=body, headers=MGR)
    assert r.status_code == 422, r.get_json()
    assert any(e["field"].startswith(field) for e in r.get_json()["errors"]), r.get_json()
    assert table_dump(ctx) == before


def test_codes_are_normalised_and_free_text_refuses_controls(client: FlaskClient, ctx: ServiceContext) -> None:
    body = {"site_code": "T01", "lines": [{"item_code": f" {AMOX.lower()} ", "quantity": 24}]}
    r = client.post("/api/v1/requisitions", json=body, headers=T01)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["site_code"] == "T01" and r.get_json()["lines"][0]["item_code"] == AMOX
    before = table_dump(ctx)
    bad = {"site_code": "T01", "lines": [{"item_code": AMOX, "quantity": 24}], "note": "急\x1b用"}
    r = client.post("/api/v1/requisitions", json=bad, headers=T01)
    assert r.status_code == 422 and [e["field"] for e in r.get_json()["errors"]] == ["note"]
    receipt = receipt_body()
    receipt["invoices"][0]["issuer"]["name"] = "国药\x00控股"
    r = client.post("/api/v1/receipts/check", json=receipt, headers=MGR)
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "invoices[0].issuer.name"
    assert table_dump(ctx) == before


def test_back_dated_receipt_cannot_book_expired_goods(client: FlaskClient, ctx: ServiceContext) -> None:
    received = today() - timedelta(days=3 * 365)
    body = receipt_body(received_on=received.isoformat())
    for inv in body["invoices"]:
        inv["issued_at"] = received.isoformat()
    body["lines"][0]["expiry"] = (today() - timedelta(days=1)).isoformat()  # 2 years of shelf life then, expired now
    r = client.post("/api/v1/receipts/check", json=body, headers=MGR)
    assert r.status_code == 200 and [v["code"] for v in r.get_json()["violations"]] == ["SHORT_EXPIRY"]
    before = table_dump(ctx)
    assert client.post("/api/v1/receipts", json=body, headers=MGR).status_code == 422
    assert table_dump(ctx) == before


def test_future_invoice_and_payment_dates_are_refused(client: FlaskClient, ctx: ServiceContext) -> None:
    body = receipt_body()
    body["invoices"][1]["issued_at"] = (today() + timedelta(days=30)).isoformat()
    before = table_dump(ctx)
    r = client.post("/api/v1/receipts", json=body, headers=MGR)
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "invoices[1].issued_at", r.get_json()
    assert table_dump(ctx) == before
    rid = client.post("/api/v1/receipts", json=receipt_body(), headers=MGR).get_json()["receipt_id"]
    before = table_dump(ctx)
    r = client.post(f"/api/v1/receipts/{rid}/payment", json={"paid_on": (today() + timedelta(days=1)).isoformat()}, headers=MGR)
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "paid_on"
    assert table_dump(ctx) == before


def test_manual_dispensing_never_drives_site_stock_negative(client: FlaskClient, ctx: ServiceContext) -> None:
    count = {"item_code": AMOX, "kind": "count", "quantity": 24, "reason": "盘点"}
    assert client.post("/api/v1/sites/T01/stock/adjustments", json=count, headers=T01).status_code in (200, 201)
    before = table_dump(ctx)
    too_many = {"item_code": AMOX, "kind": "dispense", "quantity": 25, "reason": "门诊发药"}
    r = client.post("/api/v1/sites/T01/stock/adjustments", json=too_many, headers=T01)
    assert r.status_code == 409 and r.get_json()["errors"][0]["field"] == "quantity", r.get_json()
    assert table_dump(ctx) == before
    r = client.post("/api/v1/sites/T01/stock/adjustments", json={**too_many, "quantity": 24}, headers=T01)
    assert r.status_code in (200, 201) and all(lot["balance"] >= 0 for lot in r.get_json()["lots"])


def test_the_same_invoice_twice_is_refused_not_counted_twice(client: FlaskClient, ctx: ServiceContext) -> None:
    body = receipt_body(qty=480)  # delivered 480 ...
    body["invoices"][0]["lines"][0]["quantity"] = 240  # ... against one second invoice of 240, listed twice
    body["invoices"].append(body["invoices"][0])
    before = table_dump(ctx)
    for path in ("/api/v1/receipts/check", "/api/v1/receipts"):
        r = client.post(path, json=body, headers=MGR)
        assert r.status_code == 422, (path, r.get_json())
        assert [e["field"] for e in r.get_json()["errors"]] == ["invoices[2].number"]
    assert table_dump(ctx) == before


def test_retried_adjustments_and_price_records_with_one_key_happen_once(client: FlaskClient, ctx: ServiceContext) -> None:
    count = {"item_code": AMOX, "kind": "count", "quantity": 48, "reason": "盘点"}
    assert client.post("/api/v1/sites/T01/stock/adjustments", json=count, headers=T01).status_code == 200
    dispense = {"item_code": AMOX, "kind": "dispense", "quantity": 24, "reason": "门诊发药"}
    for _ in range(3):
        r = client.post("/api/v1/sites/T01/stock/adjustments", json=dispense, headers={**T01, "Idempotency-Key": "d-1"})
        assert r.status_code == 200
    assert client.get("/api/v1/stock?site=T01", headers=T01).get_json()["items"][0]["on_hand"] == 24
    listed = {"item_code": AMOX, "price": "1.5000", "effective_from": today().isoformat()}
    for _ in range(2):
        assert client.post("/api/v1/prices/listed", json=listed, headers={**MGR, "Idempotency-Key": "p-1"}).status_code == 201
    assert len(client.get(f"/api/v1/prices/{AMOX}", headers=MGR).get_json()["listed"]) == 1


def test_settlement_total_is_zero_for_every_viewer_and_a_site_sees_its_net(client: FlaskClient) -> None:
    direct = receipt_body(site="T01")  # a direct delivery to the township, invoiced to it
    direct["invoices"][0]["recipient"] = {"name": TOWNS[0]["name"], "tax_id": TOWNS[0]["tax_id"]}
    assert client.post("/api/v1/receipts", json=direct, headers=MGR).status_code == 201
    assert client.post("/api/v1/transfers", json={"from_site": "T01", "to_site": "T02", "item_code": AMOX, "quantity": 24}, headers=MGR).status_code == 201
    assert client.post("/api/v1/transfers", json={"from_site": "T02", "to_site": "T01", "item_code": AMOX, "quantity": 10}, headers=MGR).status_code == 201
    month = today().strftime("%Y-%m")
    county = client.get(f"/api/v1/settlements?month={month}", headers=MGR).get_json()
    mine = client.get(f"/api/v1/settlements?month={month}", headers=T01).get_json()
    assert county["total"] == mine["total"] == "0.00"
    assert county["site_net"] is None and mine["site_net"] == "-17.22"  # sent 24 × 1.23, received 10 × 1.23
    assert sum(float(e["payable"]) for e in county["entries"]) == 0


def test_duplicate_order_lines_and_one_batch_with_two_expiries_are_refused(client: FlaskClient, ctx: ServiceContext) -> None:
    assert client.post("/api/v1/distributors", json={"name": "国药控股菏泽有限公司", "tax_id": "913717000000000011", "items": "all"},
                       headers=MGR).status_code == 201  # fmt: skip
    assert client.post("/api/v1/prices/listed", json={"item_code": AMOX, "price": "1.5000", "effective_from": today().isoformat()},
                       headers=MGR).status_code == 201  # fmt: skip
    before = table_dump(ctx)
    po = {"distributor_tax_id": "913717000000000011", "lines": [{"item_code": AMOX, "quantity": 24}, {"item_code": AMOX.lower(), "quantity": 48}]}
    r = client.post("/api/v1/purchase-orders", json=po, headers=MGR)
    assert r.status_code == 422 and [e["field"] for e in r.get_json()["errors"]] == ["lines[1].item_code"], r.get_json()
    body = receipt_body(qty=120)
    body["lines"].append({**body["lines"][0], "expiry": (today() + timedelta(days=800)).isoformat()})
    for path in ("/api/v1/receipts/check", "/api/v1/receipts"):
        r = client.post(path, json=body, headers=MGR)
        assert r.status_code == 422 and [e["field"] for e in r.get_json()["errors"]] == ["lines[1].expiry"], r.get_json()
    assert table_dump(ctx) == before


def test_recall_finds_a_batch_whatever_the_letter_case(client: FlaskClient) -> None:
    assert client.post("/api/v1/receipts", json=receipt_body(), headers=MGR).status_code == 201
    for asked in ("B2311", "b2311"):
        found = client.get(f"/api/v1/recall?item_code={AMOX}&batch_no={asked}", headers=MGR).get_json()["batches"]
        assert [(b["batch_no"], b["central"][0]["balance"]) for b in found] == [("B2311", 240)], asked
