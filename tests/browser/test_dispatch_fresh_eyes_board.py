"""The board's publish button on a plan that carries a shipment cancelled since it was made (issue 8 §5).

Before: the confirmation counted the cancelled shipment as going to the drivers, the dispatcher
confirmed, and publishing answered 409. Now the board says "re-plan first" and asks nothing.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_dispatch_board import dispatch_url, sign_in_as_dispatcher, wait_for_sites

__all__ = ["dispatch_url"]  # fixture

pytestmark = pytest.mark.browser


def _call(url: str, headers: dict[str, str], body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={**headers, "Content-Type": "application/json"},
                                     method="POST" if body is not None else "GET")  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_publishing_a_plan_with_a_cancelled_shipment_says_replan_first(
    page: Page, dispatch_url: str, hub_token: Callable[..., dict[str, str]]
) -> None:
    wait_for_sites(dispatch_url, hub_token)
    auth = hub_token("dispatcher")
    shipment = _call(dispatch_url + "/api/v1/shipments", auth, {"site_code": "CW-T03", "deliver": {"ambient": 20},
                                                                 "note": "将被取消 fresh-eyes"})  # fmt: skip
    day = (date.today() + timedelta(days=29)).isoformat()  # a day no other test plans, within the 31 days plans may be made ahead
    plan = _call(dispatch_url + "/api/v1/plans", auth, {"date": day, "time_limit_s": 1, "workers": 1})
    deadline = time.monotonic() + 60
    while _call(f"{dispatch_url}/api/v1/plans/{plan['id']}/progress", auth)["status"] != "solved":
        assert time.monotonic() < deadline, "the hub's worker did not solve the plan within 60 s"
        time.sleep(0.5)
    _call(f"{dispatch_url}/api/v1/shipments/{shipment['id']}/cancel", auth, {})

    page.goto(f"{dispatch_url}/ui/?plan={plan['id']}")
    sign_in_as_dispatcher(page, "王调度")
    publish = page.get_by_role("button", name="发布")
    expect(publish).to_be_enabled()
    publish.click()
    expect(page.locator("#hub-toasts")).to_contain_text("请先重新规划")
    expect(page.locator("#hub-toasts")).to_contain_text(shipment["id"])
    expect(page.locator("#hub-confirm")).to_be_hidden()
