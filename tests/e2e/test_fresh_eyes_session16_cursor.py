"""Fresh eyes (session 16): a reference-sites paging cursor that decodes to a NUL ("AA" is URL-safe
base64 of b"\\x00") is a 4xx naming the cursor on SQLite and on PostgreSQL (which cannot hold NUL in text)."""

from __future__ import annotations

import pytest

from services.procurement.app import SPEC
from tests.service.procurement.procurement_support import load_reference
from tests.support.backends import Backend, backend
from tests.support.web import bearer

__all__ = ["backend"]  # fixture

MGR = bearer("pharmacy_manager", name="fe16-cursor")


@pytest.mark.parametrize("cursor", ["AA", "QQBC", "Q1ctVDAxAA"], ids=["nul", "a-nul-b", "code-then-nul"])
def test_a_cursor_that_decodes_to_nul_is_a_400_naming_it(backend: Backend, cursor: str) -> None:
    ctx = backend.context(SPEC)
    load_reference(ctx)
    response = SPEC.create_app(ctx).test_client().get(f"/api/v1/reference/sites?cursor={cursor}", headers=MGR)
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data()[:300])
    assert "cursor" in [e["field"] for e in response.get_json()["errors"]]
