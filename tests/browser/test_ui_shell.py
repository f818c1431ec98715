"""The common page shell: sign-in dialog, language switch, print layout."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_a_fresh_page_asks_who_you_are_and_a_storekeeper_names_a_site(page: Page, sign_in) -> None:
    page.goto("/ui/")
    dialog = page.locator("#hub-signin")
    expect(dialog).to_be_visible()
    expect(page.get_by_role("heading", name="请先登录")).to_be_visible()

    dialog.get_by_label("身份").select_option("storekeeper")
    site = dialog.get_by_label("所在机构编码")
    expect(site).to_be_visible()
    dialog.get_by_role("button", name="登录", exact=True).click()
    expect(page.locator("#hub-signin-site-error")).to_have_text(re.compile("机构编码"))
    expect(site).to_have_attribute("aria-invalid", "true")

    site.fill("ts-01")
    dialog.get_by_role("button", name="登录", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#hub-who")).to_contain_text("库管员")
    expect(page.locator("#hub-who")).to_contain_text("TS-01")
    # A storekeeper's search keeps to their site's stocking list; this site is unknown, and the
    # page says so beside that choice.
    only_mine = page.get_by_label("只看本机构可配备的")
    expect(only_mine).to_be_checked()
    expect(page.locator("#mine-error")).to_have_text("没有这个机构")

    sign_in(page, "formulary_admin", name="王目录")
    expect(page.locator("#hub-who")).to_contain_text("王目录")
    expect(only_mine).to_be_hidden()
    expect(page.get_by_label("按编码、名称或拼音首字母查找")).to_be_focused()


def test_english_switch_translates_the_pages_and_is_remembered(page: Page, sign_in, shot) -> None:
    page.goto("/ui/")
    sign_in(page, "formulary_admin")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.get_by_role("button", name="English").click()

    expect(page.locator("html")).to_have_attribute("lang", "en")
    nav = page.get_by_role("navigation")
    expect(nav.get_by_role("link", name="Catalogue")).to_be_visible()
    expect(nav.get_by_role("link", name="Approvals")).to_be_visible()
    expect(page.locator("#results thead")).to_contain_text("Generic name")
    expect(page.locator("#hub-who")).to_contain_text("Formulary admin")
    search = page.get_by_label("Search by code, name or pinyin initials")
    expect(search).to_have_attribute("placeholder", re.compile("^e.g. amxl"))
    expect(page.get_by_role("button", name="中文")).to_be_visible()
    shot("catalogue-english")

    # The choice outlives the page: the next page opens in English.
    nav.get_by_role("link", name="New item").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_label("Generic name", exact=True)).to_be_visible()
    expect(page.get_by_label("Units per package", exact=True)).to_be_visible()
    expect(page.get_by_role("group", name="Logistics (for loading)")).to_be_visible()
    page.get_by_role("button", name="Submit for approval").click()
    expect(page.locator("#f-code-error")).to_have_text("Required")
    shot("new-item-english")

    page.get_by_role("button", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_label("通用名", exact=True)).to_be_visible()


def test_printing_leaves_out_the_header_and_controls(page: Page, sign_in) -> None:
    page.goto("/ui/")
    sign_in(page, "formulary_admin")
    expect(page.locator(".hub-header")).to_be_visible()
    page.emulate_media(media="print")
    expect(page.locator(".hub-header")).to_be_hidden()
    expect(page.locator("#search-form")).to_be_hidden()
    expect(page.locator("#results")).to_be_visible()


def test_a_refused_token_asks_to_sign_in_again(page: Page, sign_in) -> None:
    page.goto("/ui/")
    sign_in(page, "formulary_admin")
    # Spoil the signature: the token still looks current, but the API refuses it (as after a
    # secret rotation), and the page asks the person to sign in again.
    page.evaluate("""() => {
        const s = JSON.parse(sessionStorage.getItem("hub.session"));
        s.token = s.token.slice(0, -4) + (s.token.endsWith("AAAA") ? "BBBB" : "AAAA");
        sessionStorage.setItem("hub.session", JSON.stringify(s));
    }""")
    page.reload()
    dialog = page.locator("#hub-signin")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("登录已过期，请重新登录")
    sign_in(page, "formulary_admin")
    expect(page.locator("#results tbody tr").first).to_be_visible()
