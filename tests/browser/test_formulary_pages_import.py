"""Bulk import: checking writes nothing and names encoding, sheet and header row; confirming writes one batch."""

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


def test_import_checks_first_then_confirms_one_batch(page: Page, sign_in, hub_api, shot) -> None:
    good, bad = hub_api.unique_code("IM"), hub_api.unique_code("IM")
    page.goto("/ui/import")
    sign_in(page, "formulary_admin")
    form = page.locator("#import-form")
    expect(page.locator("#import-rule")).to_contain_text("文件中没有的列：品种保留原值")

    # Checking writes nothing; one bad row and "valid rows only" unticked: nothing can be confirmed.
    form.get_by_label("文件", exact=True).set_input_files(
        {"name": "目录.csv", "mimeType": "text/csv", "buffer": as_csv(rows(good, bad))}
    )
    form.get_by_role("button", name="上传并校验").click()
    summary = page.locator("#report-summary")
    expect(summary).to_contain_text("没有写入任何数据")
    expect(page.locator("#detected-encoding")).to_have_text("UTF-8 (BOM)")
    expect(page.locator("#detected-header-row")).to_have_text("1")
    bad_row = page.locator("#report-table tbody tr[data-row='3']")
    expect(bad_row).to_contain_text(bad)
    expect(bad_row).to_contain_text("包装数量")
    expect(page.locator("#confirm-bar")).to_be_hidden()
    assert hub_api.drafts_for(good) == []
    shot("import-refused")

    # An Excel workbook with an instructions sheet and a title row: the sheet and header row are named.
    form.get_by_label("只导入有效的行（跳过有错误的行）", exact=True).check()
    book = Workbook()
    book.active.title = "填写说明"
    book.active.append(["请按模板填写"])
    data = book.create_sheet("药品目录")
    data.append(["成武县医共体药品目录"])
    for line in rows(good, bad):
        data.append(line)
    out = io.BytesIO()
    book.save(out)
    form.get_by_label("文件", exact=True).set_input_files(
        {"name": "目录.xlsx", "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "buffer": out.getvalue()}
    )  # fmt: skip
    form.get_by_role("button", name="上传并校验").click()
    expect(summary).to_contain_text("尚未写入任何数据")
    expect(page.locator("#detected-sheet")).to_have_text("药品目录")
    expect(page.locator("#detected-header-row")).to_have_text("2")
    expect(page.locator("#report-table tbody tr[data-row='3']")).to_contain_text("新增")
    expect(page.locator("#report-table tbody tr[data-row='4']")).to_contain_text("包装数量")
    assert hub_api.drafts_for(good) == []

    page.locator("#confirm-import").click()
    page.locator("#hub-confirm").get_by_role("button", name="确认导入").click()  # the shell's confirmation
    expect(summary).to_contain_text("已提交 1 条提议")
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
