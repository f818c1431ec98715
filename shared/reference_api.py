"""Read-only HTTP views of a service's formulary read model (what it learned from events)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from shared.errors import NotFound
from shared.web.blueprint import Blueprint


class RefQuery(Schema):
    """Filters for the read model."""

    q = fields.String(load_default=None, validate=validate.Length(max=100))
    level = fields.String(load_default=None)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


def reference_blueprint(service: str) -> Blueprint:
    """A blueprint under /api/v1/reference for one service's copy of the formulary."""
    blp = Blueprint(f"{service}_reference", __name__, url_prefix="/api/v1/reference", description="formulary read model")

    def tables() -> Any:
        return current_app.extensions["countyhub"].metadata.tables

    def factory() -> Any:
        return current_app.extensions["countyhub"].factory

    @blp.route("/items")
    @blp.arguments(RefQuery, location="query")
    @blp.response(200)
    def items(args: dict[str, Any]) -> Any:
        """Items as this service knows them."""
        t = tables()["ref_items"]
        query = select(t.c.snapshot).order_by(t.c.code).limit(args["limit"])
        if args["q"]:
            query = query.where(t.c.generic_name.contains(args["q"]) | (t.c.code == args["q"]))
        with factory()() as session:
            return [r[0] for r in session.execute(query)]

    @blp.route("/items/<code>")
    @blp.response(200)
    def item(code: str) -> Any:
        """One item as this service knows it."""
        t = tables()["ref_items"]
        with factory()() as session:
            row = session.execute(select(t.c.snapshot).where(t.c.code == code)).first()
        if row is None:
            raise NotFound(f"{service} has not heard of item {code}")
        return row[0]

    @blp.route("/sites")
    @blp.arguments(RefQuery, location="query")
    @blp.response(200)
    def sites(args: dict[str, Any]) -> Any:
        """Sites as this service knows them."""
        t = tables()["ref_sites"]
        query = select(t.c.snapshot).order_by(t.c.code).limit(args["limit"])
        if args["level"]:
            query = query.where(t.c.level == args["level"])
        with factory()() as session:
            return [r[0] for r in session.execute(query)]

    @blp.route("/stocklists/<scope>/<value>")
    @blp.response(200)
    def stocklist(scope: str, value: str) -> Any:
        """A stocking list as this service knows it."""
        t = tables()["ref_stocklists"]
        with factory()() as session:
            row = session.execute(select(t).where(t.c.scope_key == f"{scope}:{value}")).mappings().first()
        if row is None:
            raise NotFound(f"{service} has no stocking list {scope}:{value}")
        return {"scope": scope, "value": value, "catalogue_version": row["catalogue_version"], "item_codes": row["item_codes"]}

    return blp
