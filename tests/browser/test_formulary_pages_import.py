"""Bulk import: a file with a bad row is refused whole, or imported in part when asked to."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import Workbook
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

HEADERS = [
    "编码",
    "类别",
    "通用名",
    "剂型",
    "规格",
    "单位",
    "包装数量",
    "包装单位",
    "基药",
    "体积cm3",
    "重量g",
]


def rows(good: str, bad: str) -> list[list[str]]:
    """A header, one good row and one whose package holds 0 units."""
    return [
        HEADERS,
        [good, "drug", "导入测试片", "片剂", "5mg", "片", "24", "盒", "是", "40", "15"],
        [bad, "drug", "导入测试胶囊", "胶囊剂", "0.25g", "粒", "0", "盒", "否", "40", "15"],
    ]


def as_csv(table: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(table)
    return out.getvalue().encode("utf-8-sig")


def as_xlsx(table: list[list[str]]) -> bytes:
    book = Workbook()
    for line in table:
        book.active.append(line)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_import_reports_each_row_and_writes_only_what_it_may(page: Page, sign_in, hub_api, shot) -> None:
    good, bad = hub_api.unique_code("IM"), hub_api.unique_code("IM")
    page.goto("/ui/import")
    sign_in(page, "formulary_admin")
    form = page.locator("#import-form")

    # Without "valid rows only", one bad row means nothing is written.
    form.get_by_label("文件", exact=True).set_input_files(
        {"name": "目录.csv", "mimeType": "text/csv", "buffer": as_csv(rows(good, bad))}
    )
    form.get_by_role("button", name="上传并校验").click()
    summary = page.locator("#report-summary")
    expect(summary).to_contain_text("没有写入任何数据")
    bad_row = page.locator("#report-table tbody tr[data-row='3']")
    expect(bad_row).to_contain_text(bad)
    expect(bad_row).to_contain_text("包装数量")
    expect(bad_row).to_contain_text("须在 1 到 100000 之间")
    expect(page.locator("#report-table tbody tr[data-row='2']")).to_contain_text("未写入")
    assert hub_api.drafts_for(good) == []
    shot("import-refused")

    # With it, the good row of an Excel file becomes a proposal and the bad one is listed.
    form.get_by_label("只导入有效的行（跳过有错误的行）", exact=True).check()
    form.get_by_label("文件", exact=True).set_input_files(
        {
            "name": "目录.xlsx",
            "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "buffer": as_xlsx(rows(good, bad)),
        }
    )
    form.get_by_role("button", name="上传并校验").click()
    expect(summary).to_contain_text("已写入 1 条提议")
    expect(summary).to_contain_text("跳过 1 行")
    expect(page.locator("#report-table tbody tr[data-row='2']")).to_contain_text("新增")
    assert [c["kind"] for c in hub_api.drafts_for(good)] == ["item_create"]
    assert hub_api.drafts_for(bad) == []
    shot("import-partial")


def test_a_file_the_importer_cannot_read_is_named_beside_the_file_field(page: Page, sign_in) -> None:
    page.goto("/ui/import")
    sign_in(page, "formulary_admin")
    form = page.locator("#import-form")
    form.get_by_role("button", name="上传并校验").click()
    expect(page.locator("#import-file-error")).to_have_text("请选择文件")
    form.get_by_label("文件", exact=True).set_input_files(
        {"name": "目录.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4"}
    )
    form.get_by_role("button", name="上传并校验").click()
    expect(page.locator("#import-file-error")).to_contain_text(".csv")
