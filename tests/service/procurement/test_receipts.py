"""Goods receipt on both backends: every violation code alone and together, nothing written on refusal."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from services.procurement.model import commands as c
from services.procurement.model.invoices import CODES, Party, Receipt
from services.procurement.service import purchasing, receiving
from services.procurement.service.receiving import ReceiptRefused
from services.procurement.store import T
from shared.errors import Forbidden, InvalidInput
from shared.runtime import ServiceContext
from tests.service.procurement.procurement_support import (
    AMLO,
    AMOX,
    BUYER,
    DIST,
    DIST2,
    INSULIN,
    KEEPER_T01,
    MAKER,
    MANAGER,
    OTHER,
    SUBSIDIARY,
    TOWNS,
    clean_receipt,
    inv,
    line,
    today,
    with_,
)

L = line()


def _cases() -> dict[str, Receipt]:
    base = clean_receipt(L)
    d3 = Party("偏远配送", "913717000000000033")
    return {
        "FIRST_INVOICE_MISSING": with_(base, invoices=(inv("F2", DIST, BUYER, L),)),
        "SECOND_INVOICE_MISSING": with_(base, invoices=(inv("F1", MAKER, DIST, L),)),
        "FIRST_ISSUER_NOT_MANUFACTURER": with_(base, invoices=(inv("F1", OTHER, DIST, L), inv("F2", DIST, BUYER, L))),
        "INVOICE_CHAIN_BROKEN": with_(base, invoices=(inv("F1", MAKER, DIST2, L), inv("F2", DIST, BUYER, L))),
        "SECOND_INVOICE_NOT_TO_BUYER": with_(base, invoices=(inv("F1", MAKER, DIST, L), inv("F2", DIST, OTHER, L))),
        "SUPPLIER_NOT_SECOND_ISSUER": with_(base, supplier_tax_id=DIST2.tax_id),
        "TOO_MANY_INVOICES": with_(base, supplier_tax_id=d3.tax_id, invoices=(
            inv("F1", MAKER, DIST, L), inv("F2", DIST, d3, L), inv("F3", d3, BUYER, L))),
        "BATCH_NOT_INVOICED": with_(base, lines=(line(batch="B9"),)),
        "QUANTITY_EXCEEDS_INVOICED": with_(base, lines=(line(qty=480),)),
        "PRICE_MISMATCH": with_(base, invoices=(inv("F1", MAKER, DIST, L), inv("F2", DIST, BUYER, L, price="1.2000"))),
        "PRICE_ABOVE_CONTRACT": clean_receipt(line(code=AMLO, qty=28, price="0.9000")),
        "DISTRIBUTOR_NOT_AUTHORIZED": clean_receipt(line(code=AMLO, qty=28, price="0.5000")).__class__(
            "H001", DIST2.tax_id, False, (line(code=AMLO, qty=28, price="0.5000"),),
            (inv("F1", MAKER, DIST2, line(code=AMLO, qty=28, price="0.5000")),
             inv("F2", DIST2, BUYER, line(code=AMLO, qty=28, price="0.5000"))), today()),
        "ITEM_NOT_IN_FORMULARY": clean_receipt(L, line(code="YP404404")),
        "SHORT_EXPIRY": clean_receipt(line(expiry=today() + timedelta(days=150))),
        "COLD_CHAIN_RECORD_MISSING": clean_receipt(line(code=INSULIN, qty=10, price="30.0000")),
    }  # fmt: skip


@pytest.fixture
def priced(service_ctx: ServiceContext) -> ServiceContext:
    """AMLO under a VBP contract at 0.5000; a remote distributor authorised for everything."""
    purchasing.create_vbp_contract(service_ctx, MANAGER, c.CreateVbpContract(
        AMLO, Decimal("0.5000"), 10_000, today() - timedelta(days=100), today() + timedelta(days=265)))  # fmt: skip
    purchasing.register_distributor(service_ctx, MANAGER, c.RegisterDistributor("偏远配送", "913717000000000033", None))
    return service_ctx


def _written(ctx: ServiceContext) -> tuple[int, int, int]:
    with ctx.factory() as session:
        return tuple(session.execute(select(func.count()).select_from(T[name])).scalar() for name in
                     ("receipts", "central_lots", "site_lots"))  # type: ignore[return-value]  # fmt: skip


def test_every_code_alone_is_refused_and_writes_nothing(priced: ServiceContext) -> None:
    cases = _cases()
    assert set(cases) == set(CODES)
    for code, receipt in cases.items():
        checked = receiving.check_only(priced, MANAGER, receipt)
        assert {v.code for v in checked.violations} == {code}, code
        assert not checked.ok
        with pytest.raises(ReceiptRefused) as exc:
            receiving.book_receipt(priced, MANAGER, c.BookReceipt(receipt))
        assert {v.code for v in exc.value.violations} == {code}
    assert _written(priced) == (0, 0, 0)


def test_combination_and_clean_booking(priced: ServiceContext) -> None:
    cases = _cases()
    combo = with_(cases["SUPPLIER_NOT_SECOND_ISSUER"], lines=(line(batch="B9", expiry=today() + timedelta(days=30)),
                                                               line(code=INSULIN, qty=10, price="30.0000")))  # fmt: skip
    found = {(v.line, v.code) for v in receiving.check_only(priced, MANAGER, combo).violations}
    assert {(0, "SUPPLIER_NOT_SECOND_ISSUER"), (0, "BATCH_NOT_INVOICED"), (0, "SHORT_EXPIRY"),
            (1, "COLD_CHAIN_RECORD_MISSING"), (1, "SECOND_INVOICE_MISSING")} <= found  # fmt: skip
    ok = receiving.book_receipt(priced, MANAGER, c.BookReceipt(clean_receipt(line(trace=("8" * 20,)),
                                                                             line(code=AMLO, qty=28, price="0.5000"))))
    assert ok.ok and ok.receipt_id
    assert _written(priced) == (1, 2, 0)


def test_subsidiary_and_remote_area(priced: ServiceContext) -> None:
    via_subsidiary = with_(clean_receipt(L), invoices=(inv("F1", SUBSIDIARY, DIST, L), inv("F2", DIST, BUYER, L)))
    assert receiving.check_only(priced, MANAGER, via_subsidiary).ok
    remote = with_(_cases()["TOO_MANY_INVOICES"], remote_area=True)
    assert receiving.check_only(priced, MANAGER, remote).ok


def test_negotiated_price_caps_deliveries(service_ctx: ServiceContext) -> None:
    purchasing.record_price(service_ctx, MANAGER, c.RecordPrice("listed", AMOX, Decimal("1.5000"), today() - timedelta(days=10)))
    purchasing.record_price(service_ctx, MANAGER, c.RecordPrice("negotiated", AMOX, Decimal("1.2000"), today() - timedelta(days=5)))
    codes = {v.code for v in receiving.check_only(service_ctx, MANAGER, clean_receipt(L)).violations}
    assert codes == {"PRICE_ABOVE_CONTRACT"}  # delivered at 1.2300 > 1.2000
    assert receiving.check_only(service_ctx, MANAGER, clean_receipt(line(price="1.2000"))).ok


def test_direct_delivery_to_a_township_books_site_stock(service_ctx: ServiceContext) -> None:
    receipt = clean_receipt(L, site="T01")
    with pytest.raises(Forbidden):  # another site's storekeeper
        receiving.check_only(service_ctx, KEEPER_T01.__class__("sk", ("storekeeper",), site="T02"), receipt)
    assert receiving.book_receipt(service_ctx, KEEPER_T01, c.BookReceipt(receipt)).ok
    assert _written(service_ctx) == (1, 0, 1)
    wrong_buyer = clean_receipt(L)  # made out to the hub, delivered to T01
    assert {v.code for v in receiving.check_only(service_ctx, KEEPER_T01, with_(wrong_buyer, site_code="T01")).violations} == {
        "SECOND_INVOICE_NOT_TO_BUYER"}  # fmt: skip
    assert TOWNS


def test_unknown_site_and_payment(service_ctx: ServiceContext) -> None:
    with pytest.raises(InvalidInput) as exc:
        receiving.check_only(service_ctx, MANAGER, with_(clean_receipt(L), site_code="NOPE"))
    assert "site_code" in exc.value.fields
    rid = receiving.book_receipt(service_ctx, MANAGER, c.BookReceipt(clean_receipt(L))).receipt_id
    assert rid
    with pytest.raises(InvalidInput):
        receiving.record_payment(service_ctx, MANAGER, c.RecordPayment(rid, today() - timedelta(days=1)))
    assert receiving.record_payment(service_ctx, MANAGER, c.RecordPayment(rid, today()))["paid_on"] == today()
