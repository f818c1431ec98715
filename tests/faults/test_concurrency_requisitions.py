"""Many pharmacy managers and storekeepers at once on the same requisitions and central lots, over real HTTP.

Every test runs on the embedded SQLite default and on the real PostgreSQL (a fresh database each).
Invariants checked after each burst: no 5xx; a loser gets a 409 problem+json naming the conflict
(`status` for a requisition someone else moved, `lines[code].approved_quantity` for stock that ran
out); a requisition is decided once (approved xor rejected, one shipment event when picked, booked
into the site once when received); no central lot below zero and every lot's balance equals the sum
of its movements; allocations equal what left central stock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy import func, select

from services.procurement.app import SPEC
from services.procurement.model import commands as c
from services.procurement.model.requisition import OrderLine
from services.procurement.service import requisitions as rq
from services.procurement.store import T
from services.procurement.store.stock import central_balance_check
from shared.runtime import ServiceContext
from tests.faults.concurrency_support import LiveService, Reply, backend, no_server_errors, race, serve
from tests.service.procurement.procurement_support import (
    AMOX,
    BUYER,
    DIST,
    KEEPER_T01,
    KEEPER_T02,
    MAKER,
    line,
    load_reference,
    outbox_payloads,
    stock_central,
    today,
)
from tests.support.backends import Backend
from tests.support.web import bearer

__all__ = ["backend"]

MGR, MGR2 = bearer("pharmacy_manager", name="mgr-1"), bearer("pharmacy_manager", name="mgr-2")
SITE_TOKEN = {"T01": bearer("storekeeper", site="T01", name="sk-t01"), "T02": bearer("storekeeper", site="T02", name="sk-t02")}
STOCK = 240  # units of AMOX in central stock: ten requisitions of 24
REQUISITIONS = 16


def _county(ctx: ServiceContext) -> None:
    load_reference(ctx)
    stock_central(ctx, line(batch="A", qty=72, expiry=today() + timedelta(days=300)),
                  line(batch="B", qty=96, expiry=today() + timedelta(days=500)),
                  line(batch="C", qty=72, expiry=today() + timedelta(days=700)))  # fmt: skip


def _submitted(ctx: ServiceContext, n: int) -> list[tuple[str, str]]:
    """n submitted requisitions of 24 AMOX, alternating T01 and T02: (id, site)."""
    out = []
    for i in range(n):
        keeper, site = (KEEPER_T01, "T01") if i % 2 == 0 else (KEEPER_T02, "T02")
        made = rq.create_requisition(ctx, keeper, c.CreateRequisition(site, (OrderLine(AMOX, 24),), submit=True))
        out.append((made["id"], site))
    return out


def _post(live: LiveService, path: str, headers: dict[str, str], body: object = None) -> Reply:
    return live.call("POST", path, headers, body if body is not None else {})


def _statuses(ctx: ServiceContext) -> dict[str, str]:
    req = T["requisitions"]
    with ctx.factory() as session:
        return {r.id: r.status for r in session.execute(select(req.c.id, req.c.status))}


def _sums(rows: Iterable[Any]) -> dict[str, int]:
    return {str(r[0]): int(r[1]) for r in rows}


def _central_receipt(batch: str, qty: int) -> dict[str, Any]:
    """A clean delivery of AMOX into central stock (both invoices of 两票制)."""
    ln = {"item_code": AMOX, "batch_no": batch, "quantity": qty, "unit_price": "1.2300"}
    day = today().isoformat()
    return {
        "site_code": "H001", "supplier_tax_id": DIST.tax_id, "remote_area": False,
        "lines": [{**ln, "expiry": (today() + timedelta(days=900)).isoformat(), "temperature_record": None}],
        "invoices": [
            {"number": f"F2-{batch}", "issuer": {"name": DIST.name, "tax_id": DIST.tax_id},
             "recipient": {"name": BUYER.name, "tax_id": BUYER.tax_id}, "issued_at": day, "lines": [ln]},
            {"number": f"F1-{batch}", "issuer": {"name": MAKER.name, "tax_id": MAKER.tax_id},
             "recipient": {"name": DIST.name, "tax_id": DIST.tax_id}, "issued_at": day, "lines": [{**ln, "unit_price": "0.9000"}]},
        ],
    }  # fmt: skip


def _central_is_consistent(ctx: ServiceContext, received: int = 0) -> int:
    """Assert the central ledger holds (`received` units delivered since the start); the units allocated to requisitions."""
    with ctx.factory() as session:
        assert central_balance_check(session) == [], "a central lot is negative or differs from its movements"
        left = session.execute(select(func.sum(T["central_lots"].c.balance))).scalar() or 0
        allocated = session.execute(select(func.sum(T["allocations"].c.quantity))).scalar() or 0
    assert left + allocated == STOCK + received, (left, allocated)
    return int(allocated)


def test_approvals_and_rejections_race_on_the_same_requisitions_and_lots(backend: Backend) -> None:
    with serve(SPEC, backend, _county) as live:
        reqs = _submitted(live.ctx, REQUISITIONS)
        calls: list[Callable[[], Reply]] = []
        who: list[tuple[str, str]] = []
        for i, (rid, _site) in enumerate(reqs):
            calls += [partial(_post, live, f"/api/v1/requisitions/{rid}/approve", MGR),
                      partial(_post, live, f"/api/v1/requisitions/{rid}/approve", MGR2)]  # fmt: skip
            who += [(rid, "approve"), (rid, "approve")]
            if i % 3 == 0:
                calls.append(partial(_post, live, f"/api/v1/requisitions/{rid}/reject", MGR2, {"reason": "重复请领"}))
                who.append((rid, "reject"))
        deliveries: list[Callable[[], Reply]] = [
            partial(_post, live, "/api/v1/receipts", MGR, _central_receipt(f"R{i}", 24)) for i in range(3)
        ]
        replies = race(calls + deliveries)
        no_server_errors(replies)
        assert [r.status for r in replies[len(calls):]] == [201] * 3, [r.body for r in replies[len(calls):]]
        replies = replies[: len(calls)]
        won = Counter((rid, action) for (rid, action), r in zip(who, replies, strict=True) if r.status == 200)
        for (_rid, action), r in zip(who, replies, strict=True):
            if r.status != 200:
                assert r.is_conflict("status") or r.is_conflict(f"lines[{AMOX}].approved_quantity"), (action, r.body)
        statuses = _statuses(live.ctx)
        for rid, _site in reqs:
            assert won[(rid, "approve")] + won[(rid, "reject")] <= 1, f"{rid} decided twice: {won}"
            assert (statuses[rid] == "approved") == (won[(rid, "approve")] == 1)
            assert (statuses[rid] == "rejected") == (won[(rid, "reject")] == 1)
        approved = [rid for rid, _ in reqs if statuses[rid] == "approved"]
        allocated = _central_is_consistent(live.ctx, received=3 * 24)
        assert allocated == 24 * len(approved) and len(approved) <= STOCK // 24 + 3
        if any(statuses[rid] == "submitted" for rid, _ in reqs):  # refused for stock only when it truly ran out …
            assert len(approved) >= STOCK // 24  # … which it did not before the first 240 units were gone
        with live.ctx.factory() as session:
            alloc = T["allocations"]
            per_req = _sums(session.execute(select(alloc.c.requisition_id, func.sum(alloc.c.quantity)).group_by(alloc.c.requisition_id)))
        assert per_req == {rid: 24 for rid in approved}

        # Pick, ship and receive, each sent twice at once: one shipment event, one booking at the site.
        for step, headers in (("pick", None), ("ship", None), ("receive", "site")):
            calls = []
            for rid, site in reqs:
                if rid not in approved:
                    continue
                h = SITE_TOKEN[site] if headers == "site" else MGR
                body = {"lines": [{"item_code": AMOX, "received_quantity": 24}]} if step == "receive" else None
                calls += [partial(_post, live, f"/api/v1/requisitions/{rid}/{step}", h, body)] * 2
            replies = race(calls)
            no_server_errors(replies)
            assert sum(r.status == 200 for r in replies) == len(approved), [r.body for r in replies if r.status != 200]
            assert all(r.status == 200 or r.is_conflict("status") for r in replies)
        shipments = Counter(p["requisition_id"] for p in outbox_payloads(live.ctx, "procurement.shipment.ready"))
        assert shipments == {rid: 1 for rid in approved}
        moves = T["site_movements"]
        with live.ctx.factory() as session:
            lots = T["site_lots"]
            booked = _sums(session.execute(select(moves.c.site_code, func.sum(moves.c.quantity)).group_by(moves.c.site_code)))
            on_hand = _sums(session.execute(select(lots.c.site_code, func.sum(lots.c.balance)).group_by(lots.c.site_code)))
        expected: Counter[str] = Counter()
        for rid, site in reqs:
            if rid in approved:
                expected[site] += 24
        assert booked == on_hand == {k: v for k, v in expected.items() if v}


def test_one_requisition_hammered_by_every_transition_at_once(backend: Backend) -> None:
    """Approve, reject, pick, ship and receive of one submitted requisition all at once, ten rounds:
    the requisition ends in one state its transitions allow, decided by exactly one caller."""
    with serve(SPEC, backend, _county) as live:
        reqs = _submitted(live.ctx, 10)
        for rid, site in reqs:
            calls = [
                partial(_post, live, f"/api/v1/requisitions/{rid}/approve", MGR),
                partial(_post, live, f"/api/v1/requisitions/{rid}/approve", MGR2),
                partial(_post, live, f"/api/v1/requisitions/{rid}/reject", MGR2, {"reason": "不需要"}),
                partial(_post, live, f"/api/v1/requisitions/{rid}/reject", MGR, {"reason": "不需要"}),
                partial(_post, live, f"/api/v1/requisitions/{rid}/pick", MGR),
                partial(_post, live, f"/api/v1/requisitions/{rid}/ship", MGR),
                partial(_post, live, f"/api/v1/requisitions/{rid}/submit", SITE_TOKEN[site]),
            ]
            replies = race(calls)
            no_server_errors(replies)
            assert all(r.status == 200 or r.is_conflict("status") for r in replies), [r.body for r in replies]
            decisions = sum(r.status == 200 for r in replies[:4])
            assert decisions == 1, [r.status for r in replies]
            final = _statuses(live.ctx)[rid]
            # pick and ship can only follow an approval that committed first
            assert final in {"approved", "rejected", "picked", "shipped"}
            assert (final == "rejected") == any(r.status == 200 for r in replies[2:4])
        allocated = _central_is_consistent(live.ctx)
        assert allocated == 24 * sum(s != "rejected" and s != "submitted" for s in _statuses(live.ctx).values())


def test_twin_creates_with_one_idempotency_key(backend: Backend) -> None:
    """Four identical creates with one key at once: one requisition, four 201s with the same body.
    Two creates with one key but different bodies at once: one requisition, the other a 422 naming the header."""
    with serve(SPEC, backend, _county) as live:
        order = {"site_code": "T01", "lines": [{"item_code": AMOX, "quantity": 24}], "submit": True}
        other = {**order, "lines": [{"item_code": AMOX, "quantity": 48}]}
        for round_no in range(3):
            same = {**SITE_TOKEN["T01"], "Idempotency-Key": f"twin-{round_no}"}
            replies = race([partial(_post, live, "/api/v1/requisitions", same, order)] * 4)
            no_server_errors(replies)
            assert {r.status for r in replies} == {201} and len({r.body["id"] for r in replies}) == 1, [r.body for r in replies]
            mixed = {**SITE_TOKEN["T01"], "Idempotency-Key": f"mixed-{round_no}"}
            replies = race([partial(_post, live, "/api/v1/requisitions", mixed, order),
                            partial(_post, live, "/api/v1/requisitions", mixed, other)])  # fmt: skip
            no_server_errors(replies)
            assert sorted(r.status for r in replies) == [201, 422], [r.body for r in replies]
            refused = next(r for r in replies if r.status == 422)
            assert any(e["field"] == "Idempotency-Key" for e in refused.body["errors"])
        req = T["requisitions"]
        with live.ctx.factory() as session:
            keys = [r[0] for r in session.execute(select(req.c.idempotency_key))]
        assert sorted(keys) == sorted([f"twin-{i}" for i in range(3)] + [f"mixed-{i}" for i in range(3)])
