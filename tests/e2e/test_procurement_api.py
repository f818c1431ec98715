"""Procurement over HTTP: the contract of every endpoint, Idempotency-Key, site scope, bad input (4xx, nothing written)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from services.procurement.app import SPEC
from shared.migrate import upgrade
from shared.runtime import ServiceContext, build_context
from tests.service.procurement.procurement_support import (
    AMLO,
    AMOX,
    BUYER,
    DIST,
    INSULIN,
    MAKER,
    load_reference,
    today,
)
from tests.support.web import bearer, make_settings, table_dump

MGR = bearer("pharmacy_manager", name="mgr-1")
MGR2 = bearer("pharmacy_manager", name="mgr-2")
T01 = bearer("storekeeper", site="T01", name="sk-t01")
T02 = bearer("storekeeper", site="T02", name="sk-t02")
DISPATCHER = bearer("dispatcher")


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


def receipt_body(qty: int = 240, price: str = "1.2300", site: str = "H001", **changes: Any) -> dict[str, Any]:
    """A clean receipt body as the issue shows it."""
    line = {"item_code": AMOX, "batch_no": "B2311", "quantity": qty, "unit_price": price}
    body = {
        "site_code": site, "supplier_tax_id": DIST.tax_id, "remote_area": False,
        "lines": [{**line, "expiry": (today() + timedelta(days=700)).isoformat(), "temperature_record": None}],
        "invoices": [
            {"number": "F2", "issuer": {"name": DIST.name, "tax_id": DIST.tax_id},
             "recipient": {"name": BUYER.name, "tax_id": BUYER.tax_id}, "issued_at": today().isoformat(), "lines": [line]},
            {"number": "F1", "issuer": {"name": MAKER.name, "tax_id": MAKER.tax_id},
             "recipient": {"name": DIST.name, "tax_id": DIST.tax_id}, "issued_at": today().isoformat(),
             "lines": [{**line, "unit_price": "0.9000"}]},
        ],
    }  # fmt: skip
    body.update(changes)
    return body


def test_requisition_flow_over_http(client: FlaskClient) -> None:
    r = client.post("/api/v1/receipts/check", json=receipt_body(), headers=MGR)
    assert r.status_code == 200 and r.get_json() == {"ok": True, "violations": []}
    r = client.post("/api/v1/receipts", json=receipt_body(), headers={**MGR, "Idempotency-Key": "gr-1"})
    assert r.status_code == 201, r.get_json()
    body = {"site_code": "T01", "lines": [{"item_code": AMOX, "quantity": 48}], "urgent": True, "urgent_reason": "流感高峰"}
    first = client.post("/api/v1/requisitions", json=body, headers={**T01, "Idempotency-Key": "k-1"})
    again = client.post("/api/v1/requisitions", json=body, headers={**T01, "Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    rid = first.get_json()["id"]
    assert again.get_json()["id"] == rid and first.headers["Location"] == f"/api/v1/requisitions/{rid}"
    listed = client.get("/api/v1/requisitions?limit=10&offset=0&status=draft", headers=T01).get_json()["requisitions"]
    assert [x["id"] for x in listed] == [rid]
    etag = client.get(f"/api/v1/requisitions/{rid}", headers=T01).headers["ETag"]
    assert client.post(f"/api/v1/requisitions/{rid}/submit", headers={**T01, "If-Match": '"stale"'}).status_code == 412
    assert client.post(f"/api/v1/requisitions/{rid}/submit", headers={**T01, "If-Match": etag}).status_code == 200
    assert client.post(f"/api/v1/requisitions/{rid}/approve", json={}, headers=T01).status_code == 403
    r = client.post(f"/api/v1/requisitions/{rid}/approve", json={"lines": [{"item_code": AMOX, "approved_quantity": 24, "reason": "控量"}]}, headers=MGR)
    assert r.status_code == 200 and r.get_json()["allocations"][0]["quantity"] == 24
    assert client.post(f"/api/v1/requisitions/{rid}/pick", headers=MGR).get_json()["status"] == "picked"
    assert client.post(f"/api/v1/requisitions/{rid}/ship", headers=MGR).get_json()["status"] == "shipped"
    r = client.post(f"/api/v1/requisitions/{rid}/receive", json={"lines": [{"item_code": AMOX, "batch_no": "B2311", "received_quantity": 24}]}, headers=T01)
    assert r.status_code == 200 and r.get_json()["status"] == "received"
    stock = client.get("/api/v1/stock?site=T01", headers=T01).get_json()
    assert stock["items"][0]["on_hand"] == 24
    history = client.get(f"/api/v1/stock/history?site=T01&item_code={AMOX}", headers=T01).get_json()["movements"]
    assert [(m["kind"], m["quantity"], m["batch_no"]) for m in history] == [("receipt", 24, "B2311")]
    assert client.get("/api/v1/stock/history?site=T01", headers=T02).status_code == 403
    lots = client.get("/api/v1/central/lots", headers=MGR).get_json()["lots"]
    assert lots[0]["balance"] == 216 and lots[0]["unit_cost"] == "1.2300"
    alerts = client.get("/api/v1/alerts/near-expiry?months=36", headers=MGR).get_json()
    assert alerts["months"] == 36 and {a["where"] for a in alerts["alerts"]} == {"central", "T01"}
    assert {a["where"] for a in client.get("/api/v1/alerts/near-expiry?months=36", headers=T01).get_json()["alerts"]} == {"T01"}
    assert client.get(f"/api/v1/transfers?month={today().strftime('%Y-%m')}", headers=T01).get_json() == {"transfers": []}
    recall = client.get(f"/api/v1/recall?item_code={AMOX}&batch_no=B2311", headers=MGR).get_json()
    assert recall["batches"][0]["sites"][0]["on_hand"] == 24


def test_receipt_violations_are_422_with_codes_and_nothing_written(client: FlaskClient, ctx: ServiceContext) -> None:
    before = table_dump(ctx)
    bad = receipt_body(invoices=receipt_body()["invoices"][1:])  # only the manufacturer's invoice
    r = client.post("/api/v1/receipts/check", json=bad, headers=MGR)
    assert r.status_code == 200 and r.get_json()["ok"] is False
    assert [v["code"] for v in r.get_json()["violations"]] == ["SECOND_INVOICE_MISSING"]
    assert r.get_json()["violations"][0]["line"] == 0
    r = client.post("/api/v1/receipts", json=bad, headers=MGR)
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
    body = r.get_json()
    assert body["violations"][0]["code"] == "SECOND_INVOICE_MISSING" and body["errors"][0]["field"] == "lines[0]"
    assert table_dump(ctx) == before


def test_purchasing_reference_endpoints(client: FlaskClient) -> None:
    r = client.post("/api/v1/distributors", json={"name": "瑞康医药", "tax_id": "913700007628000001", "items": "all"}, headers=MGR)
    assert r.status_code == 201 and r.get_json()["items"] is None
    r = client.post("/api/v1/manufacturers", json={"name": "石药集团", "tax_id": "911301001043000001", "agents": [
        {"name": "石药销售", "tax_id": "911301001043000002", "kind": "sales_subsidiary"}]}, headers=MGR)  # fmt: skip
    assert r.status_code == 201
    r = client.post("/api/v1/vbp/contracts", json={"item_code": AMLO, "price": "0.0500", "agreed_quantity": 28000,
                                                   "start": today().isoformat(), "end": (today() + timedelta(days=364)).isoformat()},
                    headers=MGR)  # fmt: skip
    assert r.status_code == 201 and r.get_json()["price"] == "0.0500"
    progress = client.get("/api/v1/vbp/contracts", headers=MGR).get_json()["contracts"]
    assert progress[0]["status"] in ("on_track", "behind", "at_risk") and progress[0]["accepted_quantity"] == 0
    assert client.post("/api/v1/prices/listed", json={"item_code": AMOX, "price": "1.5000", "effective_from": today().isoformat()}, headers=MGR).status_code == 201
    r = client.post("/api/v1/prices/negotiated", json={"item_code": AMOX, "price": "1.6000", "effective_from": today().isoformat()}, headers=MGR)
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "price"
    assert client.get(f"/api/v1/prices/{AMOX}", headers=MGR).get_json()["applicable"] == {"price": "1.5000", "basis": "listed"}
    po = client.post("/api/v1/purchase-orders", json={"distributor_tax_id": DIST.tax_id, "lines": [{"item_code": AMOX, "quantity": 240}]}, headers=MGR)
    assert po.status_code == 201 and po.get_json()["total"] == "360.00"
    assert len(client.get("/api/v1/purchase-orders", headers=MGR).get_json()["purchase_orders"]) == 1
    for path in ("/api/v1/distributors", "/api/v1/manufacturers", "/api/v1/vbp/contracts", "/api/v1/central/lots", "/api/v1/purchase-orders"):
        assert client.get(path, headers=T01).status_code == 403, path


def test_cross_site_access_is_denied(client: FlaskClient) -> None:
    body = {"site_code": "T01", "lines": [{"item_code": AMOX, "quantity": 24}]}
    assert client.post("/api/v1/requisitions", json=body, headers=T02).status_code == 403
    rid = client.post("/api/v1/requisitions", json=body, headers=T01).get_json()["id"]
    for method, path in [("get", f"/api/v1/requisitions/{rid}"), ("post", f"/api/v1/requisitions/{rid}/submit"),
                         ("get", "/api/v1/stock?site=T01"), ("get", "/api/v1/requisitions?site=T01"),
                         ("get", "/api/v1/settlements?month=2026-11&site=T01")]:  # fmt: skip
        assert getattr(client, method)(path, headers=T02).status_code == 403, path
    assert client.get("/api/v1/requisitions", headers=T02).get_json()["requisitions"] == []
    assert client.post("/api/v1/receipts/check", json=receipt_body(site="T01"), headers=T02).status_code == 403
    assert client.get("/api/v1/requisitions", headers=DISPATCHER).status_code == 403
    assert client.get("/api/v1/requisitions").status_code == 401


BAD: list[tuple[str, str, Any, dict[str, str], str]] = [
    ("post", "/api/v1/requisitions", {"site_code": "T01", "lines": []}, T01, "lines"),
    ("post", "/api/v1/requisitions", {"site_code": "T01", "lines": [{"item_code": AMOX, "quantity": 25}]}, T01, "lines[0].quantity"),
    ("post", "/api/v1/requisitions", {"site_code": "T01", "lines": [{"item_code": AMOX, "quantity": "24"}]}, T01, "lines[0].quantity"),
    ("post", "/api/v1/requisitions", {"site_code": "T01", "lines": [{"item_code": AMOX, "quantity": 24}], "color": 1}, T01, "color"),
    ("post", "/api/v1/requisitions", {"site_code": "T01", "lines": [{"item_code": "YP404404", "quantity": 24}]}, T01, "lines[0].item_code"),
    ("post", "/api/v1/requisitions", {"site_code": "T01", "lines": [{"item_code": AMOX, "quantity": 24}], "urgent": True}, T01, "urgent_reason"),
    ("post", "/api/v1/requisitions", [1, 2], T01, "body"),
    ("get", "/api/v1/requisitions?status=lost", None, MGR, "status"),
    ("get", "/api/v1/requisitions?limit=0", None, MGR, "limit"),
    ("get", "/api/v1/stock", None, MGR, "site"),
    ("get", "/api/v1/stock?site=NOPE", None, MGR, "site"),
    ("post", "/api/v1/receipts/check", {"site_code": "H001"}, MGR, "lines"),
    ("post", "/api/v1/receipts/check", None, MGR, "supplier_tax_id"),
    ("post", "/api/v1/receipts", "RECEIPT_PRICE_FLOAT", MGR, "lines[0].unit_price"),
    ("post", "/api/v1/receipts", "RECEIPT_PRICE_5DP", MGR, "lines[0].unit_price"),
    ("post", "/api/v1/receipts", "RECEIPT_BAD_DATE", MGR, "lines[0].expiry"),
    ("post", "/api/v1/receipts", "RECEIPT_PRICE_HUGE", MGR, "lines[0].unit_price"),
    ("post", "/api/v1/receipts", "RECEIPT_NO_SITE", MGR, "site_code"),
    ("post", "/api/v1/receipts", "RECEIPT_FUTURE", MGR, "received_on"),
    ("post", "/api/v1/distributors", {"name": "x", "tax_id": "123", "items": "all"}, MGR, "tax_id"),
    ("post", "/api/v1/distributors", {"name": "x", "tax_id": "913700007628000001", "items": "some"}, MGR, "items"),
    ("post", "/api/v1/distributors", {"name": "x", "tax_id": "913700007628000001", "items": ["YP404404"]}, MGR, "items[0]"),
    ("post", "/api/v1/manufacturers", {"name": "x", "tax_id": "911301001043000001", "agents": [{"name": "a", "tax_id": "911301001043000002", "kind": "cousin"}]}, MGR, "agents[0].kind"),
    ("post", "/api/v1/vbp/contracts", {"item_code": AMLO, "price": "0.05", "agreed_quantity": 10, "start": "2026-12-01", "end": "2026-01-01"}, MGR, "end"),
    ("post", "/api/v1/vbp/contracts", {"item_code": AMLO, "price": "-1", "agreed_quantity": 10, "start": "2026-01-01", "end": "2026-12-31"}, MGR, "price"),
    ("post", "/api/v1/vbp/contracts", {"item_code": "YP404404", "price": "1", "agreed_quantity": 10, "start": "2026-01-01", "end": "2026-12-31"}, MGR, "item_code"),
    ("post", "/api/v1/vbp/contracts", {"item_code": AMLO, "price": "1", "agreed_quantity": 0, "start": "2026-01-01", "end": "2026-12-31"}, MGR, "agreed_quantity"),
    ("post", "/api/v1/vbp/contracts", {"price": "1", "agreed_quantity": 10, "start": "2026-01-01", "end": "2026-12-31"}, MGR, "item_code"),
    ("post", "/api/v1/vbp/contracts", {"item_code": AMLO, "generic_name": "氨氯地平", "price": "1", "agreed_quantity": 10, "start": "2026-01-01", "end": "2026-12-31"}, MGR, "item_code"),
    ("post", "/api/v1/vbp/contracts", {"generic_name": "氨氯地平", "dosage_form": "片剂", "strength": "99mg", "price": "1", "agreed_quantity": 10, "start": "2026-01-01", "end": "2026-12-31"}, MGR, "generic_name"),
    ("post", "/api/v1/prices/negotiated", {"item_code": AMLO, "price": "0.01", "effective_from": "2026-01-01"}, MGR, "item_code"),
    ("post", "/api/v1/prices/listed", {"item_code": AMOX, "price": "1", "effective_from": "2026-05-01", "effective_to": "2026-01-01"}, MGR, "effective_to"),
    ("post", "/api/v1/purchase-orders", {"distributor_tax_id": "913700007628000009", "lines": [{"item_code": AMOX, "quantity": 24}]}, MGR, "distributor_tax_id"),
    ("post", "/api/v1/transfers", {"from_site": "T01", "to_site": "T01", "item_code": AMOX, "quantity": 1}, MGR, "to_site"),
    ("post", "/api/v1/transfers", {"from_site": "T01", "to_site": "T02", "item_code": AMOX, "quantity": 1}, MGR, "quantity"),
    ("get", "/api/v1/settlements?month=2026-13", None, MGR, "month"),
    ("get", "/api/v1/transfers?month=0000-01", None, MGR, "month"),
    ("get", "/api/v1/recall?item_code=X", None, MGR, "batch_no"),
    ("get", "/api/v1/alerts/near-expiry?months=-1", None, MGR, "months"),
    ("post", "/api/v1/sites/T01/stock/adjustments", {"item_code": AMOX, "kind": "steal", "quantity": 1, "reason": "x"}, T01, "kind"),
    ("post", "/api/v1/sites/T01/stock/adjustments", {"item_code": AMOX, "kind": "dispense", "quantity": 0, "reason": "x"}, T01, "quantity"),
    ("post", "/api/v1/receipts/GR-NOPE/payment", {"paid_on": "yesterday"}, MGR, "paid_on"),
]  # fmt: skip


def _body(spec: Any) -> Any:
    if spec == "RECEIPT_PRICE_FLOAT":
        b = receipt_body()
        b["lines"][0]["unit_price"] = 1.23
        return b
    if spec == "RECEIPT_PRICE_5DP":
        b = receipt_body()
        b["lines"][0]["unit_price"] = "1.23001"
        return b
    if spec == "RECEIPT_PRICE_HUGE":
        b = receipt_body()
        b["lines"][0]["unit_price"] = "99999999999.0000"
        return b
    if spec == "RECEIPT_BAD_DATE":
        b = receipt_body()
        b["lines"][0]["expiry"] = "2028-02-30"
        return b
    if spec == "RECEIPT_FUTURE":
        return receipt_body(received_on=(today() + timedelta(days=3)).isoformat())
    if spec == "RECEIPT_NO_SITE":
        return receipt_body(site="NOPE")
    return spec


@pytest.mark.parametrize(("method", "path", "body", "who", "field"), BAD, ids=[f"{m} {p} {f}" for m, p, _, _, f in BAD])
def test_bad_input_is_4xx_naming_the_field_and_writes_nothing(
    client: FlaskClient, ctx: ServiceContext, method: str, path: str, body: Any, who: dict[str, str], field: str
) -> None:
    before = table_dump(ctx)
    kwargs: dict[str, Any] = {"headers": who}
    if method == "post":
        kwargs["json"] = _body(body) if body is not None else {}
    r = getattr(client, method)(path, **kwargs)
    assert 400 <= r.status_code < 500, (r.status_code, r.get_json())
    assert r.mimetype == "application/problem+json"
    fields = [e["field"] for e in r.get_json().get("errors") or []]
    assert any(f == field or f.startswith(field) for f in fields), (field, r.get_json())
    assert table_dump(ctx) == before


def test_invalid_json_and_cold_chain_records(client: FlaskClient) -> None:
    r = client.post("/api/v1/requisitions", data="{", headers={**T01, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.mimetype == "application/problem+json"
    line = {"item_code": INSULIN, "batch_no": "C1", "quantity": 10, "unit_price": "30.0000"}
    body = receipt_body()
    body["lines"] = [{**line, "expiry": (today() + timedelta(days=700)).isoformat(), "temperature_record": None}]
    for inv in body["invoices"]:
        inv["lines"] = [line]
    codes = [v["code"] for v in client.post("/api/v1/receipts/check", json=body, headers=MGR).get_json()["violations"]]
    assert codes == ["COLD_CHAIN_RECORD_MISSING"]
    for record in ("冷链箱 T-17 全程 2.4–6.8℃", {"min_c": 2.4, "max_c": 6.8, "logger": "T-17"}, [{"t": "08:00", "c": 4.1}]):
        body["lines"][0]["temperature_record"] = record
        assert client.post("/api/v1/receipts/check", json=body, headers=MGR).get_json() == {"ok": True, "violations": []}
    for empty in ("  ", {}, []):
        body["lines"][0]["temperature_record"] = empty
        assert client.post("/api/v1/receipts/check", json=body, headers=MGR).get_json()["ok"] is False
    body["lines"][0]["temperature_record"] = 5
    r = client.post("/api/v1/receipts/check", json=body, headers=MGR)
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "lines[0].temperature_record"
