"""Proposals that go wrong or get turned down: a stale edit, a retirement, a rejection."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_an_edit_against_an_item_someone_else_changed_says_so_and_reloads(
    page: Page, sign_in, hub_api, shot
) -> None:
    code = hub_api.unique_code("ST")
    hub_api.create_items(hub_api.a_drug(code, strength="5mg", manufacturer="鲁南制药集团股份有限公司"))

    page.goto(f"/ui/items/{code}")
    sign_in(page, "formulary_admin")
    page.get_by_role("button", name="提议修改").click()
    edit = page.locator("#edit-form")
    edit.get_by_label("规格", exact=True).fill("50mg")

    # Meanwhile a colleague's change to the same item is proposed and approved.
    hub_api.approve([hub_api.edit(code, {"manufacturer": "齐鲁制药有限公司"})])

    edit.get_by_role("button", name="提交审批").click()
    errors = edit.locator("[data-form-errors]")
    expect(errors).to_contain_text("此品种已被他人修改")
    shot("item-stale-edit")
    assert hub_api.drafts_for(code) == []

    errors.get_by_role("button", name="重新加载").click()
    expect(errors).to_contain_text("已载入第 2 版")
    expect(errors.locator(".diff .new")).to_have_text("齐鲁制药有限公司")  # what the colleague changed
    expect(edit.get_by_label("规格", exact=True)).to_have_value("50mg")  # the person's own edit is kept
    expect(edit.get_by_label("生产企业", exact=True)).to_have_value("齐鲁制药有限公司")

    edit.get_by_role("button", name="提交审批").click()
    expect(page.locator("#hub-toasts")).to_contain_text("修改提议已提交")
    [draft] = hub_api.drafts_for(code)
    assert draft["base_version"] == 2
    assert draft["payload"]["strength"] == "50mg"
    assert "manufacturer" not in draft["payload"]  # a draft holds only what it changes: the colleague's value stays


def test_retiring_asks_for_a_reason_and_the_manager_can_reject_with_one(
    page: Page, sign_in, hub_api, shot
) -> None:
    code = hub_api.unique_code("RT")
    hub_api.create_items(hub_api.a_drug(code))

    page.goto(f"/ui/items/{code}")
    sign_in(page, "formulary_admin")
    page.get_by_role("button", name="提议停用").click()
    dialog = page.locator("#retire-dialog")
    dialog.get_by_role("button", name="提交审批").click()
    expect(dialog.locator(".field-error")).to_contain_text("停用原因")
    dialog.get_by_label("停用原因", exact=True).fill("已被集采品种替代")
    dialog.get_by_role("button", name="提交审批").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#item-pending")).to_contain_text("停用")

    sign_in(page, "pharmacy_manager")
    page.get_by_role("link", name="药事会审批").click()
    row = page.locator(f'#changes tbody tr[data-target="{code}"]')
    expect(row).to_contain_text("已被集采品种替代")
    shot("changes-queue")
    row.get_by_role("button", name="驳回").click()
    reject = page.locator("#reject-dialog")
    reject.get_by_label("驳回理由", exact=True).fill("乡镇仍在使用，暂缓停用")
    reject.get_by_role("button", name="驳回").click()
    expect(reject).to_be_hidden()
    expect(row).to_have_count(0)

    page.get_by_label("显示", exact=True).select_option("rejected")
    expect(row).to_contain_text("乡镇仍在使用，暂缓停用")
    assert hub_api.drafts_for(code) == []
    status, item, _ = hub_api.call("GET", f"/api/v1/items/{code}")
    assert (status, item["status"]) == (200, "active")


def test_a_reader_sees_no_proposal_buttons(page: Page, sign_in, hub_api) -> None:
    code = hub_api.unique_code("RD")
    hub_api.create_items(hub_api.a_drug(code, storage="cold", high_alert=True, controlled="psychotropic_2"))

    page.goto(f"/ui/items/{code}")
    sign_in(page, "pharmacist")
    expect(page.locator("#item-badges")).to_contain_text(re.compile("高警示.*冷链.*精二"))
    expect(page.get_by_role("button", name="提议修改")).to_be_hidden()
    expect(page.locator("[data-proposers-only]")).to_be_visible()


def test_approving_two_clashing_changes_approves_nothing_and_marks_the_stale_one(
    page: Page, sign_in, hub_api
) -> None:
    code = hub_api.unique_code("CL")
    hub_api.create_items(hub_api.a_drug(code))
    first = hub_api.edit(code, {"strength": "15mg"})
    second = hub_api.edit(code, {"package_size": 48})  # made against the same version as the first

    page.goto("/ui/changes")
    sign_in(page, "pharmacy_manager")
    rows = page.locator(f'#changes tbody tr[data-target="{code}"]')
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("同一对象 2 项提议")
    for i in range(2):
        rows.nth(i).get_by_role("checkbox").check()
    expect(page.locator("#selected-count")).to_have_text("2")
    page.get_by_role("button", name=re.compile("批准所选")).click()
    page.locator("#hub-confirm").get_by_role("button", name="批准").click()  # the shell's confirmation

    errors = page.locator("#approve-form [data-form-errors]")
    expect(errors).to_contain_text("没有批准任何提议")
    # The later of the two no longer applies once the first is in; its row is marked.
    expect(page.locator("#changes tr.row-error")).to_have_count(1)
    expect(page.locator("#changes tr.row-error")).to_have_attribute("data-change-id", second)
    assert {c["id"] for c in hub_api.drafts_for(code)} == {first, second}
