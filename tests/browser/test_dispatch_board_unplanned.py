"""A shipment whose site closed after the order was taken is not silently lost on the board (调度台).

The order is taken for an active village clinic (POST /api/v1/shipments, as the board's own order
form does); the catalogue administrator then closes the clinic and the pharmacy manager approves
(formulary POST /api/v1/sites, POST /api/v1/changes/approve; the site reaches dispatch by the
formulary.site.upserted event). A dispatcher plans the day on the board: no stop can carry the
shipment (dayplan.unplanned_shipments, rule ``site_inactive``), so the plan is partial, not "all
stops planned", and the left-out table names the SITE (name and code, from the board's site list)
with the shipment id beneath it and the rule's label (presentation.TERMS["rule"]) in Chinese, then in
English after the header's language switch, the reason's tooltip too (the English part of the
reason, not the two-language sentence). The row is told by the shipment id (``data-shipment``, the
clinic in ``data-site``), never as a stop's id. The clinic's township centre has an order the same day,
which a route serves. The clinic is reopened and both orders cancelled afterwards, so the session's
other plans do not carry them.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from services.dispatch import service
from services.dispatch.presentation import TERMS
from tests.browser.conftest import HubApi
from tests.browser.test_dispatch_board import (
    SOLVE_WAIT_MS,
    dispatch_url,
    sign_in_as_dispatcher,
    wait_for_sites,
)

__all__ = ["dispatch_url"]  # fixture

pytestmark = pytest.mark.browser

CLINIC = "CW-T13-V08"  # a village clinic (no child sites) no other test orders for
TOWNSHIP = "CW-T13"  # its township centre, which stays open
# Days from the county's today: a day no other browser test plans (plans go up to 31 days ahead).
DAY_AHEAD = 27
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
# What formulary SiteIn takes of a site as GET /api/v1/sites/<code> shows it (SiteOut adds the versions).
SITE_FIELDS = ("code", "name", "tax_id", "level", "parent_code", "is_hub", "lat", "lon", "receiving_hours",
               "address", "phone")  # fmt: skip


def _dispatch(url: str, headers: dict[str, str], body: dict[str, Any] | None = None) -> Any:
    """GET (no body) or POST a dispatch API path; the parsed answer of a call that must succeed."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={**headers, "Content-Type": "application/json"},
                                     method="POST" if body is not None else "GET")  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _dispatch_site(
    dispatch_url: str, token: Callable[..., dict[str, str]], code: str
) -> dict[str, Any] | None:
    """The site as dispatch knows it (its reference copy, fed by the formulary's events)."""
    sites = _dispatch(dispatch_url + "/api/v1/reference/sites?limit=1000", token("dispatcher"))
    return next((s for s in sites if s["code"] == code), None)


def _set_active(
    hub_api: HubApi, dispatch_url: str, token: Callable[..., dict[str, str]], active: bool
) -> str:
    """Close (or reopen) the clinic as the catalogue administrator proposes and the committee approves;
    wait (30 s at most) until dispatch's reference shows it. Returns the clinic's name."""
    status, site, headers = hub_api.call("GET", f"/api/v1/sites/{CLINIC}")
    assert status == 200, site
    body = {k: site[k] for k in SITE_FIELDS if k in site} | {
        "active": active,
        "reason": "浏览器测试：村卫生室停诊" if not active else "浏览器测试：恢复",
    }
    change = hub_api.ok("POST", "/api/v1/sites", body, headers={"If-Match": headers["ETag"]})
    hub_api.approve([change["id"]])
    deadline = time.monotonic() + 30
    while (known := _dispatch_site(dispatch_url, token, CLINIC)) is None or known["active"] is not active:
        assert time.monotonic() < deadline, f"dispatch still has {CLINIC} as {known} 30 s after the approval"
        time.sleep(0.3)
    return str(site["name"])


@pytest.fixture
def closed_clinic_order(
    dispatch_url: str, hub_token: Callable[..., dict[str, str]], hub_api: HubApi
) -> Iterator[tuple[dict[str, Any], str]]:
    """(the shipment, the clinic's name): an order taken for the clinic while it was active, for the
    day planned, then the clinic closed. The day also has an order for the clinic's township centre,
    which a route serves (a day with nothing served is 'infeasible', not 'partial'). Afterwards both
    orders are cancelled and the clinic reopened."""
    wait_for_sites(dispatch_url, hub_token)
    before = _dispatch_site(dispatch_url, hub_token, CLINIC)
    assert before is not None and before["active"] is True and before["level"] == "village", before
    auth = hub_token("dispatcher", name="order-desk")
    day = (service.today() + timedelta(days=DAY_AHEAD)).isoformat()
    orders: list[dict[str, Any]] = []
    try:
        for site, note in ((CLINIC, "停诊前下单 浏览器测试"), (TOWNSHIP, "同日 乡镇卫生院 浏览器测试")):
            body = {"site_code": site, "deliver": {"ambient": 8}, "deliver_by": day, "note": note}
            orders.append(_dispatch(dispatch_url + "/api/v1/shipments", auth, body))
            assert orders[-1]["status"] == "pending" and orders[-1]["site_code"] == site, orders[-1]
        name = _set_active(hub_api, dispatch_url, hub_token, active=False)
        yield orders[0], name
    finally:
        for order in orders:
            _dispatch(f"{dispatch_url}/api/v1/shipments/{order['id']}/cancel", auth, {})
        _set_active(hub_api, dispatch_url, hub_token, active=True)


def test_a_shipment_whose_site_closed_is_listed_as_left_out_with_its_site_and_reason(
    page: Page,
    dispatch_url: str,
    closed_clinic_order: tuple[dict[str, Any], str],
    shot: Callable[[str], None],
) -> None:
    shipment, clinic_name = closed_clinic_order
    shipment_id, day = shipment["id"], shipment["deliver_by"]
    zh_label, en_label = TERMS["rule"]["site_inactive"]

    # --- the dispatcher opens the board, picks the order's day and plans it with a short time limit
    page.goto(dispatch_url + "/ui/")
    sign_in_as_dispatcher(page, "赵调度")
    expect(page.get_by_role("heading", name="物流调度台")).to_be_visible()
    page.locator("#day-picker").fill(day)
    page.locator("#day-picker").dispatch_event("change")
    expect(page.locator("#plan-day")).to_have_text(day)
    page.get_by_label("求解时限", exact=True).select_option("2")
    page.get_by_role("button", name="规划当日线路").click()
    expect(page.locator("#solve-text")).to_contain_text("完成", timeout=SOLVE_WAIT_MS)
    expect(page).to_have_url(re.compile(r"\?plan=[0-9a-f-]{36}$"))

    # --- the plan says some of the day is left out, not "all stops planned"
    status = page.locator("#result-status")
    expect(status).to_contain_text(TERMS["result_status"]["partial"][0])
    expect(status).not_to_contain_text(TERMS["result_status"]["solved"][0])
    expect(page.locator(f'#routes li[data-stop="{TOWNSHIP}"]')).to_have_count(1)  # the open centre is served

    # --- the left-out table: the clinic (name, code) with the shipment beneath, and why, in Chinese
    expect(page.locator("#dropped-card")).to_be_visible()
    row = page.locator(f'#dropped tbody tr[data-shipment="{shipment_id}"]')  # told by its shipment id
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-site", CLINIC)
    expect(page.locator(f'#dropped tbody tr[data-stop="{shipment_id}"]')).to_have_count(0)  # not a stop's id
    expect(page.locator(f'#map .drop-mark[data-stop="{shipment_id}"]')).to_have_count(0)
    where = row.locator("td").first
    expect(where).to_contain_text(clinic_name)  # the site's name from the board's site list
    subs = where.locator("span.sub.mono")
    expect(subs).to_have_count(2)
    expect(subs.nth(0)).to_have_text(CLINIC)
    expect(subs.nth(1)).to_have_text(f"货单 {shipment_id}")
    reason = row.locator("td").last
    expect(reason).to_have_text(zh_label)
    # the reason on hover, in the page's language: the Chinese part of the two-language sentence
    expect(reason).to_have_attribute("title", f"收货单位 {CLINIC} 未启用")
    expect(reason.locator("span").first).to_have_attribute("title", f"收货单位 {CLINIC} 未启用")
    shot("dispatch-board-unplanned-zh")

    # --- in English: the same row, every label English (the clinic's name is data, left as it is)
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(status).to_contain_text(TERMS["result_status"]["partial"][1])
    expect(subs.nth(1)).to_have_text(f"shipment {shipment_id}")
    expect(reason).to_have_text(en_label)
    # the tooltips speak English too: the English part, never the two-language sentence (fresh-eyes C)
    expect(reason).to_have_attribute("title", f"site {CLINIC} is inactive")
    expect(reason.locator("span").first).to_have_attribute("title", f"site {CLINIC} is inactive")
    titles = row.evaluate("r => [...r.querySelectorAll('[title]')].map((e) => e.getAttribute('title'))")
    assert titles and not [x for x in titles if CJK.search(x)], titles
    expect(subs.nth(0)).to_have_text(CLINIC)
    text = row.inner_text()
    assert clinic_name in text, text
    assert not CJK.search(text.replace(clinic_name, "")), text
    shot("dispatch-board-unplanned-en")
