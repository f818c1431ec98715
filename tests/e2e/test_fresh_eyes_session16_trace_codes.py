"""Fresh eyes (session 16): 追溯码 received once, tried with spellings a person or a scanner may send."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from shared.runtime import ServiceContext
from tests.e2e.test_procurement_api import MGR, client, ctx, receipt_body
from tests.support.web import table_dump

__all__ = ["client", "ctx"]  # fixtures

CODE = "81901234567890123456"
WIDE = "".join(
    chr(ord(c) + 0xFEE0) for c in CODE
)  # full-width digits, as an IME in full-width mode types them


def body_with(*lines_codes: list[str]) -> dict[str, Any]:
    body = receipt_body()
    first = body["lines"][0]
    body["lines"] = [
        {**first, "batch_no": f"B{i}", "trace_codes": codes} for i, codes in enumerate(lines_codes)
    ]
    for invoice in body["invoices"]:
        base = invoice["lines"][0]
        invoice["lines"] = [{**base, "batch_no": f"B{i}"} for i in range(len(lines_codes))]
    return body


@pytest.mark.parametrize(
    "twin", [WIDE, f" {CODE}", f"{CODE}\u3000", f"\u00a0{CODE}"], ids=["wide", "lead", "ideo", "nbsp"]
)
@pytest.mark.parametrize("url", ["/api/v1/receipts", "/api/v1/receipts/check"])
def test_a_code_and_its_twin_in_one_receipt_are_a_422(
    client: FlaskClient, ctx: ServiceContext, twin: str, url: str
) -> None:
    before = table_dump(ctx)
    for body in (body_with([CODE, twin]), body_with([CODE], [twin])):
        response = client.post(url, json=body, headers=MGR)
        assert response.status_code == 422 and response.mimetype == "application/problem+json", (
            response.get_json()
        )
        fields = [e["field"] for e in response.get_json()["errors"]]
        assert fields in (["lines[0].trace_codes[1]"], ["lines[1].trace_codes[0]"]), fields
    assert table_dump(ctx) == before


@pytest.mark.parametrize("twin", [WIDE, f" {CODE} "], ids=["wide", "spaces"])
def test_a_twin_of_a_code_received_earlier_is_a_409(
    client: FlaskClient, ctx: ServiceContext, twin: str
) -> None:
    assert client.post("/api/v1/receipts", json=body_with([CODE]), headers=MGR).status_code == 201
    before = table_dump(ctx)
    for url in ("/api/v1/receipts", "/api/v1/receipts/check"):
        response = client.post(url, json=body_with(["81901234567890120000", twin]), headers=MGR)
        assert response.status_code == 409 and response.mimetype == "application/problem+json", (
            response.get_json()
        )
        assert [e["field"] for e in response.get_json()["errors"]] == ["lines[0].trace_codes[1]"]
    assert table_dump(ctx) == before


def test_a_replay_under_its_key_is_the_first_answer_and_another_key_is_a_409(
    client: FlaskClient, ctx: ServiceContext
) -> None:
    body = body_with([CODE])
    first = client.post("/api/v1/receipts", json=body, headers={**MGR, "Idempotency-Key": "fe16-1"})
    again = client.post("/api/v1/receipts", json=body, headers={**MGR, "Idempotency-Key": "fe16-1"})
    assert first.status_code == again.status_code == 201 and first.get_json() == again.get_json()
    other = client.post("/api/v1/receipts", json=body, headers={**MGR, "Idempotency-Key": "fe16-2"})
    assert other.status_code == 409


def test_recall_finds_a_code_typed_full_width(client: FlaskClient, ctx: ServiceContext) -> None:
    assert client.post("/api/v1/receipts", json=body_with([CODE]), headers=MGR).status_code == 201
    narrow = client.get(f"/api/v1/recall?trace_code={CODE}", headers=MGR)
    wide = client.get(f"/api/v1/recall?trace_code={WIDE}", headers=MGR)
    assert narrow.status_code == wide.status_code == 200
    assert narrow.get_json() == wide.get_json() and narrow.get_json()


@pytest.mark.parametrize("bad", ["\u202e" + CODE, CODE + "\u200b", CODE + "\x00"])
def test_a_code_with_control_characters_is_a_422_naming_it(
    client: FlaskClient, ctx: ServiceContext, bad: str
) -> None:
    before = table_dump(ctx)
    response = client.post("/api/v1/receipts", json=body_with([CODE, bad]), headers=MGR)
    assert response.status_code == 422, response.get_json()
    assert [e["field"] for e in response.get_json()["errors"]] == ["lines[0].trace_codes[1]"]
    assert table_dump(ctx) == before
