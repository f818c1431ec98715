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


# ---------------------------------------------------------------- roles, Chinese, confirmation, text sizes

def test_menus_and_pages_follow_the_role(page: Page, sign_in) -> None:
    nav = page.get_by_role("navigation")
    page.goto("/ui/")
    expect(page.locator("#hub-signin")).to_contain_text("演示登录")  # the demonstration sign-in says what it is
    sign_in(page, "storekeeper", site="CW-T01")
    expect(nav.get_by_role("link", name="目录查询")).to_be_visible()
    for name in ("新增品种", "批量导入", "药事会审批"):
        expect(nav.get_by_role("link", name=name)).to_be_hidden()
    page.goto("/ui/changes")
    expect(page.get_by_role("heading", name="此页面不对您的身份开放")).to_be_visible()
    expect(page.locator("#hub-not-for-role")).to_contain_text("目录管理员")
    expect(page.locator("#hub-content")).to_be_hidden()

    sign_in(page, "formulary_admin")
    expect(page.locator("#hub-not-for-role")).to_be_hidden()
    expect(page.locator("#changes")).to_be_visible()
    for name in ("新增品种", "批量导入", "药事会审批"):
        expect(nav.get_by_role("link", name=name)).to_be_visible()


def test_the_dispatch_board_shows_its_controls_to_the_dispatcher_only(page: Page, sign_in, running_hub) -> None:
    board = running_hub.url("dispatch") + "/ui/"
    page.goto(board)
    sign_in(page, "pharmacy_manager")
    expect(page.get_by_role("heading", name="物流调度台")).to_be_visible()
    controls = ["#publish", "#plan-tomorrow", "#replan", "#urgent-form"]
    for selector in controls:
        expect(page.locator(selector)).to_have_class(re.compile("role-hidden"))
    sign_in(page, "dispatcher")
    for selector in controls:
        expect(page.locator(selector)).not_to_have_class(re.compile("role-hidden"))
    sign_in(page, "storekeeper", site="CW-T01")
    expect(page.get_by_role("heading", name="此页面不对您的身份开放")).to_be_visible()


def test_a_refusal_from_the_server_reads_in_chinese(page: Page, sign_in) -> None:
    page.goto("/ui/")
    sign_in(page, "storekeeper", site="CW-T01")
    page.evaluate("""() => hub.api("POST", "/api/v1/items", {}).catch((e) => hub.reportError(e))""")
    toast = page.locator(".toast-error").last
    expect(toast).to_contain_text("没有权限")
    expect(toast).to_contain_text("此操作需要中心药房主任或目录管理员身份")
    assert "requires" not in toast.inner_text()
    page.evaluate("""() => hub.api("GET", "/api/v1/stocklists/site/CW-T02").catch((e) => hub.reportError(e))""")
    expect(page.locator(".toast-error").last).to_contain_text("CW-T01 的库管员只能查看或操作本机构的数据")


def seeded_item(hub_api) -> str:
    """An item the seed loader approved (other tests add and edit items of their own)."""
    for item in hub_api.ok("GET", "/api/v1/items?limit=50")["items"]:
        history = hub_api.ok("GET", f"/api/v1/items/{item['code']}/history")
        if len(history) == 1 and str(history[0]["approved_by"]).startswith("seed"):
            return str(item["code"])
    raise AssertionError("no seeded item among the first 50")


def test_system_accounts_read_as_words(page: Page, sign_in, hub_api) -> None:
    code = seeded_item(hub_api)
    page.goto(f"/ui/items/{code}")
    sign_in(page, "pharmacist")
    history = page.locator("#hub-content")
    expect(history).to_contain_text("系统初始化 批准")
    assert " seed " not in history.inner_text()


def test_one_confirmation_summarises_an_irreversible_action(page: Page, sign_in) -> None:
    page.goto("/ui/")
    sign_in(page, "pharmacy_manager")
    ask = """() => { window.__answer = hub.confirmAction({
        title: ["批准 2 项提议", "Approve 2 proposals"],
        summary: [["生成目录第 7 版", "Creates catalogue version 7"], ["各服务随即收到变更", "Every service hears of it"]],
        confirm: ["批准", "Approve"] }); }"""
    dialog = page.locator("#hub-confirm")
    for answer, expected in (("取消", False), ("批准", True)):
        page.evaluate(ask)
        expect(dialog).to_be_visible()
        expect(dialog.get_by_role("heading")).to_have_text("批准 2 项提议")
        expect(dialog).to_contain_text("生成目录第 7 版")
        expect(dialog).to_contain_text("此操作不可撤销")
        expect(dialog.get_by_role("button", name="取消")).to_be_focused()  # the safe choice is the default
        dialog.get_by_role("button", name=answer).click()
        expect(dialog).to_be_hidden()
        assert page.evaluate("() => window.__answer") is expected
    page.evaluate(ask)
    page.keyboard.press("Escape")
    assert page.evaluate("() => window.__answer") is False


def test_every_service_answers_its_pages_in_chinese(running_hub) -> None:
    import urllib.error
    import urllib.request

    for name, svc in running_hub.services.items():
        with urllib.request.urlopen(svc.url + "/ui/", timeout=10) as response:
            html = response.read().decode()
        assert response.headers["Content-Type"].startswith("text/html"), name
        assert 'lang="zh-CN"' in html, name
        try:
            urllib.request.urlopen(svc.url + "/ui/no-such-page", timeout=10)
        except urllib.error.HTTPError as exc:
            assert exc.code == 404 and exc.headers["Content-Type"].startswith("text/html"), name
            assert "页面不存在" in exc.read().decode(), name
        else:
            raise AssertionError(f"{name}: /ui/no-such-page answered")


MEASURE_TEXT = """() => {
  const out = { body: parseFloat(getComputedStyle(document.body).fontSize), small: [] };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || !el || !el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || el.closest("[hidden], .role-hidden, .skip-link")) continue;
    let size = parseFloat(style.fontSize);
    if (el instanceof SVGElement && el.getScreenCTM()) {   // drawn size: font size times the SVG's scale
      const m = el.getScreenCTM();
      size *= Math.hypot(m.a, m.b);
    }
    if (size < 12) out.small.push(`${el.tagName.toLowerCase()}.${el.className.baseVal ?? el.className} ${size.toFixed(1)}px "${node.textContent.trim().slice(0, 30)}"`);
  }
  return out;
}"""

PAGE_ROLE = {"formulary": "formulary_admin", "dispatch": "dispatcher"}


def test_text_fits_a_township_pc_on_every_page(page: Page, sign_in, running_hub, hub_api) -> None:
    """1366×768: body text at least 14 px, nothing under 12 px, on every page of every service."""
    code = seeded_item(hub_api)
    problems = []
    for name, svc in running_hub.services.items():
        for rule in svc.app.url_map.iter_rules():
            if not rule.rule.startswith("/ui") or "GET" not in (rule.methods or set()) or "static" in rule.rule:
                continue
            path = rule.rule
            for arg in rule.arguments:
                path = path.replace(f"<{arg}>", code if arg == "code" else "X1")
            page.goto(svc.url + path)
            page.wait_for_load_state("load")
            for stage in ("signed out", "signed in"):
                if stage == "signed in":
                    sign_in(page, PAGE_ROLE.get(name, "pharmacy_manager"))
                    page.wait_for_timeout(800)
                measured = page.evaluate(MEASURE_TEXT)
                if measured["body"] < 14:
                    problems.append(f"{name} {path} ({stage}): body {measured['body']} px")
                problems += [f"{name} {path} ({stage}): {s}" for s in measured["small"][:5]]
            page.evaluate("() => sessionStorage.clear()")
    assert not problems, "\n".join(problems)


def test_without_the_demonstration_sign_in_the_page_takes_an_issued_token(browser, tmp_path) -> None:
    """Production (or any non-loopback bind): no role picker, no dev-token route; a token from the
    county's identity provider is pasted, and the header shows whom it names."""
    import threading

    from werkzeug.serving import make_server

    from services.formulary.app import SPEC
    from shared.auth import issue_token
    from shared.migrate import upgrade
    from shared.runtime import build_context
    from tests.support.waiting import free_port
    from tests.support.web import make_settings

    ctx = build_context(SPEC, make_settings("formulary", f"sqlite:///{tmp_path}/f.sqlite3"))
    upgrade(SPEC.migrations, ctx.engine)
    assert not ctx.settings.dev_login
    port = free_port()
    server = make_server("127.0.0.1", port, SPEC.create_app(ctx), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(f"http://127.0.0.1:{port}/ui/")
        dialog = page.locator("#hub-signin")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text("统一身份认证")
        expect(dialog).not_to_contain_text("演示登录")
        expect(dialog.get_by_label("身份")).to_be_hidden()
        dialog.get_by_label("访问令牌").fill("not-a-token")
        dialog.get_by_role("button", name="登录", exact=True).click()
        expect(page.locator("#hub-signin-token-error")).to_contain_text("有效的访问令牌")
        token = issue_token(ctx.settings.keyring, ["storekeeper", "pharmacist"], site="CW-T03", subject="wang.fang", name="王芳")
        dialog.get_by_label("访问令牌").fill(token)
        dialog.get_by_role("button", name="登录", exact=True).click()
        expect(dialog).to_be_hidden()
        who = page.locator("#hub-who")
        for text in ("库管员", "审方药师", "王芳", "CW-T03"):
            expect(who).to_contain_text(text)
    finally:
        context.close()
        server.shutdown()
        ctx.engine.dispose()


ENGLISH_WORDS = """() => {
  // Words of three or more Latin letters in what a zh-CN reader sees, outside data (table cells,
  // definition values, codes) and outside technical names everyone uses (file formats, standards).
  const ALLOWED = new Set(["CSV", "UTF", "GBK", "JSON", "Excel", "xlsx", "ATC", "HIS", "GSP", "API", "PDF", "SVG",
    "GeoJSON", "NHSA", "VBP", "NEML", "ICD", "OTC", "ONC"]);
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    const text = node.textContent.trim();
    if (!text || !el || !el.getClientRects().length) continue;
    if (el.closest("[hidden], .role-hidden, td, dd, .mono, code, kbd, script, style, [lang=en], option")) continue;
    const words = (text.match(/\\b[A-Za-z]{3,}\\b/g) || []).filter((w) => !ALLOWED.has(w));  // ids like 277a56 are not words
    if (words.length) out.push(`${el.tagName.toLowerCase()}#${el.id}.${el.className}: ${text.slice(0, 60)}`);
  }
  return out;
}"""


def test_a_chinese_reader_sees_no_english_on_any_page(page: Page, sign_in, running_hub, hub_api) -> None:
    """Every page of every service in zh-CN, signed in, including its error messages (unknown ids)."""
    code = hub_api.ok("GET", "/api/v1/items?limit=1")["items"][0]["code"]
    found = []
    for name, svc in running_hub.services.items():
        for rule in svc.app.url_map.iter_rules():
            if not rule.rule.startswith("/ui") or "GET" not in (rule.methods or set()) or "static" in rule.rule:
                continue
            path = rule.rule
            for arg in rule.arguments:
                path = path.replace(f"<{arg}>", code if arg == "code" else "X1")
            page.goto(svc.url + path)
            sign_in(page, PAGE_ROLE.get(name, "pharmacy_manager"))
            page.wait_for_timeout(800)
            found += [f"{name} {path}: {text}" for text in page.evaluate(ENGLISH_WORDS)]
            page.evaluate("() => sessionStorage.clear()")
    assert not found, "English a Chinese reader would see:\n" + "\n".join(found)


def test_a_token_confined_to_a_site_gets_no_county_wide_page_whatever_else_it_carries(page: Page, running_hub) -> None:
    from shared.auth import issue_token
    from shared.config import load_settings

    keyring = load_settings("formulary").keyring

    def sign_in_with(url: str, roles: list[str]) -> None:
        token = issue_token(keyring, roles, site="CW-T01", subject="li.na", name="李娜")
        page.goto(url)
        page.evaluate(
            """([token, roles]) => sessionStorage.setItem("hub.session", JSON.stringify(
                 {token, role: roles[0], roles, site: "CW-T01", name: "李娜", subject: "li.na", demo: false}))""",
            [token, roles],
        )
        page.reload()

    sign_in_with(running_hub.url("dispatch") + "/ui/", ["storekeeper", "dispatcher"])
    expect(page.get_by_role("heading", name="此页面不对您的身份开放")).to_be_visible()
    expect(page.locator("#hub-not-for-role")).to_contain_text("库管员只能查看本机构的数据")
    sign_in_with(running_hub.url("formulary") + "/ui/", ["storekeeper", "pharmacist"])
    nav = page.get_by_role("navigation")
    expect(nav.get_by_role("link", name="目录查询")).to_be_visible()
    expect(nav.get_by_role("link", name="药事会审批")).to_be_hidden()
    sign_in_with(running_hub.url("formulary") + "/ui/", ["pharmacist"])
    expect(nav.get_by_role("link", name="药事会审批")).to_be_visible()
