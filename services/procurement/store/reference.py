"""Facts from the formulary read model (ref_items, ref_sites, ref_stocklists) in domain shapes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.procurement.model.requisition import ItemFacts
from services.procurement.store import T


def _facts(row: Any) -> ItemFacts:
    snap = row.snapshot or {}
    return ItemFacts(
        code=row.code, generic_name=row.generic_name, status=row.status, package_size=row.package_size,
        storage=row.storage, volume_cm3=float(row.volume_cm3), weight_g=float(row.weight_g),
        manufacturer=snap.get("manufacturer"), vbp=bool(snap.get("vbp")), dosage_form=snap.get("dosage_form"),
        strength=snap.get("strength"), kind=row.kind,
    )  # fmt: skip


def item_facts(session: Session, codes: Iterable[str]) -> dict[str, ItemFacts]:
    """The read model's items among `codes` (any status); missing codes are simply absent."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = session.execute(select(T["ref_items"]).where(T["ref_items"].c.code.in_(wanted)))
    return {r.code: _facts(r) for r in rows}


def items_of_generic(session: Session, generic_name: str) -> dict[str, ItemFacts]:
    """Every item sharing a 通用名 (for VBP non-selected share and justification checks)."""
    rows = session.execute(select(T["ref_items"]).where(T["ref_items"].c.generic_name == generic_name))
    return {r.code: _facts(r) for r in rows}


def site(session: Session, code: str) -> dict[str, Any] | None:
    """A site's row with its snapshot (tax_id lives there); None if unknown."""
    row = session.execute(select(T["ref_sites"]).where(T["ref_sites"].c.code == code)).mappings().first()
    return dict(row) if row else None


def sites(session: Session) -> dict[str, dict[str, Any]]:
    """Every known site by code."""
    return {r["code"]: dict(r) for r in session.execute(select(T["ref_sites"])).mappings()}


def stocklist(session: Session, site_code: str, level: str) -> frozenset[str] | None:
    """The site's own stocking list if it has one, else its level's; None when neither is known."""
    table = T["ref_stocklists"]
    for key in (f"site:{site_code}", f"level:{level}"):
        codes = session.execute(select(table.c.item_codes).where(table.c.scope_key == key)).scalar_one_or_none()
        if codes is not None:
            return frozenset(codes)
    return None
