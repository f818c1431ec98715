"""Read helpers shared by use cases and queries: purchases in the VBP domain's shape."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from sqlalchemy.orm import Session

from services.procurement.model.money import amount
from services.procurement.model.requisition import ItemFacts
from services.procurement.model.vbp import Purchase, generic_key
from services.procurement.store import receiving as rcv


def purchases_for(session: Session, items: Mapping[str, ItemFacts]) -> list[Purchase]:
    """Accepted receipt lines of these items as VBP purchases (transfers are not purchases)."""
    out = []
    for row in rcv.purchases(session, list(items)):
        item = items[row["item_code"]]
        out.append(Purchase(
            row["item_code"], generic_key(item.generic_name, item.dosage_form, item.strength), row["quantity"],
            row["received_on"], row["paid_on"], amount(Decimal(row["unit_price"]) * row["quantity"]),
        ))  # fmt: skip
    return out
