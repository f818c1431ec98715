"""A storekeeper never sees another site's data: every GET route of every service of a running,
seeded hub, walked as a township storekeeper (alone and with each other role beside it).

Data for two townships is made first — a stocking list each (approved, so it also reaches every
service's event-fed read model), a shipment each, a planned day — and every answer is searched
for site codes: none but the storekeeper's own may appear (the hub, where routes start, and the
site directory routes are the exceptions). Routes come from the live URL maps, so procurement's
and prescription review's lists are walked as soon as they exist.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from datetime import date, timedelta
from typing import Any

import pytest

from hub.registry import SERVICES
from shared.auth import ROLES
from tests.service.prescription_review.review_support import flagged

OTHER_ROLES = [r for r in ROLES if r != "storekeeper"]


def wait_for(predicate: Any, timeout: float = 60.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def post_until(client: Any, path: str, body: Any, headers: dict[str, str], status: int, timeout: float = 60.0) -> Any:
    """POST until the answer is `status` (a service learns the catalogue from events); its JSON."""
    deadline = time.monotonic() + timeout
    while True:
        r = client.post(path, json=body, headers=headers)
        if r.status_code == status:
            return r.get_json()
        if time.monotonic() > deadline:
            raise AssertionError(f"POST {path}: {r.status_code} {r.get_json()}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def county(running_hub: Any, hub_token: Any) -> dict[str, Any]:
    """Two townships with a stocking list, a shipment and a planned day each; ids to walk with."""
    formulary = running_hub.services["formulary"].app.test_client()
    dispatch = running_hub.services["dispatch"].app.test_client()
    admin, manager, dispatcher = hub_token("formulary_admin"), hub_token("pharmacy_manager"), hub_token("dispatcher")
    sites = formulary.get("/api/v1/sites?limit=1000", headers=admin).get_json()
    sites = sites["items"] if isinstance(sites, dict) else sites
    townships = sorted(s["code"] for s in sites if s["level"] == "township")
    own, other = townships[0], townships[1]
    hubs = {s["code"] for s in sites if s.get("is_hub")}
    items = formulary.get("/api/v1/items?limit=5", headers=admin).get_json()["items"]
    codes = [i["code"] for i in items]
    change_ids = []
    for site, picked in ((own, codes[:2]), (other, codes[2:4])):
        r = formulary.put(f"/api/v1/stocklists/site/{site}", json={"item_codes": picked, "note": "scope test"}, headers=admin)
        assert r.status_code == 201, r.get_json()
        change_ids.append(r.get_json()["id"])
    r = formulary.post("/api/v1/changes/approve", json={"change_ids": change_ids}, headers=manager)
    assert r.status_code == 200, r.get_json()
    for name in SERVICES:
        if name == "formulary":
            continue
        client = running_hub.services[name].app.test_client()
        wait_for(
            lambda c=client: c.get(f"/api/v1/reference/stocklists/site/{other}", headers=admin).status_code == 200,
            what=f"{name}'s read model to learn {other}'s stocking list",
        )
    shipments = {}
    for site in (own, other):
        r = dispatch.post("/api/v1/shipments", json={"site_code": site, "deliver": {"ambient": 10}, "note": "scope"},
                          headers=dispatcher)  # fmt: skip
        assert r.status_code == 201, r.get_json()
        shipments[site] = r.get_json()["id"]
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    r = dispatch.post("/api/v1/plans", json={"date": tomorrow, "time_limit_s": 2, "workers": 1}, headers=dispatcher)
    assert r.status_code == 202, r.get_json()
    plan_id = r.get_json()["id"]
    wait_for(
        lambda: dispatch.get(f"/api/v1/plans/{plan_id}", headers=dispatcher).get_json()["status"] in ("solved", "failed"),
        timeout=120, what="the day's plan",
    )  # fmt: skip
    plan = dispatch.get(f"/api/v1/plans/{plan_id}", headers=dispatcher).get_json()
    # Procurement and prescription review hold site rows too: a requisition and a review per township.
    procurement = running_hub.services["procurement"].app.test_client()
    review = running_hub.services["prescription_review"].app.test_client()
    his = hub_token("his")
    requisitions, reviews = {}, {}
    listed = {own: items[0], other: items[2]}  # each site's stocking list above
    for site in (own, other):
        line = {"item_code": listed[site]["code"], "quantity": listed[site]["package_size"]}
        body = {"site_code": site, "lines": [line], "submit": True}
        requisitions[site] = post_until(procurement, "/api/v1/requisitions", body, manager, 201)["id"]
        reviews[site] = post_until(review, "/api/v1/screenings", flagged(no=f"R-SCOPE-{site}", site=site), his, 200)["id"]
    vehicle = (plan.get("result") or {}).get("routes", [{}])[0].get("vehicle", "V1") if plan.get("result") else "V1"
    return {
        "own": own, "other": other, "hubs": hubs, "all_sites": {s["code"] for s in sites},
        "item": codes[0], "change_other": change_ids[1], "shipments": shipments, "plan_id": plan_id,
        "vehicle": vehicle, "day": tomorrow, "requisitions": requisitions, "reviews": reviews,
        "other_lower": other.lower(), "other_wide": "".join(chr(ord(ch) + 0xFEE0) for ch in other),
        "month": date.today().strftime("%Y-%m"),
    }  # fmt: skip


def path_variants(rule: str, args: list[str], c: dict[str, Any]) -> list[str]:
    """Concrete paths for one route, naming the other site wherever a parameter can."""
    options: dict[str, list[str]] = {}
    for name in args:
        options[name] = {
            "scope": ["site", "level"],
            "value": [c["other"], c["own"], "township"],
            "code": [c["item"], c["other"]],
            "site": [c["other"], c["own"]],
            "site_code": [c["other"], c["own"]],
            "plan_id": [c["plan_id"]],
            "day": [c["day"]],
            "shipment_id": [c["shipments"][c["other"]], c["shipments"][c["own"]]],
            "change_id": [c["change_other"]],
            "vehicle_id": [c["vehicle"]],
            "stop_id": [c["other"]],
            "req_id": [c["requisitions"][c["other"]], c["requisitions"][c["own"]]],
            "review_id": [c["reviews"][c["other"]], c["reviews"][c["own"]]],
        }.get(name, ["X1"])
    paths = []
    for combo in itertools.product(*(options[a] for a in args)):
        path = rule
        for name, value in zip(args, combo, strict=True):
            path = re.sub(rf"<(?:[a-z]+:)?{name}>", value, path)
        paths.append(path)
    return paths


QUERIES = ["", "?status=all", "?site={other}", "?site={own}", "?level=township", "?limit=1000", "?status=all&limit=1000",
           "?site={own}&site={other}", "?site={other}&site={own}", "?site={other_lower}", "?site={other_wide}",
           "?site=%20{other}", "?month={month}", "?month={month}&site={other}"]  # fmt: skip


def foreign_sites(body: str, c: dict[str, Any]) -> set[str]:
    """Site codes in an answer other than the storekeeper's own (and the hub's)."""
    found = set()
    for code in c["all_sites"] - {c["own"]} - c["hubs"]:
        if re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", body):
            found.add(code)
    return found


@pytest.mark.parametrize("extra", [[], *[[r] for r in OTHER_ROLES]], ids=lambda e: "+".join(["storekeeper", *e]))
def test_a_storekeeper_sees_only_its_own_site_through_every_read(running_hub: Any, hub_token: Any, county: dict[str, Any], extra: list[str]) -> None:
    from shared.auth import issue_token
    from shared.config import load_settings

    keyring = load_settings("formulary").keyring
    token = issue_token(keyring, ["storekeeper", *extra], site=county["own"], subject="scope-test")
    headers = {"Authorization": f"Bearer {token}"}
    leaks, walked = [], 0
    for name in SERVICES:
        app = running_hub.services[name].app
        client = app.test_client()
        for rule in app.url_map.iter_rules():
            if "GET" not in (rule.methods or set()) or not rule.rule.startswith("/api/") or "/sites" in rule.rule:
                continue  # the site directory lists every site by design
            for path in path_variants(rule.rule, sorted(rule.arguments), county):
                for query in QUERIES:
                    response = client.get(path + query.format(**county), headers=headers)
                    assert response.status_code < 500, (name, path, query, response.status_code)
                    walked += 1
                    if response.status_code >= 300:
                        continue
                    body = json.dumps(response.get_json(silent=True), ensure_ascii=False) if response.is_json else response.get_data(as_text=True)
                    if foreign := foreign_sites(body, county):
                        leaks.append(f"{name} GET {path}{query.format(**county)}: {sorted(foreign)[:5]}")
    assert walked > 50
    assert not leaks, "a storekeeper saw other sites' data:\n" + "\n".join(leaks)


def test_the_county_wide_roles_do_see_both_sites(running_hub: Any, hub_token: Any, county: dict[str, Any]) -> None:
    """The walk above can fail: the same reads show the other site to a county-wide role."""
    dispatch = running_hub.services["dispatch"].app.test_client()
    body = json.dumps(dispatch.get("/api/v1/shipments?status=all", headers=hub_token("dispatcher")).get_json())
    assert county["own"] in body and county["other"] in body
    stops = json.dumps(dispatch.get(f"/api/v1/days/{county['day']}/stops", headers=hub_token("dispatcher")).get_json())
    assert county["other"] in stops
    for name in SERVICES:
        client = running_hub.services[name].app.test_client()
        prefix = "/api/v1/reference" if name != "formulary" else "/api/v1"
        r = client.get(f"{prefix}/stocklists/site/{county['other']}", headers=hub_token("pharmacist"))
        assert r.status_code == 200, (name, r.status_code)


def test_the_county_wide_roles_see_both_sites_requisitions_and_reviews(running_hub: Any, hub_token: Any, county: dict[str, Any]) -> None:
    """The walk can fail on procurement and review data too: a county-wide role sees the other site's rows."""
    procurement = running_hub.services["procurement"].app.test_client()
    review = running_hub.services["prescription_review"].app.test_client()
    body = json.dumps(procurement.get("/api/v1/requisitions", headers=hub_token("pharmacy_manager")).get_json())
    assert county["other"] in body and county["own"] in body
    body = json.dumps(review.get("/api/v1/reviews", headers=hub_token("pharmacist")).get_json())
    assert county["other"] in body and county["own"] in body
    other_req = county["requisitions"][county["other"]]
    r = procurement.get(f"/api/v1/requisitions/{other_req}", headers=hub_token("pharmacy_manager"))
    assert r.status_code == 200 and r.get_json()["site_code"] == county["other"]
