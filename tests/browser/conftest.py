"""Browser tests: the formulary's pages in headless Chromium (Debian's, no browser download).

The hub runs once per session (`running_hub`); each test gets a fresh browser context, so
sessionStorage (the sign-in) and localStorage (the language) start empty. A test fails if a
page throws a JavaScript error. Set HUB_UI_SCREENSHOTS=/some/dir to keep screenshots of the
pages the tests visit.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROLE_ZH = {
    "formulary_admin": "目录管理员",
    "pharmacy_manager": "中心药房主任",
    "storekeeper": "库管员",
    "pharmacist": "审方药师",
    "dispatcher": "调度员",
}

expect.set_options(timeout=10_000)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One Chromium for the whole run; contexts keep the tests apart."""
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def base_url(running_hub: Any) -> str:
    """Where the formulary service listens."""
    return str(running_hub.url("formulary"))


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    """A fresh tab at a township PC's screen size; JavaScript errors fail the test."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN", base_url=base_url)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def shot(page: Page) -> Callable[[str], None]:
    """shot(name): save a full-page screenshot when HUB_UI_SCREENSHOTS names a folder."""
    folder = os.environ.get("HUB_UI_SCREENSHOTS")

    def take(name: str) -> None:
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)

    return take


def _sign_in(page: Page, role: str, *, name: str | None = None, site: str | None = None) -> None:
    dialog = page.locator("#hub-signin")
    if not dialog.is_visible():
        page.locator("#hub-signin-open").click()
    expect(dialog).to_be_visible()
    dialog.get_by_label("身份").select_option(role)
    if site is not None:
        dialog.get_by_label("所在机构编码").fill(site)
    if name is not None:
        dialog.get_by_label("姓名（可选）").fill(name)
    dialog.get_by_role("button", name="登录", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#hub-who")).to_contain_text(ROLE_ZH.get(role, role))


@pytest.fixture
def sign_in() -> Callable[..., None]:
    """sign_in(page, role, name=, site=): through the header's dialog, as a person does (the dialog
    opens by itself on a page opened without a session)."""
    return _sign_in


class HubApi:
    """The formulary API for arranging a test's data (the pages are what the tests exercise)."""

    def __init__(self, base_url: str, token: Callable[..., dict[str, str]]) -> None:
        self.base_url = base_url
        self.token = token

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        role: str = "formulary_admin",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        """(status, parsed body, headers)."""
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {
            "Content-Type": "application/json",
            **self.token(role, name=f"{role}-api"),
            **(headers or {}),
        }
        request = urllib.request.Request(self.base_url + path, data=data, headers=all_headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null"), dict(response.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null"), dict(exc.headers)

    def ok(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        """The body of a call that must succeed."""
        status, data, _ = self.call(method, path, body, **kw)
        assert 200 <= status < 300, (method, path, status, data)
        return data

    @staticmethod
    def unique_code(prefix: str = "BT") -> str:
        """An item code no other test (nor the seed) uses."""
        return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"

    @staticmethod
    def a_drug(code: str, **overrides: Any) -> dict[str, Any]:
        """A valid drug proposal."""
        item = {
            "code": code, "kind": "drug", "generic_name": "浏览器测试片", "dosage_form": "片剂", "strength": "10mg",
            "unit": "片", "package_size": 24, "package_unit": "盒", "volume_cm3": 50, "weight_g": 20,
        }  # fmt: skip
        return item | overrides

    def approve(self, change_ids: list[str]) -> int:
        """The committee approves; returns the new catalogue version."""
        return int(
            self.ok("POST", "/api/v1/changes/approve", {"change_ids": change_ids}, role="pharmacy_manager")[
                "catalogue_version"
            ]
        )

    def create_items(self, *items: dict[str, Any]) -> None:
        """Propose and approve items, so they are in the catalogue."""
        ids = [self.ok("POST", "/api/v1/items", item)["id"] for item in items]
        self.approve(ids)

    def drafts_for(self, target: str) -> list[dict[str, Any]]:
        """Draft changes aimed at one item or list."""
        return [c for c in self.ok("GET", "/api/v1/changes?status=draft") if c["target"] == target]

    def edit(self, code: str, changes: dict[str, Any]) -> str:
        """Propose an edit against the item's current ETag; returns the change id."""
        _, _, headers = self.call("GET", f"/api/v1/items/{code}")
        return str(
            self.ok("PATCH", f"/api/v1/items/{code}", changes, headers={"If-Match": headers["ETag"]})["id"]
        )


@pytest.fixture(scope="session")
def hub_api(base_url: str, hub_token: Callable[..., dict[str, str]]) -> HubApi:
    """Arrange data through the API."""
    return HubApi(base_url, hub_token)
