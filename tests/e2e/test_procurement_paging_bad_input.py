"""Bad paging parameters on GET /api/v1/stock and GET /api/v1/central/lots: a 4xx problem+json naming the
parameter (limit: 1–1000 as on the formulary's lists; cursor: only one this API gave out), nothing written,
never a 5xx, on SQLite and on the real PostgreSQL; who may read each list is unchanged by paging."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.procurement.app import SPEC
from services.procurement.store import stock
from shared.clock import utcnow
from shared.db import unit_of_work
from shared.runtime import ServiceContext
from tests.service.procurement.procurement_support import AMOX, load_reference, today
from tests.support.backends import Backend, backend
from tests.support.web import bearer, table_dump

__all__ = ["backend"]  # fixture

MGR = bearer("pharmacy_manager", name="paging-bad-mgr")
T01 = bearer("storekeeper", site="T01", name="paging-bad-t01")
T02 = bearer("storekeeper", site="T02", name="paging-bad-t02")
LISTS = (
    ("/api/v1/central/lots", {}, MGR),
    ("/api/v1/stock", {"site": "T01"}, T01),
)  # (path, base query, who)


def b64(value: Any) -> str:
    """A cursor-shaped token (URL-safe base64 of JSON, no padding) holding any value."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


BAD_LIMITS = ["0", "-1", "-99999999999999999999", "1001", "99999999999999999999999999", "abc", "1.5", "", " ", "1e3",
              "0x10"]  # fmt: skip
BAD_CURSORS = [
    "!!!", "not a cursor", "x" * 401, "AA", "QQBC", b64([]), b64({"a": 1}), b64("YP000100"), b64([1]), b64([None]),
    b64(["YP000100", "2026-01-01"]), b64(["YP000100", "2026-13-40", "B01", 1]), b64(["YP000100", "2026-01-01", "B01", "1"]),
    b64(["YP000100", "2026-01-01", "B01", 2**70]), b64(["YP000100", "2026-01-01", "B01", 1.5]), b64(["a\x00b"]),
    b64(["YP000100", "2026-01-01", "B\x0001", 1]), b64([True]), "\x01", "YP\x00",
]  # fmt: skip


@pytest.fixture()
def ctx(backend: Backend) -> ServiceContext:
    """A procurement database with central lots and site stock at T01."""
    made = backend.context(SPEC)
    load_reference(made)
    at = utcnow()
    with unit_of_work(made.factory) as session:
        for n in range(3):
            stock.add_central_lot(
                session, AMOX, "B01", today() + timedelta(days=300), Decimal("1"), 5, f"GR-{n}", (), at
            )
            stock.move_site_stock(session, "T01", f"YP90000{n}", "L1", 5, "receipt", at=at, expiry=today())
    return made


@pytest.fixture()
def client(ctx: ServiceContext) -> FlaskClient:
    """A test client of the procurement app."""
    return SPEC.create_app(ctx).test_client()


def problem_fields(response: Any) -> list[str]:
    """The fields a 4xx problem+json names."""
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data()[:300])
    assert response.mimetype == "application/problem+json"
    return [e["field"] for e in response.get_json().get("errors") or []]


@pytest.mark.parametrize("value", BAD_LIMITS)
def test_a_bad_limit_is_a_4xx_naming_limit_and_writes_nothing(
    client: FlaskClient, ctx: ServiceContext, value: str
) -> None:
    before = table_dump(ctx)
    for path, base, who in LISTS:
        response = client.get(path, query_string={**base, "limit": value}, headers=who)
        assert "limit" in problem_fields(response), (path, value, response.get_json())
    assert table_dump(ctx) == before


@pytest.mark.parametrize("value", BAD_CURSORS, ids=range(len(BAD_CURSORS)))
def test_a_cursor_this_api_did_not_give_out_is_a_4xx_naming_cursor(
    client: FlaskClient, ctx: ServiceContext, value: str
) -> None:
    before = table_dump(ctx)
    for path, base, who in LISTS:
        response = client.get(path, query_string={**base, "cursor": value, "limit": "2"}, headers=who)
        assert "cursor" in problem_fields(response), (path, value, response.get_json())
    assert table_dump(ctx) == before


def test_a_cursor_of_the_other_list_is_refused(client: FlaskClient) -> None:
    lots = client.get("/api/v1/central/lots?limit=1", headers=MGR).get_json()["next_cursor"]
    items = client.get("/api/v1/stock?site=T01&limit=1", headers=T01).get_json()["next_cursor"]
    assert lots and items
    assert "cursor" in problem_fields(client.get(f"/api/v1/stock?site=T01&cursor={lots}", headers=T01))
    assert "cursor" in problem_fields(client.get(f"/api/v1/central/lots?cursor={items}", headers=MGR))


def test_unknown_paging_parameters_are_refused_by_name(client: FlaskClient) -> None:
    for path, base, who in LISTS:
        for name in ("offset", "page", "per_page", "page_size"):
            assert name in problem_fields(client.get(path, query_string={**base, name: "1"}, headers=who))


def test_limit_bounds_and_an_empty_cursor_are_accepted(client: FlaskClient) -> None:
    for path, base, who in LISTS:
        for query in ({"limit": "1"}, {"limit": "1000"}, {"cursor": ""}, {"limit": "+7"}):
            response = client.get(path, query_string={**base, **query}, headers=who)
            assert response.status_code == 200, (path, query, response.get_json())


def test_who_may_read_each_list_is_unchanged_by_paging(client: FlaskClient) -> None:
    page = client.get("/api/v1/stock?site=T01&limit=1", headers=T01).get_json()
    follow = f"/api/v1/stock?site=T01&limit=1&cursor={page['next_cursor']}"
    assert client.get(follow, headers=T01).status_code == 200
    assert (
        client.get(follow, headers=T02).status_code == 403
    )  # another site's storekeeper, even with a cursor
    assert client.get("/api/v1/stock?site=T01&limit=1", headers=MGR).status_code == 200
    lots = client.get("/api/v1/central/lots?limit=1", headers=MGR).get_json()["next_cursor"]
    for who in (T01, bearer("dispatcher")):
        assert client.get(f"/api/v1/central/lots?limit=1&cursor={lots}", headers=who).status_code == 403
    assert client.get("/api/v1/central/lots?limit=1").status_code == 401


TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(limit=st.one_of(st.none(), TEXT, st.integers().map(str)), cursor=st.one_of(st.none(), TEXT, st.binary(max_size=40).map(
    lambda b: base64.urlsafe_b64encode(b).decode().rstrip("="))), site=st.one_of(st.just("T01"), TEXT))  # fmt: skip
def test_any_paging_parameters_give_a_page_or_a_4xx_naming_them_never_a_5xx(
    client: FlaskClient, limit: str | None, cursor: str | None, site: str
) -> None:
    query = {k: v for k, v in (("limit", limit), ("cursor", cursor)) if v is not None}
    for path, who, extra in (("/api/v1/central/lots", MGR, {}), ("/api/v1/stock", MGR, {"site": site})):
        response = client.get(path, query_string={**query, **extra}, headers=who)
        assert response.status_code < 500, (path, query, response.get_data()[:300])
        if response.status_code != 200:
            assert set(problem_fields(response)) & {"limit", "cursor", "site"}, response.get_json()
