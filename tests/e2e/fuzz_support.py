"""A seeded embedded hub for the schema-driven fuzz test, and the ids its paths can name.

`seeded_hub()` starts the four services on SQLite files of their own (the embedded default, free
ports, the in-process bus), seeds the sample county (ServiceSpec.seed), runs a short working day
through real HTTP and real events (hub/demo.py's steps: a catalogue change approved, a morning of
screenings with decisions, receipts and requisitions, a solved and published plan), and then
stops dispatch's solver worker so the plans the fuzzer queues are not solved on the test's time.
`FuzzHub.ids[service][param]` holds ids that exist, read back through the API.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from hub.demo import DemoDay, formulary_morning
from hub.embedded import Hub, start_hub
from hub.httpclient import HubClient
from hub.registry import SERVICES
from services.prescription_review.demo import review_morning
from services.procurement.demo import procurement_day
from shared.access import Rule, policy_for, rule_key
from shared.auth import issue_token
from tests.support.waiting import free_port

# Who calls an operation in the fuzz test: the first role of this list the route's rule allows.
ROLE_PREFERENCE = ("pharmacy_manager", "dispatcher", "pharmacist", "formulary_admin", "his", "storekeeper")
STOREKEEPER_SITE = "CW-T01"


@dataclass
class FuzzHub:
    """A running, seeded hub and the ids that exist in it: ids[service][path parameter] -> values."""

    hub: Hub
    secret: Any
    ids: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def bearer(self, service: str, method: str, rule: str) -> dict[str, str]:
        """An Authorization header for a role the route's access rule allows (pharmacy manager first)."""
        found: Rule | None = policy_for(service).get(rule_key(method, rule))
        allowed = found.roles if found is not None and found.roles is not None else frozenset(ROLE_PREFERENCE)
        role = next(r for r in ROLE_PREFERENCE if r in allowed)
        site = STOREKEEPER_SITE if role == "storekeeper" else None
        token = issue_token(self.secret, role, site=site, subject=f"fuzz-{role}", name=f"fuzz-{role}")
        return {"Authorization": f"Bearer {token}"}


@contextmanager
def seeded_hub(data_dir: Path) -> Iterator[FuzzHub]:
    """Start, seed and run a working day on a hub of its own in `data_dir`; stop it afterwards."""
    saved = {k: os.environ.get(k) for k in ("HUB_DATA_DIR", "BROKER_URL", "DATABASE_URL")}
    os.environ["HUB_DATA_DIR"] = str(data_dir)  # the hub's settings (and its signing key) live there
    for key in ("BROKER_URL", "DATABASE_URL"):
        os.environ.pop(key, None)
    hub = None
    try:
        hub = start_hub(ports={name: free_port() for name in SERVICES}, seed=True)
        day = DemoDay({name: hub.url(name) for name in hub.services})
        day.say = lambda text: None  # type: ignore[method-assign]
        formulary_morning(day)
        review_morning(day, n=40)
        procurement_day(day)
        _dispatch_day(day)
        hub.services["dispatch"].background.shutdown()  # no solves of fuzzed plans from here on
        yield FuzzHub(hub, day.secret, _read_ids(day))
    finally:
        if hub is not None:
            hub.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _dispatch_day(day: DemoDay) -> None:
    """An urgent shipment; today's and tomorrow's plans solved in a second each and published, a
    stop of today's confirmed by its driver (when today's plan has routes left at this hour), a
    re-plan of tomorrow's solved; a last plan left queued."""
    dispatcher = day.client("dispatch", "dispatcher", name="fuzz-dispatcher")
    dispatcher.post("/api/v1/shipments", {"site_code": "CW-T05", "deliver": {"cold": 6, "ambient": 20}, "priority": 3})
    for when in (date.today(), date.today() + timedelta(days=1)):
        reply = dispatcher.post("/api/v1/plans", {"date": when.isoformat(), "time_limit_s": 1, "workers": 1})
        if reply.status != 202 and when == date.today():
            continue  # today's rounds are over (county time): no plan for today at this hour
        queued = reply.body
        plan = day.wait_for("a plan to be solved", partial(_finished, dispatcher, queued["id"]), timeout=120)
        if plan["status"] != "solved":
            raise RuntimeError(f"a seeding plan was not solved: {plan['error']}")
        if when != date.today():  # a re-plan of tomorrow's, so compare has a base plan to compare with
            replan = dispatcher.post(f"/api/v1/plans/{plan['id']}/replan", {"time_limit_s": 1}).body
            day.wait_for("the re-plan to be solved", partial(_finished, dispatcher, replan["id"]), timeout=120)
        dispatcher.post(f"/api/v1/plans/{plan['id']}/publish", {})
        stops = [s["id"] for r in plan["result"]["routes"] for s in r["stops"]]
        if when == date.today() and stops:
            dispatcher.post(f"/api/v1/plans/{plan['id']}/stops/{stops[0]}/complete", {})
    dispatcher.post("/api/v1/plans", {"time_limit_s": 1, "workers": 1})


def _finished(client: HubClient, plan_id: str) -> Any:
    plan = client.get(f"/api/v1/plans/{plan_id}").body
    return plan if plan["status"] in ("solved", "failed") else None


def _read_ids(day: DemoDay) -> dict[str, dict[str, list[str]]]:
    """The ids each service's path parameters can take, read back through each service's API."""
    manager = {name: day.client(name, "pharmacy_manager", name="fuzz-reader") for name in SERVICES}
    dispatcher = day.client("dispatch", "dispatcher", name="fuzz-reader")
    pharmacist = day.client("prescription_review", "pharmacist", name="fuzz-reader")
    items = [i["code"] for i in manager["formulary"].get("/api/v1/items?limit=8").body["items"]]
    sites = [s["code"] for s in manager["formulary"].get("/api/v1/sites").body][:8]
    changes = [c["id"] for c in manager["formulary"].get("/api/v1/changes?status=all&limit=8").body]
    scopes = ["site", "level"]
    values = [*sites[:4], "township", "village", "county_hospital"]
    reference = {"code": items, "scope": scopes, "value": values}
    requisitions = [r["id"] for r in manager["procurement"].get("/api/v1/requisitions").body["requisitions"]]
    receipts = [r["id"] for r in manager["procurement"].get("/api/v1/receipts").body["receipts"]]
    reviews = [r["id"] for r in pharmacist.get("/api/v1/reviews?limit=10").body]
    shipments = [s["id"] for s in dispatcher.get("/api/v1/shipments?status=all").body][:8]
    plans = dispatcher.get("/api/v1/plans").body
    solved = max((p for p in plans if p["result"]), key=lambda p: sum(len(r["stops"]) for r in p["result"]["routes"]))
    stops = [s["id"] for r in solved["result"]["routes"] for s in r["stops"]][:8]
    vehicles = [r["vehicle"] for r in solved["result"]["routes"]]
    tomorrow = date.today() + timedelta(days=1)
    return {
        "formulary": {"code": items + sites, "change_id": changes, "scope": scopes, "value": values},
        "procurement": {
            **reference, "req_id": requisitions, "receipt_id": receipts, "site_code": sites,
            "item_code": items, "po_id": [],
        },
        "prescription_review": {**reference, "review_id": reviews},
        "dispatch": {
            **reference, "shipment_id": shipments, "plan_id": [p["id"] for p in plans], "stop_id": stops,
            "vehicle_id": vehicles, "day": [date.today().isoformat(), tomorrow.isoformat()],
        },
    }

