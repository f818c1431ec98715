"""bench.soak's load: closed-loop clients on loopback doing a working day's mix, every request timed.

Operations (each one HTTP request, recorded under its own name):

- search      formulary  GET  /api/v1/items?q=…            catalogue search by pinyin initials / name
- item        formulary  POST /api/v1/items + POST /changes/approve   a committee-approved item
                         (formulary.item.published to procurement, review and dispatch)
- requisition procurement POST /api/v1/requisitions        a township storekeeper's submitted order
- approve     procurement POST /requisitions/<id>/approve  FEFO allocation (row locks)
- pick        procurement POST /requisitions/<id>/pick     procurement.shipment.ready to dispatch
- receipt     procurement POST /api/v1/receipts            goods received at the hub, two invoices each
- screening   review     POST /api/v1/screenings           an HIS prescription; a pass is approved at
                         once (review.prescription.approved to procurement)
- plan / plan_get / publish / complete   dispatch          a day plan queued for the solver worker,
                         polled, published (dispatch.plan.published) and stops confirmed
                         (dispatch.stop.completed), by one dispatcher client

Every request has a timeout; its outcome is its class: 2xx, 4xx, 503, 5xx (other than 503),
timeout, or conn (connection refused or reset: the server was not there).
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from shared.auth import Keyring, issue_token

DIST = ("国药控股菏泽有限公司", "913717000000000011")  # the county's distributor (two-invoice chain)
MAKER_TAX = "913700000000000099"
REQUEST_TIMEOUT_S = 10.0
SEARCHES = ("amxl", "阿莫西林", "tmss", "布洛芬", "ggyl", "二甲双胍", "xzs", "胰岛素", "atfl", "qmt")
WEIGHTS = {"search": 6, "screening": 4, "requisition": 2, "approve": 2, "pick": 2, "receipt": 1, "item": 0.5}


@dataclass(frozen=True)
class Sample:
    """One request: when it ended (monotonic s), which operation, its class, how long it took (s)."""

    ended: float
    op: str
    cls: str
    seconds: float


def status_class(status: int) -> str:
    """2xx, 4xx, 503 or 5xx for an HTTP status."""
    if status == 503:
        return "503"
    return f"{status // 100}xx"


@dataclass
class Recorder:
    """Every request's sample, thread-safe."""

    samples: list[Sample] = field(default_factory=list)
    examples: dict[tuple[str, int], str] = field(default_factory=dict)  # (op, status) -> the first answer's detail
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, op: str, cls: str, seconds: float) -> None:
        """Record one request."""
        with self._lock:
            self.samples.append(Sample(time.monotonic(), op, cls, seconds))

    def example(self, op: str, status: int, body: Any) -> None:
        """Keep the first failed answer of each (operation, status): what the server said."""
        with self._lock:
            if (op, status) not in self.examples:
                detail = body.get("detail") or body.get("title") if isinstance(body, dict) else body
                self.examples[(op, status)] = str(detail)[:200]

    def between(self, start: float, end: float) -> list[Sample]:
        """Samples of requests that ended in [start, end)."""
        with self._lock:
            return [s for s in self.samples if start <= s.ended < end]


def call(port: int, method: str, path: str, token: str, body: Any = None,
         headers: dict[str, str] | None = None) -> tuple[str, int, Any]:
    """One request on its own connection: (class, status or 0, parsed JSON body or None)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    data = json.dumps(body).encode() if body is not None else None
    hdrs = {"Connection": "close", "Accept": "application/json", "Authorization": f"Bearer {token}",
            **({"Content-Type": "application/json"} if data is not None else {}), **(headers or {})}
    try:
        conn.request(method, path, body=data, headers=hdrs)
        response = conn.getresponse()
        raw = response.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return status_class(response.status), int(response.status), parsed
    except TimeoutError:
        return "timeout", 0, None
    except (OSError, http.client.HTTPException):
        return "conn", 0, None
    finally:
        conn.close()


@dataclass
class County:
    """What the load needs to know of the seeded county: sites, items, the services' ports."""

    ports: dict[str, int]
    keyring: Keyring
    hub: dict[str, Any]
    towns: list[str]
    items: list[dict[str, Any]]  # ambient drugs with a manufacturer on the township stocking list
    screenings: list[dict[str, Any]]  # HIS prescription bodies (numbers made unique per send)

    def token(self, role: str, site: str | None = None) -> str:
        """A bearer token for a role (a storekeeper's carries its site)."""
        return issue_token(self.keyring, role, site=site, subject=f"soak-{role}-{site or 'all'}", name=f"soak {role}")


def receipt_body(county: County, items: list[dict[str, Any]], batch: str) -> dict[str, Any]:
    """A clean delivery to the hub by the distributor: one line per item, both invoices of each."""
    today = date.today().isoformat()
    expiry = (date.today() + timedelta(days=700)).isoformat()
    lines = [{"item_code": i["code"], "batch_no": batch, "expiry": expiry, "quantity": i["package_size"] * 200,
              "unit_price": "1.2000"} for i in items]
    bill = [{k: x[k] for k in ("item_code", "batch_no", "quantity", "unit_price")} for x in lines]
    invoices = [{"number": f"D{batch}", "issuer": {"name": DIST[0], "tax_id": DIST[1]},
                 "recipient": {"name": county.hub["name"], "tax_id": county.hub["tax_id"]}, "issued_at": today,
                 "lines": bill}]
    for item in items:
        invoices.append({"number": f"M{batch}{item['code']}"[:40], "issuer": {"name": item["manufacturer"], "tax_id": MAKER_TAX},
                         "recipient": {"name": DIST[0], "tax_id": DIST[1]}, "issued_at": today,
                         "lines": [dict(x, unit_price="1.0000") for x in bill if x["item_code"] == item["code"]]})
    return {"site_code": county.hub["code"], "supplier_tax_id": DIST[1], "remote_area": False, "lines": lines,
            "invoices": invoices[:20]}


@dataclass
class Load:
    """The clients; start() them, stop() them; every request lands in the recorder."""

    county: County
    clients: int
    recorder: Recorder = field(default_factory=Recorder)
    plan_time_limit_s: float = 2.0
    plan_day: str = "tomorrow"
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _submitted: deque[str] = field(default_factory=deque)
    _approved: deque[str] = field(default_factory=deque)
    _seq: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        """The mixed clients and one dispatcher."""
        self._threads = [threading.Thread(target=self._client, args=(n,), name=f"soak-client-{n}", daemon=True)
                         for n in range(self.clients)]
        self._threads.append(threading.Thread(target=self._dispatcher, name="soak-dispatcher", daemon=True))
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        """Stop every client after its request in hand."""
        self._stop.set()
        for t in self._threads:
            t.join(REQUEST_TIMEOUT_S * 4)

    def _next(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def _timed(self, op: str, service: str, method: str, path: str, token: str, body: Any = None,
               headers: dict[str, str] | None = None) -> tuple[str, int, Any]:
        started = time.perf_counter()
        cls, status, parsed = call(self.county.ports[service], method, path, token, body, headers)
        self.recorder.add(op, cls, time.perf_counter() - started)
        if cls != "2xx":
            self.recorder.example(op, status, parsed)
        return cls, status, parsed

    def _client(self, n: int) -> None:
        rnd = random.Random(n)
        ops, weights = list(WEIGHTS), list(WEIGHTS.values())
        tokens = {role: self.county.token(role) for role in ("pharmacist", "pharmacy_manager", "his", "formulary_admin")}
        keepers = {t: self.county.token("storekeeper", t) for t in self.county.towns}
        while not self._stop.is_set():
            op = rnd.choices(ops, weights)[0]
            getattr(self, f"_op_{op}")(rnd, tokens, keepers)

    def _op_search(self, rnd: random.Random, tokens: dict[str, str], keepers: dict[str, str]) -> None:
        self._timed("search", "formulary", "GET", f"/api/v1/items?q={_quote(rnd.choice(SEARCHES))}&limit=20",
                    tokens["pharmacist"])

    def _op_item(self, rnd: random.Random, tokens: dict[str, str], keepers: dict[str, str]) -> None:
        code = f"SK{self._next():06d}{rnd.randrange(100):02d}"
        body = {"code": code, "kind": "drug", "generic_name": "阿莫西林", "generic_name_en": "Amoxicillin",
                "dosage_form": "胶囊", "strength": "0.25g", "unit": "粒", "package_size": 24, "package_unit": "盒",
                "manufacturer": "华北制药股份有限公司", "approval_no": "国药准字H13023964", "atc_code": "J01CA04",
                "essential": True, "reimbursement": "甲", "vbp": False, "storage": "ambient",
                "antibiotic_tier": "unrestricted", "volume_cm3": 60, "weight_g": 30, "category": "抗微生物药"}
        cls, _, made = self._timed("item", "formulary", "POST", "/api/v1/items", tokens["formulary_admin"], body,
                                   {"Idempotency-Key": f"soak-item-{code}"})
        if cls == "2xx" and isinstance(made, dict):
            self._timed("item_approve", "formulary", "POST", "/api/v1/changes/approve", tokens["pharmacy_manager"],
                        {"change_ids": [made["id"]], "note": "soak 药事会"})

    def _op_screening(self, rnd: random.Random, tokens: dict[str, str], keepers: dict[str, str]) -> None:
        body = dict(rnd.choice(self.county.screenings))
        body["prescription_no"] = f"SK{self._next():07d}-{uuid.uuid4().hex[:6]}"
        self._timed("screening", "prescription_review", "POST", "/api/v1/screenings", tokens["his"], body)

    def _op_requisition(self, rnd: random.Random, tokens: dict[str, str], keepers: dict[str, str]) -> None:
        town = rnd.choice(self.county.towns)
        picked = rnd.sample(self.county.items, min(4, len(self.county.items)))
        body = {"site_code": town, "submit": True, "urgent": False,
                "lines": [{"item_code": i["code"], "quantity": i["package_size"] * rnd.randint(1, 3)} for i in picked]}
        cls, _, made = self._timed("requisition", "procurement", "POST", "/api/v1/requisitions", keepers[town], body,
                                   {"Idempotency-Key": f"soak-rq-{uuid.uuid4().hex}"})
        if cls == "2xx" and isinstance(made, dict):
            self._submitted.append(made["id"])

    def _op_approve(self, rnd: random.Random, tokens: dict[str, str], keepers: dict[str, str]) -> None:
        try:
            rid = self._submitted.popleft()
        except IndexError:
            return self._op_requisition(rnd, tokens, keepers)
        cls, _, _ = self._timed("approve", "procurement", "POST", f"/api/v1/requisitions/{rid}/approve",
                                tokens["pharmacy_manager"], {"lines": []})
        if cls == "2xx":
            self._approved.append(rid)
        elif cls != "4xx":
            self._submitted.append(rid)  # not decided (server away): try again later

    def _op_pick(self, rnd: random.Random, tokens: dict[str, str], keepers: dict[str, str]) -> None:
        try:
            rid = self._approved.popleft()
        except IndexError:
            return self._op_approve(rnd, tokens, keepers)
        cls, _, _ = self._timed("pick", "procurement", "POST", f"/api/v1/requisitions/{rid}/pick",
                                tokens["pharmacy_manager"], {})
        if cls not in ("2xx", "4xx"):
            self._approved.append(rid)

    def _op_receipt(self, rnd: random.Random, tokens: dict[str, str], keepers: dict[str, str]) -> None:
        items = rnd.sample(self.county.items, min(5, len(self.county.items)))
        batch = f"SK{self._next():06d}"
        self._timed("receipt", "procurement", "POST", "/api/v1/receipts", tokens["pharmacy_manager"],
                    receipt_body(self.county, items, batch), {"Idempotency-Key": f"soak-gr-{batch}-{uuid.uuid4().hex[:8]}"})

    def _dispatcher(self) -> None:
        token = self.county.token("dispatcher")
        # Stops are confirmed only on the plan's own day: today's plan while the hub is open today,
        # else tomorrow's (no confirmations then; `plan_day` says which).
        today = {"date": date.today().isoformat(), "time_limit_s": self.plan_time_limit_s, "workers": 1}
        cls, _, _ = call(self.county.ports["dispatch"], "POST", "/api/v1/plans", token, today)
        self.plan_day = "today" if cls == "2xx" else "tomorrow"
        ask = today if cls == "2xx" else {k: v for k, v in today.items() if k != "date"}
        while not self._stop.is_set():
            cls, _, plan = self._timed("plan", "dispatch", "POST", "/api/v1/plans", token, ask)
            if cls != "2xx" or not isinstance(plan, dict):
                self._stop.wait(1.0)
                continue
            solved = self._await_plan(token, plan["id"])
            if solved is None:
                continue
            cls, _, _ = self._timed("publish", "dispatch", "POST", f"/api/v1/plans/{plan['id']}/publish", token, {})
            if cls != "2xx":
                continue
            stops = [s["id"] for r in solved["result"]["routes"] for s in r["stops"]][:5] if self.plan_day == "today" else []
            for stop in stops:
                if self._stop.is_set():
                    return
                self._timed("complete", "dispatch", "POST", f"/api/v1/plans/{plan['id']}/stops/{stop}/complete", token,
                            {"received_by": "soak 库管员"})

    def _await_plan(self, token: str, plan_id: str) -> dict[str, Any] | None:
        deadline = time.monotonic() + 120
        while not self._stop.is_set() and time.monotonic() < deadline:
            cls, _, plan = self._timed("plan_get", "dispatch", "GET", f"/api/v1/plans/{plan_id}", token)
            if cls == "2xx" and isinstance(plan, dict):
                if plan["status"] == "solved":
                    return plan
                if plan["status"] == "failed":
                    return None
            self._stop.wait(0.5)
        return None


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text)
