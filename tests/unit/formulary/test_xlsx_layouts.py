"""Workbooks as Chinese offices make them: hidden sheets, merged cells, formulas, zero-padded codes, dates."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from openpyxl import Workbook

from services.formulary.importing import UnreadableFile, read_table

HEADER = ["编码", "通用名", "包装数量", "类别"]


def _book(build) -> bytes:  # type: ignore[no-untyped-def]
    workbook = Workbook()
    build(workbook)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_a_hidden_sheet_is_not_read_before_the_visible_one() -> None:
    def build(wb: Workbook) -> None:
        old = wb.active
        old.title = "旧数据"
        old.append(HEADER)
        old.append(["YP000001", "旧名", 10, "药品"])
        old.sheet_state = "hidden"
        data = wb.create_sheet("目录")
        data.append(HEADER)
        data.append(["YP000001", "阿莫西林胶囊", 24, "药品"])

    table = read_table("目录.xlsx", _book(build))
    assert table.sheet == "目录" and table.rows[0][1]["generic_name"] == "阿莫西林胶囊"


def test_merged_cells_give_their_value_to_every_row_they_cover() -> None:
    def build(wb: Workbook) -> None:
        ws = wb.active
        ws.append(HEADER)
        for i in range(3):
            ws.append([f"YP00000{i}", f"药{i}", 10, "药品" if i == 0 else None])
        ws.merge_cells("D2:D4")  # 类别 written once for three rows, as offices do

    table = read_table("目录.xlsx", _book(build))
    assert [r["kind"] for _n, r in table.rows] == ["药品", "药品", "药品"]


def test_a_formula_without_a_computed_value_is_refused_naming_the_cell() -> None:
    def build(wb: Workbook) -> None:
        ws = wb.active
        ws.append(HEADER)
        ws.append(["YP000001", "阿莫西林胶囊", "=12*2", "药品"])  # saved by a program, not Excel: no cached value

    with pytest.raises(UnreadableFile) as refused:
        read_table("目录.xlsx", _book(build))
    assert "C2" in str(refused.value)


def test_zero_padded_number_codes_keep_their_zeros_and_dates_are_dates() -> None:
    def build(wb: Workbook) -> None:
        ws = wb.active
        ws.append([*HEADER, "医保编码"])
        ws.append([1234, "阿莫西林胶囊", 24, "药品", None])
        ws["A2"].number_format = "00000000"  # shown as 00001234
        ws.append([86900001000011, "布洛芬片", 24, "药品", None])
        ws.append(["YP000003", "对乙酰氨基酚片", 24, "药品", datetime(2024, 1, 2)])

    rows = [r for _n, r in read_table("目录.xlsx", _book(build)).rows]
    assert rows[0]["code"] == "00001234" and rows[1]["code"] == "86900001000011"
    assert rows[2]["nhsa_code"] == "2024-01-02"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_tab_separated_utf16_without_a_byte_order_mark_is_detected(encoding: str) -> None:
    table = read_table("目录.txt", "编码\t通用名\t包装数量\nYP000007\t阿莫西林胶囊\t48\n".encode(encoding))
    assert table.encoding and "UTF-16" in table.encoding
    assert table.rows[0][1] == {"code": "YP000007", "generic_name": "阿莫西林胶囊", "package_size": "48"}


def test_powders_for_injection_are_found_by_their_nmpa_product_name() -> None:
    from shared.search import item_keys, matches, query_terms

    item = {"code": "YP000020", "generic_name": "头孢曲松", "dosage_form": "注射用无菌粉末", "strength": "1.0g"}
    text = item_keys(item).text
    for q in ("注射用头孢曲松", "注射用 头孢曲松", "头孢曲松 注射用无菌粉末", "注射用头孢曲松 1.0g"):
        assert matches(text, query_terms(q)), q
