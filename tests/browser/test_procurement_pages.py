"""A requisition clicked through from draft to received on the procurement pages, as the people do it.

The township storekeeper finds a drug by its pinyin initials, orders two packages and submits;
the central pharmacy manager approves (FEFO allocation), picks and hands the goods over; the
storekeeper counts them in. Central stock is arranged first through the API: a distributor and
a delivery whose two invoices check clean. The receipt page then shows a rejected delivery's
violation codes, and the VBP page draws its chart.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from shared.pinyin_readings import pinyin_initials
from tests.browser.conftest import CHROMIUM_ARGS  # noqa: F401  (same browser settings)

pytestmark = pytest.mark.browser
DIST_TAX = "913717000000000011"
MAKER_TAX = "913700001630000001"


@pytest.fixture
def procurement_url(running_hub: Any) -> str:
    """Where the procurement service listens."""
    return str(running_hub.url("procurement"))


def call(url: str, method: str, path: str, headers: dict[str, str], body: Any = None) -> tuple[int, Any]:
    """(status, parsed body) of one API call."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method, headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def arrange(url: str, token: Callable[..., dict[str, str]]) -> dict[str, Any]:
    """A township, an ambient item on its stocking list, a distributor and central stock of the item."""
    manager = token("pharmacy_manager", name="中心药房主任")
    deadline = time.monotonic() + 60
    sites: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        _, sites = call(url, "GET", "/api/v1/reference/sites?limit=1000", manager)
        if len(sites) > 100:
            break
        time.sleep(0.5)
    hub = next(s for s in sites if s["is_hub"])
    town = sorted(s["code"] for s in sites if s["level"] == "township")[-1]
    keeper = token("storekeeper", site=town, name="乡镇库管员")
    _, items = call(url, "GET", f"/api/v1/reference/items?site={town}&limit=200", keeper)
    item = next(i for i in items if i["storage"] == "ambient" and i["manufacturer"] and i["kind"] == "drug"
                and len(pinyin_initials(i["generic_name"])) >= 3)  # fmt: skip
    status, _ = call(url, "POST", "/api/v1/distributors", manager, {"name": "国药控股菏泽有限公司", "tax_id": DIST_TAX, "items": "all"})
    assert status == 201
    qty = item["package_size"] * 10
    line = {"item_code": item["code"], "batch_no": "BT-FEFO", "quantity": qty, "unit_price": "2.5000"}
    receipt = {
        "site_code": hub["code"], "supplier_tax_id": DIST_TAX, "remote_area": False,
        "lines": [{**line, "expiry": (date.today() + timedelta(days=700)).isoformat(), "temperature_record": None}],
        "invoices": [
            {"number": "F1", "issuer": {"name": item["manufacturer"], "tax_id": MAKER_TAX},
             "recipient": {"name": "国药控股菏泽有限公司", "tax_id": DIST_TAX}, "issued_at": date.today().isoformat(),
             "lines": [{**line, "unit_price": "2.0000"}]},
            {"number": "F2", "issuer": {"name": "国药控股菏泽有限公司", "tax_id": DIST_TAX},
             "recipient": {"name": hub["name"], "tax_id": hub["tax_id"]}, "issued_at": date.today().isoformat(), "lines": [line]},
        ],
    }  # fmt: skip
    status, body = call(url, "POST", "/api/v1/receipts", manager, receipt)
    assert status == 201, body
    return {"town": town, "item": item, "receipt": receipt}


def open_as(browser: Browser, url: str, role: str, site: str | None = None) -> Iterator[Page]:
    """A fresh township-PC-sized tab signed in as `role` on the procurement service."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN", base_url=url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/ui/requisitions")
    dialog = page.locator("#hub-signin")
    expect(dialog).to_be_visible()
    dialog.get_by_label("身份").select_option(role)
    if site:
        dialog.get_by_label("所在机构编码").fill(site)
    dialog.get_by_role("button", name="登录", exact=True).click()
    expect(dialog).to_be_hidden()
    yield page
    context.close()
    assert not errors, errors


def test_requisition_from_draft_to_received(browser: Browser, procurement_url: str, hub_token: Callable[..., dict[str, str]]) -> None:
    data = arrange(procurement_url, hub_token)
    town, item = data["town"], data["item"]
    keeper_tab = open_as(browser, procurement_url, "storekeeper", town)
    keeper = next(keeper_tab)
    keeper.goto("/ui/requisitions/new")
    keeper.get_by_label("查找药品（通用名、拼音首字母或编码）").fill(pinyin_initials(item["generic_name"]))
    result = keeper.locator(f'#req-results li[data-code="{item["code"]}"]')
    expect(result).to_be_visible()
    result.get_by_role("button", name="添加").click()
    packs = keeper.locator(f'#req-lines tr[data-item="{item["code"]}"] input')
    packs.fill("2")
    keeper.get_by_role("button", name="提交请领").click()
    expect(keeper.locator("#rq-status")).to_have_text("待审批")
    req_id = keeper.locator("#rq-id").inner_text()

    manager_tab = open_as(browser, procurement_url, "pharmacy_manager")
    manager = next(manager_tab)
    manager.goto("/ui/requisitions")
    manager.get_by_role("link", name=req_id).click()
    expect(manager.locator("#rq-status")).to_have_text("待审批")
    manager.get_by_role("button", name="批准并按效期分配").click()
    expect(manager.locator("#rq-status")).to_have_text("已批准待拣货")
    expect(manager.locator("#rq-lots")).to_contain_text("BT-FEFO")
    manager.get_by_role("button", name="拣货出库（通知调度）").click()
    expect(manager.locator("#rq-status")).to_have_text("已拣货待发运")
    manager.get_by_role("button", name="交付（自提）").click()
    expect(manager.locator("#rq-status")).to_have_text("已发运")

    keeper.reload()
    expect(keeper.locator("#rq-status")).to_have_text("已发运")
    keeper.get_by_role("button", name="确认收货").click()
    expect(keeper.locator("#rq-status")).to_have_text("已收货")
    keeper.goto("/ui/")
    expect(keeper.locator(f'#stock-table tr[data-item="{item["code"]}"]')).to_contain_text(str(item["package_size"] * 2))
    expect(keeper.locator("#history-table")).to_contain_text("请领入库")

    # A delivery without the manufacturer's invoice: the page lists the violation code and books nothing.
    bad = dict(data["receipt"], invoices=data["receipt"]["invoices"][1:])
    manager.goto("/ui/receipts")
    manager.get_by_label("送货单（JSON）").fill(json.dumps(bad, ensure_ascii=False))
    manager.get_by_role("button", name="入库").click()
    expect(manager.locator('#rc-result li[data-code="FIRST_INVOICE_MISSING"]')).to_be_visible()
    manager.goto("/ui/vbp")
    expect(manager.locator("#vbp-table")).to_be_visible()
    for tab in (keeper_tab, manager_tab):
        next(tab, None)
