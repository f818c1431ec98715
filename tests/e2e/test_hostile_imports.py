"""Malformed and hostile import files (issue 13): every importer answers 4xx problem+json or a report
naming the row and column, never a 5xx, never a partial write, and never reads without bound.

Importers: the formulary's CSV/TSV/xlsx upload (services/formulary/importing.py, imports.py), the
review centre's knowledge tables and prescriber registry given as CSV text (knowledge/importer.py,
schemas_work.PrescribersIn). Procurement and dispatch import no files.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from services.formulary.app import SPEC as FORMULARY
from services.formulary.importing import (
    MAX_COLUMNS,
    MAX_LINES,
    MAX_READ_ROWS,
    MAX_UNZIPPED_BYTES,
    UnreadableFile,
    read_table,
)
from services.prescription_review.app import SPEC as REVIEW
from shared.runtime import ServiceContext
from tests.service.prescription_review.review_support import load_reference as review_reference
from tests.support.backends import BACKENDS, Backend
from tests.support.formulary import approve_all, sample_item
from tests.support.web import bearer, table_dump

MANAGER = bearer("pharmacy_manager", name="import-mgr")
PROBLEM = "application/problem+json"
COLUMNS = list(sample_item())


def csv_of(rows: list[dict[str, Any]], encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    lines = [delimiter.join(COLUMNS)] + [delimiter.join(str(r[c]) for c in COLUMNS) for r in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def xlsx_of(rows: list[dict[str, Any]], extra: Callable[[Any], None] | None = None) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "目录"
    sheet.append(COLUMNS)
    for row in rows:
        sheet.append([row[c] for c in COLUMNS])
    if extra is not None:
        extra(sheet)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def rezip(workbook: bytes, change: dict[str, Callable[[bytes], bytes]], add: dict[str, bytes] | None = None) -> bytes:
    """The workbook with some parts rewritten or added (deflated, as Excel writes them)."""
    source = zipfile.ZipFile(io.BytesIO(workbook))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            target.writestr(info.filename, change.get(info.filename, lambda d: d)(data))
        for name, data in (add or {}).items():
            target.writestr(name, data)
    return out.getvalue()


GOOD = [sample_item("YP990001"), sample_item("YP990002", generic_name="头孢呋辛", approval_no="国药准字H10000002")]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """SQLite, then the real PostgreSQL (a database of its own, dropped afterwards)."""
    made = Backend(str(request.param), tmp_path)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def formulary(tmp_path: Path) -> Iterator[tuple[ServiceContext, FlaskClient]]:
    made = Backend("sqlite", tmp_path)
    ctx = made.context(FORMULARY)
    yield ctx, FORMULARY.create_app(ctx).test_client()
    made.close()


def upload(client: FlaskClient, content: bytes, filename: str, confirm: bool = False) -> Any:
    return client.post(
        f"/api/v1/imports/items?confirm={'true' if confirm else 'false'}",
        data={"file": (io.BytesIO(content), filename)}, headers=MANAGER, content_type="multipart/form-data",
    )  # fmt: skip


def refused(response: Any, *words: str) -> dict[str, Any]:
    assert response.status_code == 422, (response.status_code, response.get_data()[:400])
    assert response.mimetype == PROBLEM
    problem = response.get_json()
    said = json.dumps(problem, ensure_ascii=False)
    for word in words:
        assert word in said, said
    return problem  # type: ignore[no-any-return]


def entity_bomb(sheet_xml: bytes) -> bytes:
    levels = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    doctype = f'<!DOCTYPE worksheet [<!ENTITY l0 "lol">{levels}]>'.encode()
    body = sheet_xml[sheet_xml.index(b"<worksheet"):]
    cell = b'<row r="9"><c r="A9" t="inlineStr"><is><t>&l9;</t></is></c></row>'
    return b'<?xml version="1.0"?>' + doctype + body.replace(b"</sheetData>", cell + b"</sheetData>", 1)


SHEET = "xl/worksheets/sheet1.xml"
HOSTILE_WORKBOOKS: dict[str, tuple[Callable[[], bytes], tuple[str, ...]]] = {
    "truncated at 100 bytes": (lambda: xlsx_of(GOOD)[:100], ("not a readable Excel workbook",)),
    "truncated in the middle": (lambda: xlsx_of(GOOD)[: len(xlsx_of(GOOD)) // 2], ("not a readable Excel workbook",)),
    "central directory cut": (lambda: xlsx_of(GOOD)[:-30], ("not a readable Excel workbook",)),
    "sheet XML cut in half": (lambda: rezip(xlsx_of(GOOD), {SHEET: lambda d: d[: len(d) // 2]}), ("目录", "damaged")),
    "sheet XML not XML": (lambda: rezip(xlsx_of(GOOD), {SHEET: lambda d: b"\x00\xff not xml"}), ("not a readable Excel workbook",)),
    "billion laughs": (lambda: rezip(xlsx_of(GOOD), {SHEET: entity_bomb}), ("not a readable Excel workbook",)),
    "decompression bomb": (lambda: rezip(xlsx_of(GOOD), {SHEET: lambda d: d.replace(b"<sheetData>", b"<sheetData>" + b" " * (MAX_UNZIPPED_BYTES + 1), 1)}),
                           ("unzips to", str(MAX_UNZIPPED_BYTES))),  # fmt: skip
    "a zip that is no workbook": (lambda: _zip({"readme.txt": b"hi"}), ("not a readable Excel workbook",)),
    "many parts": (lambda: _zip({f"x/{i}.xml": b"" for i in range(2001)}), ("2001", "parts")),
    "wide row": (lambda: xlsx_of(GOOD, lambda s: s.cell(row=3, column=MAX_COLUMNS + 1, value="x")), (f"more than {MAX_COLUMNS} columns", "row 3")),
}  # fmt: skip


def _zip(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize("case", list(HOSTILE_WORKBOOKS))
def test_hostile_workbooks_are_refused_naming_the_problem(formulary: tuple[ServiceContext, FlaskClient], case: str) -> None:
    ctx, client = formulary
    make, words = HOSTILE_WORKBOOKS[case]
    before = table_dump(ctx)
    problem = refused(upload(client, make(), "目录.xlsx", confirm=True), *words)
    assert problem["errors"][0]["field"] == "file"
    assert table_dump(ctx) == before


def test_macros_and_external_links_are_ignored_and_cached_formula_values_read(formulary: tuple[ServiceContext, FlaskClient]) -> None:
    """An .xlsm with a VBA project and a link to another workbook: the values are read, nothing is run or fetched."""
    ctx, client = formulary

    def formula(sheet: Any) -> None:
        sheet["L3"] = "=1+1"  # written by a program: no cached value

    link = (b'<?xml version="1.0"?><externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            b'<externalBook r:id="rId1" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"/></externalLink>')  # fmt: skip
    book = rezip(xlsx_of(GOOD), {}, {"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0" + b"\x00" * 512, "xl/externalLinks/externalLink1.xml": link})
    report = upload(client, book, "目录.xlsm")
    assert report.status_code == 200, report.get_json()
    assert [r["status"] for r in report.get_json()["rows"]] == ["ok", "ok"]
    refused(upload(client, xlsx_of(GOOD, formula), "目录.xlsx"), "L3", "formulas without computed values")
    cached = rezip(xlsx_of(GOOD), {SHEET: lambda d: d.replace(b'<c r="I2" t="n"><v>24</v></c>', b'<c r="I2"><f>12*2</f><v>24</v></c>')})
    assert b"<f>12*2</f>" in zipfile.ZipFile(io.BytesIO(cached)).read(SHEET)
    assert upload(client, cached, "目录.xlsx").status_code == 200


HOSTILE_TEXT: dict[str, tuple[Callable[[], bytes], tuple[str, ...]]] = {
    "unbalanced quote past the field limit": (lambda: csv_of(GOOD).replace(b"YP990002", b'"YP990002', 1) + b"x" * 200_000,
                                              ("line 3", "not valid CSV")),
    "more rows than are read": (lambda: csv_of(GOOD) + b"YP1,drug\n" * (MAX_READ_ROWS + 10), (f"more than {MAX_READ_ROWS} rows",)),
    "30,000 rows": (lambda: csv_of(GOOD) + b"YP1,drug\n" * 30_000, ("30002", "split it into 2 files")),
    "millions of empty lines": (lambda: csv_of(GOOD) + b"\n" * (MAX_LINES + 1), (f"more than {MAX_LINES} lines",)),
    "a row of a million cells": (lambda: csv_of(GOOD) + b"YP1," * 1_000_000 + b"\n", (f"more than {MAX_COLUMNS} columns", "line 4")),
    "UTF-8 with a GBK line pasted in": (lambda: csv_of(GOOD) + "YP990003,drug,阿莫西林\r\n".encode("gbk"), ("line 4 is not UTF-8",)),
    "binary junk": (lambda: bytes(range(256)) * 64, ("encoding not recognised",)),
    "BOM of UTF-16 on GBK text": (lambda: b"\xff\xfe" + csv_of(GOOD, "gbk")[:-1], ("byte-order mark",)),
    "an old .xls": (lambda: b"\xd0\xcf\x11\xe0" + b"\x00" * 100, (".xls",)),
    "no header": (lambda: b"a,b,c\n1,2,3\n", ("header row",)),
    "header twice": (lambda: ("code,编码,generic_name\nYP1,YP1,x\n").encode(), ("appears twice",)),
}  # fmt: skip


@pytest.mark.parametrize("case", list(HOSTILE_TEXT))
def test_hostile_text_files_are_refused_naming_the_line(formulary: tuple[ServiceContext, FlaskClient], case: str) -> None:
    ctx, client = formulary
    make, words = HOSTILE_TEXT[case]
    before = table_dump(ctx)
    refused(upload(client, make(), "目录.xls" if case == "an old .xls" else "目录.csv", confirm=True), *words)
    assert table_dump(ctx) == before


@pytest.mark.parametrize(
    ("encoding", "delimiter", "name"),
    [("utf-8-sig", ",", "a.csv"), ("gb18030", ",", "a.csv"), ("gbk", "\t", "a.txt"), ("utf-16", "\t", "a.txt"), ("utf-16-le", "\t", "a.txt")],
)
def test_encodings_excel_writes_are_read(formulary: tuple[ServiceContext, FlaskClient], encoding: str, delimiter: str, name: str) -> None:
    ctx, client = formulary
    report = upload(client, csv_of(GOOD, encoding, delimiter), name)
    assert report.status_code == 200, report.get_json()
    assert [r["status"] for r in report.get_json()["rows"]] == ["ok", "ok"]


HOSTILE_CELLS = {
    "NUL": ("\x00阿莫", "generic_name"),
    "RTL override": ("阿莫\u202e林西", "generic_name"),
    "zero-width space": ("阿\u200b莫", "generic_name"),
    "too long": ("药" * 201, "generic_name"),
    "pack size 1e400": ("1e400", "package_size"),
    "pack size NaN": ("NaN", "package_size"),
    "pack size of 500 digits": ("9" * 500, "package_size"),
}


@pytest.mark.parametrize("case", list(HOSTILE_CELLS))
def test_a_hostile_cell_is_reported_at_its_row_and_column_and_nothing_is_written(backend: Backend, case: str) -> None:
    """On SQLite and PostgreSQL (which cannot store NUL, nor 201 characters in varchar(200)): all or nothing."""
    ctx = backend.context(FORMULARY)
    client = FORMULARY.create_app(ctx).test_client()
    value, column = HOSTILE_CELLS[case]
    rows = [GOOD[0], {**GOOD[1], column: value}]
    before = table_dump(ctx)
    files = [(csv_of(rows), "目录.csv")]
    if "\x00" not in value:  # a workbook cannot hold NUL at all (its XML cannot): see "sheet XML not XML"
        files.append((xlsx_of(rows), "目录.xlsx"))
    for content, name in files:
        problem = refused(upload(client, content, name, confirm=True))
        assert f"rows[3].{column}" in [e["field"] for e in problem["errors"]], problem
        assert problem["report"]["written"] == 0
    assert table_dump(ctx) == before
    report = upload(client, csv_of(rows), "目录.csv", confirm=True)  # the documented escape hatch: valid_only
    assert report.status_code == 422
    partial = client.post("/api/v1/imports/items?confirm=true&valid_only=true", data={"file": (io.BytesIO(csv_of(rows)), "目录.csv")},
                          headers=MANAGER, content_type="multipart/form-data")  # fmt: skip
    assert partial.status_code == 200 and partial.get_json()["written"] == 1


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(content=st.binary(max_size=4096), name=st.sampled_from(["a.csv", "a.txt", "a.xlsx", "a.tsv", ""]))
def test_any_bytes_are_read_or_refused_as_unreadable(content: bytes, name: str) -> None:
    """read_table on arbitrary bytes: a Table or UnreadableFile, never another exception."""
    with contextlib.suppress(UnreadableFile):
        read_table(name, content)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_any_damage_to_a_workbook_is_read_or_refused(data: st.DataObject) -> None:
    """A real workbook with bytes flipped, cut or inserted anywhere: a Table or UnreadableFile."""
    book = bytearray(_BOOK)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(book) - 1))
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            book[at] ^= data.draw(st.integers(1, 255))
        elif action == "cut":
            del book[at:at + data.draw(st.integers(1, 64))]
        else:
            book[at:at] = data.draw(st.binary(min_size=1, max_size=32))
        if not book:
            break
    with contextlib.suppress(UnreadableFile):
        read_table("a.xlsx", bytes(book))


_BOOK = xlsx_of(GOOD)


def test_any_damage_to_a_sheet_inside_a_sound_zip_is_refused() -> None:
    """The sheet's own XML cut at every 97th byte (the zip stays sound): UnreadableFile or a table, never a 500."""
    sheet = zipfile.ZipFile(io.BytesIO(_BOOK)).read(SHEET)
    for cut in range(1, len(sheet), 97):
        with contextlib.suppress(UnreadableFile):
            read_table("a.xlsx", rezip(_BOOK, {SHEET: lambda d, c=cut: d[:c]}))  # type: ignore[misc]


# --- the review centre's CSV importers --------------------------------------------------------------


@pytest.fixture
def review(tmp_path: Path) -> Iterator[tuple[ServiceContext, FlaskClient]]:
    made = Backend("sqlite", tmp_path)
    ctx = made.context(REVIEW)
    review_reference(ctx)
    yield ctx, REVIEW.create_app(ctx).test_client()
    made.close()


def test_knowledge_csv_that_cannot_be_read_is_422_naming_table_and_line(review: tuple[ServiceContext, FlaskClient]) -> None:
    ctx, client = review
    before = table_dump(ctx)
    unbalanced = 'name,member,duplicate,source\n"ACEI,' + "x" * 200_000 + "\n"
    r = client.post("/api/v1/knowledge", json={"version": "hostile-1", "tables": {"classes": unbalanced}}, headers=MANAGER)
    problem = refused(r, "not valid CSV")
    assert any(e["field"].startswith("tables.classes[") and e["field"].endswith("].csv") for e in problem["errors"]), problem
    nul = {"version": "hostile-2", "tables": {"classes": "name,member,duplicate,source\nA\u0000,b,true,s\n"}}
    refused(client.post("/api/v1/knowledge", json=nul, headers=MANAGER), "tables.classes", "U+0000")
    assert table_dump(ctx) == before


@pytest.mark.parametrize(
    ("text", "words"),
    [('id,name,sites\n"D1,' + "x" * 200_000, ("csv", "not valid CSV")), ("", ("entries",)),
     ("id,name,sites\nD1\n", ("entries[0].name",)), ("id,name,sites\nD1,张\u0000三,CW-H01\n", ("csv", "U+0000"))],
)  # fmt: skip
def test_prescriber_csv_that_cannot_be_read_is_422_naming_the_field(review: tuple[ServiceContext, FlaskClient], text: str, words: tuple[str, ...]) -> None:
    ctx, client = review
    before = table_dump(ctx)
    refused(client.post("/api/v1/prescribers", json={"csv": text}, headers=MANAGER), *words)
    assert table_dump(ctx) == before


# --- the catalogue export: formula injection neutralised, and the file imports again unchanged ---------

HOSTILE_NAMES = {
    "generic_name": "=HYPERLINK(\"http://evil.example\",\"点击\")",
    "trade_name": "@SUM(1+1)*cmd|' /C calc'!A0",
    "manufacturer": "-2+3 制药",
    "strength": "+0.25g",
    "dosage_form": "＝胶囊",  # NFKC stores "=胶囊"
    "category": "-",
    "vbp_batch": "@第三批",
}


def test_the_export_neutralises_every_formula_and_imports_again_unchanged(backend: Backend) -> None:
    ctx = backend.context(FORMULARY)
    client = FORMULARY.create_app(ctx).test_client()
    admin = bearer("formulary_admin", name="目录管理员")
    hostile = sample_item("YP990001", **HOSTILE_NAMES)
    plain = sample_item("YP990002", generic_name="头孢呋辛", approval_no="国药准字H10000002", package_size=10, volume_cm3=12.5)
    for item in (hostile, plain):
        assert client.post("/api/v1/items", json=item, headers=admin).status_code == 201
    approve_all(client)
    from tests.unit.test_export_neutralise import evaluated

    exported = client.get("/api/v1/items/export?format=csv", headers=bearer("storekeeper", site="T01"))
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    assert "attachment" in exported.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(exported.get_data().decode("utf-8-sig"), newline="")))
    assert len(rows) == 3 and rows[0][0] == "编码"
    cells = [c for row in rows for c in row]
    assert not [c for c in cells if evaluated(c)]
    assert "'=HYPERLINK(\"http://evil.example\",\"点击\")" in cells and "'=胶囊" in cells and "'-" in cells
    assert "24" in rows[1] and "12.5" in rows[2]  # numbers stay numbers

    book = client.get("/api/v1/items/export?format=xlsx", headers=MANAGER)
    assert book.status_code == 200 and book.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(book.get_data())).worksheets[0]
    assert not [c.coordinate for row in sheet.iter_rows() for c in row if c.data_type == "f"]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert not [v for row in values for v in row if evaluated(v)]
    assert 24 in values[1] and 12.5 in values[2]

    before = table_dump(ctx)
    for content, name in ((exported.get_data(), "目录.csv"), (book.get_data(), "目录.xlsx")):
        report = upload(client, content, name, confirm=True)
        assert report.status_code == 200, report.get_json()
        assert [r["status"] for r in report.get_json()["rows"]] == ["unchanged", "unchanged"], report.get_json()["rows"]
    assert table_dump(ctx) == before


def test_the_export_refuses_what_it_cannot_write(formulary: tuple[ServiceContext, FlaskClient]) -> None:
    _, client = formulary
    r = client.get("/api/v1/items/export?format=pdf&status=gone", headers=MANAGER)
    assert r.status_code == 422 and r.mimetype == PROBLEM
    assert {e["field"] for e in r.get_json()["errors"]} == {"format", "status"}
    assert client.get("/api/v1/items/export").status_code == 401
    empty = client.get("/api/v1/items/export?status=all", headers=MANAGER)
    assert empty.status_code == 200 and len(empty.get_data().decode("utf-8-sig").splitlines()) == 1
