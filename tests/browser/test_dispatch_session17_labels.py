"""The board and the driver manifest as the scripts build them: English has no Chinese label left, and
both pages name a priority and a trip with the same words (fresh eyes, session 17).

The in-process tests (tests/unit/dispatch/test_dispatch_session17_labels.py) walk the pages' markup
and scripts; this one walks what the scripts render from a solved plan (the two-trip van's day of
test_dispatch_board_trips, plus an urgent order, with the rounds due that day). In English every
text and translatable attribute may hold Chinese only where it is data (site names, addresses,
notes, item, vehicle and driver names); in Chinese the priority and trip words on the board and on
the manifest are the terms table's. The break rules are labelled by their code (board and manifest,
either language), and the publish confirmation names the shipments the plan carries late.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from services.dispatch import service
from services.dispatch.presentation import TERMS
from shared.runtime import ServiceContext
from tests.browser.test_dispatch_board_trips import DISPATCHER, VAN, base_url, trips_dispatch

__all__ = ["base_url", "trips_dispatch"]  # fixtures: this module's own dispatch service

pytestmark = pytest.mark.browser

CJK_RUN = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]+")

# Every text node and translatable attribute of the page, except the language switch (named in its language).
WALK = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const p = n.parentElement;
    if (!p || p.closest("script, style, #hub-lang") || !n.textContent.trim()) continue;
    out.push([p.tagName + (p.id ? "#" + p.id : ""), n.textContent.trim()]);
  }
  for (const e of document.body.querySelectorAll("[title], [aria-label], [placeholder], [label], [alt]")) {
    if (e.closest("#hub-lang")) continue;
    for (const a of ["title", "aria-label", "placeholder", "label", "alt"]) {
      if (e.getAttribute(a)) out.push([e.tagName + " @" + a, e.getAttribute(a)]);
    }
  }
  return out;
}"""


def _call(url: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={**DISPATCHER, "Content-Type": "application/json"},
                                     method="POST" if body is not None else "GET")  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _chinese_left(page: Page, data: list[str]) -> list[tuple[str, str]]:
    """(where, text) of each label holding Chinese that is not part of some data value."""
    return [(where, text) for where, text in page.evaluate(WALK)
            if any(not any(run in d for d in data) for run in CJK_RUN.findall(text))]  # fmt: skip


def _shown(page: Page, selector: str) -> list[str]:
    return list(page.locator(selector).all_inner_texts())


def test_english_board_and_manifest_have_no_chinese_labels_and_both_pages_use_the_same_terms(
    page: Page, trips_dispatch: tuple[ServiceContext, str]
) -> None:
    url = trips_dispatch[1]
    _call(
        url + "/api/v1/shipments",
        {"site_code": "CW-T01", "deliver": {"cold": 5}, "priority": 3, "note": "急救药品 加急"},
    )
    plan = _call(url + "/api/v1/plans", {"time_limit_s": 1, "workers": 1})
    deadline = time.monotonic() + 60
    while _call(f"{url}/api/v1/plans/{plan['id']}/progress")["status"] != "solved":
        assert time.monotonic() < deadline, "the worker did not solve the plan within 60 s"
        time.sleep(0.3)
    manifest = _call(f"{url}/api/v1/plans/{plan['id']}/manifests/{VAN}")
    sites = _call(url + "/api/v1/plans/" + plan["id"])["stop_refs"].values()
    data = [manifest["vehicle_name"], manifest["driver"], *[s.get("name") or "" for s in sites]]
    for stop in manifest["stops"]:
        data += [stop["name"] or "", stop["address"] or "", *stop["notes"]]
        data += [i["name"] or "" for s in stop["shipments"] for i in s["items"]]

    session = {"token": DISPATCHER["Authorization"].removeprefix("Bearer "), "role": "dispatcher",
               "roles": ["dispatcher"], "site": None, "name": "d", "subject": "d", "demo": True}  # fmt: skip
    page.add_init_script(f"sessionStorage.setItem('hub.session', {json.dumps(json.dumps(session))});"
                         "if (!localStorage.getItem('hub.lang')) localStorage.setItem('hub.lang', 'en');")  # fmt: skip
    board_url, manifest_url = f"{url}/ui/?plan={plan['id']}", f"{url}/ui/plans/{plan['id']}/manifest/{VAN}"

    def board_terms() -> tuple[list[str], list[str], list[str]]:
        page.goto(board_url)
        expect(page.locator("#routes article.route")).to_have_count(2)
        expect(page.locator("#pending tbody tr[data-source='rounds']").first).to_be_visible()
        return (
            _shown(page, "#pending span.prio.prio-1"),
            _shown(page, "#pending span.prio.prio-3"),
            _shown(page, "#routes .trip-badge"),
        )

    def manifest_terms() -> tuple[list[str], list[str], list[str]]:
        page.goto(manifest_url)
        expect(page.locator("#m-stops tbody tr[data-stop]")).to_have_count(len(manifest["stops"]))
        return (
            _shown(page, "#m-stops span.prio.prio-2"),
            _shown(page, "#m-stops span.prio.prio-3"),
            _shown(page, "#m-stops tr.trip-row strong"),
        )

    normal, urgent, trips = board_terms()
    assert _chinese_left(page, data) == []
    assert set(normal) == {"Normal"} and set(urgent) == {"Urgent"} and trips == ["Trip 1", "Trip 2"]
    high, urgent_m, trips_m = manifest_terms()
    assert _chinese_left(page, data) == []
    assert set(high) == {"High"} and set(urgent_m) == {"Urgent"} and trips_m == trips
    assert ", " in page.locator("#m-stops .rounds").first.inner_text()  # Rounds: Linen, Instruments, …

    page.evaluate("window.hub.setLang('zh')")
    high_zh, urgent_zh, trips_m_zh = (
        page.locator(s).all_inner_texts()
        for s in ("#m-stops span.prio.prio-2", "#m-stops span.prio.prio-3", "#m-stops tr.trip-row strong")
    )
    assert set(high_zh) == {TERMS["priority"]["2"][0]} and set(urgent_zh) == {TERMS["priority"]["3"][0]}
    assert "、" in page.locator("#m-stops .rounds").first.inner_text()
    normal_zh, urgent_b_zh, trips_zh = board_terms()
    assert set(normal_zh) == {TERMS["priority"]["1"][0]} and set(urgent_b_zh) == set(urgent_zh)
    assert trips_zh == trips_m_zh == ["第1趟", "第2趟"]


def _session_script(lang: str | None) -> str:
    session = {"token": DISPATCHER["Authorization"].removeprefix("Bearer "), "role": "dispatcher",
               "roles": ["dispatcher"], "site": None, "name": "d", "subject": "d", "demo": True}  # fmt: skip
    script = f"sessionStorage.setItem('hub.session', {json.dumps(json.dumps(session))});"
    return script + (
        f"if (!localStorage.getItem('hub.lang')) localStorage.setItem('hub.lang', '{lang}');" if lang else ""
    )


def test_break_rules_are_labelled_by_code_and_the_publish_confirmation_names_late_shipments(
    page: Page, trips_dispatch: tuple[ServiceContext, str]
) -> None:
    """Runs after the test above on the same service: its van is stood down for an afternoon van whose
    shift (13:00-17:30) leaves too little of the 11:30-13:30 window for its 45-minute break: no break
    is owed, so its route card says so (break_not_owed_short_window). An order due today rides late."""
    url = trips_dispatch[1]
    van = next(v for v in _call(url + "/api/v1/vehicles") if v["id"] == VAN)
    keys = ("id", "name", "driver", "fixed_cost", "cost_per_km", "compartments_l", "shift_start", "shift_end",
            "break_start", "break_end", "break_min")  # fmt: skip
    _put(url + "/api/v1/vehicles", {**{k: van[k] for k in keys}, "active": False})
    _put(url + "/api/v1/vehicles", {**{k: van[k] for k in keys}, "id": "NOON-VAN", "shift_start": "13:00"})
    late = _call(url + "/api/v1/shipments", {"site_code": "CW-T03", "deliver": {"ambient": 10},
                                             "deliver_by": service.today().isoformat(), "note": "迟到测试"})  # fmt: skip
    plan = _call(url + "/api/v1/plans", {"time_limit_s": 1, "workers": 1})
    deadline = time.monotonic() + 60
    while _call(f"{url}/api/v1/plans/{plan['id']}/progress")["status"] != "solved":
        assert time.monotonic() < deadline, "the worker did not solve the plan within 60 s"
        time.sleep(0.3)
    [route] = _call(f"{url}/api/v1/plans/{plan['id']}")["result"]["routes"]
    assert route["vehicle"] == "NOON-VAN" and route["break_code"] == "break_not_owed_short_window"
    zh_note, en_note = TERMS["break_note"]["break_not_owed_short_window"]

    page.add_init_script(_session_script(None))  # Chinese, the pages' first language
    page.goto(f"{url}/ui/?plan={plan['id']}")
    note = page.locator('#routes article.route[data-vehicle="NOON-VAN"] .break-note')
    expect(note).to_have_attribute("data-break-code", "break_not_owed_short_window")
    expect(note).to_have_text(zh_note)
    page.get_by_role("button", name="发布").click()
    confirm = page.locator("#hub-confirm")
    expect(confirm).to_contain_text("1 个货单晚于要求送达日期")
    expect(confirm).to_contain_text(f"{late['id']}（CW-T03，应于 {late['deliver_by']} 送达）")
    page.evaluate("window.hub.setLang('en')")  # the open dialog and the card follow the switch
    expect(confirm).to_contain_text(
        f"1 shipment arrives after its deliver-by day: {late['id']} (CW-T03, due {late['deliver_by']})"
    )
    expect(note).to_have_text(en_note)
    confirm.locator("[data-confirm-cancel]").click()
    expect(confirm).to_be_hidden()

    page.goto(f"{url}/ui/plans/{plan['id']}/manifest/NOON-VAN")  # English now (the choice is kept)
    expect(page.locator("#m-break")).to_have_text(en_note)
    assert not CJK_RUN.search(page.locator("#m-break").inner_text())
    page.evaluate("window.hub.setLang('zh')")
    expect(page.locator("#m-break")).to_have_text(zh_note)


def _put(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="PUT",
                                     headers={**DISPATCHER, "Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())
