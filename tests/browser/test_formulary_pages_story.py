"""A new drug's way into the catalogue, clicked through as the people involved do it.

The formulary admin proposes it (meeting a field error on the way), the pharmacy manager
approves it for the committee, the admin finds it by pinyin initials and proposes a change, the
manager approves that too, and the item page then shows two versions and what changed.
"""

from __future__ import annotations

import random
import re

import pytest
from playwright.sync_api import Page, expect

from shared.pinyin_readings import pinyin_initials

pytestmark = pytest.mark.browser

# Characters with varied pinyin initials, so a random name has initials no other item shares.
NAME_CHARS = "百春德恩福光华佳康乐美宁平强仁森泰威祥信阳正卓"  # no 安: "amxl" must keep meaning 阿莫西林


def search_for(page: Page, text: str) -> None:
    """Type into the search box as a person does and wait for that search's results."""
    box = page.get_by_label("按编码、名称或拼音首字母查找", exact=True)
    box.fill("")
    box.type(text, delay=20)
    # The page puts the query into the address bar and marks the table busy in the same step.
    expect(page).to_have_url(re.compile(f"q={re.escape(text)}"))
    expect(page.locator("#results")).not_to_have_attribute("aria-busy", "true")


def approve_on_page(page: Page, code: str, note: str) -> int:
    """On the approval page, tick the drafts for `code`, approve them, return the new catalogue version."""
    page.get_by_role("link", name="药事会审批").click()
    rows = page.locator(f'#changes tbody tr[data-target="{code}"]')
    expect(rows.first).to_be_visible()
    for i in range(rows.count()):
        rows.nth(i).get_by_role("checkbox").check()
    page.get_by_label("审批意见", exact=True).fill(note)
    page.get_by_role("button", name=re.compile("批准所选")).click()
    page.locator("#hub-confirm").get_by_role("button", name="批准").click()  # the shell's confirmation
    version = page.locator("#catalogue-version")
    expect(version).to_have_text(re.compile(r"^\d+$"))
    expect(rows).to_have_count(0)  # approved drafts leave the queue
    return int(version.inner_text())


def test_new_drug_is_proposed_approved_found_edited_and_shows_its_history(
    page: Page, sign_in, hub_api, shot
) -> None:
    code = hub_api.unique_code("BT")
    name = "试验" + "".join(random.sample(NAME_CHARS, 4)) + "片"
    initials = pinyin_initials(name)

    # --- the formulary admin proposes the new drug
    page.goto("/ui/items/new")
    sign_in(page, "formulary_admin", name="王目录")
    form = page.locator("#new-form")
    form.get_by_label("编码", exact=True).fill(code.lower())  # typed lower-case: the form upper-cases codes
    expect(form.get_by_label("编码", exact=True)).to_have_value(code)
    form.get_by_label("通用名", exact=True).fill(name)
    form.get_by_label("剂型", exact=True).fill("片剂")
    form.get_by_label("规格", exact=True).fill("10mg")
    form.get_by_label("最小单位", exact=True).fill("片")
    form.get_by_label("包装数量", exact=True).fill("0")
    form.get_by_label("包装单位", exact=True).fill("盒")
    form.get_by_label("国家基本药物", exact=True).check()
    form.get_by_label("包装体积（cm³）", exact=True).fill("50")
    form.get_by_label("包装重量（g）", exact=True).fill("20")
    form.get_by_role("button", name="提交审批").click()

    # A bad value shows its message beside its field (checked in the browser) ...
    size = form.get_by_label("包装数量", exact=True)
    expect(page.locator("#f-package_size-error")).to_have_text(re.compile("不小于 1"))
    expect(size).to_have_attribute("aria-invalid", "true")
    expect(size).to_be_focused()
    shot("new-item-client-error")

    # ... and a value only the server can judge (the NHSA code pattern) does too.
    size.fill("24")
    form.get_by_label("医保编码", exact=True).fill("X123")
    form.get_by_role("button", name="提交审批").click()
    expect(page.locator("#f-nhsa_code-error")).to_contain_text("不符合药品医保编码格式")
    expect(form.get_by_label("医保编码", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-package_size-error")).to_have_count(0)
    shot("new-item-server-error")
    assert hub_api.drafts_for(code) == []  # nothing was created

    form.get_by_label("医保编码", exact=True).fill("")
    form.get_by_label("申请说明", exact=True).fill("乡镇卫生院常用")
    form.get_by_role("button", name="提交审批").click()
    expect(page.locator("#created")).to_contain_text(code)
    assert [c["kind"] for c in hub_api.drafts_for(code)] == ["item_create"]

    # --- the pharmacy manager approves it for the committee
    sign_in(page, "pharmacy_manager", name="李主任")
    first_version = approve_on_page(page, code, "2024 年第 3 次药事会")
    shot("changes-approved")

    # --- the admin finds it by its pinyin initials and proposes a change
    sign_in(page, "formulary_admin", name="王目录")
    page.get_by_role("link", name="目录查询").click()
    search = page.get_by_label("按编码、名称或拼音首字母查找", exact=True)
    expect(search).to_be_focused()
    search_for(page, initials)
    expect(page.locator("#results tbody tr")).to_have_count(1)  # nothing else has these initials
    result = page.locator("#results").get_by_role("link", name=code)
    expect(page.locator("#results tbody tr", has=page.get_by_role("link", name=code))).to_contain_text("基药")
    shot("catalogue-search")
    result.click()

    expect(page.locator("#item-name")).to_have_text(name)
    page.get_by_role("button", name="提议修改").click()
    edit = page.locator("#edit-form")
    expect(edit.get_by_label("规格", exact=True)).to_have_value("10mg")  # pre-filled with the current item
    edit.get_by_label("规格", exact=True).fill("20mg")
    edit.get_by_label("修改理由（如 供应商改为大包装）", exact=True).fill("厂家规格调整")
    edit.get_by_label("药事会会议", exact=True).fill("2024 年第 4 次药事会")
    edit.get_by_role("button", name="提交审批").click()
    expect(page.locator("#hub-toasts")).to_contain_text("修改提议已提交")
    expect(page.locator("#item-pending")).to_contain_text("待药事会审批")

    # --- the manager approves the change, seeing it as old → new
    sign_in(page, "pharmacy_manager", name="李主任")
    page.get_by_role("link", name="药事会审批").click()
    row = page.locator(f'#changes tbody tr[data-target="{code}"]')
    expect(row.locator(".diff")).to_contain_text("10mg")
    expect(row.locator(".diff .new")).to_have_text("20mg")
    expect(row).to_contain_text("厂家规格调整")  # the reason and the meeting travel with the change
    expect(row).to_contain_text("2024 年第 4 次药事会")
    second_version = approve_on_page(page, code, "2024 年第 4 次药事会")
    assert second_version > first_version

    # --- found by code, the item shows both versions and what changed between them
    page.get_by_role("link", name="目录查询").click()
    search_for(page, code)
    expect(page.locator("#results tbody tr").first).to_contain_text(code)  # an exact code ranks first
    page.locator("#results").get_by_role("link", name=code).click()
    versions = page.locator("#history > li")
    expect(versions).to_have_count(2)
    expect(versions.nth(0)).to_contain_text("第 2 版")
    expect(versions.nth(0).locator(".history-reason")).to_contain_text("厂家规格调整")
    expect(versions.nth(0).locator(".history-meeting")).to_contain_text("2024 年第 4 次药事会")
    expect(versions.nth(0).locator(".diff")).to_contain_text("规格")
    expect(versions.nth(0).locator(".diff .old")).to_have_text("10mg")
    expect(versions.nth(0).locator(".diff .new")).to_have_text("20mg")
    expect(versions.nth(1)).to_contain_text("首次收录")
    expect(page.locator("#item-fields")).to_contain_text("20mg")
    shot("item-history")
