"""The formulary's HTTP API: thin views that parse, call one use case, and serialise."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify, request
from flask.views import MethodView
from sqlalchemy import select

from services.formulary import schemas, service, store
from services.formulary.importing import UnreadableFile, read_table, validate_rows
from services.formulary.model import ChangeKind, stocklist_key
from shared.errors import InvalidInput, NotFound, PreconditionFailed, PreconditionRequired
from shared.runtime import ServiceContext
from shared.web.app import current_principal
from shared.web.blueprint import Blueprint
from shared.web.idempotency import idempotent
from shared.web.problems import problem

blp = Blueprint("formulary", __name__, url_prefix="/api/v1", description="统一药品耗材目录 — the county catalogue")


def _ctx() -> ServiceContext:
    return current_app.extensions["countyhub"]  # type: ignore[no-any-return]


def _etag(code: str, version: int) -> str:
    return f'"{code}-v{version}"'


def _created(change: Any) -> tuple[Any, int, dict[str, str]]:
    return change, 201, {"Location": f"/api/v1/changes/{change.id}"}


@blp.route("/items")
class Items(MethodView):
    """Search the catalogue; propose a new item."""

    @blp.arguments(schemas.ItemQuery, location="query")
    @blp.response(200, schemas.ItemPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Search by code, Chinese or English name, trade name or pinyin initials (amxl → 阿莫西林)."""
        principal = current_principal()
        scope_key = None
        with _ctx().factory() as session:
            if args["site"]:
                principal.require_site(args["site"])
                scope_key = store.effective_stocklist_key(session, args["site"])
                if scope_key is None:
                    raise NotFound(f"no site {args['site']}", {"site": "no such site"})
            elif args["level"]:
                scope_key = stocklist_key("level", args["level"])
            cursor = None
            if args["cursor"]:
                try:
                    cursor = store.decode_cursor(args["cursor"])
                except (ValueError, TypeError) as exc:
                    raise InvalidInput("the cursor is not one this API gave out", {"cursor": "invalid"}) from exc
            found, next_cursor = store.search_items(
                session,
                q=args["q"],
                kind=args["kind"],
                status=None if args["status"] == "all" else args["status"],
                scope_key=scope_key,
                essential=args["essential"],
                cursor=cursor,
                limit=args["limit"],
            )
        return {"items": found, "next_cursor": next_cursor}

    @idempotent
    @blp.arguments(schemas.ItemCreateIn)
    @blp.response(201, schemas.ChangeOut)
    def post(self, data: dict[str, Any]) -> Any:
        """Propose a new item (a draft until the committee approves it)."""
        note = data.pop("note", None)
        change = service.propose(
            _ctx(), current_principal(), service.Proposal(ChangeKind.ITEM_CREATE, data["code"], data, note)
        )
        return _created(change)


@blp.route("/items/<code>")
class Item(MethodView):
    """One item; propose an edit to it."""

    @blp.response(200, schemas.ItemOut)
    def get(self, code: str) -> Any:
        """The item's current approved state, with an ETag for edits."""
        with _ctx().factory() as session:
            item = store.item_row(session, code)
        if item is None:
            raise NotFound(f"no item {code}")
        return item, 200, {"ETag": _etag(code, item["version"])}

    @blp.arguments(schemas.ItemPatchIn(partial=True))
    @blp.response(201, schemas.ChangeOut)
    def patch(self, data: dict[str, Any], code: str) -> Any:
        """Propose changing some fields; requires If-Match with the item's ETag."""
        if_match = request.headers.get("If-Match")
        if not if_match:
            raise PreconditionRequired("send If-Match with the item's ETag", {"If-Match": "required"})
        with _ctx().factory() as session:
            item = store.item_row(session, code)
        if item is None:
            raise NotFound(f"no item {code}")
        if if_match.strip() not in (_etag(code, item["version"]), "*"):
            raise PreconditionFailed(
                f"the item changed: it is now {_etag(code, item['version'])}", {"If-Match": "stale ETag"}
            )
        note = data.pop("note", None)
        proposal = service.Proposal(ChangeKind.ITEM_UPDATE, code, data, note, base_version=item["version"])
        return _created(service.propose(_ctx(), current_principal(), proposal))


@blp.route("/items/<code>/retire", methods=["POST"])
@idempotent
@blp.arguments(schemas.RetireIn)
@blp.response(201, schemas.ChangeOut)
def retire_item(data: dict[str, Any], code: str) -> Any:
    """Propose taking an item out of the catalogue."""
    proposal = service.Proposal(ChangeKind.ITEM_RETIRE, code, {"reason": data["reason"]}, data["reason"])
    return _created(service.propose(_ctx(), current_principal(), proposal))


@blp.route("/items/<code>/history")
@blp.response(200, schemas.VersionOut(many=True))
def item_history(code: str) -> Any:
    """Every approved version of an item, newest first."""
    with _ctx().factory() as session:
        rows = session.execute(
            select(store.item_versions).where(store.item_versions.c.code == code).order_by(store.item_versions.c.version.desc())
        ).mappings().all()
    if not rows:
        raise NotFound(f"no item {code}")
    return rows


@blp.route("/imports/items", methods=["POST"])
@blp.arguments(schemas.ImportQuery, location="query")
@blp.response(200, schemas.ImportOut)
def import_items(args: dict[str, Any]) -> Any:
    """Bulk-propose items from a CSV or Excel file (multipart field `file`), with a per-row report."""
    upload = request.files.get("file")
    if upload is None:
        raise InvalidInput("attach the file as multipart field 'file'", {"file": "missing"})
    try:
        rows = validate_rows(read_table(upload.filename or "", upload.read()))
    except UnreadableFile as exc:
        raise InvalidInput(str(exc), {"file": str(exc)}) from exc
    if not rows:
        raise InvalidInput("the file has no data rows", {"file": "no rows"})
    report = service.import_items(_ctx(), current_principal(), rows, valid_only=args["valid_only"])
    body = {"rows": report.rows, "invalid": report.invalid, "written": report.written}
    if report.invalid and not args["valid_only"]:
        errors = [
            {"field": f"rows[{r['row']}].{e['field']}", "message": e["message"]}
            for r in report.rows
            for e in r["errors"]
        ]
        response = problem(422, "Invalid rows", f"{report.invalid} rows are invalid; nothing was written", errors=errors)
        payload = response.get_json()
        payload["report"] = schemas.ImportOut().dump(body)
        return Response(jsonify(payload).get_data(), status=422, mimetype="application/problem+json")
    return body


@blp.route("/sites")
class Sites(MethodView):
    """The county's institutions."""

    @blp.arguments(schemas.SiteQuery, location="query")
    @blp.response(200, schemas.SiteOut(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """Sites, filtered by level or parent."""
        query = select(store.sites).order_by(store.sites.c.code)
        if args["level"]:
            query = query.where(store.sites.c.level == args["level"])
        if args["parent"]:
            query = query.where(store.sites.c.parent_code == args["parent"])
        with _ctx().factory() as session:
            return session.execute(query).mappings().all()

    @idempotent
    @blp.arguments(schemas.SiteIn)
    @blp.response(201, schemas.ChangeOut)
    def post(self, data: dict[str, Any]) -> Any:
        """Propose a new site or new details for an existing one."""
        note = data.pop("note", None)
        proposal = service.Proposal(ChangeKind.SITE_UPSERT, data["code"], data, note)
        return _created(service.propose(_ctx(), current_principal(), proposal))


@blp.route("/sites/<code>")
@blp.response(200, schemas.SiteOut)
def get_site(code: str) -> Any:
    """One site."""
    with _ctx().factory() as session:
        site = store.site_row(session, code)
    if site is None:
        raise NotFound(f"no site {code}")
    return site


@blp.route("/stocklists/<scope>/<value>")
class Stocklist(MethodView):
    """Which items a level (county_hospital, township, village) or one site may stock."""

    @blp.response(200, schemas.StocklistOut)
    def get(self, scope: str, value: str) -> Any:
        """The list."""
        key = _stocklist_key(scope, value)
        with _ctx().factory() as session:
            return {"scope": scope, "value": value, "item_codes": store.stocklist_codes(session, key)}

    @blp.arguments(schemas.StocklistIn)
    @blp.response(201, schemas.ChangeOut)
    def put(self, data: dict[str, Any], scope: str, value: str) -> Any:
        """Propose a new list (the whole list, replacing the old one)."""
        key = _stocklist_key(scope, value)
        proposal = service.Proposal(ChangeKind.STOCKLIST_SET, key, {"item_codes": data["item_codes"]}, data["note"])
        return _created(service.propose(_ctx(), current_principal(), proposal))


def _stocklist_key(scope: str, value: str) -> str:
    if scope not in ("level", "site"):
        raise NotFound(f"no stocking-list scope {scope}; use level or site")
    try:
        return stocklist_key(scope, value)
    except ValueError as exc:
        raise NotFound(str(exc)) from exc


@blp.route("/changes")
@blp.arguments(schemas.ChangeQuery, location="query")
@blp.response(200, schemas.ChangeOut(many=True))
def list_changes(args: dict[str, Any]) -> Any:
    """Proposed changes, oldest first (drafts by default)."""
    status = None if args["status"] == "all" else args["status"]
    return service.list_changes(_ctx(), status, target=args["target"], limit=args["limit"])


@blp.route("/changes/<change_id>")
@blp.response(200, schemas.ChangeOut)
def get_change(change_id: str) -> Any:
    """One change."""
    return service.get_change(_ctx(), change_id)


@blp.route("/changes/approve", methods=["POST"])
@blp.arguments(schemas.ApproveIn)
@blp.response(200, schemas.ApproveOut)
def approve_changes(data: dict[str, Any]) -> Any:
    """The committee approves drafts: one new catalogue version, events published."""
    version = service.approve(_ctx(), current_principal(), data["change_ids"], data["note"])
    return {"catalogue_version": version, "approved": len(data["change_ids"])}


@blp.route("/changes/<change_id>/reject", methods=["POST"])
@blp.arguments(schemas.RejectIn)
@blp.response(200, schemas.ChangeOut)
def reject_change(data: dict[str, Any], change_id: str) -> Any:
    """The committee turns a draft down."""
    return service.reject(_ctx(), current_principal(), change_id, data["reason"])


@blp.route("/versions")
@blp.response(200, schemas.CatalogueVersionOut(many=True))
def catalogue_versions() -> Any:
    """Approved catalogue versions, newest first."""
    with _ctx().factory() as session:
        return session.execute(
            select(store.catalogue_versions).order_by(store.catalogue_versions.c.version.desc()).limit(200)
        ).mappings().all()
