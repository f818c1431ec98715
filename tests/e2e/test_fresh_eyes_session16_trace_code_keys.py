"""Fresh eyes (session 16), faults now fixed: trace-code spellings and a stored header."""

from __future__ import annotations

from flask.testing import FlaskClient

from shared.runtime import ServiceContext
from tests.e2e.test_fresh_eyes_session16_trace_codes import CODE, body_with
from tests.e2e.test_procurement_api import AMOX, MGR, T01, client, ctx
from tests.support.web import table_dump

__all__ = ["client", "ctx"]  # fixtures


def test_a_code_with_inner_spaces_is_the_same_package(client: FlaskClient, ctx: ServiceContext) -> None:
    """A 20-digit 追溯码 typed in groups ("8190 1234 ...") names the same package as the scanned one."""
    grouped = " ".join(CODE[i : i + 4] for i in range(0, 20, 4))
    response = client.post("/api/v1/receipts/check", json=body_with([CODE, grouped]), headers=MGR)
    assert response.status_code == 422, response.get_json()


def test_a_requisition_idempotency_key_with_a_c1_control_or_format_character_is_not_stored(
    client: FlaskClient, ctx: ServiceContext
) -> None:
    """UTF-8 bytes of U+202E sent in a header arrive (latin-1) as 'â\x80®': U+0080 is a Cc character the
    text rule refuses; the requisition endpoint checks only the key's length and stores it as sent."""
    body = {"site_code": "T01", "lines": [{"item_code": AMOX, "quantity": 48}]}
    for key in ("k\u00e2\u0080\u00aex", "k\u202ex", "k\u200bx"):
        before = table_dump(ctx)
        response = client.post("/api/v1/requisitions", json=body, headers={**T01, "Idempotency-Key": key})
        assert response.status_code == 400 or response.status_code == 422, (repr(key), response.status_code)
        assert table_dump(ctx) == before
