"""The catalogue as a spreadsheet: GET /api/v1/items/export?format=csv|xlsx&status=active|retired|all.

What the pharmacy office does with it: open it in Excel or WPS, edit, and import it again
(POST /api/v1/imports/items). So the header row is the import template's (the zh labels of
ui/fields.py, which the importer reads), booleans are 是/否, and every cell goes through
shared/sheets.py: text a spreadsheet would evaluate (=, +, -, @, full-width ＝＋－＠, tab/CR starts)
is written behind an apostrophe (OWASP CSV injection), which the importer drops again
(importing.cell_text → sheets.restore), so the round trip changes nothing.

The body is a file, not JSON: the view answers it itself, and the OpenAPI document describes it
(both media types, the query parameters, the 422); every role may read the approved catalogue
(access.py), as GET /api/v1/items.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request

from services.formulary import queries
from services.formulary.ui.fields import ITEM_FIELDS
from shared.db import read_only
from shared.runtime import ServiceContext
from shared.sheets import write_csv, write_xlsx
from shared.web.blueprint import Blueprint
from shared.web.problems import problem
from shared.web.responses import problems

FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv", write_csv),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx", write_xlsx),
}
STATUSES = ("active", "retired", "all")
PAGE = 1000

export_blueprint = Blueprint("formulary_export", __name__, url_prefix="/api/v1", description="the catalogue as a spreadsheet")
_SHEET = {"type": "string", "format": "binary"}
EXPORT_DOC = {
    "parameters": [
        {"name": "format", "in": "query", "schema": {"type": "string", "enum": list(FORMATS), "default": "csv"}},
        {"name": "status", "in": "query", "schema": {"type": "string", "enum": list(STATUSES), "default": "active"}},
    ],
    "responses": {
        "200": {
            "description": "the sheet, as an attachment (CSV: UTF-8 with BOM)",
            "content": {FORMATS[f][0].split(";")[0]: {"schema": {"type": "string"} if f == "csv" else _SHEET} for f in FORMATS},
        }
    },
}


def catalogue_rows(ctx: ServiceContext, status: str) -> list[list[Any]]:
    """Every item of the status, in code order, as cells in the order of ITEM_FIELDS."""
    rows: list[list[Any]] = []
    cursor = None
    with read_only(ctx.factory) as session:
        while True:
            page, cursor = queries.search_items(
                session, q=None, status=None if status == "all" else status, cursor=cursor, limit=PAGE
            )
            rows.extend([item.get(f.name) for f in ITEM_FIELDS] for item in page)
            if cursor is None:
                return rows


@export_blueprint.route("/items/export", methods=["GET"])
@export_blueprint.doc(**EXPORT_DOC)
@problems(export_blueprint, 422)
def export_items() -> Response:
    """The catalogue as CSV (UTF-8 with BOM) or xlsx; 422 naming `format` or `status` when it is not one we write."""
    fmt = request.args.get("format", "csv").strip().lower()
    status = request.args.get("status", "active").strip().lower()
    errors = []
    if fmt not in FORMATS:
        errors.append({"field": "format", "message": f"one of {', '.join(FORMATS)}"})
    if status not in STATUSES:
        errors.append({"field": "status", "message": f"one of {', '.join(STATUSES)}"})
    if errors:
        return problem(422, "Invalid input", "the export cannot be written as asked", errors=errors)
    mimetype, extension, write = FORMATS[fmt]
    ctx: ServiceContext = current_app.extensions["countyhub"]
    body = write([f.zh for f in ITEM_FIELDS], catalogue_rows(ctx, status))
    filename = f"formulary-{status}.{extension}"
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f"attachment; filename={filename}; filename*=UTF-8''%E7%9B%AE%E5%BD%95-{status}.{extension}",
        "X-Content-Type-Options": "nosniff",
    })  # fmt: skip
