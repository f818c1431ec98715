"""Reading catalogue files (CSV or Excel) into validated rows for a bulk import."""

from __future__ import annotations

import csv
import io
from typing import Any

from marshmallow import ValidationError

from services.formulary.schemas import ImportRow
from shared.web.problems import flatten_messages

# Chinese headers as hospital staff write them, beside the API's own field names.
HEADER_ALIASES = {
    "编码": "code", "药品编码": "code", "类别": "kind", "通用名": "generic_name", "英文名": "generic_name_en",
    "商品名": "trade_name", "剂型": "dosage_form", "规格": "strength", "单位": "unit", "最小单位": "unit",
    "包装数量": "package_size", "包装单位": "package_unit", "生产企业": "manufacturer", "批准文号": "approval_no",
    "医保编码": "nhsa_code", "ATC": "atc_code", "基药": "essential", "医保类别": "reimbursement", "集采": "vbp",
    "集采批次": "vbp_batch", "储存条件": "storage", "管制类别": "controlled", "抗菌药物分级": "antibiotic_tier",
    "高警示": "high_alert", "体积cm3": "volume_cm3", "重量g": "weight_g", "分类": "category",
}  # fmt: skip
MAX_ROWS = 20000

ParsedRow = tuple[int, str | None, dict[str, Any] | None, dict[str, str]]


class UnreadableFile(ValueError):
    """The upload is not a CSV or Excel file we can read."""


def read_table(filename: str, content: bytes) -> list[dict[str, Any]]:
    """Rows of the first sheet (Excel) or the file (CSV) as header -> cell dicts."""
    name = filename.lower()
    if name.endswith((".xlsx", ".xlsm")):
        rows = _read_xlsx(content)
    elif name.endswith((".csv", ".txt")) or not name:
        rows = _read_csv(content)
    else:
        raise UnreadableFile("upload a .csv or .xlsx file")
    if len(rows) > MAX_ROWS:
        raise UnreadableFile(f"at most {MAX_ROWS} rows per file")
    return rows


def _header(name: Any) -> str:
    text = str(name or "").strip()
    return HEADER_ALIASES.get(text, text)


def _read_csv(content: bytes) -> list[dict[str, Any]]:
    for encoding in ("utf-8-sig", "gb18030"):  # Excel on Chinese Windows saves CSV as GBK
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise UnreadableFile("the file is neither UTF-8 nor GB18030 text")
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise UnreadableFile("the file has no header row")
    return [{_header(k): v for k, v in row.items() if k is not None} for row in reader]


def _read_xlsx(content: bytes) -> list[dict[str, Any]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a bad file
        raise UnreadableFile(f"not a readable Excel file: {exc}") from exc
    sheet = workbook.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    if not rows:
        raise UnreadableFile("the sheet is empty")
    headers = [_header(h) for h in rows[0]]
    out = []
    for values in rows[1:]:
        if all(v is None for v in values):
            continue
        out.append({h: ("" if v is None else v) for h, v in zip(headers, values, strict=False) if h})
    return out


def validate_rows(rows: list[dict[str, Any]]) -> list[ParsedRow]:
    """Each row through the item schema: (row number as the user sees it, code, data or None, field errors)."""
    schema = ImportRow()
    parsed: list[ParsedRow] = []
    for i, raw in enumerate(rows, start=2):  # row 1 is the header
        try:
            parsed.append((i, _code(raw), schema.load(raw), {}))
        except ValidationError as exc:
            errors = {e["field"]: e["message"] for e in flatten_messages(exc.messages)}
            parsed.append((i, _code(raw), None, errors))
    return parsed


def _code(raw: dict[str, Any]) -> str | None:
    code = raw.get("code")
    return str(code).strip() if code not in (None, "") else None
