"""Reading catalogue files as Chinese offices produce them, into rows keyed by field name.

What Excel's "save as" offers a Chinese user, detected rather than assumed:
- CSV in UTF-8 with or without BOM (also a doubled BOM), in GB18030/GBK (with or without the
  GB18030 BOM `84 31 95 33`), tab-separated "Unicode text" in UTF-16 and tab-separated text in
  GBK. Encodings without a BOM are detected with charset-normalizer, restricted to the encodings
  Excel writes for zh-CN (so short GBK text is not taken for Korean cp949).
- Workbooks (.xlsx/.xlsm) whose first sheets are instructions: the first sheet with a header row
  is read, visible sheets before hidden ones. A merged cell's value fills every row it covers; a
  number shown zero-padded by its format (00001234, "YP"0001) reads as shown; a formula saved
  without its computed value is refused naming the cells. The header row is the first of the first 30 rows that names `code` and at least one
  more known column; rows above it (titles, notes) are skipped.
- Empty rows (Excel appends `,,,,,,,,`) are skipped; every row keeps the sheet's own row number.
- Hostile files (issue 13) are refused as UnreadableFile, never read without bound: a workbook whose
  parts unzip to more than MAX_UNZIPPED_BYTES (a decompression bomb) or hold more than MAX_ZIP_MEMBERS
  parts, XML that is broken or expands entities past expat's amplification limit, more than
  MAX_READ_ROWS non-empty rows (reading stops there: millions of rows are not held in memory to be
  counted) or more than MAX_LINES lines, a row wider than MAX_COLUMNS cells. The number of rows is checked before any row is.
- Every cell comes back as text (numbers Excel stored for codes, 86900001000011, become
  "86900001000011"; 24.0 becomes "24") or None when blank. Types are checked by the row schema.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from charset_normalizer import from_bytes

from services.formulary.ui.fields import ITEM_FIELDS as FIELD_LABELS
from shared.sheets import restore

MAX_ROWS = 20000
HEADER_SCAN_ROWS = 30
MAX_READ_ROWS = 2 * MAX_ROWS  # non-empty rows read before giving up counting (the answer says "more than")
MAX_LINES = 1_048_576  # rows of an Excel sheet: a longer "CSV" was not saved by Excel
MAX_COLUMNS = 512  # the template has 25 columns; hospital exports a few dozen
MAX_UNZIPPED_BYTES = 64 * 1024 * 1024  # a 20,000-row sheet unzips to about 25 MB
MAX_ZIP_MEMBERS = 2000
ZH_CN_ENCODINGS = ["utf_8", "gb18030", "utf_16", "utf_16_le", "utf_16_be", "big5"]
BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\x84\x31\x95\x33", "gb18030"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
# Headers as hospital staff write them, beside the labels of the pages (ui/fields.py) and the API names.
EXTRA_HEADERS = {
    "编码": "code", "药品编码": "code", "耗材编码": "code", "类别": "kind", "通用名": "generic_name", "药品名称": "generic_name",
    "英文名": "generic_name_en", "商品名": "trade_name", "剂型": "dosage_form", "规格": "strength", "单位": "unit",
    "最小单位": "unit", "包装数量": "package_size", "包装单位": "package_unit", "生产企业": "manufacturer", "厂家": "manufacturer",
    "批准文号": "approval_no", "注册证号": "approval_no", "医保编码": "nhsa_code", "ATC": "atc_code", "基药": "essential",
    "医保类别": "reimbursement", "集采": "vbp", "集采批次": "vbp_batch", "储存条件": "storage", "管制类别": "controlled",
    "抗菌药物分级": "antibiotic_tier", "高警示": "high_alert", "体积cm3": "volume_cm3", "重量g": "weight_g", "分类": "category",
}  # fmt: skip


class UnreadableFile(ValueError):
    """The upload is not a catalogue file we can read; the message says what to do."""


def header_key(text: Any) -> str:
    """A header as compared: NFKC, no BOM or spaces, no required-marker '*', lower-case."""
    value = unicodedata.normalize("NFKC", str(text or "")).replace("\ufeff", "")
    return "".join(value.split()).rstrip("*").lower()


def _aliases() -> dict[str, str]:
    out = {header_key(k): v for k, v in EXTRA_HEADERS.items()}
    for f in FIELD_LABELS:
        for label in (f.name, f.zh, f.en):
            out[header_key(label)] = f.name
    return out


HEADERS = _aliases()


@dataclass
class Table:
    """What was read: rows as (sheet row number, field -> text or None), and how they were read."""

    rows: list[tuple[int, dict[str, str | None]]] = field(default_factory=list)
    encoding: str | None = None
    sheet: str | None = None
    header_row: int = 1
    columns: list[str] = field(default_factory=list)
    cut_short: bool = False  # reading stopped at MAX_READ_ROWS non-empty rows


def read_table(filename: str, content: bytes) -> Table:
    """The data rows of a CSV/TSV file or of the first sheet with a header row; UnreadableFile otherwise."""
    name = (filename or "").lower()
    if content[:4] == b"PK\x03\x04" or name.endswith((".xlsx", ".xlsm")):
        table = _read_xlsx(content)
    elif name.endswith((".xls",)):
        raise UnreadableFile("不支持旧版 .xls 工作簿，请另存为 .xlsx 或 CSV UTF-8 (old .xls workbooks are not read: save as .xlsx or CSV UTF-8)")
    elif name.endswith((".csv", ".txt", ".tsv")) or not name:
        table = _read_text(content)
    else:
        raise UnreadableFile("请上传 .csv、.txt（制表符分隔）或 .xlsx 文件 (upload a .csv, .txt or .xlsx file)")
    if not table.rows:
        raise UnreadableFile(f"表头行（第 {table.header_row} 行）下没有数据 (no data rows under the header row {table.header_row})")
    if len(table.rows) > MAX_ROWS:
        if table.cut_short:
            raise UnreadableFile(f"文件超过 {MAX_READ_ROWS} 行数据，每个文件最多 {MAX_ROWS} 行，请拆分 (more than {MAX_READ_ROWS} rows; at most {MAX_ROWS} rows per file: split it)")
        parts = -(-len(table.rows) // MAX_ROWS)
        raise UnreadableFile(f"文件有 {len(table.rows)} 行数据，每个文件最多 {MAX_ROWS} 行，请拆分为 {parts} 个文件 (at most {MAX_ROWS} rows per file: split it into {parts} files)")
    return table


def decode(content: bytes) -> tuple[str, str]:
    """(text, encoding name): a BOM decides, else strict UTF-8, else charset-normalizer over zh-CN encodings."""
    for bom, encoding in BOMS:
        if content.startswith(bom):
            try:
                text = content[len(bom):].decode("utf-16-le" if bom == b"\xff\xfe" else "utf-16-be" if bom == b"\xfe\xff" else encoding.replace("-sig", ""))
            except UnicodeDecodeError as exc:
                raise UnreadableFile(f"文件以 {encoding} 字节顺序标记开头，但内容不是 {encoding} 文本 (byte-order mark does not match the text)") from exc
            label = {"utf-8-sig": "UTF-8 (BOM)", "gb18030": "GB18030 (BOM)", "utf-16": "UTF-16"}[encoding]
            return text.lstrip("\ufeff"), label
    try:
        text = content.decode("utf-8").lstrip("\ufeff")
        if "\x00" not in text:  # UTF-16 without a BOM is valid UTF-8 full of NULs: not a text file's UTF-8
            return text, "UTF-8"
    except UnicodeDecodeError:
        pass
    # charset-normalizer ranks the plausible encodings; a short file can fool its ranking, so the
    # first candidate whose text has a header row we know wins (GB18030 is tried last: Excel's
    # "CSV" on Chinese Windows).
    matches = from_bytes(content, cp_isolation=ZH_CN_ENCODINGS)
    candidates = [m.encoding for m in matches] + ["gb18030"]
    decoded: list[tuple[str, str]] = []
    for encoding in dict.fromkeys("gb18030" if c in ("gb2312", "gbk") else c for c in candidates):
        try:
            text = content.decode(encoding).lstrip("\ufeff")
        except (UnicodeDecodeError, LookupError):
            continue
        decoded.append((text, encoding))
        if _has_header(text):
            break
    else:
        if not decoded:
            raise UnreadableFile(f"无法识别文件编码{_first_bad_utf8(content)}，请在 Excel 中另存为“CSV UTF-8” (encoding not recognised: save as CSV UTF-8)")
        text, encoding = decoded[0]
    return text, {"gb18030": "GB18030/GBK", "utf_16": "UTF-16", "utf_16_le": "UTF-16LE", "utf_16_be": "UTF-16BE"}.get(
        encoding, encoding.upper().replace("_", "-")
    )


def _first_bad_utf8(content: bytes) -> str:
    """Where a mostly-UTF-8 file stops being UTF-8 (a line pasted from a GBK file), as "（第 N 行…）", or ""."""
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        column = exc.start - content.rfind(b"\n", 0, exc.start)
        return f"（第 {line} 行第 {column} 字节起不是 UTF-8 (line {line} is not UTF-8 from byte {column})）"
    return ""


def _has_header(text: str) -> bool:
    for line in text.split("\n", HEADER_SCAN_ROWS)[:HEADER_SCAN_ROWS]:  # maxsplit: never a list of every line
        known = [HEADERS.get(header_key(c)) for c in line.replace("\t", ",").replace(";", ",").split(",")]
        if "code" in known and sum(1 for k in known if k) >= 2:
            return True
    return False


def _delimiter(text: str) -> str:
    first = next((line for line in text[:65536].splitlines() if line.strip()), "")  # not a list of every line
    counts = {d: first.count(d) for d in (",", "\t", ";")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def _read_text(content: bytes) -> Table:
    text, encoding = decode(content)
    # strict (RFC 4180 §2 rules 5-7): a quote left open at the end of the file is an error; the lenient
    # default read the rest of the file into one cell (an update took "maker,approval no,...,500.0" as its maker)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    numbered: list[tuple[int, list[Any]]] = []
    cut_short = False
    started = 1  # the line the record being read began on (an unbalanced quote runs on to the end of the file)
    try:
        for cells in reader:
            started = reader.line_num + 1
            if not "".join(cells).strip():
                if reader.line_num > MAX_LINES:
                    raise UnreadableFile(f"文件超过 {MAX_LINES} 行 (more than {MAX_LINES} lines: no Excel sheet holds that many)")
                continue  # an empty row (Excel appends ",,,,"): skipped here as everywhere
            _check_width(cells, f"第 {reader.line_num} 行", f"line {reader.line_num}")
            numbered.append((reader.line_num, cells))
            if len(numbered) > MAX_READ_ROWS + 1:
                cut_short = True
                break
    except csv.Error as exc:
        raise UnreadableFile(
            f"从第 {started} 行起不是有效的 CSV（引号未闭合？） (line {started} on is not valid CSV, an unclosed quote?: {exc})"
        ) from exc
    table = _from_rows(numbered)
    table.cut_short = cut_short
    table.encoding = encoding
    return table


def _check_width(cells: list[Any], where_zh: str, where_en: str) -> None:
    if len(cells) > MAX_COLUMNS and any(c not in (None, "") for c in cells[MAX_COLUMNS:]):
        raise UnreadableFile(f"{where_zh}超过 {MAX_COLUMNS} 列 ({where_en} has more than {MAX_COLUMNS} columns)")


def _check_archive(content: bytes) -> zipfile.ZipFile:
    """The workbook's zip, refused before any part is unzipped if it is a decompression bomb."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as exc:
        raise UnreadableFile(f"无法读取的 Excel 工作簿 (not a readable Excel workbook: {exc.__class__.__name__})") from exc
    unzipped = sum(m.file_size for m in members)  # zipfile never inflates a member past its declared size
    if len(members) > MAX_ZIP_MEMBERS or unzipped > MAX_UNZIPPED_BYTES:
        raise UnreadableFile(
            f"工作簿解压后有 {unzipped // (1024 * 1024)} MB、{len(members)} 个部件，超过上限 "
            f"{MAX_UNZIPPED_BYTES // (1024 * 1024)} MB / {MAX_ZIP_MEMBERS} 个 (the workbook unzips to {unzipped} bytes in "
            f"{len(members)} parts; at most {MAX_UNZIPPED_BYTES} bytes and {MAX_ZIP_MEMBERS} parts)"
        )
    return archive


def _read_xlsx(content: bytes) -> Table:
    from openpyxl import load_workbook

    archive = _check_archive(content)
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a bad file
        raise UnreadableFile(f"无法读取的 Excel 工作簿 (not a readable Excel workbook: {exc.__class__.__name__})") from exc
    title = ""
    try:
        # Visible sheets first: a hidden sheet is often an old copy or a lookup list, not the data.
        sheets = sorted(workbook.worksheets, key=lambda ws: ws.sheet_state != "visible")
        for sheet in sheets:
            title = sheet.title
            numbered, cut_short = _sheet_rows(sheet)
            xml = _sheet_xml(archive, sheet)
            _fill_merged(numbered, xml)
            try:
                table = _from_rows(numbered)
            except UnreadableFile:
                continue  # an instructions sheet: try the next one
            _refuse_uncomputed_formulas(xml, sheet.title)
            table.sheet = sheet.title
            table.cut_short = cut_short
            return table
    except UnreadableFile:
        raise
    except Exception as exc:  # noqa: BLE001 - broken XML, an entity bomb (expat's limit), a damaged part all raise here
        raise UnreadableFile(
            f"工作表“{title}”无法读取，文件可能已损坏 (sheet {title!r} cannot be read, the file may be damaged: "
            f"{exc.__class__.__name__}: {str(exc)[:120]})"
        ) from exc
    finally:
        workbook.close()
    raise UnreadableFile("没有哪个工作表有包含“编码”等列名的表头行 (no sheet has a header row naming 编码 and other columns)")


ZERO_PADDED = re.compile(r'^(?:"([^"]*)")?(0+)$')  # number formats such as 00000000 or "YP"000000 (codes shown padded)


def _xlsx_cell(cell: Any) -> Any:
    """A cell's value as Excel shows it where that matters: a code stored as a number with a zero-padded format."""
    value = getattr(cell, "value", None)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer():
        shown = ZERO_PADDED.match(getattr(cell, "number_format", "") or "")
        if shown:
            return (shown.group(1) or "") + str(int(value)).zfill(len(shown.group(2)))
    return value


def _sheet_rows(sheet: Any) -> tuple[list[tuple[int, list[Any]]], bool]:
    """(sheet row number, cells) of the non-empty rows, at most MAX_READ_ROWS + 1 of them; whether reading stopped there."""
    numbered: list[tuple[int, list[Any]]] = []
    for n, cells in enumerate(sheet.iter_rows(min_row=1, max_col=MAX_COLUMNS + 1), start=1):
        values = [_xlsx_cell(c) for c in cells]
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue  # an empty row: skipped here as everywhere (a sheet may declare a million of them)
        _check_width(values, f"第 {n} 行", f"row {n}")
        numbered.append((n, values))
        if len(numbered) > MAX_READ_ROWS + 1:
            return numbered, True
    return numbered, False


def _sheet_xml(archive: zipfile.ZipFile, sheet: Any) -> str:
    path = str(getattr(sheet, "_worksheet_path", "") or "").lstrip("/")
    try:
        return archive.read(path).decode("utf-8", errors="replace") if path else ""
    except KeyError:
        return ""


def _fill_merged(numbered: list[tuple[int, list[Any]]], xml: str) -> None:
    """A merged range's value (kept by Excel in its top-left cell) given to every row it covers, in its first column."""
    from openpyxl.utils.cell import range_boundaries

    by_row = {n: cells for n, cells in numbered}
    for ref in re.findall(r'<(?:\w+:)?mergeCell ref="([A-Z]+[0-9]+:[A-Z]+[0-9]+)"', xml):
        min_col, min_row, _max_col, max_row = range_boundaries(ref)
        top = by_row.get(min_row)
        if top is None or len(top) < min_col:
            continue
        for row in range(min_row + 1, max_row + 1):
            cells = by_row.get(row)
            if cells is not None:
                cells.extend([None] * (min_col - len(cells)))
                if cells[min_col - 1] is None:
                    cells[min_col - 1] = top[min_col - 1]


def _refuse_uncomputed_formulas(xml: str, title: str) -> None:
    """Formulas saved without their computed value (written by a program, never opened in Excel) cannot be read."""
    if "<f" not in xml:
        return
    missing = [
        ref for ref, inner in re.findall(r'<(?:\w+:)?c r="([A-Z]+[0-9]+)"[^>]*>(.*?)</(?:\w+:)?c>', xml, flags=re.S)
        if re.search(r"<(?:\w+:)?f[\s>/]", inner) and not re.search(r"<(?:\w+:)?v>[^<]+</", inner)
    ]  # fmt: skip
    if missing:
        shown = "、".join(missing[:10])
        raise UnreadableFile(
            f"工作表“{title}”的单元格 {shown} 是公式但没有计算结果，请在 Excel 中打开并保存后再上传 "
            f"(cells {', '.join(missing[:10])} hold formulas without computed values: open and save the file in Excel)"
        )


def cell_text(value: Any) -> str | None:
    """A cell as text (None when blank); whole-number floats lose their '.0'; a date at midnight is a date;
    text the export neutralised ('=…) has its apostrophe dropped."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = restore(str(value))  # a cell the hub's own export put behind an apostrophe (shared/sheets.py)
    return None if text.strip() == "" else text


def _from_rows(numbered: list[tuple[int, Any]]) -> Table:
    header_at = None
    for index, (_row_no, cells) in enumerate(numbered[:HEADER_SCAN_ROWS]):
        known = [HEADERS.get(header_key(c)) for c in cells]
        if "code" in known and sum(1 for k in known if k) >= 2:
            header_at = index
            break
    if header_at is None:
        raise UnreadableFile("前 30 行中没有包含“编码”等列名的表头行 (no header row naming 编码 and other columns in the first 30 rows)")
    header_row, header_cells = numbered[header_at]
    columns: list[str | None] = []
    unknown: list[str] = []
    for cell in header_cells:
        if header_key(cell) == "":
            columns.append(None)
            continue
        name = HEADERS.get(header_key(cell))
        if name is None:
            unknown.append(str(cell))
        elif name in columns:
            raise UnreadableFile(f"列 {name} 在表头行（第 {header_row} 行）出现两次 (column {name} appears twice)")
        columns.append(name)
    if unknown:
        raise UnreadableFile(f"表头行（第 {header_row} 行）有无法识别的列：{'、'.join(unknown[:10])}，请使用模板的列名 (unknown columns; use the template's headers)")
    table = Table(header_row=header_row, columns=[c for c in columns if c])
    for row_no, cells in numbered[header_at + 1:]:
        values = [cell_text(c) for c in cells]
        if all(v is None for v in values):
            continue
        row = {col: (values[i] if i < len(values) else None) for i, col in enumerate(columns) if col}
        extra = [v for v in values[len(columns):] if v is not None]
        if extra or any(values[i] is not None for i, col in enumerate(columns) if col is None and i < len(values)):
            row["_extra"] = "有内容写在没有列名的列中 (cells outside the named columns)"
        table.rows.append((row_no, row))
    return table
