"""Storekeepers at once on the same site lots over real HTTP: 调剂 transfers both ways, manual dispensing,
counts (盘点), direct receipts, and twin requests with one Idempotency-Key.

Each test runs on the embedded SQLite default and on the real PostgreSQL. After every burst: no
5xx; a refused change is a 409 problem+json naming `quantity`; no lot below zero; every site lot's
balance equals the sum of its movements; stock is conserved (what is on hand is what was there,
plus receipts, minus what the answered dispensings took); a keyed twin changes nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from services.procurement.app import SPEC
from services.procurement.model import commands as c
from services.procurement.model.requisition import OrderLine
from services.procurement.service import receiving
from services.procurement.service import requisitions as rq
from services.procurement.store import T
from shared.events.envelope import new_event
from shared.runtime import ServiceContext, handle_event
from tests.faults.concurrency_support import LiveService, Reply, backend, no_server_errors, race, serve
from tests.service.procurement.procurement_support import (
    AMLO,
    AMOX,
    DIST,
    INSULIN,
    KEEPER_T01,
    MAKER,
    MANAGER,
    TOWNS,
    clean_receipt,
    line,
    load_reference,
    stock_central,
    today,
)
from tests.support.backends import Backend
from tests.support.web import bearer

__all__ = ["backend"]

KEEPER = {str(t["code"]): bearer("storekeeper", site=str(t["code"]), name=f"sk-{str(t['code']).lower()}") for t in TOWNS}
START = 240  # AMOX batch S1 at T01 and at T02


def _county(ctx: ServiceContext) -> None:
    load_reference(ctx)
    for site in ("T01", "T02"):
        result = receiving.book_receipt(ctx, MANAGER, c.BookReceipt(clean_receipt(line(batch="S1", qty=START), site=site)))
        assert result.ok


def _receipt(site: str, batch: str, qty: int) -> dict[str, Any]:
    """A clean direct delivery of AMOX to a township (both invoices of 两票制)."""
    town = next(t for t in TOWNS if t["code"] == site)
    ln = {"item_code": AMOX, "batch_no": batch, "quantity": qty, "unit_price": "1.2300"}
    return {
        "site_code": site, "supplier_tax_id": DIST.tax_id, "remote_area": False,
        "lines": [{**ln, "expiry": (today() + timedelta(days=700)).isoformat(), "temperature_record": None}],
        "invoices": [
            {"number": f"F2-{batch}", "issuer": {"name": DIST.name, "tax_id": DIST.tax_id},
             "recipient": {"name": town["name"], "tax_id": town["tax_id"]}, "issued_at": today().isoformat(), "lines": [ln]},
            {"number": f"F1-{batch}", "issuer": {"name": MAKER.name, "tax_id": MAKER.tax_id},
             "recipient": {"name": DIST.name, "tax_id": DIST.tax_id}, "issued_at": today().isoformat(),
             "lines": [{**ln, "unit_price": "0.9000"}]},
        ],
    }  # fmt: skip


def transfer(live: LiveService, src: str, dst: str, qty: int, key: str | None = None, item: str = AMOX) -> Reply:
    headers = {**KEEPER[src], **({"Idempotency-Key": key} if key else {})}
    return live.call("POST", "/api/v1/transfers", headers, {"from_site": src, "to_site": dst, "item_code": item, "quantity": qty})


def adjust(live: LiveService, site: str, kind: str, qty: int, item: str = AMOX, key: str | None = None) -> Reply:
    headers = {**KEEPER[site], **({"Idempotency-Key": key} if key else {})}
    body = {"item_code": item, "kind": kind, "quantity": qty, "reason": "门诊发药" if kind == "dispense" else "月末盘点"}
    return live.call("POST", f"/api/v1/sites/{site}/stock/adjustments", headers, body)


def receipt(live: LiveService, site: str, batch: str, qty: int) -> Reply:
    return live.call("POST", "/api/v1/receipts", KEEPER[site], _receipt(site, batch, qty))


def site_totals(ctx: ServiceContext) -> dict[tuple[str, str], int]:
    """On hand per (site, item), after asserting every lot matches its ledger and none is negative."""
    lots, moves = T["site_lots"], T["site_movements"]
    with ctx.factory() as session:
        balances = {(r.site_code, r.item_code, r.batch_no): int(r.balance) for r in session.execute(select(lots))}
        ledger = {(r[0], r[1], r[2]): int(r[3]) for r in session.execute(
            select(moves.c.site_code, moves.c.item_code, moves.c.batch_no, func.sum(moves.c.quantity))
            .group_by(moves.c.site_code, moves.c.item_code, moves.c.batch_no))}  # fmt: skip
    assert balances == ledger, "a site lot's balance differs from the sum of its movements"
    assert all(b >= 0 for b in balances.values()), f"a site lot went negative: {balances}"
    totals: dict[tuple[str, str], int] = {}
    for (site, item, _batch), b in balances.items():
        totals[(site, item)] = totals.get((site, item), 0) + b
    return totals


def _refused_for_quantity(replies: list[Reply]) -> None:
    no_server_errors(replies)
    bad = [r.body for r in replies if r.status >= 300 and not r.is_conflict("quantity")]
    assert not bad, bad


def test_transfers_both_ways_dispensing_and_receipts_on_the_same_lots(backend: Backend) -> None:
    with serve(SPEC, backend, _county) as live:
        calls: list[Callable[[], Reply]] = []
        calls += [partial(transfer, live, "T01", "T02", 48)] * 6 + [partial(transfer, live, "T02", "T01", 48)] * 6
        calls += [partial(adjust, live, "T01", "dispense", 30)] * 5 + [partial(adjust, live, "T02", "dispense", 30)] * 5
        calls += [partial(receipt, live, "T01", "N1", 24)] * 3 + [partial(receipt, live, "T02", "N1", 24)] * 3
        replies = race(calls)
        _refused_for_quantity(replies)
        dispensed = sum(30 for r in replies[12:22] if r.status == 200)
        received = sum(24 for r in replies[22:] if r.status == 201)
        assert received == 6 * 24, [r.body for r in replies[22:]]
        totals = site_totals(live.ctx)
        assert totals[("T01", AMOX)] + totals[("T02", AMOX)] == 2 * START + received - dispensed
        with live.ctx.factory() as session:
            booked = session.execute(select(func.count()).select_from(T["transfers"])).scalar()
        assert booked == sum(r.status == 201 for r in replies[:12])


def test_counts_of_an_item_never_held_and_counts_racing_transfers(backend: Backend) -> None:
    """Four storekeepers' tabs count the same item at once ("now holds 10"): the site holds 10, not 40.
    Counts race transfers into and out of the site: the count's figure is applied to what is there."""
    with serve(SPEC, backend, _county) as live:
        calls = [partial(adjust, live, site, "count", 10, item) for site in ("T01", "T02", "T03") for item in (INSULIN, AMLO)]
        replies = race(calls * 4)
        no_server_errors(replies)
        assert all(r.status == 200 for r in replies), [r.body for r in replies if r.status != 200]
        totals = site_totals(live.ctx)
        assert all(totals[(site, item)] == 10 for site in ("T01", "T02", "T03") for item in (INSULIN, AMLO)), totals
        # A count of T02's AMOX to 100 while T01 gives it 48 four times and T02 gives 24 back twice.
        replies = race([partial(adjust, live, "T02", "count", 100)] + [partial(transfer, live, "T01", "T02", 48)] * 4
                       + [partial(transfer, live, "T02", "T01", 24)] * 2)  # fmt: skip
        _refused_for_quantity(replies)
        assert replies[0].status == 200
        site_totals(live.ctx)
        moves = T["site_movements"]
        mine = (moves.c.site_code == "T02") & (moves.c.item_code == AMOX)
        with live.ctx.factory() as session:
            counted_at = session.execute(select(func.max(moves.c.id)).where(mine, moves.c.kind == "count")).scalar()
            # T02's movements of AMOX are serialised, so their ids are their order: up to the count, they sum to 100.
            upto = session.execute(select(func.sum(moves.c.quantity)).where(mine, moves.c.id <= counted_at)).scalar()
        assert upto == 100


def test_twins_with_one_idempotency_key_change_stock_once(backend: Backend) -> None:
    """Four identical requests with the same key at the same moment: one transfer (or one dispensing),
    four 2xx answers with the same body; the same key with another body is a 422 naming the header."""
    with serve(SPEC, backend, _county) as live:
        for round_no in range(4):
            key = f"tr-{round_no}"
            replies = race([partial(transfer, live, "T01", "T02", 12, key)] * 4)
            no_server_errors(replies)
            assert {r.status for r in replies} == {201}, [r.body for r in replies]
            assert len({repr(r.body) for r in replies}) == 1, [r.body for r in replies]
            key = f"adj-{round_no}"
            replies = race([partial(adjust, live, "T02", "dispense", 5, AMOX, key)] * 4)
            no_server_errors(replies)
            assert {r.status for r in replies} == {200} and len({repr(r.body) for r in replies}) == 1, [r.body for r in replies]
        with live.ctx.factory() as session:
            booked = session.execute(select(func.count()).select_from(T["transfers"])).scalar()
            dispensings = session.execute(select(func.count()).select_from(T["site_movements"])
                                          .where(T["site_movements"].c.kind == "dispense")).scalar()  # fmt: skip
        assert booked == 4 and dispensings == 4
        totals = site_totals(live.ctx)
        assert totals[("T01", AMOX)] == START - 4 * 12 and totals[("T02", AMOX)] == START + 4 * 12 - 4 * 5
        reused = transfer(live, "T01", "T02", 13, "tr-0")
        assert reused.status == 422 and reused.content_type == "application/problem+json"
        assert any(e["field"] == "Idempotency-Key" for e in reused.body["errors"])


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("transfer"), st.sampled_from(["T01", "T02", "T03"]), st.sampled_from(["T01", "T02", "T03"]),
                  st.integers(1, 200)),
        st.tuples(st.just("dispense"), st.sampled_from(["T01", "T02", "T03"]), st.just(""), st.integers(1, 150)),
    ),
    min_size=2, max_size=10,
)  # fmt: skip


def test_any_mix_of_transfers_and_dispensing_keeps_the_ledger(backend: Backend) -> None:
    """Property: whatever transfers and dispensings run at once, stock is conserved, never negative,
    and each lot equals its movements; a refusal is always a 409 naming `quantity`."""
    with serve(SPEC, backend, _county) as live:

        @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(ops=OPS)
        def burst(ops: list[tuple[str, str, str, int]]) -> None:
            before = site_totals(live.ctx)
            wanted = [o for o in ops if o[0] == "dispense" or o[1] != o[2]]
            calls = [partial(transfer, live, a, b, q) if kind == "transfer" else partial(adjust, live, a, "dispense", q)
                     for kind, a, b, q in wanted]  # fmt: skip
            if len(calls) < 2:
                return
            replies = race(calls)
            _refused_for_quantity(replies)
            dispensed = sum(o[3] for o, r in zip(wanted, replies, strict=True) if o[0] == "dispense" and r.status == 200)
            after = site_totals(live.ctx)
            total = sum(v for (_s, item), v in after.items() if item == AMOX)
            assert total == sum(v for (_s, item), v in before.items() if item == AMOX) - dispensed

        burst()


def _shipped(ctx: ServiceContext) -> str:
    """_county, and a requisition of 48 AMOX for T01 approved, picked and shipped from central stock; its id."""
    _county(ctx)
    stock_central(ctx, line(batch="C1", qty=480))
    made = rq.create_requisition(ctx, KEEPER_T01, c.CreateRequisition("T01", (OrderLine(AMOX, 48),), submit=True))
    rq.approve_requisition(ctx, MANAGER, c.ApproveRequisition(made["id"]))
    rq.pick_requisition(ctx, MANAGER, c.PickRequisition(made["id"]))
    rq.ship_requisition(ctx, MANAGER, c.ShipRequisition(made["id"]))
    return str(made["id"])


def approval_event(live: LiveService, prescription_id: str, quantity: int) -> Reply:
    """review.prescription.approved delivered to procurement's handler as the bus would (a new event id each time)."""
    payload = {"prescription_id": prescription_id, "prescription_no": prescription_id, "site_code": "T01",
               "pharmacist": "ph-1", "approved_at": "2026-12-06T08:00:00+00:00", "approved_how": "pharmacist",
               "knowledge_version": "k1", "lines": [{"item_code": AMOX, "quantity": quantity}]}  # fmt: skip
    assert handle_event(SPEC, live.ctx, new_event("review.prescription.approved", payload, source="/countyhub/test"))
    return Reply(200, "application/json", None, {})


def test_receiving_an_issue_while_the_site_transfers_dispenses_and_fills_prescriptions(backend: Backend) -> None:
    """A site books a shipped requisition (twice at once) while it transfers, dispenses by hand and
    the review centre's approvals arrive (each prescription twice, as two events at once): the
    requisition is booked once, each prescription takes its stock once, the ledger holds."""
    holder: dict[str, str] = {}

    def prepare(ctx: ServiceContext) -> None:
        holder["rid"] = _shipped(ctx)

    with serve(SPEC, backend, prepare) as live:
        rid = holder["rid"]
        receive = partial(live.call, "POST", f"/api/v1/requisitions/{rid}/receive", KEEPER["T01"],
                          {"lines": [{"item_code": AMOX, "received_quantity": 48}]})  # fmt: skip
        calls: list[Callable[[], Reply]] = [receive, receive]
        calls += [partial(transfer, live, "T01", "T02", 40)] * 3 + [partial(adjust, live, "T01", "dispense", 25)] * 3
        calls += [partial(approval_event, live, f"RX-{i}", 10) for i in range(4) for _twice in range(2)]
        replies = race(calls)
        no_server_errors(replies)
        assert sorted(r.status for r in replies[:2]) == [200, 409] and any(r.is_conflict("status") for r in replies[:2])
        assert all(r.status == 201 or r.is_conflict("quantity") for r in replies[2:5])
        assert all(r.status == 200 or r.is_conflict("quantity") for r in replies[5:8])
        assert all(r.status == 200 for r in replies[8:])  # two events per prescription, each consumed without error
        dispensed = sum(25 for r in replies[5:8] if r.status == 200)
        totals = site_totals(live.ctx)
        assert totals[("T01", AMOX)] + totals[("T02", AMOX)] == 2 * START + 48 - dispensed - 4 * 10
        moves = T["site_movements"]
        with live.ctx.factory() as session:
            taken = {str(r[0]): int(r[1]) for r in session.execute(
                select(moves.c.ref, func.sum(moves.c.quantity)).where(moves.c.kind == "prescription").group_by(moves.c.ref))}
        assert taken == {f"RX-{i}": -10 for i in range(4)}
