"""FEFO allocation, settlement, prices, VBP progress, requisition rules, replenishment (pure)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.procurement.model.ledger import InsufficientStock, Lot, allocate_fefo, consume_fefo
from services.procurement.model.money import unit_price
from services.procurement.model.pricing import ListedPrice, PriceRecord, applicable_price, check_negotiated
from services.procurement.model.requisition import (
    ItemFacts,
    OrderLine,
    ReceivedLine,
    Status,
    check_approval,
    check_order_lines,
    check_site_receipt,
    check_transition,
    split_by_batch,
)
from services.procurement.model.stocking import LotOnHand, near_expiry, suggest_order
from services.procurement.model.transfers import TransferValue, settle_month
from services.procurement.model.vbp import Contract, Policy, Purchase, contract_progress, status_of
from shared.errors import Conflict, InvalidInput

TODAY = date(2026, 11, 25)

lots_strategy = st.lists(
    st.builds(
        Lot,
        lot_id=st.integers(1, 10_000),
        item_code=st.sampled_from(["A", "B"]),
        batch_no=st.sampled_from(["B1", "B2", "B3"]),
        expiry=st.dates(date(2026, 10, 1), date(2028, 12, 31)),
        balance=st.integers(0, 500),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(lots=lots_strategy, qty=st.integers(0, 3000))
def test_fefo_never_drives_a_lot_negative_and_takes_earliest_first(lots: list[Lot], qty: int) -> None:
    usable = [lot for lot in lots if lot.item_code == "A" and lot.balance > 0 and lot.expiry >= TODAY]
    try:
        out = allocate_fefo(lots, "A", qty, TODAY)
    except InsufficientStock as exc:
        assert exc.available == sum(lot.balance for lot in usable) < qty
        return
    assert sum(a.quantity for a in out) == qty
    assert all(0 < a.quantity <= a.lot.balance and a.lot.expiry >= TODAY and a.lot.item_code == "A" for a in out)
    # FEFO: every lot left untouched or partly used expires no earlier than the last fully used one
    if out:
        last_expiry = out[-1].lot.expiry
        taken = {id(a.lot) for a in out}
        assert all(lot.expiry >= last_expiry for lot in usable if id(lot) not in taken)


def test_expired_lots_are_never_picked() -> None:
    lots = [Lot(1, "A", "OLD", date(2026, 11, 24), 100), Lot(2, "A", "NEW", date(2027, 12, 1), 50)]
    assert [(a.lot.batch_no, a.quantity) for a in allocate_fefo(lots, "A", 50, TODAY)] == [("NEW", 50)]
    with pytest.raises(InsufficientStock):
        allocate_fefo(lots, "A", 51, TODAY)


def test_site_consumption_returns_the_uncovered_rest() -> None:
    lots = [Lot(1, "A", "X", date(2027, 1, 1), 5), Lot(2, "A", "Y", date(2026, 12, 1), 3)]
    taken, rest = consume_fefo(lots, "A", 10)
    assert [(a.lot.batch_no, a.quantity) for a in taken] == [("Y", 3), ("X", 5)] and rest == 2


sites = st.sampled_from(["H001", "T01", "T02", "T03", "V001"])


@settings(max_examples=200, deadline=None)
@given(
    transfers=st.lists(
        st.builds(
            TransferValue, from_site=sites, to_site=sites, day=st.dates(date(2026, 10, 1), date(2026, 12, 31)),
            value=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("99999"), places=4),
        ),
        max_size=30,
    )
)
def test_settlement_sums_to_zero_and_pairs_are_opposite(transfers: list[TransferValue]) -> None:
    for month in ("2026-10", "2026-11", "2026-12"):
        entries = settle_month(transfers, month)
        assert sum((e.payable for e in entries), Decimal("0")) == 0
        by_pair = {(e.site, e.counterparty): e.payable for e in entries}
        assert all(by_pair[(b, a)] == -v for (a, b), v in by_pair.items())


def test_settlement_example() -> None:
    t = [TransferValue("T01", "T02", date(2026, 11, 3), Decimal("100.50")),
         TransferValue("T02", "T01", date(2026, 11, 9), Decimal("30.25")),
         TransferValue("T02", "T01", date(2026, 12, 1), Decimal("999"))]  # fmt: skip
    entries = {(e.site, e.counterparty): e.payable for e in settle_month(t, "2026-11")}
    assert entries == {("T01", "T02"): Decimal("-70.25"), ("T02", "T01"): Decimal("70.25")}


def test_prices_vbp_exact_then_negotiated_then_listed() -> None:
    listed = [ListedPrice("A", Decimal("2.0000"), date(2026, 1, 1))]
    neg = [PriceRecord("A", Decimal("1.8000"), date(2026, 3, 1), recorded_seq=1),
           PriceRecord("A", Decimal("1.7000"), date(2026, 9, 1), date(2026, 10, 31), recorded_seq=2)]  # fmt: skip
    assert applicable_price(TODAY, Decimal("0.9000"), neg, listed).basis == "vbp"  # type: ignore[union-attr]
    got = applicable_price(date(2026, 10, 1), None, neg, listed)
    assert got is not None and (got.price, got.basis) == (Decimal("1.7000"), "negotiated")
    got = applicable_price(TODAY, None, neg, listed)
    assert got is not None and got.price == Decimal("1.8000")
    got = applicable_price(date(2026, 2, 1), None, neg, listed)
    assert got is not None and (got.price, got.basis) == (Decimal("2.0000"), "listed")
    assert applicable_price(date(2025, 1, 1), None, neg, listed) is None


@pytest.mark.parametrize(
    ("record", "vbp", "listed", "field"),
    [
        (PriceRecord("A", Decimal("1.5"), TODAY), True, [ListedPrice("A", Decimal("2"), TODAY)], "item_code"),
        (PriceRecord("A", Decimal("1.5"), TODAY), False, [ListedPrice("A", Decimal("2"), TODAY, national_negotiated=True)], "item_code"),
        (PriceRecord("A", Decimal("1.5"), TODAY), False, [], "item_code"),
        (PriceRecord("A", Decimal("2"), TODAY), False, [ListedPrice("A", Decimal("2"), TODAY)], "price"),
        (PriceRecord("A", Decimal("1"), TODAY, date(2026, 1, 1)), False, [ListedPrice("A", Decimal("2"), TODAY)], "effective_to"),
    ],
)  # fmt: skip
def test_negotiation_refusals(record: PriceRecord, vbp: bool, listed: list[ListedPrice], field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        check_negotiated(record, vbp, listed)
    assert field in exc.value.fields


def test_unit_price_parsing() -> None:
    assert str(unit_price("1.23")) == "1.2300"
    for bad in ("1.23456", "abc", "NaN", "Infinity"):
        with pytest.raises(ValueError):
            unit_price(bad)
    with pytest.raises(ValueError):
        unit_price(1.5)  # type: ignore[arg-type]


def test_vbp_progress_status_and_savings() -> None:
    c = Contract("C1", "A", Decimal("0.5000"), 1000, date(2026, 1, 1), date(2026, 12, 31), Decimal("1.5000"))
    purchases = [Purchase("A", "g", 300, date(2026, 3, 1), None, Decimal("150")),
                 Purchase("A", "g", 200, date(2026, 11, 1), date(2026, 11, 5), Decimal("100")),
                 Purchase("B", "g", 100, date(2026, 4, 1)),
                 Purchase("A", "g", 999, date(2025, 12, 31))]  # fmt: skip
    p = contract_progress(c, "g", purchases, TODAY, Policy())
    assert p.accepted_quantity == 500 and p.completion == Decimal("0.5")
    assert p.time_progress == Decimal(329) / Decimal(365) or abs(p.time_progress - Decimal("0.9014")) < Decimal("0.0001")
    assert p.status == "at_risk"  # 0.5 < 0.8 × 0.90
    assert p.non_vbp_share == Decimal("0.1667")
    assert (p.unpaid_overdue, p.unpaid_overdue_amount) == (1, Decimal("150.00"))
    assert p.retained_savings == Decimal("250.00")  # (1.5 − 0.5) × 500 × 0.5 × 1
    assert status_of(Decimal("0.85"), Decimal("0.9"), Policy()) == "behind"
    assert status_of(Decimal("0.95"), Decimal("0.9"), Policy()) == "on_track"
    assert status_of(Decimal("1"), Decimal("0.2"), Policy()) == "complete"
    assert status_of(Decimal("0.7"), Decimal("0.9"), Policy(at_risk_factor=Decimal("0.7"))) == "behind"


ITEMS = {"A": ItemFacts("A", "阿莫西林", "active", 24, "ambient", 60, 30),
         "R": ItemFacts("R", "旧药", "retired", 10, "ambient", 1, 1)}  # fmt: skip


def test_order_lines_rules() -> None:
    check_order_lines([OrderLine("A", 48)], ITEMS, frozenset({"A"}))
    cases = [
        ([OrderLine("A", 50)], frozenset({"A"}), "lines[0].quantity"),
        ([OrderLine("A", 0)], frozenset({"A"}), "lines[0].quantity"),
        ([OrderLine("A", 24)], frozenset(), "lines[0].item_code"),
        ([OrderLine("R", 10)], frozenset({"R"}), "lines[0].item_code"),
        ([OrderLine("A", 24), OrderLine("A", 24)], frozenset({"A"}), "lines[1].item_code"),
        ([], frozenset({"A"}), "lines"),
    ]
    for lines, stocklist, field in cases:
        with pytest.raises(InvalidInput) as exc:
            check_order_lines(lines, ITEMS, stocklist)
        assert field in exc.value.fields


def test_state_machine() -> None:
    check_transition("draft", Status.SUBMITTED)
    for current, target in [("draft", Status.APPROVED), ("rejected", Status.PICKED), ("received", Status.SHIPPED)]:
        with pytest.raises(Conflict):
            check_transition(current, target)


def test_approval_cut_needs_reason_and_whole_packages() -> None:
    check_approval({"A": 48}, {"A": 24}, {"A": "库存不足"}, {"A": 24})
    with pytest.raises(InvalidInput) as exc:
        check_approval({"A": 48}, {"A": 24}, {}, {"A": 24})
    assert "lines[A].reason" in exc.value.fields
    with pytest.raises(InvalidInput) as exc:
        check_approval({"A": 48}, {"A": 30}, {"A": "x"}, {"A": 24})
    assert "lines[A].approved_quantity" in exc.value.fields
    with pytest.raises(InvalidInput):
        check_approval({"A": 48}, {"A": 72}, {}, {"A": 24})


def test_site_receipt_rules() -> None:
    shipped = {("A", "B1"): 48}
    check_site_receipt(shipped, [ReceivedLine("A", "B1", 24, "damaged")])
    for line, field in [(ReceivedLine("A", "B1", 24), "lines[0].discrepancy"),
                        (ReceivedLine("A", "B9", 24, "short"), "lines[0].batch_no"),
                        (ReceivedLine("A", "B1", 49), "lines[0].received_quantity")]:  # fmt: skip
        with pytest.raises(InvalidInput) as exc:
            check_site_receipt(shipped, [line])
        assert field in exc.value.fields


def test_item_level_counts_spread_over_batches_fefo() -> None:
    shipped = {("A", "SOON"): 24, ("A", "LATE"): 24, ("B", "X"): 10}
    lines = split_by_batch(shipped, [ReceivedLine("A", None, 30, "short"), ReceivedLine("B", "X", 10)])
    assert [(x.batch_no, x.received_quantity) for x in lines] == [("SOON", 24), ("LATE", 6), ("X", 10)]
    cases = [
        ([ReceivedLine("A", None, 30)], "lines[0].discrepancy"),
        ([ReceivedLine("A", None, 49, "short")], "lines[0].received_quantity"),
        ([ReceivedLine("C", None, 1)], "lines[0].item_code"),
        ([ReceivedLine("A", None, 48), ReceivedLine("A", "SOON", 24)], "lines[1].batch_no"),
        ([ReceivedLine("A", None, 48), ReceivedLine("A", None, 48)], "lines[1].item_code"),
    ]
    for bad, field in cases:
        with pytest.raises(InvalidInput) as exc:
            split_by_batch(shipped, bad)
        assert field in exc.value.fields


def test_replenishment_and_near_expiry() -> None:
    s = suggest_order("A", on_hand=100, on_order=24, consumed=300, window_days=30, lead_time_days=3,
                      safety_days=7, package_size=24)  # fmt: skip
    assert (s.avg_daily, s.target, s.suggested) == (10.0, 100, 0)
    s = suggest_order("A", 10, 0, 300, 30, 3, 7, 24)
    assert s.suggested == 96  # 90 short → 4 packages
    lots = [LotOnHand("central", "A", "B1", date(2027, 3, 1), 5), LotOnHand("T01", "A", "B2", date(2027, 9, 1), 5),
            LotOnHand("T02", "A", "B3", date(2026, 12, 1), 0)]  # fmt: skip
    assert [lot.batch_no for lot in near_expiry(lots, TODAY, 6)] == ["B1"]
