"""A 追溯码 (trace code) names one sellable package: it is received once.

Found: a goods receipt took one trace code repeated 10,000 times (201), and the same code again in a
later receipt. Now the same code twice within a receipt (one line or two) is a 422 naming each
repeat as lines[i].trace_codes[j]; a code an earlier receipt carried is a 409 naming it; nothing is
written either way. Checked on SQLite and the real PostgreSQL (where two receipts of the same code
booked at the same moment are serialised by a lock: exactly one is booked).

How many codes a line carries is not tied to its quantity: the quantity counts dispensing units
(tablets), a code one package, and the codes are optional; the project documents no such rule.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.procurement.app import SPEC
from services.procurement.model import commands as c
from services.procurement.service import receiving
from shared.errors import Conflict, InvalidInput
from tests.e2e.test_procurement_api import receipt_body
from tests.service.procurement.procurement_support import MANAGER, clean_receipt, line, load_reference
from tests.support.backends import Backend, backend
from tests.support.web import bearer, table_dump

__all__ = ["backend"]  # fixture

MGR = {**bearer("pharmacy_manager", name="trace-mgr"), "Content-Type": "application/json"}
CODE = "81901234567890123456"


def _ctx(backend: Backend) -> Any:
    ctx = backend.context(SPEC)
    load_reference(ctx)
    return ctx


def _lots(ctx: Any) -> int:
    dump = table_dump(ctx)
    return sum(len(rows) for name, rows in dump.items() if name in ("receipts", "receipt_lines", "central_lots", "site_lots"))


def test_one_code_ten_thousand_times_is_a_422_naming_the_repeats(backend: Backend) -> None:
    ctx = _ctx(backend)
    client = SPEC.create_app(ctx).test_client()
    before = table_dump(ctx)
    body = receipt_body()
    body["lines"][0]["trace_codes"] = [CODE] * 10_000
    for url in ("/api/v1/receipts", "/api/v1/receipts/check"):
        response = client.post(url, json=body, headers=MGR)
        assert response.status_code == 422 and response.mimetype == "application/problem+json", response.get_data()[:300]
        fields = [e["field"] for e in response.get_json()["errors"]]
        assert fields[0] == "lines[0].trace_codes[1]" and len(fields) == receiving.TRACE_ERRORS_SHOWN, fields[:3]
        assert CODE in response.get_json()["errors"][0]["message"]
    assert table_dump(ctx) == before


def test_the_same_code_on_two_lines_is_a_422_naming_the_second(backend: Backend) -> None:
    ctx = _ctx(backend)
    receipt = clean_receipt(line(batch="B1", qty=120, trace=("A1", CODE)), line(batch="B2", qty=120, trace=("B1", CODE)))
    with pytest.raises(InvalidInput) as refused:
        receiving.book_receipt(ctx, MANAGER, c.BookReceipt(receipt))
    assert list(refused.value.fields) == ["lines[1].trace_codes[1]"] and "lines[0].trace_codes[1]" in refused.value.fields["lines[1].trace_codes[1]"]
    assert _lots(ctx) == 0


def test_a_code_received_before_is_a_409_naming_it_and_writes_nothing(backend: Backend) -> None:
    ctx = _ctx(backend)
    client = SPEC.create_app(ctx).test_client()
    first = receipt_body()
    first["lines"][0]["trace_codes"] = [CODE, "81901234567890123457"]
    assert client.post("/api/v1/receipts", json=first, headers=MGR).status_code == 201
    before = table_dump(ctx)
    again = receipt_body()
    again["lines"][0]["trace_codes"] = ["81901234567890123999", CODE]
    for url in ("/api/v1/receipts", "/api/v1/receipts/check"):
        response = client.post(url, json=again, headers=MGR)
        assert response.status_code == 409 and response.mimetype == "application/problem+json", response.get_data()[:300]
        problem = response.get_json()
        assert CODE in problem["detail"] and [e["field"] for e in problem["errors"]] == ["lines[0].trace_codes[1]"], problem
    assert table_dump(ctx) == before
    fresh = receipt_body()
    fresh["lines"][0]["trace_codes"] = ["81901234567890123999"]
    assert client.post("/api/v1/receipts", json=fresh, headers=MGR).status_code == 201


def test_a_replayed_request_is_not_a_conflict(backend: Backend) -> None:
    """The same request again under its Idempotency-Key answers as the first time (it is not a second receipt)."""
    ctx = _ctx(backend)
    client = SPEC.create_app(ctx).test_client()
    body = receipt_body()
    body["lines"][0]["trace_codes"] = [CODE]
    first = client.post("/api/v1/receipts", json=body, headers={**MGR, "Idempotency-Key": "gr-trace-1"})
    again = client.post("/api/v1/receipts", json=body, headers={**MGR, "Idempotency-Key": "gr-trace-1"})
    assert first.status_code == again.status_code == 201 and first.get_json() == again.get_json()


def test_two_receipts_of_one_code_at_once_book_exactly_one(backend: Backend) -> None:
    ctx = _ctx(backend)
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def book(batch: str) -> None:
        start.wait()
        try:
            receiving.book_receipt(ctx, MANAGER, c.BookReceipt(clean_receipt(line(batch=batch, trace=(CODE,)))))
            outcomes.append("booked")
        except Conflict:
            outcomes.append("409")
        except Exception as exc:  # noqa: BLE001 - SQLite may say "database is locked" to the loser; any other fault fails
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=book, args=(b,)) for b in ("R1", "R2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["409", "booked"], outcomes


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(codes=st.lists(st.lists(st.sampled_from(["C1", "C2", "C3", "C4", "C5", "C6"]), max_size=5), min_size=1, max_size=3))
def test_a_receipt_is_refused_exactly_when_a_code_repeats_naming_each_repeat(codes: list[list[str]]) -> None:
    """Property (no database): the 422 names precisely the positions whose code appeared earlier in the receipt."""
    receipt = clean_receipt(*(line(batch=f"B{i}", trace=tuple(cs)) for i, cs in enumerate(codes)))
    seen: set[str] = set()
    expected = []
    for i, cs in enumerate(codes):
        for j, code in enumerate(cs):
            if code in seen:
                expected.append(f"lines[{i}].trace_codes[{j}]")
            seen.add(code)
    if not expected:
        receiving.refuse_repeated_trace_codes(receipt)
        return
    with pytest.raises(InvalidInput) as refused:
        receiving.refuse_repeated_trace_codes(receipt)
    assert list(refused.value.fields) == expected
