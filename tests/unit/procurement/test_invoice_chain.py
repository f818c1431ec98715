"""两票制 receipt check: each violation code alone, in combination, and order-independence."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from procurement_samples import (
    COLD,
    DIST,
    DIST2,
    FACTS,
    HOSPITAL,
    ITEM,
    MAKER,
    OTHER,
    SUBSIDIARY,
    clean,
    iline,
    invoice,
    rline,
    with_invoices,
)

from services.procurement.model.invoices import CODES, check_receipt


def codes(receipt, facts=FACTS) -> set[str]:  # type: ignore[no-untyped-def]
    return {v.code for v in check_receipt(receipt, facts)}


F1 = invoice("F1", MAKER, DIST, iline(price="1.0000"))
F2 = invoice("F2", DIST, HOSPITAL, iline())

ALONE = {
    "FIRST_INVOICE_MISSING": with_invoices(clean(), F2),
    "SECOND_INVOICE_MISSING": with_invoices(clean(), F1),
    "FIRST_ISSUER_NOT_MANUFACTURER": with_invoices(clean(), invoice("F1", OTHER, DIST, iline()), F2),
    "INVOICE_CHAIN_BROKEN": with_invoices(clean(), invoice("F1", MAKER, DIST2, iline()), F2),
    "SECOND_INVOICE_NOT_TO_BUYER": with_invoices(clean(), F1, invoice("F2", DIST, OTHER, iline())),
    "SUPPLIER_NOT_SECOND_ISSUER": replace(clean(), supplier_tax_id=DIST2.tax_id),
    "TOO_MANY_INVOICES": replace(
        clean(), supplier_tax_id=DIST2.tax_id,
        invoices=(invoice("F1", MAKER, DIST, iline()), invoice("F2", DIST, DIST2, iline()),
                  invoice("F3", DIST2, HOSPITAL, iline())),
    ),  # fmt: skip
    "BATCH_NOT_INVOICED": replace(clean(), lines=(rline(batch="B9999"),)),
    "QUANTITY_EXCEEDS_INVOICED": replace(clean(), lines=(rline(qty=480),)),
    "PRICE_MISMATCH": with_invoices(clean(), F1, invoice("F2", DIST, HOSPITAL, iline(price="1.2000"))),
    "PRICE_ABOVE_CONTRACT": replace(
        clean(), lines=(rline(price="1.5000"),),
        invoices=(F1, invoice("F2", DIST, HOSPITAL, iline(price="1.5000"))),
    ),  # fmt: skip
    "DISTRIBUTOR_NOT_AUTHORIZED": None,  # built below (needs other facts)
    "ITEM_NOT_IN_FORMULARY": replace(clean(), lines=(rline(), rline(code="YP404404"))),
    "SHORT_EXPIRY": replace(clean(), lines=(rline(expiry=date(2027, 5, 24)),)),
    "COLD_CHAIN_RECORD_MISSING": replace(
        clean(), lines=(rline(code=COLD.code, qty=10, price="30.0000"),),
        invoices=(invoice("F1", MAKER, DIST, iline(COLD.code, qty=10, price="25.0000")),
                  invoice("F2", DIST, HOSPITAL, iline(COLD.code, qty=10, price="30.0000"))),
    ),  # fmt: skip
}


def test_clean_receipt_has_no_violations() -> None:
    assert check_receipt(clean(), FACTS) == []


@pytest.mark.parametrize("code", sorted(CODES))
def test_each_code_alone(code: str) -> None:
    facts = FACTS
    receipt = ALONE[code]
    if code == "DISTRIBUTOR_NOT_AUTHORIZED":
        facts = replace(FACTS, authorized={DIST.tax_id: frozenset({"YP000999"})})
        receipt = clean()
    assert receipt is not None
    assert codes(receipt, facts) == {code}


def test_every_code_has_an_alone_case() -> None:
    assert set(ALONE) == set(CODES)


def test_subsidiary_counts_as_manufacturer_and_name_match_when_unregistered() -> None:
    assert codes(with_invoices(clean(), invoice("F1", SUBSIDIARY, DIST, iline()), F2)) == set()
    unregistered = replace(FACTS, manufacturers={})
    assert codes(clean(), unregistered) == set()
    renamed = with_invoices(clean(), invoice("F1", MAKER.__class__("齐鲁制药", MAKER.tax_id), DIST, iline()), F2)
    assert codes(renamed, unregistered) == {"FIRST_ISSUER_NOT_MANUFACTURER"}


def test_remote_area_allows_one_more_invoice_but_not_two() -> None:
    base = ALONE["TOO_MANY_INVOICES"]
    assert base is not None
    three = replace(base, remote_area=True)
    assert codes(three) == set()
    d3 = DIST.__class__("某偏远配送", "913717000000000033")
    four = replace(
        three, supplier_tax_id=d3.tax_id,
        invoices=(*three.invoices[:2], invoice("F3", DIST2, d3, iline()), invoice("F4", d3, HOSPITAL, iline())),
    )  # fmt: skip
    assert codes(four, replace(FACTS, authorized={d3.tax_id: None})) == {"TOO_MANY_INVOICES"}


def test_manufacturer_selling_direct_needs_one_invoice() -> None:
    direct = replace(clean(), supplier_tax_id=MAKER.tax_id, invoices=(invoice("F1", MAKER, HOSPITAL, iline()),))
    assert codes(direct, replace(FACTS, authorized={MAKER.tax_id: None})) == set()


def test_no_invoices_at_all() -> None:
    assert codes(with_invoices(clean())) == {"FIRST_INVOICE_MISSING", "SECOND_INVOICE_MISSING"}


def test_combinations_report_every_code() -> None:
    bad = replace(
        clean(), supplier_tax_id=DIST2.tax_id,
        lines=(rline(batch="B0001", expiry=date(2027, 1, 1)), rline(code=COLD.code, qty=5, price="9.0000"),
               rline(code="YP404404")),
        invoices=(invoice("F1", OTHER, DIST, iline(), iline(COLD.code, qty=5, price="9.0000")),
                  invoice("F2", DIST, HOSPITAL, iline(), iline(COLD.code, qty=5, price="9.0000"))),
    )  # fmt: skip
    found = check_receipt(bad, FACTS)
    by_line = {(v.line, v.code) for v in found}
    assert by_line == {
        (0, "SUPPLIER_NOT_SECOND_ISSUER"), (0, "FIRST_ISSUER_NOT_MANUFACTURER"), (0, "BATCH_NOT_INVOICED"),
        (0, "SHORT_EXPIRY"),
        (1, "SUPPLIER_NOT_SECOND_ISSUER"), (1, "FIRST_ISSUER_NOT_MANUFACTURER"), (1, "COLD_CHAIN_RECORD_MISSING"),
        (1, "DISTRIBUTOR_NOT_AUTHORIZED"),
        (2, "ITEM_NOT_IN_FORMULARY"),
    }  # fmt: skip
    assert all(v.message for v in found)


def test_quantity_counts_every_line_of_the_same_batch() -> None:
    split = replace(clean(), lines=(rline(qty=120), rline(qty=240)))
    assert [(v.line, v.code) for v in check_receipt(split, FACTS)] == [(0, "QUANTITY_EXCEEDS_INVOICED")]


@settings(max_examples=150, deadline=None)
@given(case=st.sampled_from(sorted(k for k, v in ALONE.items() if v is not None)), data=st.data())
def test_invoice_order_never_matters(case: str, data: st.DataObject) -> None:
    receipt = ALONE[case]
    assert receipt is not None
    extra = invoice("F9", MAKER, DIST, iline(batch="B7777"))
    pool = list(receipt.invoices) + data.draw(st.lists(st.just(extra), max_size=1))
    receipt = with_invoices(receipt, *pool)
    shuffled = data.draw(st.permutations(receipt.invoices))
    relined = tuple(
        inv.__class__(inv.number, inv.issuer, inv.recipient, inv.issued_at, tuple(data.draw(st.permutations(inv.lines))))
        for inv in shuffled
    )
    assert check_receipt(with_invoices(receipt, *relined), FACTS) == check_receipt(receipt, FACTS)


@settings(max_examples=100, deadline=None)
@given(
    seq=st.lists(st.sampled_from([MAKER, SUBSIDIARY, DIST, DIST2, OTHER, HOSPITAL]), min_size=2, max_size=5),
    remote=st.booleans(),
    data=st.data(),
)
def test_random_chains_are_order_independent(seq: list, remote: bool, data: st.DataObject) -> None:  # type: ignore[type-arg]
    invoices = [invoice(f"N{i}", a, b, iline()) for i, (a, b) in enumerate(zip(seq, seq[1:], strict=False))]
    receipt = replace(clean(), remote_area=remote, invoices=tuple(invoices), supplier_tax_id=seq[-2].tax_id)
    shuffled = with_invoices(receipt, *data.draw(st.permutations(invoices)))
    first = check_receipt(receipt, FACTS)
    assert check_receipt(shuffled, FACTS) == first
    assert {v.code for v in first} <= set(CODES)
    assert ITEM.code
