"""The whole hub on the embedded default: seeded county, real HTTP between a client and four services."""

from __future__ import annotations

import time
from typing import Any

from hub.httpclient import HubClient


def wait_for(check: Any, timeout: float = 20.0) -> Any:
    """Poll until check() is truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def client(hub: Any, service: str, headers: dict[str, str]) -> HubClient:
    """A client carrying the token from a header dict."""
    return HubClient(hub.url(service), headers["Authorization"].split(" ", 1)[1])


def test_every_service_is_up_and_ready(running_hub: Any) -> None:
    for name in ("formulary", "procurement", "prescription_review", "dispatch"):
        reply = HubClient(running_hub.url(name)).get("/readyz")
        assert reply.status == 200 and reply.body["checks"]["database"] == "ok", (name, reply.body)
        assert HubClient(running_hub.url(name)).get("/openapi.json").status == 200


def test_seeded_county_and_catalogue(running_hub: Any, hub_token: Any) -> None:
    formulary = client(running_hub, "formulary", hub_token("pharmacist"))
    sites = formulary.get("/api/v1/sites").body
    levels = [s["level"] for s in sites]
    assert (levels.count("county_hospital"), levels.count("township"), levels.count("village")) == (3, 13, 105)
    assert sum(1 for s in sites if s["is_hub"]) == 1
    amxl = formulary.get("/api/v1/items?q=amxl").body["items"]
    assert amxl and all(i["generic_name"].startswith("阿莫西林") for i in amxl)
    village = formulary.get("/api/v1/items?level=village&limit=200").body["items"]
    assert village and all(i["controlled"] == "none" for i in village)
    # The read models caught up with the seed through the bus.
    dispatch = client(running_hub, "dispatch", hub_token("dispatcher"))
    wait_for(lambda: len(dispatch.get("/api/v1/reference/sites?limit=1000").body) == 121)


def test_approved_change_reaches_every_read_model(running_hub: Any, hub_token: Any) -> None:
    admin = client(running_hub, "formulary", hub_token("formulary_admin"))
    manager = client(running_hub, "formulary", hub_token("pharmacy_manager"))
    original = admin.get("/api/v1/items?q=amxl&limit=1").body["items"][0]
    code = original["code"]
    etag = admin.get(f"/api/v1/items/{code}").headers["ETag"]
    change = admin.call("PATCH", f"/api/v1/items/{code}", {"manufacturer": "石药集团欧意药业有限公司"}, {"If-Match": etag})
    assert change.status == 201, change.body
    assert manager.post("/api/v1/changes/approve", {"change_ids": [change.body["id"]]}).status == 200
    for service in ("procurement", "prescription_review", "dispatch"):
        reader = client(running_hub, service, hub_token("pharmacy_manager"))
        wait_for(
            lambda r=reader: (lambda b: b and b.get("manufacturer") == "石药集团欧意药业有限公司")(
                r.get(f"/api/v1/reference/items/{code}").body
            )
        )
    unknown = client(running_hub, "procurement", hub_token("pharmacy_manager")).get("/api/v1/reference/items/NOPE")
    assert unknown.status == 404 and unknown.headers["Content-Type"] == "application/problem+json"
