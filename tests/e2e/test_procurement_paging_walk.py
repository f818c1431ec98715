"""Procurement's long lists page as the formulary's do (limit 1–1000, opaque cursor, Link rel="next" and
next_cursor): walking GET /api/v1/stock and GET /api/v1/central/lots page by page, with any page size in
the allowed range, yields every row exactly once and in order, on SQLite and on the real PostgreSQL.

The data has many rows with equal sort keys (central lots of one item, expiry and batch; site lots of
one item), so only the unique tie-breaker (lot id; item code for site stock) keeps the pages apart.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.procurement.app import SPEC
from services.procurement.store import stock
from shared.clock import utcnow
from shared.db import unit_of_work
from shared.runtime import ServiceContext
from tests.service.procurement.procurement_support import AMLO, AMOX, INSULIN, load_reference, today
from tests.support.backends import Backend, backend
from tests.support.web import bearer

__all__ = ["backend"]  # fixture

MGR = bearer("pharmacy_manager", name="paging-mgr")
T01 = bearer("storekeeper", site="T01", name="paging-t01")
LINK = re.compile(r'^<([^>]+)>; rel="next"\Z')
# Page sizes: small ones (many pages) are where paging breaks; any size in the allowed range must work.
LIMITS = st.one_of(st.integers(min_value=1, max_value=12), st.integers(min_value=1, max_value=1000))
RUN = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def seed(ctx: ServiceContext) -> None:
    """Central lots with equal (item, expiry, batch) keys and some emptied ones; T01 holding 30 items
    (two lots each), consuming two items it holds no lot of (consumption only) and an empty lot."""
    load_reference(ctx)
    at = utcnow()
    soon, later = today() + timedelta(days=200), today() + timedelta(days=400)
    with unit_of_work(ctx.factory) as session:
        for n, (code, expiry, batch) in enumerate(
            [(AMOX, soon, "B01")] * 6 + [(AMOX, later, "B01")] * 3 + [(AMOX, soon, "B02")] * 2
            + [(INSULIN, soon, "B01")] * 4 + [(AMLO, later, "B03")] * 5 + [("YP009999", soon, "B01")] * 3
        ):  # fmt: skip
            lot = stock.add_central_lot(
                session, code, batch, expiry, Decimal("1.2300"), 10 + n, f"GR-{n}", (), at
            )
            if n % 7 == 3:  # an emptied lot: not listed, on any page
                session.execute(stock.CENTRAL.update().where(stock.CENTRAL.c.id == lot).values(balance=0))
        for i in range(30):
            code = f"YP{900000 + i * 7 % 30:06d}"
            for batch in ("L1", "L2"):
                stock.move_site_stock(session, "T01", code, batch, 5 + i, "receipt", at=at, expiry=later)
        stock.move_site_stock(
            session, "T01", "YP800000", "", 0, "count", at=at
        )  # an empty lot: still an item
        for code in ("YP700000", "YP950000"):  # consumed at T01 from another site's books: no lot at T01
            stock.move_site_stock(
                session, "T02", code, "C1", 40, "receipt", at=at - timedelta(days=2), expiry=later
            )
            session.execute(stock.SITE_MOVES.insert().values(
                site_code="T01", item_code=code, batch_no="C1", kind="dispense", quantity=-3, at=at - timedelta(days=1),
            ))  # fmt: skip


def walk(
    client: FlaskClient, first: str, key: str, headers: dict[str, str]
) -> tuple[list[dict[str, Any]], int]:
    """Every row of a paged list, following Link rel="next" (checked against the body's next_cursor);
    (rows, number of requests)."""
    rows: list[dict[str, Any]] = []
    url: str | None = first
    requests = 0
    while url is not None:
        response = client.get(url, headers=headers)
        requests += 1
        assert response.status_code == 200, (response.status_code, response.get_json())
        body = response.get_json()
        rows += body[key]
        link = response.headers.get("Link")
        if body["next_cursor"] is None:
            assert link is None
            url = None
        else:
            found = LINK.match(link or "")
            assert found, link
            url = found.group(1)
            assert parse_qs(urlsplit(url).query)["cursor"] == [body["next_cursor"]]
        assert requests < 2000, "paging does not end"
    return rows, requests


def expected_central(ctx: ServiceContext, item_code: str | None = None) -> list[int]:
    """Lot ids with stock in FEFO order, id the tie-breaker (codes and batches are ASCII of one case and
    length, so Python's order is every database collation's)."""
    with unit_of_work(ctx.factory) as session:
        lots = [lot for lot in stock.central_lots(session, item_code) if lot["balance"] > 0]
    return [
        lot["id"] for lot in sorted(lots, key=lambda r: (r["item_code"], r["expiry"], r["batch_no"], r["id"]))
    ]


def test_walking_central_lots_yields_every_lot_once_in_fefo_order(backend: Backend) -> None:
    ctx = backend.context(SPEC)
    seed(ctx)
    client = SPEC.create_app(ctx).test_client()
    everything = expected_central(ctx)
    assert len(everything) == len(set(everything)) == 20
    one_item = expected_central(ctx, AMOX)

    @RUN
    @given(limit=LIMITS, only_amox=st.booleans())
    def check(limit: int, only_amox: bool) -> None:
        query = f"&item_code={AMOX}" if only_amox else ""
        rows, requests = walk(client, f"/api/v1/central/lots?limit={limit}{query}", "lots", MGR)
        wanted = one_item if only_amox else everything
        assert [r["id"] for r in rows] == wanted
        assert requests == max(1, -(-len(wanted) // limit))  # a last full page says so: no empty extra page
        assert all(r["balance"] > 0 for r in rows)

    check()


def test_walking_site_stock_yields_every_item_once_by_code(backend: Backend) -> None:
    ctx = backend.context(SPEC)
    seed(ctx)
    client = SPEC.create_app(ctx).test_client()
    whole = client.get("/api/v1/stock?site=T01&limit=1000", headers=T01).get_json()
    codes = [i["item_code"] for i in whole["items"]]
    assert whole["next_cursor"] is None and len(codes) == 33 and codes == sorted(set(codes))
    assert {"YP700000", "YP950000", "YP800000"} <= set(codes)  # consumption only, and an empty lot
    by_code = {i["item_code"]: i for i in whole["items"]}
    assert [lot["batch_no"] for lot in by_code["YP900000"]["lots"]] == ["L1", "L2"]
    assert by_code["YP700000"]["consumed"] == 3 and by_code["YP700000"]["lots"] == []

    @RUN
    @given(limit=LIMITS)
    def check(limit: int) -> None:
        rows, requests = walk(client, f"/api/v1/stock?site=T01&limit={limit}", "items", T01)
        assert rows == [
            by_code[c] for c in codes
        ]  # every item once, in order, with the same lots and figures
        assert requests == -(-len(codes) // limit)

    check()


def test_the_default_page_is_100_rows_and_the_policy_rides_on_every_page(backend: Backend) -> None:
    ctx = backend.context(SPEC)
    seed(ctx)
    at = utcnow()
    with unit_of_work(ctx.factory) as session:
        for i in range(120):
            stock.add_central_lot(
                session, AMOX, "B09", today() + timedelta(days=900), Decimal("1"), 1, f"GR-X{i}", (), at
            )
    client = SPEC.create_app(ctx).test_client()
    first = client.get("/api/v1/central/lots", headers=MGR)
    assert len(first.get_json()["lots"]) == 100 and first.get_json()["next_cursor"]
    rows, _ = walk(client, "/api/v1/central/lots", "lots", MGR)
    assert [r["id"] for r in rows] == expected_central(ctx)
    page = client.get("/api/v1/stock?site=T01&limit=5", headers=T01).get_json()
    follow = client.get(
        f"/api/v1/stock?site=T01&limit=5&cursor={page['next_cursor']}", headers=T01
    ).get_json()
    assert page["policy"] == follow["policy"] and page["site_name"] == follow["site_name"] == "苟村集镇卫生院"


def test_a_lot_emptied_between_pages_is_skipped_and_no_other_lot_is_lost(backend: Backend) -> None:
    """Keyset paging: the next page starts after the last row shown, whatever happened to rows before it."""
    ctx = backend.context(SPEC)
    seed(ctx)
    client = SPEC.create_app(ctx).test_client()
    before = expected_central(ctx)
    first = client.get("/api/v1/central/lots?limit=4", headers=MGR).get_json()
    shown = [r["id"] for r in first["lots"]]
    with unit_of_work(ctx.factory) as session:  # a shown lot and the lot due next are both used up
        for gone in (shown[0], before[4]):
            session.execute(stock.CENTRAL.update().where(stock.CENTRAL.c.id == gone).values(balance=0))
    rest, _ = walk(client, f"/api/v1/central/lots?limit=4&cursor={first['next_cursor']}", "lots", MGR)
    assert shown + [r["id"] for r in rest] == [i for i in before if i != before[4]]
