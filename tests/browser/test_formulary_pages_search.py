"""Catalogue search: paging with "load more", filters, the keyboard, the address bar."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_load_more_pages_through_results_and_filters_narrow_them(page: Page, sign_in, hub_api, shot) -> None:
    token = uuid.uuid4().hex[:8]
    hub_api.create_items(
        *[
            hub_api.a_drug(
                hub_api.unique_code("PG"), generic_name_en=f"Paging {token} {i}", essential=i % 5 == 0
            )
            for i in range(35)
        ]
    )

    page.goto("/ui/")
    sign_in(page, "pharmacist")
    box = page.get_by_label("按编码、名称或拼音首字母查找", exact=True)
    box.fill(token)
    expect(page).to_have_url(re.compile(f"q={token}"))
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(30)  # one page
    expect(page.locator("#result-status")).to_contain_text("还有更多")
    page.get_by_role("button", name="加载更多").click()
    expect(rows).to_have_count(35)
    expect(page.get_by_role("button", name="加载更多")).to_be_hidden()
    expect(page.locator("#result-status")).to_contain_text("共 35 条")
    codes = [c.strip() for c in page.locator("#results tbody td:first-child").all_inner_texts()]
    assert len(set(codes)) == 35
    shot("catalogue-paged")

    page.get_by_label("基本药物", exact=True).select_option("true")
    expect(rows).to_have_count(7)
    expect(page).to_have_url(re.compile("essential=true"))

    # The search survives a reload through the address bar; ↓ walks into the results.
    page.reload()
    expect(rows).to_have_count(7)
    expect(box).to_have_value(token)
    box.focus()
    box.press("ArrowDown")
    expect(rows.first.get_by_role("link")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(rows.nth(1).get_by_role("link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/ui/items/PG-"))
