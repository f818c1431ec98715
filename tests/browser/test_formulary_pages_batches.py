"""The committee reviews an import by its totals and flagged rows and approves it whole; a pack-size
change without new volume/weight is flagged on the approval page."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

HEADERS = ["编码", "类别", "通用名", "剂型", "规格", "单位", "包装数量", "包装单位", "体积cm3", "重量g", "生产企业"]


def test_an_import_is_approved_as_one_batch_with_its_flags_shown(page: Page, sign_in, hub_api, shot) -> None:
    codes = [hub_api.unique_code("BA") for _ in range(3)]
    maker = f"批次测试药业{codes[0][-4:]}"
    table = [HEADERS] + [[c, "药品", "批次测试片", "片剂", "5mg", "片", "24", "盒", "40", "15", maker] for c in codes]
    out = io.StringIO()
    csv.writer(out).writerows(table)

    page.goto("/ui/import")
    sign_in(page, "formulary_admin")
    form = page.locator("#import-form")
    form.get_by_label("文件", exact=True).set_input_files({"name": "批次.csv", "mimeType": "text/csv", "buffer": out.getvalue().encode("gbk")})
    form.get_by_label("理由", exact=True).fill("新增集采品种")
    form.get_by_role("button", name="上传并校验").click()
    expect(page.locator("#detected-encoding")).to_have_text("GB18030/GBK")
    expect(page.locator("#report-table tbody tr[data-row='3']")).to_contain_text("疑似重复品种")
    page.locator("#confirm-import").click()
    page.locator("#hub-confirm").get_by_role("button", name="确认导入").click()
    expect(page.locator("#report-summary")).to_contain_text("已提交 3 条提议")

    sign_in(page, "pharmacy_manager")
    page.goto("/ui/changes")
    batch = page.locator("#batches tbody tr").filter(has_text="新增集采品种")
    expect(batch).to_contain_text("3")
    expect(batch).to_contain_text("2 行需留意")
    shot("changes-batch")
    batch.get_by_role("button", name="整批批准").click()
    page.locator("#hub-confirm").get_by_role("button", name="批准").click()
    expect(page.locator("#hub-toasts")).to_contain_text("目录已更新")
    for code in codes:
        assert hub_api.drafts_for(code) == []
        status, item, _ = hub_api.call("GET", f"/api/v1/items/{code}")
        assert status == 200 and item["manufacturer"] == maker


def test_a_pack_size_change_without_volume_is_flagged_for_the_committee(page: Page, sign_in, hub_api) -> None:
    code = hub_api.unique_code("PK")
    hub_api.create_items(hub_api.a_drug(code))
    hub_api.edit(code, {"package_size": 48})
    page.goto("/ui/changes")
    sign_in(page, "pharmacy_manager")
    row = page.locator(f'#changes tbody tr[data-target="{code}"]')
    expect(row.locator(".flag")).to_contain_text("包装数量变了，但包装体积/重量没有改")
