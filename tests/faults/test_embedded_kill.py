"""The embedded default loses nothing and applies nothing twice when it is killed with requisitions
and screenings in flight.

The real `countyhub run` (seeded sample county, its own HUB_DATA_DIR and free ports) serves
storekeepers, the central pharmacy, the HIS and pharmacists from client threads: requisitions
created with an Idempotency-Key, approved and picked (procurement.shipment.ready → dispatch),
prescriptions screened (a pass releases review.prescription.approved → procurement takes the
site's stock) and flagged ones claimed and approved by a pharmacist. SIGKILL lands while requests
are in flight, at several delays; the hub starts again on the same data. Clients then retry what
they never got an answer to (the same key, the same prescription) and finish every flow. Proven
from the SQLite files themselves: every outbox drained; one requisition per key, one shipment per
picked requisition, one review and one screening per prescription, one approval event per approved
prescription, and each approved prescription's stock taken exactly once.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.client import HTTPException
from pathlib import Path
from typing import Any

import pytest

from hub.registry import spec
from tests.service.prescription_review.review_support import body as clean_rx
from tests.service.prescription_review.review_support import flagged
from tests.support.hubprocess import CONSUMERS, COUNTYHUB, ROOT, SERVICES, HubProcess

DELAYS_S = (0.3, 1.0, 2.2)  # from the start of the clients' work to SIGKILL
TOWNS = ("CW-T01", "CW-T02")
DIST = ("国药控股菏泽有限公司", "913717000000000011")


class InDoubt(Exception):
    """The request got no answer (the hub died under it): its outcome is unknown until retried."""


class SeededHub(HubProcess):
    """`countyhub run` with the sample county seeded on first start (a restart finds it and seeds nothing)."""

    def start(self) -> None:
        log = (self.data / "hub.log").open("ab")
        self.proc = subprocess.Popen([*COUNTYHUB, "run"], cwd=ROOT, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the hub exited with {self.proc.returncode}: {(self.data / 'hub.log').read_text()[-3000:]}")
            if all(self._up(name) for name in SERVICES):
                return
            time.sleep(0.1)
        raise AssertionError("the hub did not come up within 120 s")

    def tokens(self, *specs: tuple[str, str, str | None]) -> list[str]:
        """Bearer tokens for (role, subject, site) as `countyhub token` makes them, from one process."""
        code = ("import sys; from shared.auth import issue_token; from shared.config import load_settings; "
                "k = load_settings('formulary').keyring; "
                f"[print(issue_token(k, r, site=s, subject=n, name=n)) for r, n, s in {specs!r}]")  # fmt: skip
        out = subprocess.run([COUNTYHUB[0], "-c", code], cwd=ROOT, env=self.env, capture_output=True, text=True, check=True)
        return out.stdout.split()

    def request(self, service: str, method: str, path: str, token: str, body: Any = None,
                key: str | None = None) -> tuple[int, Any]:  # fmt: skip
        """One call; InDoubt when the connection broke before an answer came."""
        headers = {"Authorization": f"Bearer {token}", **({"Idempotency-Key": key} if key else {})}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        req = urllib.request.Request(self.url(service) + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as reply:
                return reply.status, json.loads(reply.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")
        except (OSError, HTTPException) as exc:
            raise InDoubt(str(exc)) from exc

    def db(self, service: str) -> sqlite3.Connection:
        """A read-only connection to a service's SQLite file."""
        return sqlite3.connect(f"file:{self.data / (service + '.sqlite3')}?mode=ro", uri=True, timeout=30)

    def rows(self, service: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        conn = self.db(service)
        try:
            return list(conn.execute(sql, args))
        finally:
            conn.close()


@dataclass
class Ledger:
    """What the clients asked for and what they were told, across kills."""

    requisitions: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # key -> (town, body)
    req_ids: dict[str, str] = field(default_factory=dict)  # key -> requisition id once answered
    prescriptions: dict[str, dict[str, Any]] = field(default_factory=dict)  # prescription_no -> body
    in_doubt: list[str] = field(default_factory=list)  # requests the kill left without an answer
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[SeededHub]:
    made = SeededHub(tmp_path)
    try:
        yield made
    finally:
        if made.proc is not None and made.proc.poll() is None:
            made.kill()


def _wait(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.3)


def _stock_the_hub(hub: SeededHub, manager: str, keeper: str) -> dict[str, Any]:
    """A distributor and a large clean delivery of one township item into central stock; the item."""
    _wait(lambda: len(hub.rows("procurement", "SELECT code FROM ref_sites")) > 100, 90, "the county's sites in procurement")
    _wait(lambda: len(hub.rows("prescription_review", "SELECT code FROM ref_items")) > 100, 90, "the catalogue in review")
    sites = hub.request("procurement", "GET", "/api/v1/reference/sites?limit=1000", manager)[1]
    centre = next(s for s in sites if s["is_hub"])
    listed = hub.request("procurement", "GET", f"/api/v1/reference/items?site={TOWNS[0]}&limit=300", keeper)[1]
    item = next(i for i in listed if i["storage"] == "ambient" and i["manufacturer"] and i["kind"] == "drug")
    assert hub.request("procurement", "POST", "/api/v1/distributors", manager,
                       {"name": DIST[0], "tax_id": DIST[1], "items": "all"})[0] in (200, 201)  # fmt: skip
    today = date.today().isoformat()
    ln = {"item_code": item["code"], "batch_no": "KILL01", "quantity": item["package_size"] * 5000, "unit_price": "1.0000"}
    receipt = {
        "site_code": centre["code"], "supplier_tax_id": DIST[1], "remote_area": False,
        "lines": [{**ln, "expiry": (date.today() + timedelta(days=700)).isoformat()}],
        "invoices": [
            {"number": "KILL-2", "issuer": {"name": DIST[0], "tax_id": DIST[1]},
             "recipient": {"name": centre["name"], "tax_id": centre["tax_id"]}, "issued_at": today, "lines": [ln]},
            {"number": "KILL-1", "issuer": {"name": item["manufacturer"], "tax_id": "913700000000000099"},
             "recipient": {"name": DIST[0], "tax_id": DIST[1]}, "issued_at": today, "lines": [dict(ln, unit_price="0.5000")]},
        ],
    }  # fmt: skip
    status, booked = hub.request("procurement", "POST", "/api/v1/receipts", manager, receipt)
    assert status == 201, booked
    return item


def _requisition_flow(hub: SeededHub, ledger: Ledger, tokens: dict[str, str], item: dict[str, Any], town: str,
                      stop: threading.Event) -> None:  # fmt: skip
    """Create (keyed), approve and pick requisitions until told to stop or the hub dies."""
    try:
        while not stop.is_set():
            key = uuid.uuid4().hex
            body = {"site_code": town, "lines": [{"item_code": item["code"], "quantity": item["package_size"]}], "submit": True}
            with ledger.lock:
                ledger.requisitions[key] = (town, body)
            status, made = hub.request("procurement", "POST", "/api/v1/requisitions", tokens[town], body, key)
            assert status == 201, made
            with ledger.lock:
                ledger.req_ids[key] = made["id"]
            for step in ("approve", "pick"):
                status, moved = hub.request("procurement", "POST", f"/api/v1/requisitions/{made['id']}/{step}", tokens["mgr"], {})
                assert status == 200, moved
    except InDoubt as exc:
        with ledger.lock:
            ledger.in_doubt.append(f"requisition: {exc}")


def _screening_flow(hub: SeededHub, ledger: Ledger, tokens: dict[str, str], prefix: str, stop: threading.Event) -> None:
    """Screen prescriptions (two passing, one flagged that a pharmacist claims and approves) until stopped."""
    n = 0
    try:
        while not stop.is_set():
            n += 1
            no = f"{prefix}-{n:04d}"
            rx = flagged(no) if n % 3 == 0 else clean_rx(prescription_no=no, patient={**clean_rx()["patient"], "id": f"P-{no}"})
            with ledger.lock:
                ledger.prescriptions[no] = rx
            status, answer = hub.request("prescription_review", "POST", "/api/v1/screenings", tokens["his"], rx)
            assert status == 200, answer
            if answer["outcome"] == "review":
                status, claimed = hub.request("prescription_review", "POST", f"/api/v1/reviews/{answer['id']}/claim", tokens["ph"])
                assert status == 200, claimed
                status, decided = hub.request("prescription_review", "POST", f"/api/v1/reviews/{answer['id']}/decision",
                                              tokens["ph"], {"decision": "approve"})  # fmt: skip
                assert status == 200, decided
    except InDoubt as exc:
        with ledger.lock:
            ledger.in_doubt.append(f"screening: {exc}")


def _finish(hub: SeededHub, ledger: Ledger, tokens: dict[str, str]) -> None:
    """After a restart: resend what is in doubt (same key, same prescription) and finish every flow."""
    for key, (town, body) in list(ledger.requisitions.items()):
        status, made = hub.request("procurement", "POST", "/api/v1/requisitions", tokens[town], body, key)
        assert status == 201, made
        assert ledger.req_ids.setdefault(key, made["id"]) == made["id"], "a resent key made another requisition"
        for step in ("approve", "pick"):
            status, moved = hub.request("procurement", "POST", f"/api/v1/requisitions/{made['id']}/{step}", tokens["mgr"], {})
            assert status == 200 or (status == 409 and moved["errors"][0]["field"] == "status"), moved
    for no, rx in list(ledger.prescriptions.items()):
        status, answer = hub.request("prescription_review", "POST", "/api/v1/screenings", tokens["his"], rx)
        assert status == 200, answer
        if answer["outcome"] != "review":
            continue
        review = hub.request("prescription_review", "GET", f"/api/v1/reviews/{answer['id']}", tokens["ph"])[1]
        if review["status"] == "pending":
            assert hub.request("prescription_review", "POST", f"/api/v1/reviews/{answer['id']}/claim", tokens["ph"])[0] == 200
            review["status"] = "claimed"
        if review["status"] == "claimed":
            status, decided = hub.request("prescription_review", "POST", f"/api/v1/reviews/{answer['id']}/decision", tokens["ph"],
                                          {"decision": "approve"})  # fmt: skip
            assert status == 200, (no, decided)


def _drained(hub: SeededHub) -> bool:
    return all(hub.rows(s, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")[0][0] == 0 for s in SERVICES)


def _undelivered(hub: SeededHub) -> dict[str, int]:
    """Per consumer, how many events it subscribes to (from every outbox) its inbox does not hold."""
    published = [row for name in SERVICES for row in hub.rows(name, "SELECT event_id, event_type FROM outbox")]
    missing = {}
    for name in CONSUMERS:
        handled = spec(name).handlers
        inbox = {r[0] for r in hub.rows(name, "SELECT event_id FROM inbox")}
        missing[name] = sum(1 for event_id, kind in published if kind in handled and event_id not in inbox)
    return {k: v for k, v in missing.items() if v}


def _effects_once(hub: SeededHub, ledger: Ledger) -> dict[str, Any]:
    """Every effect, counted from the databases; asserts each happened exactly once."""
    by_key = hub.rows("procurement", "SELECT idempotency_key, count(*), max(id), max(status) FROM requisitions "
                                     "WHERE idempotency_key IS NOT NULL GROUP BY idempotency_key")  # fmt: skip
    assert {k: (n, rid, st) for k, n, rid, st in by_key} == {k: (1, ledger.req_ids[k], "picked") for k in ledger.requisitions}
    announced = [json.loads(e)["data"]["requisition_id"] for (e,) in hub.rows(
        "procurement", "SELECT envelope FROM outbox WHERE event_type = 'procurement.shipment.ready'")]  # fmt: skip
    assert sorted(announced) == sorted(ledger.req_ids.values()), "a picked requisition announced other than once"
    shipments = {r[0] for r in hub.rows("dispatch", "SELECT id FROM shipments")}
    assert {f"S-{rid}" for rid in ledger.req_ids.values()} <= shipments, "a shipment never reached dispatch"
    reviews = hub.rows("prescription_review", "SELECT r.prescription_no, r.id, r.status, count(s.id) FROM reviews r "
                                              "JOIN screenings s ON s.review_id = r.id GROUP BY r.id")  # fmt: skip
    assert sorted(r[0] for r in reviews if r[0] in ledger.prescriptions) == sorted(ledger.prescriptions)
    assert all(r[3] == 1 for r in reviews), "a prescription was screened twice"
    approved = {r[1] for r in reviews if r[2] in ("passed", "approved")}
    assert len(approved) == len(ledger.prescriptions)
    events = [json.loads(e)["data"] for (e,) in hub.rows(
        "prescription_review", "SELECT envelope FROM outbox WHERE event_type = 'review.prescription.approved'")]  # fmt: skip
    assert sorted(e["prescription_id"] for e in events) == sorted(approved), "an approval announced other than once"
    taken = dict(hub.rows("procurement", "SELECT ref, sum(quantity) FROM site_movements WHERE kind = 'prescription' GROUP BY ref"))
    expected = {e["prescription_id"]: -sum(line["quantity"] for line in e["lines"]) for e in events}
    consumed = {r[0] for r in hub.rows("procurement", "SELECT prescription_id FROM consumed_prescriptions")}
    return {"taken": taken, "expected": expected, "consumed": consumed, "approved": approved}


def test_killed_with_requisitions_and_screenings_in_flight_loses_nothing_and_repeats_nothing(hub: SeededHub) -> None:
    hub.start()
    specs = [("pharmacy_manager", "mgr-kill", None), ("storekeeper", "sk-t01", TOWNS[0]), ("storekeeper", "sk-t02", TOWNS[1]),
             ("his", "his-kill", None), ("pharmacist", "ph-kill", None)]  # fmt: skip
    mgr, t01, t02, his, ph = hub.tokens(*specs)
    tokens = {"mgr": mgr, TOWNS[0]: t01, TOWNS[1]: t02, "his": his, "ph": ph}
    item = _stock_the_hub(hub, mgr, t01)
    ledger = Ledger()
    for trial, delay in enumerate(DELAYS_S):
        stop = threading.Event()
        clients = [threading.Thread(target=_requisition_flow, args=(hub, ledger, tokens, item, town, stop)) for town in TOWNS]
        clients += [threading.Thread(target=_screening_flow, args=(hub, ledger, tokens, f"KILL{trial}{c}", stop)) for c in "AB"]
        for t in clients:
            t.start()
        time.sleep(delay)
        hub.kill()  # SIGKILL, with requests in flight
        stop.set()
        for t in clients:
            t.join(60)
        hub.start()
        _finish(hub, ledger, tokens)
        _wait(lambda: _drained(hub), 60, f"every outbox to drain after kill {trial + 1}")
        assert not _undelivered(hub), f"sent but never applied after kill {trial + 1}: {_undelivered(hub)}"

        def applied() -> dict[str, Any] | None:
            found = _effects_once(hub, ledger)
            return found if found["consumed"] >= found["approved"] else None

        found = _wait(applied, 60, "procurement to take the stock of every approved prescription")
        assert found["taken"] == found["expected"], "an approved prescription's stock was taken other than once"
    assert len(ledger.requisitions) >= 3 and len(ledger.prescriptions) >= 6, (len(ledger.requisitions), len(ledger.prescriptions))
    assert ledger.in_doubt, "no request was in flight when the hub was killed: the test proved nothing"
    print(f"{len(ledger.requisitions)} requisitions, {len(ledger.prescriptions)} prescriptions, "
          f"{len(ledger.in_doubt)} requests cut off by {len(DELAYS_S)} kills")
