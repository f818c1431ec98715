"""marshmallow schemas of a knowledge import (the manager's tables as JSON rows or CSV), and the
text rule for every cell of such tables: control and invisible characters are refused naming the
table, line and column; a cell that is not text is refused, never stored as its Python spelling."""

from __future__ import annotations

import csv
import io
from typing import Any

from marshmallow import ValidationError, fields, post_load, validate

from services.prescription_review.knowledge.importer import TABLES, VERSION
from services.prescription_review.model.commands import ImportKnowledge
from services.prescription_review.schemas import Strict
from shared.text import BadText, Text, refuse_controls


def _bad_cell(line: int, column: str, exc: BadText) -> str:
    return f"第 {line} 行 {column} 列: {exc} (line {line}, column {column})"


def refuse_control_cells(text: str) -> None:
    """ValidationError naming the line and column of the first CSV cell holding a character the text
    rule refuses (NUL, U+202E, U+200B …; shared/text.py). Lines count from 1, the header included, as
    `read_csv` counts them; a CSV it cannot read is left to it (it names that line)."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), strict=True)
    header: list[str] = []
    started = 1
    try:
        for record in reader:
            for j, cell in enumerate(record):
                try:
                    refuse_controls(cell)
                except BadText as exc:
                    name = header[j] if j < len(header) and header[j] else f"#{j + 1}"
                    raise ValidationError(_bad_cell(started, name, exc)) from exc
            if not header:
                header = record
            started = reader.line_num + 1
    except csv.Error:
        return


def _cell_problem(value: Any) -> str | None:
    """Why a JSON cell is not a cell: text, a number, true/false, null, or a list of those (a `;` list)."""
    if isinstance(value, dict):
        return "不是文本 (not text: an object)"
    if isinstance(value, list):
        if any(isinstance(v, (dict, list)) for v in value):
            return "不是文本列表 (not a list of text: a list or object inside the list)"
        return None
    if value is None or isinstance(value, (str, int, float)):
        return None
    return "不是文本 (not text)"


def refuse_control_rows(rows: list[dict[str, Any]]) -> None:
    """The same check for rows given as JSON objects: row n (from 1), the member's name as the column.
    A cell is text, a number, true/false, null or a list of those; any other shape (an object, a list
    inside the list) is refused naming its row and column, never stored as its Python spelling; every
    string at any depth takes the text rule."""
    for n, row in enumerate(rows, start=1):
        for key, value in row.items():
            try:
                refuse_controls(str(key))
            except BadText as exc:
                raise ValidationError(_bad_cell(n, repr(key), exc)) from exc
            problem = _cell_problem(value)
            if problem is not None:
                raise ValidationError(f"第 {n} 行 {key} 列: {problem} (line {n}, column {key})")
            for text in value if isinstance(value, list) else [value]:
                if isinstance(text, str):
                    try:
                        refuse_controls(text)
                    except BadText as exc:
                        raise ValidationError(_bad_cell(n, str(key), exc)) from exc


class TableContent(fields.Field):
    """A table as CSV text or a list of row objects; a cell with a control or format character is refused
    naming its line and column (the text rule, shared/text.py)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            if len(value) > 5_000_000:
                raise ValidationError("at most 5 MB of CSV")
            refuse_control_cells(value)
            return value
        if isinstance(value, list) and all(isinstance(r, dict) for r in value):
            if len(value) > 100_000:
                raise ValidationError("at most 100000 rows")
            refuse_control_rows(value)
            return value
        raise ValidationError("CSV text or a list of row objects")


class KnowledgeIn(Strict):
    """A new knowledge version."""

    # \Z, not VERSION's "$": "$" matches before a final newline, so "v1\n" passed and was stored as a version
    version = fields.String(required=True, validate=validate.Regexp(VERSION.pattern.removesuffix("$") + r"\Z",
                                                                    error="1–40 letters, digits, . _ -"))
    tables = fields.Dict(keys=fields.String(validate=validate.OneOf(TABLES)), values=TableContent(), required=True,
                         validate=validate.Length(min=1))
    base_current = fields.Boolean(load_default=True)
    note = Text(load_default=None, allow_none=True, multiline=True, validate=validate.Length(max=500))

    @post_load
    def _build(self, d: dict[str, Any], **_: Any) -> ImportKnowledge:
        return ImportKnowledge(d["version"], d["tables"], d["base_current"], d["note"])
