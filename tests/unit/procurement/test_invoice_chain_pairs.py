"""两票制: chain faults that come together are all reported, in every order of the invoices."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from procurement_samples import (
    DIST,
    DIST2,
    FACTS,
    HOSPITAL,
    MAKER,
    OTHER,
    clean,
    iline,
    invoice,
    with_invoices,
)

from services.procurement.model.invoices import Party, check_receipt

TRADER = Party("某某医药贸易有限公司", "913700000000000777")  # neither manufacturer nor agent

PAIRS = {
    # the delivering distributor's invoice goes elsewhere AND it was not fed by the first invoice
    ("INVOICE_CHAIN_BROKEN", "SECOND_INVOICE_NOT_TO_BUYER"): with_invoices(
        clean(), invoice("F1", MAKER, DIST2, iline(price="1.0000")), invoice("F2", DIST, OTHER, iline())),
    # the first invoice is neither the manufacturer's nor does it feed the second
    ("FIRST_ISSUER_NOT_MANUFACTURER", "INVOICE_CHAIN_BROKEN"): with_invoices(
        clean(), invoice("F1", TRADER, DIST2, iline(price="1.0000")), invoice("F2", DIST, HOSPITAL, iline())),
    ("FIRST_ISSUER_NOT_MANUFACTURER", "SECOND_INVOICE_NOT_TO_BUYER"): with_invoices(
        clean(), invoice("F1", TRADER, DIST, iline(price="1.0000")), invoice("F2", DIST, OTHER, iline())),
    ("SECOND_INVOICE_NOT_TO_BUYER", "SUPPLIER_NOT_SECOND_ISSUER"): with_invoices(
        clean(), invoice("F1", MAKER, DIST2, iline(price="1.0000")), invoice("F2", DIST2, OTHER, iline())),
    ("FIRST_ISSUER_NOT_MANUFACTURER", "SUPPLIER_NOT_SECOND_ISSUER"): replace(with_invoices(
        clean(), invoice("F1", TRADER, DIST2, iline(price="1.0000")), invoice("F2", DIST2, HOSPITAL, iline())),
        supplier_tax_id=DIST.tax_id),
}  # fmt: skip


@pytest.mark.parametrize("want", list(PAIRS), ids=["+".join(k) for k in PAIRS])
def test_both_codes_in_every_order(want: tuple[str, ...]) -> None:
    receipt = PAIRS[want]
    for order in itertools.permutations(receipt.invoices):
        found = [v.code for v in check_receipt(replace(receipt, invoices=order), FACTS)]
        assert found == sorted(want), (order, found)
