"""The formulary's HTTP API: thin views that parse, call one use case or query, and serialise.

Lists page the same way everywhere: `limit` and `cursor` in the query, the next page's cursor in
a `Link: <…>; rel="next"` header (RFC 8288) and, for item search, also in the body.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from flask import Response, current_app, jsonify, request
from flask.views import MethodView
from marshmallow import ValidationError

from services.formulary import imports, queries, schemas, schemas_out, service, store
from services.formulary.commands import ProposeItemEdit, Why
from services.formulary.importing import MAX_ROWS, UnreadableFile, read_table
from services.formulary.model import stocklist_key
from services.formulary.service import ChangeView
from shared.db import read_only
from shared.errors import DomainError, InvalidInput, NotFound, PreconditionFailed, PreconditionRequired
from shared.runtime import ServiceContext
from shared.text import BadText, normalise
from shared.text import code as text_code
from shared.web.app import current_principal
from shared.web.blueprint import Blueprint
from shared.web.idempotency import idempotent
from shared.web.problems import flatten_messages, problem
from shared.web.request_parsing import UPLOAD_MAX_BYTES, accepts_upload, if_match_allows
from shared.web.responses import problems

blp = Blueprint("formulary", __name__, url_prefix="/api/v1", description="统一药品耗材目录 — the county catalogue")
UPLOAD_HINT = f"A catalogue file of up to {MAX_ROWS} rows fits ({UPLOAD_MAX_BYTES // MAX_ROWS} bytes per row); split larger files."


class UploadNotMultipart(DomainError):
    """An import sent as anything but multipart/form-data."""

    status = 415
    title = "Unsupported media type"


def _ctx() -> ServiceContext:
    return current_app.extensions["countyhub"]  # type: ignore[no-any-return]


def _path_code(raw: str) -> str:
    """A code from the URL, normalised as codes are everywhere (ｙｐ０００００７ → YP000007)."""
    try:
        return text_code(raw)
    except BadText as exc:
        raise NotFound(f"no such code {raw!r}") from exc


def _path_id(raw: str) -> str:
    """A change id from the URL (a UUID, compared in lower case); one no database could hold (NUL) is simply not found."""
    try:
        return normalise(raw).lower()
    except BadText as exc:
        raise NotFound(f"no change {raw!r}") from exc


def _if_match(etag: str, what: str) -> bool:
    """RFC 9110 §13.1.1 on any write: False when no If-Match was sent; 412 when it does not match `etag`."""
    header = request.headers.get("If-Match")
    if not header:
        return False
    try:
        allowed = if_match_allows(header, etag)
    except ValueError as exc:
        raise InvalidInput("If-Match is not * nor a list of entity tags", {"If-Match": str(exc)}) from exc
    if not allowed:
        raise PreconditionFailed(f"the {what} changed: it is now {etag}", {"If-Match": "stale ETag"})
    return True


def _etag(code: str, version: int) -> str:
    return f'"{code}-v{version}"'


def change_out(view: ChangeView) -> dict[str, Any]:
    """A change as ChangeOut shows it."""
    c = view.change
    return {**c.__dict__, "kind": c.kind.value, "status": c.status.value, "flags": [f.__dict__ for f in c.flags],
            "diff": view.diff, "stale": view.stale, "current_version": view.current_version}  # fmt: skip


def _created(view: ChangeView) -> tuple[Any, int, dict[str, str]]:
    return change_out(view), 201, {"Location": f"/api/v1/changes/{view.change.id}"}


def _paged(rows: Any, next_cursor: str | None) -> tuple[Any, int, dict[str, str]]:
    headers = {}
    if next_cursor:
        args = {k: v for k, v in request.args.items() if k != "cursor"}
        headers["Link"] = f'<{request.path}?{urlencode({**args, "cursor": next_cursor})}>; rel="next"'
    return rows, 200, headers


@blp.route("/items")
class Items(MethodView):
    """Search the catalogue; propose a new item."""

    @blp.arguments(schemas.ItemQuery, location="query")
    @blp.response(200, schemas_out.ItemPage)
    @problems(blp, 404)
    def get(self, args: dict[str, Any]) -> Any:
        """Search by code, name (with form or strength), trade or English name, pinyin in any reading (amxl, ssyxjn)."""
        principal = current_principal()
        with read_only(_ctx().factory) as session:
            scope_key = None
            if args["site"]:
                principal.require_site(args["site"])
                scope_key = queries.effective_stocklist_key(session, args["site"])
                if scope_key is None:
                    raise NotFound(f"no site {args['site']}", {"site": "no such site"})
            elif args["level"]:
                scope_key = stocklist_key("level", args["level"])
            found, next_cursor = queries.search_items(
                session, q=args["q"], kind=args["kind"], status=None if args["status"] == "all" else args["status"],
                scope_key=scope_key, essential=args["essential"], cursor=args["cursor"], limit=args["limit"],
            )  # fmt: skip
        return _paged({"items": found, "next_cursor": next_cursor}, next_cursor)

    @idempotent
    @blp.arguments(schemas.ItemCreateIn)
    @blp.response(201, schemas_out.ChangeOut)
    @problems(blp, 409)
    def post(self, cmd: Any) -> Any:
        """Propose a new item (a draft until a second committee member approves it)."""
        return _created(service.propose(_ctx(), current_principal(), cmd))


@blp.route("/items/<code>")
class Item(MethodView):
    """One item; propose an edit to it."""

    @blp.response(200, schemas_out.ItemOut)
    @problems(blp, 404)
    def get(self, code: str) -> Any:
        """The item's current approved state, with an ETag for edits."""
        code = _path_code(code)
        with read_only(_ctx().factory) as session:
            item = store.item_row(session, code)
        if item is None:
            raise NotFound(f"no item {code}")
        return item, 200, {"ETag": _etag(code, item["version"])}

    @blp.arguments(schemas.ItemPatchIn(partial=True))
    @blp.response(201, schemas_out.ChangeOut)
    @problems(blp, 404, 409, 412, 428)
    def patch(self, cmd: ProposeItemEdit, code: str) -> Any:
        """Propose changing some fields; requires If-Match (RFC 9110: the ETag, a list of tags, or *)."""
        code = _path_code(code)
        header = request.headers.get("If-Match")
        if not header:
            raise PreconditionRequired("send If-Match with the item's ETag", {"If-Match": "required"})
        with read_only(_ctx().factory) as session:
            item = store.item_row(session, code)
        if item is None:
            raise NotFound(f"no item {code}")
        _if_match(_etag(code, item["version"]), "item")
        cmd = replace(cmd, code=code, base_version=int(item["version"]))
        return _created(service.propose(_ctx(), current_principal(), cmd))


@blp.route("/items/<code>/retire", methods=["POST"])
@idempotent
@blp.arguments(schemas.RetireIn)
@blp.response(201, schemas_out.ChangeOut)
@problems(blp, 404, 409, 412)
def retire_item(cmd: Any, code: str) -> Any:
    """Propose taking an item out of the catalogue (an If-Match header is honoured as on PATCH)."""
    code = _path_code(code)
    if request.headers.get("If-Match"):
        with read_only(_ctx().factory) as session:
            item = store.item_row(session, code)
        if item is None:
            raise NotFound(f"no item {code}")
        _if_match(_etag(code, item["version"]), "item")
    return _created(service.propose(_ctx(), current_principal(), replace(cmd, code=code)))


@blp.route("/items/<code>/history")
@blp.response(200, schemas_out.VersionOut(many=True))
@problems(blp, 404)
def item_history(code: str) -> Any:
    """Every approved version of an item, newest first: proposer, reason, meeting, approver."""
    code = _path_code(code)
    with read_only(_ctx().factory) as session:
        rows = queries.item_history(session, code)
    if not rows:
        raise NotFound(f"no item {code}")
    return rows


def _parse_rows(table: Any) -> imports.ParsedFile:
    row_schema = schemas.ImportRow(partial=True)
    parsed = []
    for row_no, raw in table.rows:
        code = raw.get("code")
        try:
            given = row_schema.load(raw)
            parsed.append(imports.ParsedRow(row_no, given.get("code"), given))
        except ValidationError as exc:
            errors = {e["field"]: e["message"] for e in flatten_messages(exc.messages)}
            parsed.append(imports.ParsedRow(row_no, code.strip().upper() if isinstance(code, str) else None, None, errors))
    return imports.ParsedFile(tuple(parsed), table.encoding, table.sheet, table.header_row, tuple(table.columns))


@blp.route("/imports/items", methods=["POST"])
@accepts_upload(UPLOAD_HINT)
@blp.arguments(schemas.ImportQuery, location="query")
@blp.response(200, schemas_out.ImportOut)
def import_items(args: dict[str, Any]) -> Any:
    """Check a CSV/TSV/Excel file (multipart field `file`): nothing is written unless confirm=true.

    With confirm=true the rows become one batch of drafts (all or nothing unless valid_only=true),
    approved together with POST /changes/approve {"batch_id": …}.
    """
    if request.mimetype != "multipart/form-data" and request.content_length:
        raise UploadNotMultipart(
            f"send the file as multipart/form-data (this request sent {request.mimetype or 'no content type'})",
            {"Content-Type": "must be multipart/form-data"},
        )
    upload = request.files.get("file")
    if upload is None:
        raise InvalidInput("attach the file as multipart field 'file'", {"file": "missing"})
    try:
        table = read_table(upload.filename or "", upload.read())
    except UnreadableFile as exc:
        raise InvalidInput(str(exc), {"file": str(exc)}) from exc
    why = Why(args.get("note"), args.get("reason"), args.get("meeting_ref"))
    report = imports.import_items(
        _ctx(), current_principal(), _parse_rows(table), confirm=args["confirm"], valid_only=args["valid_only"], why=why
    )
    body = schemas_out.ImportOut().dump({**report.__dict__, "invalid": report.invalid, "flagged": report.flagged, "total": len(report.rows)})
    if report.invalid and not args["valid_only"]:
        detail = f"{report.invalid} rows are invalid; nothing was written"
        response = problem(422, "Invalid rows", detail, errors=imports.summary_errors(report.rows))
        payload = response.get_json()
        payload["report"] = body
        return Response(jsonify(payload).get_data(), status=422, mimetype="application/problem+json")
    return body


@blp.route("/sites")
class Sites(MethodView):
    """The county's institutions."""

    @blp.arguments(schemas.SiteQuery, location="query")
    @blp.response(200, schemas_out.SiteOut(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """Sites by code, filtered by level or parent; paged with limit and cursor (Link header)."""
        with read_only(_ctx().factory) as session:
            rows, nxt = queries.list_sites(
                session, level=args["level"], parent=args["parent"], site=None, cursor=args["cursor"], limit=args["limit"]
            )
        return _paged(rows, nxt)

    @idempotent
    @blp.arguments(schemas.SiteIn)
    @blp.response(201, schemas_out.ChangeOut)
    @problems(blp, 409, 412)
    def post(self, cmd: Any) -> Any:
        """Propose a new site or new details for an existing one (level, parent and children kept consistent);
        an If-Match header (the site's ETag) is honoured as on items."""
        if request.headers.get("If-Match"):
            with read_only(_ctx().factory) as session:
                site = store.site_row(session, cmd.code)
            version = int(site["version"]) if site else 0
            if _if_match(_etag(cmd.code, version), "site"):
                cmd = replace(cmd, base_version=version)
        return _created(service.propose(_ctx(), current_principal(), cmd))


@blp.route("/sites/<code>")
@blp.response(200, schemas_out.SiteOut)
@problems(blp, 404)
def get_site(code: str) -> Any:
    """One site."""
    code = _path_code(code)
    with read_only(_ctx().factory) as session:
        site = store.site_row(session, code)
    if site is None:
        raise NotFound(f"no site {code}")
    return site, 200, {"ETag": _etag(code, site["version"])}


@blp.route("/stocklists/<scope>/<value>")
class Stocklist(MethodView):
    """Which items a level (county_hospital, township, village) or one site may stock."""

    @blp.response(200, schemas_out.StocklistOut)
    @problems(blp, 404)
    def get(self, scope: str, value: str) -> Any:
        """The list: codes it names, categories, every member; a storekeeper reads only their own site's."""
        key = _stocklist_key(scope, value)
        if scope == "site":
            current_principal().require_site(key.split(":", 1)[1])
        with read_only(_ctx().factory) as session:
            view = queries.stocklist_view(session, key)
        return {"scope": scope, "value": key.split(":", 1)[1], **view}, 200, {"ETag": _etag(key, int(view["version"]))}

    @blp.arguments(schemas.StocklistIn)
    @blp.response(201, schemas_out.ChangeOut)
    @problems(blp, 404, 409, 412)
    def put(self, cmd: Any, scope: str, value: str) -> Any:
        """Propose a new list (replacing the old one): item codes and categories (essential, atc:J01, …)."""
        key = _stocklist_key(scope, value)
        value = key.split(":", 1)[1]
        if request.headers.get("If-Match"):
            with read_only(_ctx().factory) as session:
                version = int(queries.stocklist_view(session, key)["version"])
            if _if_match(_etag(key, version), "stocking list"):
                cmd = replace(cmd, base_version=version)
        return _created(service.propose(_ctx(), current_principal(), replace(cmd, scope=scope, value=value)))


def _stocklist_key(scope: str, value: str) -> str:
    if scope == "site":
        value = _path_code(value)
    try:
        return stocklist_key(scope, value)
    except ValueError as exc:
        raise NotFound(f"{exc}; use level/<county_hospital|township|village> or site/<code>") from exc


@blp.route("/changes")
@blp.arguments(schemas.ChangeQuery, location="query")
@blp.response(200, schemas_out.ChangeOut(many=True))
def list_changes(args: dict[str, Any]) -> Any:
    """Proposed changes, oldest first (drafts by default), with diffs against the current state."""
    status = None if args["status"] == "all" else args["status"]
    views, nxt = service.list_changes(
        _ctx(), status, target=args["target"], batch_id=args["batch"] and args["batch"].lower(), cursor=args["cursor"], limit=args["limit"]
    )
    return _paged([change_out(v) for v in views], nxt)


@blp.route("/changes/batches")
@blp.response(200, schemas_out.BatchOut(many=True))
def list_batches() -> Any:
    """Import batches waiting for the committee: totals and flagged rows (the full list: /changes?batch=)."""
    with read_only(_ctx().factory) as session:
        return queries.batches(session)


@blp.route("/changes/<change_id>")
@blp.response(200, schemas_out.ChangeOut)
@problems(blp, 404)
def get_change(change_id: str) -> Any:
    """One change, with its diff against the current state and whether it is stale."""
    return change_out(service.get_change(_ctx(), _path_id(change_id)))


@blp.route("/changes/approve", methods=["POST"])
@blp.arguments(schemas.ApproveIn)
@blp.response(200, schemas_out.ApproveOut)
@problems(blp, 404, 409)
def approve_changes(cmd: Any) -> Any:
    """A second committee member approves drafts (or an import batch): one new catalogue version."""
    return service.approve(_ctx(), current_principal(), cmd).__dict__


@blp.route("/changes/<change_id>/reject", methods=["POST"])
@blp.arguments(schemas.RejectIn)
@blp.response(200, schemas_out.ChangeOut)
@problems(blp, 404, 409)
def reject_change(cmd: Any, change_id: str) -> Any:
    """The committee turns a draft down."""
    return change_out(service.reject(_ctx(), current_principal(), replace(cmd, change_id=_path_id(change_id))))


@blp.route("/versions")
@blp.arguments(schemas.Paging, location="query")
@blp.response(200, schemas_out.CatalogueVersionOut(many=True))
def catalogue_versions(args: dict[str, Any]) -> Any:
    """Approved catalogue versions, newest first (paged)."""
    with read_only(_ctx().factory) as session:
        rows, nxt = queries.list_versions(session, cursor=args["cursor"], limit=args["limit"])
    return _paged(rows, nxt)
