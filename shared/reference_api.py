"""Read-only HTTP views of a service's formulary read model (what it learned from events).

Item search is the hub's one search (shared/search.py): the storekeeper's order form and the
pharmacist's pages find `amxl`, `ssyxjn`, `ＹＰ000007` or `阿莫西林 胶囊` exactly as the formulary does.
Site-owned data (a site's stocking list, the items a site may stock) is confined to the caller's
site for a storekeeper (`Principal.require_site`).
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

from flask import current_app, request
from marshmallow import Schema, fields, validate

from shared.db import read_only
from shared.errors import NotFound
from shared.reference_queries import item_snapshot, site_snapshots, stocklist
from shared.reference_schemas import RefItemOut, RefSiteOut, RefStocklistOut
from shared.search import BadCursor, ReferenceIndex
from shared.text import Text
from shared.web.app import current_principal
from shared.web.blueprint import Blueprint
from shared.web.responses import problems

LEVELS = ("county_hospital", "township", "village")


class RefQuery(Schema):
    """Filters and paging for the read model."""

    q = Text(load_default=None, validate=validate.Length(max=100))  # the formulary's rule: NFKC, controls refused
    level = fields.String(load_default=None, validate=validate.OneOf(LEVELS))
    site = Text(load_default=None, validate=validate.Length(max=40))
    # an opaque token this API gave out: URL-safe base64 without padding, nothing else
    cursor = fields.String(load_default=None, validate=[validate.Length(max=400),
                                                        validate.Regexp(r"^[A-Za-z0-9_-]*\Z", error="not a cursor this API gave out")])
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


def _link(next_cursor: str | None) -> dict[str, str]:
    if not next_cursor:
        return {}
    args = {k: v for k, v in request.args.items() if k != "cursor"}
    return {"Link": f'<{request.path}?{urlencode({**args, "cursor": next_cursor})}>; rel="next"'}


def reference_blueprint(service: str) -> Blueprint:
    """A blueprint under /api/v1/reference for one service's copy of the formulary."""
    blp = Blueprint(f"{service}_reference", __name__, url_prefix="/api/v1/reference", description="formulary read model")
    index = ReferenceIndex()

    def tables() -> Any:
        return current_app.extensions["countyhub"].metadata.tables

    def factory() -> Any:
        return current_app.extensions["countyhub"].factory

    def list_codes(session: Any, site: str | None, level: str | None) -> set[str] | None:
        if site:
            current_principal().require_site(site)
            own = stocklist(session, tables()["ref_stocklists"], f"site:{site}")
            if own is None:
                site_row = site_snapshots(session, tables()["ref_sites"], level=None, only=site, after=None, limit=1)[0]
                if not site_row:
                    raise NotFound(f"{service} has not heard of site {site}", {"site": "no such site"})
                own = stocklist(session, tables()["ref_stocklists"], f"level:{site_row[0]['level']}")
            return set(own["item_codes"]) if own else set()
        if level:
            found = stocklist(session, tables()["ref_stocklists"], f"level:{level}")
            return set(found["item_codes"]) if found else set()
        return None

    @blp.route("/items")
    @blp.arguments(RefQuery, location="query")
    @blp.response(200, RefItemOut(many=True))
    @problems(blp, 404)
    def items(args: dict[str, Any]) -> Any:
        """Items as this service knows them, searched and ranked as the formulary does (Link header pages)."""
        with read_only(factory()) as session:
            codes = list_codes(session, args["site"], args["level"])
            found, nxt = index.search(
                session, tables()["ref_items"], args["q"], limit=args["limit"], cursor=args["cursor"], codes=codes
            )
        return found, 200, _link(nxt)

    @blp.route("/items/<code>")
    @blp.response(200, RefItemOut)
    @problems(blp, 404)
    def item(code: str) -> Any:
        """One item as this service knows it."""
        with read_only(factory()) as session:
            found = item_snapshot(session, tables()["ref_items"], code)
        if found is None:
            raise NotFound(f"{service} has not heard of item {code}")
        return found

    @blp.route("/sites")
    @blp.arguments(RefQuery, location="query")
    @blp.response(200, RefSiteOut(many=True))
    def sites(args: dict[str, Any]) -> Any:
        """Sites as this service knows them, by code (Link header pages)."""
        after = None
        if args["cursor"]:
            try:
                after = base64.urlsafe_b64decode(args["cursor"] + "=" * (-len(args["cursor"]) % 4)).decode()
            except ValueError as exc:
                raise BadCursor("the cursor is not one this API gave out", {"cursor": "invalid"}) from exc
        with read_only(factory()) as session:
            rows, last = site_snapshots(
                session, tables()["ref_sites"], level=args["level"], only=None, after=after, limit=args["limit"]
            )
        nxt = base64.urlsafe_b64encode(last.encode()).decode().rstrip("=") if last else None
        return rows, 200, _link(nxt)

    @blp.route("/stocklists/<scope>/<value>")
    @blp.response(200, RefStocklistOut)
    @problems(blp, 404)
    def stocklist_view(scope: str, value: str) -> Any:
        """A stocking list as this service knows it; a storekeeper reads only their own site's."""
        if scope == "site":
            current_principal().require_site(value)
        with read_only(factory()) as session:
            found = stocklist(session, tables()["ref_stocklists"], f"{scope}:{value}")
        if found is None:
            raise NotFound(f"{service} has no stocking list {scope}:{value}")
        return {"scope": scope, "value": value, "catalogue_version": found["catalogue_version"], "item_codes": found["item_codes"]}

    return blp
