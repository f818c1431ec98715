"""Fresh eyes (session 16): every column of a formulary import, as CSV and as a workbook, takes the
text rule (a format or control character is a 422 naming the row and the column; nothing written)."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from flask import Flask

from services.formulary.app import SPEC as FORMULARY
from shared.runtime import ServiceContext
from tests.e2e.test_hostile_input import _build as build_app
from tests.support.formulary import sample_item
from tests.support.web import bearer, table_dump

MGR = bearer("pharmacy_manager", name="fe16-mgr")
_TMP = Path(tempfile.mkdtemp(prefix="countyhub-fe16-import-"))
_APP: list[tuple[ServiceContext, Flask]] = []
ITEM = sample_item("YP990301")
COLUMNS = list(ITEM)
TEXT_COLUMNS = [c for c, v in ITEM.items() if isinstance(v, str)]


def app() -> tuple[ServiceContext, Flask]:
    if not _APP:
        _APP.append(build_app(FORMULARY, f"sqlite:///{_TMP / 'formulary'}.sqlite3"))
    return _APP[0]


def csv_bytes(item: dict[str, Any]) -> bytes:
    cell = lambda v: '"' + str(v).replace('"', '""') + '"'  # noqa: E731
    return (",".join(COLUMNS) + "\n" + ",".join(cell(item[c]) for c in COLUMNS) + "\n").encode("utf-8")


def xlsx_bytes(item: dict[str, Any]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(COLUMNS)
    sheet.append([item[c] for c in COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def post(content: bytes, name: str) -> Any:
    _, flask_app = app()
    return flask_app.test_client().post(
        "/api/v1/imports/items",
        data={"file": (io.BytesIO(content), name)},
        headers=MGR,
        content_type="multipart/form-data",
    )


# a workbook's XML cannot carry C0 controls (openpyxl refuses to write them): ESC is tried in CSV only
CASES = [
    (kind, bad)
    for kind in ("csv", "xlsx")
    for bad in ("\u202e", "\u200b", "\ufeff", "\x1b", "\x85")
    if not (kind == "xlsx" and bad == "\x1b")
]


@pytest.mark.parametrize(("kind", "bad"), CASES, ids=[f"{k}-U+{ord(b):04X}" for k, b in CASES])
@pytest.mark.parametrize("column", TEXT_COLUMNS)
def test_each_text_column_refuses_the_character_naming_row_and_column(
    kind: str, column: str, bad: str
) -> None:
    ctx, _ = app()
    before = table_dump(ctx)
    item = dict(ITEM)
    item[column] = item[column][:1] + bad + item[column][1:]
    content = csv_bytes(item) if kind == "csv" else xlsx_bytes(item)
    response = post(content, f"items.{kind}")
    assert response.status_code == 422 and response.mimetype == "application/problem+json", (
        response.get_data()[:300]
    )
    fields = [e["field"] for e in response.get_json()["errors"]]
    assert f"rows[2].{column}" in fields or fields == ["file"], fields
    assert table_dump(ctx) == before


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_the_clean_row_checks(kind: str) -> None:
    content = csv_bytes(ITEM) if kind == "csv" else xlsx_bytes(ITEM)
    response = post(content, f"items.{kind}")
    assert response.status_code == 200, response.get_data()[:300]


@pytest.mark.parametrize(
    "twin",
    ["YP990401", "yp990401", "ＹＰ９９０４０１", " YP990401 "],
    ids=["same", "lower", "wide", "spaces"],
)
def test_a_code_twice_in_one_file_in_any_spelling_is_a_422_naming_the_second_row(twin: str) -> None:
    ctx, _ = app()
    before = table_dump(ctx)
    first, second = csv_bytes(dict(ITEM, code="YP990401")), csv_bytes(dict(ITEM, code=twin))
    content = first + second.split(b"\n", 1)[1]
    response = post(content, "items.csv")
    assert response.status_code == 422, response.get_data()[:300]
    assert [e["field"] for e in response.get_json()["errors"]] == ["rows[3].code"]
    assert table_dump(ctx) == before
