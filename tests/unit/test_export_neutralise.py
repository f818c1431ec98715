"""shared/sheets.py: formula injection neutralised in every CSV and xlsx the hub writes (issue 13).

The property: whatever text a catalogue holds, the exported sheet, read back as a spreadsheet
reads it, never holds a cell that would be evaluated (a formula cell, or text a spreadsheet takes
for a formula when it opens a CSV); numbers stay numbers; and the importer's restore() gives the
original text back.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from shared.sheets import dangerous, neutralise, restore, write_csv, write_xlsx

FORMULA_START = re.compile(r"^[ \u3000\u00a0]*[=+\-@\uff1d\uff0b\uff0d\uff20]|^[\t\r\n]")
NUMBER = re.compile(r"^[ \u3000\u00a0]*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")


def evaluated(cell: Any) -> bool:
    """Would a spreadsheet evaluate this cell (as read back from CSV text or an xlsx string cell)?"""
    return isinstance(cell, str) and bool(FORMULA_START.match(cell)) and not NUMBER.match(cell)


def csv_cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def xlsx_cells(data: bytes) -> list[list[Any]]:
    """Every cell's value; a cell stored as a formula comes back as its '=…' text (data_only=False)."""
    book = load_workbook(io.BytesIO(data))
    sheet = book.worksheets[0]
    formulas = [c.coordinate for row in sheet.iter_rows() for c in row if c.data_type == "f"]
    assert formulas == [], formulas
    return [[c.value for c in row] for row in sheet.iter_rows()]


ATTACKS = [
    "=1+1", "+1+1", "-1+1", "@SUM(A1:A2)", "=cmd|' /C calc'!A0", "=HYPERLINK(\"http://x\",\"y\")",
    "\t=1+1", "\r=1+1", "\n=1", "  =1+1", "\u3000=1+1", "\u00a0@x", "＝1+1", "＋1", "－1+1", "＠SUM(1)",
    "  ＝SUM(A1)", "-", "+", "@", "=",
]  # fmt: skip
SAFE = ["阿莫西林", "0.25g", "a=b", "1+1", "YP000001", "", "'quoted", "-5", "+1.5", "-0.25e3", "  -7", "国药准字H13023964"]


@pytest.mark.parametrize("text", ATTACKS)
def test_every_formula_start_is_neutralised_in_csv_and_xlsx(text: str) -> None:
    assert dangerous(text) and neutralise(text) == "'" + text
    rows = [["code", "name"], ["YP1", text]]
    assert csv_cells(write_csv(rows[0], rows[1:]))[1][1] == "'" + text
    # XML end-of-line handling reads a bare CR in a workbook as LF: still behind the apostrophe
    assert xlsx_cells(write_xlsx(rows[0], rows[1:]))[1][1] == "'" + text.replace("\r", "\n")
    assert restore("'" + text) == text


@pytest.mark.parametrize("text", SAFE)
def test_plain_text_and_numbers_written_as_text_are_left_alone(text: str) -> None:
    assert not dangerous(text) and neutralise(text) == text and restore(text) == text


def test_numbers_stay_numbers_and_booleans_read_as_chinese() -> None:
    row = [24, -3, 0.25, Decimal("-1.2300"), True, False, None]
    assert [neutralise(v) for v in row] == [24, -3, 0.25, Decimal("-1.2300"), "是", "否", None]
    cells = xlsx_cells(write_xlsx(["a", "b", "c", "d", "e", "f", "g"], [row]))[1]
    assert cells[:3] == [24, -3, 0.25] and isinstance(cells[0], int) and cells[3] == pytest.approx(-1.23)
    assert cells[4:] == ["是", "否", None]
    assert csv_cells(write_csv(["a", "b", "c", "d", "e", "f", "g"], [row]))[1] == ["24", "-3", "0.25", "-1.2300", "是", "否", ""]


def test_a_header_is_neutralised_too_and_control_characters_cannot_break_the_workbook() -> None:
    cells = xlsx_cells(write_xlsx(["=evil", "名称"], [["a\x00b\x1fc", "ok"]]))
    assert cells == [["'=evil", "名称"], ["a\ufffdb\ufffdc", "ok"]]


TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
PREFIXED = st.tuples(st.sampled_from(["", " ", "\u3000", "\t", "\r", "\n", "  "]),
                     st.sampled_from(["", "=", "+", "-", "@", "＝", "＋", "－", "＠"]), TEXT).map("".join)  # fmt: skip
CELL = st.one_of(TEXT, PREFIXED, st.integers(-10**12, 10**12), st.floats(allow_nan=False, allow_infinity=False), st.none(), st.booleans())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(CELL, min_size=3, max_size=3), min_size=1, max_size=6))
def test_exporting_then_reading_back_never_yields_a_cell_a_spreadsheet_would_evaluate(rows: list[list[Any]]) -> None:
    columns = ["编码", "名称", "备注"]
    from_csv = csv_cells(write_csv(columns, rows))
    assert len(from_csv) == len(rows) + 1
    for written, read in zip(rows, from_csv[1:], strict=True):
        for value, cell in zip(written, read, strict=True):
            assert not evaluated(cell), (value, cell)
            if isinstance(value, str):
                assert restore(cell) == value  # the importer gets the original text back
            elif isinstance(value, int) and not isinstance(value, bool):
                assert cell == str(value)  # numbers stay numbers
    for row in xlsx_cells(write_xlsx(columns, rows)):
        for cell in row:
            assert not evaluated(cell), cell


@settings(max_examples=500, deadline=None)
@given(TEXT | PREFIXED)
def test_neutralise_and_restore_are_inverse_and_idempotent_on_safe_text(text: str) -> None:
    written = neutralise(text)
    assert not evaluated(written)
    assert restore(written) == text
    assert neutralise(written) == written  # neutralising twice adds nothing
