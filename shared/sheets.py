"""Spreadsheets the hub writes (CSV and xlsx), with formula injection neutralised.

Rule (OWASP "CSV Injection", https://owasp.org/www-community/attacks/CSV_Injection): a text cell
that a spreadsheet would evaluate — one whose first character, after any leading white space
(U+0020, U+3000, U+00A0), is `=`, `+`, `-`, `@`, or the full-width `＝＋－＠` that Chinese IMEs type,
or whose first character is a tab, CR or LF — is written with a leading apostrophe `'`, which
Excel, WPS and LibreOffice read as "this is text". Numbers stay numbers: int, float and Decimal
values are written as numbers, and text that is a plain decimal number ("-5", "+1.5e3") is left
as it is (a spreadsheet reads it as that number, never as a formula).

`restore()` undoes `neutralise()` so a sheet exported, edited and imported again round-trips:
the importers call it on every cell.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

TRIGGERS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")  # ＝＋－＠
LEADING_SPACE = " \u3000\u00a0"
CONTROL_STARTS = frozenset("\t\r\n")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# Characters the xlsx XML cannot hold (openpyxl's ILLEGAL_CHARACTERS_RE): written as U+FFFD.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def dangerous(text: str) -> bool:
    """True when a spreadsheet would evaluate this text as a formula (or a DDE/command)."""
    if not text:
        return False
    if text[0] in CONTROL_STARTS:
        return True
    stripped = text.lstrip(LEADING_SPACE)
    if not stripped or stripped[0] not in TRIGGERS:
        return False
    return _NUMBER.fullmatch(stripped) is None  # "-5" and "+1.5" are numbers, not formulas


def neutralise(value: Any) -> Any:
    """The value as a cell: numbers and None unchanged, booleans as 是/否, dangerous text behind an apostrophe."""
    if value is None or isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return value
    if isinstance(value, bool):
        return "是" if value else "否"
    text = str(value)
    return "'" + text if dangerous(text) else text


def restore(text: str) -> str:
    """Undo neutralise(): an apostrophe the hub put before dangerous text is dropped; anything else is kept."""
    if text.startswith("'") and dangerous(text[1:]):
        return text[1:]
    return text


def write_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """CSV as Excel on Chinese Windows opens it: UTF-8 with a BOM, CRLF, every cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise(c) for c in columns])
    for row in rows:
        writer.writerow(["" if v is None else neutralise(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def write_xlsx(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str = "Sheet1") -> bytes:
    """An .xlsx workbook of one sheet: every text cell a string (never a formula), neutralised as in CSV."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    for values in ([*columns], *rows):
        cells = []
        for value in values:
            cell_value = neutralise(value)
            if isinstance(cell_value, str):
                cell_value = _XML_ILLEGAL.sub("\ufffd", cell_value)
            cells.append(cell_value)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)  # openpyxl writes a str starting with "=" as a formula: neutralise() never lets one through
    return out.getvalue()
