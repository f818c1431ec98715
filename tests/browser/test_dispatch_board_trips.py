"""A day only a second trip can serve, planned on the board (调度台): both trips of the van shown.

A dispatch service of its own (fresh database, its plan worker running) knows the hub and five
township centres near it, and has ONE van, whose lunch break splits its day into a morning trip
(07:30–12:45) and an afternoon trip (13:30–17:30). Two centres receive only in the morning
(08:00–11:00), two only in the afternoon (14:30–17:00), one keeps its lunch closure; each has an
order. No single trip can serve the morning-only and the afternoon-only centres, so a plan that
serves every stop (asserted) must use both trips: the board badges them 第1趟 and 第2趟 with the
afternoon centres on trip 2, and the van's driver manifest lists both trips in order.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from werkzeug.serving import make_server

from services.dispatch.app import SPEC
from services.dispatch.worker import plan_worker
from services.formulary.seed.county import generate_county
from services.formulary.seed.loader import site_payload
from shared.events.envelope import new_event
from shared.migrate import upgrade
from shared.runtime import ServiceContext, build_context, handle_event
from tests.browser.test_dispatch_board import SOLVE_WAIT_MS, sign_in_as_dispatcher, stops_on_route
from tests.support.web import bearer, make_settings

pytestmark = pytest.mark.browser

VAN = "TRIP-VAN"
MORNING_ONLY = ("CW-T01", "CW-T02")  # the two centres nearest the hub (< 2 km)
AFTERNOON_ONLY = ("CW-T03", "CW-T04")  # 6-7 km out
LUNCH_CLOSED = "CW-T06"  # 08:30–11:30 and 14:30–17:00, as published
HOURS = {**{c: [("08:00", "11:00")] for c in MORNING_ONLY}, **{c: [("14:30", "17:00")] for c in AFTERNOON_ONLY}}
DISPATCHER = bearer("dispatcher", name="调度员")


@pytest.fixture(scope="module")
def trips_dispatch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServiceContext, str]]:
    """Its own dispatch service on a free port (the shared hub's fleet and pending orders would
    make the day depend on other tests): the hub, the five centres, one van, an order for each."""
    folder: Path = tmp_path_factory.mktemp("dispatch-trips")
    ctx = build_context(SPEC, make_settings("dispatch", f"sqlite:///{folder}/dispatch.sqlite3", dev_login=True))
    upgrade(SPEC.migrations, ctx.engine)
    wanted = {*MORNING_ONLY, *AFTERNOON_ONLY, LUNCH_CLOSED}
    for site in generate_county("chengwu").sites:
        if not (site.is_hub or site.code in wanted):
            continue
        data = {**site_payload(site), "version": 1, "catalogue_version": 1}
        if site.code in HOURS:
            data["receiving_hours"] = [{"start": a, "end": b} for a, b in HOURS[site.code]]
        handle_event(SPEC, ctx, new_event("formulary.site.upserted", data, source="/countyhub/formulary"))
    app = SPEC.create_app(ctx)
    client = app.test_client()
    van = {"id": VAN, "name": "两趟测试车", "driver": "赵师傅", "fixed_cost": 260, "cost_per_km": 2.8,
           "compartments_l": {"ambient": 2500, "cold": 400, "clean": 1500, "soiled": 1500, "specimen": 60},
           "shift_start": "07:30", "shift_end": "17:30", "break_start": "11:30", "break_end": "13:30", "break_min": 45}  # fmt: skip
    assert client.put("/api/v1/vehicles", json=van, headers=DISPATCHER).status_code == 200
    for code in sorted(wanted):
        order = {"site_code": code, "deliver": {"cold": 20, "ambient": 40}, "priority": 2, "note": f"两趟测试 {code}"}
        response = client.post("/api/v1/shipments", json=order, headers=DISPATCHER)
        assert response.status_code == 201, response.get_json()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, name="dispatch-trips-http", daemon=True)
    serving.start()
    stop = threading.Event()
    solving = threading.Thread(target=plan_worker, args=(ctx, stop), name="dispatch-trips-worker", daemon=True)
    solving.start()
    try:
        yield ctx, f"http://127.0.0.1:{server.server_port}"
    finally:
        stop.set()
        server.shutdown()
        solving.join(timeout=30)
        ctx.engine.dispose()


@pytest.fixture(scope="module")
def base_url(trips_dispatch: tuple[ServiceContext, str]) -> str:
    """The page fixture's base URL: this module's own dispatch service (not the shared hub)."""
    return trips_dispatch[1]


def test_a_day_only_two_trips_can_serve_shows_both_trips_of_the_van_on_the_board_and_its_manifest(
    page: Page, base_url: str, shot: Any
) -> None:
    page.goto(base_url + "/ui/")
    sign_in_as_dispatcher(page, "周调度")
    expect(page.locator("#plan-day-note")).to_contain_text("明日")
    for code in (*MORNING_ONLY, *AFTERNOON_ONLY, LUNCH_CLOSED):
        expect(page.locator(f'#pending tbody tr[data-source="manual"][data-site="{code}"]')).to_have_count(1)

    page.get_by_label("求解时限", exact=True).select_option("2")
    page.get_by_role("button", name="规划当日线路").click()
    expect(page.locator("#solve-text")).to_contain_text("完成", timeout=SOLVE_WAIT_MS)
    expect(page).to_have_url(re.compile(r"\?plan=[0-9a-f-]{36}$"))

    # Every stop is served: none left out, all five on the van's two trips.
    expect(page.locator("#dropped tbody tr")).to_have_count(0)
    cards = page.locator("#routes article.route")
    expect(cards).to_have_count(2)
    assert cards.evaluate_all("cs => cs.map(c => c.dataset.vehicle)") == [f"{VAN}~1", f"{VAN}~2"]
    morning, afternoon = (page.locator(f'#routes article.route[data-vehicle="{VAN}~{k}"]') for k in (1, 2))
    expect(morning.locator(".trip-badge")).to_have_text("第1趟")
    expect(afternoon.locator(".trip-badge")).to_have_text("第2趟")
    first, second = stops_on_route(page, f"{VAN}~1"), stops_on_route(page, f"{VAN}~2")
    assert set(MORNING_ONLY) <= set(first) and set(AFTERNOON_ONLY) <= set(second)
    assert sorted(first + second) == sorted((*MORNING_ONLY, *AFTERNOON_ONLY, LUNCH_CLOSED))
    expect(page.locator(f'#routes li[data-stop="{AFTERNOON_ONLY[0]}"]')).to_have_attribute("data-trip", "2")
    expect(page.locator(f'#map .route-line[data-vehicle^="{VAN}~"]')).to_have_count(2)  # the second dashed
    assert page.locator(f'#map .route-line[data-vehicle="{VAN}~2"]').get_attribute("stroke-dasharray")
    shot("dispatch-board-two-trips")

    # The van's driver manifest lists both trips, morning then afternoon, every stop in order.
    whole_day = first + second
    morning.get_by_role("link", name="司机配送单").click()
    expect(page).to_have_url(re.compile(rf"/ui/plans/[0-9a-f-]{{36}}/manifest/{VAN}$"))
    expect(page.get_by_role("heading", name=re.compile("司机配送单"))).to_contain_text(VAN)
    expect(page.locator("#m-trips")).to_contain_text("第1趟")
    expect(page.locator("#m-trips")).to_contain_text("第2趟")
    expect(page.locator("#m-stops tr.trip-row")).to_have_count(2)
    rows = page.locator("#m-stops tbody tr[data-stop]")
    expect(rows).to_have_count(len(whole_day))
    order = page.locator("#m-stops tbody tr").evaluate_all(
        "rows => rows.filter(r => r.dataset.stop || r.classList.contains('trip-row'))"
        ".map(r => r.dataset.stop || 'trip ' + r.dataset.trip)"
    )
    assert order == ["trip 1", *first, "trip 2", *second]
    shot("dispatch-manifest-two-trips")
