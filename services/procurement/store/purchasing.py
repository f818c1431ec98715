"""Distributors, manufacturers, prices, VBP contracts, receipts, purchase orders and transfers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from services.procurement.model.invoices import Manufacturer, norm_tax_id
from services.procurement.model.pricing import ListedPrice, PriceRecord
from services.procurement.model.requisition import ItemFacts
from services.procurement.model.vbp import Contract, generic_key
from services.procurement.store import T


def distributor(session: Session, tax_id: str) -> dict[str, Any] | None:
    """A distributor with its authorised items (None = all); None if unknown."""
    row = session.execute(select(T["distributors"]).where(T["distributors"].c.tax_id == tax_id)).mappings().first()
    if row is None:
        return None
    out = dict(row)
    codes = session.execute(select(T["distributor_items"].c.item_code).where(T["distributor_items"].c.tax_id == tax_id))
    out["items"] = None if row["all_items"] else sorted(c for (c,) in codes)
    return out


def save_distributor(session: Session, tax_id: str, name: str, items: Sequence[str] | None, at: Any) -> None:
    """Insert or replace a distributor and its authorisation list."""
    table, links = T["distributors"], T["distributor_items"]
    if session.execute(select(table.c.tax_id).where(table.c.tax_id == tax_id)).first():
        session.execute(update(table).where(table.c.tax_id == tax_id).values(name=name, all_items=items is None))
        session.execute(links.delete().where(links.c.tax_id == tax_id))
    else:
        session.execute(insert(table).values(tax_id=tax_id, name=name, all_items=items is None, created_at=at))
    if items:
        session.execute(insert(links), [{"tax_id": tax_id, "item_code": c} for c in sorted(set(items))])


def distributors(session: Session) -> list[dict[str, Any]]:
    """Every distributor with its items."""
    codes = [r[0] for r in session.execute(select(T["distributors"].c.tax_id).order_by(T["distributors"].c.name))]
    return [d for d in (distributor(session, c) for c in codes) if d is not None]


def authorization_of(session: Session, tax_id: str, item_codes: Sequence[str]) -> dict[str, frozenset[str] | None]:
    """{tax id: authorised codes among item_codes, or None for all} for one distributor; {} if unknown."""
    tax = norm_tax_id(tax_id)
    row = session.execute(select(T["distributors"].c.all_items).where(T["distributors"].c.tax_id == tax)).first()
    if row is None:
        return {}
    if row.all_items:
        return {tax: None}
    links = T["distributor_items"]
    codes = session.execute(
        select(links.c.item_code).where(links.c.tax_id == tax, links.c.item_code.in_(sorted(set(item_codes))))
    ).scalars()
    return {tax: frozenset(codes)}


def save_manufacturer(session: Session, name: str, tax_id: str, agents: Sequence[tuple[str, str, str]], at: Any) -> None:
    """Insert or replace a manufacturer and its declared agents (name, tax_id, kind)."""
    table, agent_table = T["manufacturers"], T["manufacturer_agents"]
    if session.execute(select(table.c.tax_id).where(table.c.tax_id == tax_id)).first():
        session.execute(update(table).where(table.c.tax_id == tax_id).values(name=name))
        session.execute(agent_table.delete().where(agent_table.c.manufacturer_tax_id == tax_id))
    else:
        session.execute(insert(table).values(tax_id=tax_id, name=name, created_at=at))
    if agents:
        session.execute(insert(agent_table), [
            {"tax_id": a_tax, "manufacturer_tax_id": tax_id, "name": a_name, "kind": kind} for a_name, a_tax, kind in agents
        ])  # fmt: skip


def manufacturer_named(session: Session, name: str) -> dict[str, Any] | None:
    """A registered manufacturer by exact name."""
    row = session.execute(select(T["manufacturers"]).where(T["manufacturers"].c.name == name)).mappings().first()
    return dict(row) if row else None


def manufacturers(session: Session, names: Sequence[str] | None = None) -> dict[str, Manufacturer]:
    """Registered manufacturers by name (all, or those named), with their agents' tax ids (one query)."""
    makers, agents = T["manufacturers"], T["manufacturer_agents"]
    query = select(makers.c.name, makers.c.tax_id, agents.c.tax_id.label("agent")).select_from(
        makers.outerjoin(agents, agents.c.manufacturer_tax_id == makers.c.tax_id)
    )
    if names is not None:
        query = query.where(makers.c.name.in_(sorted(set(names))))
    found: dict[str, tuple[str, set[str]]] = {}
    for row in session.execute(query):
        entry = found.setdefault(row.name, (row.tax_id, set()))
        if row.agent:
            entry[1].add(norm_tax_id(row.agent))
    return {name: Manufacturer(name, tax, frozenset(agent_ids)) for name, (tax, agent_ids) in found.items()}


def manufacturer_rows(session: Session) -> list[dict[str, Any]]:
    """Registered manufacturers with their agents, for the API."""
    agents: dict[str, list[dict[str, Any]]] = {}
    for row in session.execute(select(T["manufacturer_agents"]).order_by(T["manufacturer_agents"].c.name)).mappings():
        agents.setdefault(row["manufacturer_tax_id"], []).append({"name": row["name"], "tax_id": row["tax_id"], "kind": row["kind"]})
    rows = session.execute(select(T["manufacturers"]).order_by(T["manufacturers"].c.name)).mappings()
    return [{**dict(r), "agents": agents.get(r["tax_id"], [])} for r in rows]


def insert_contract(session: Session, row: dict[str, Any]) -> None:
    """A new VBP contract."""
    session.execute(insert(T["vbp_contracts"]).values(**row))


def _contract(r: Any) -> Contract:
    key = generic_key(r.generic_name, r.dosage_form, r.strength) if r.generic_name else None
    return Contract(r.id, r.item_code, Decimal(r.price), r.agreed_quantity, r.start, r.end,
                    Decimal(r.baseline_price) if r.baseline_price is not None else None, key)  # fmt: skip


def contracts(session: Session) -> list[Contract]:
    """Every VBP contract, by item (or generic) and start."""
    table = T["vbp_contracts"]
    return [_contract(r) for r in session.execute(select(table).order_by(table.c.item_code, table.c.generic_name, table.c.start))]


def contracts_covering(session: Session, items: Mapping[str, ItemFacts], on: date | None = None) -> dict[str, list[Contract]]:
    """Per item code, the contracts that cover it (naming the item or its generic key), in force on a day if given."""
    table = T["vbp_contracts"]
    names = sorted({i.generic_name for i in items.values()})
    query = select(table).where(or_(table.c.item_code.in_(sorted(items)), table.c.generic_name.in_(names)))
    if on is not None:
        query = query.where(table.c.start <= on, table.c.end >= on)
    found = [_contract(r) for r in session.execute(query.order_by(table.c.start))]
    out: dict[str, list[Contract]] = {}
    for code, item in items.items():
        key = generic_key(item.generic_name, item.dosage_form, item.strength)
        mine = [c for c in found if c.covers(code, key)]
        if mine:
            out[code] = mine
    return out


def contracts_in_force(session: Session, items: Mapping[str, ItemFacts], day: date) -> dict[str, Contract]:
    """The VBP contract in force on a day per item (the latest starting)."""
    return {code: found[-1] for code, found in contracts_covering(session, items, day).items()}


def insert_price(session: Session, table_name: str, row: dict[str, Any]) -> int:
    """A listed or negotiated price record; returns its id."""
    table = T[table_name]
    return int(session.execute(insert(table).values(**row).returning(table.c.id)).scalar_one())


def price_records(session: Session, table_name: str, item_codes: Sequence[str]) -> dict[str, list[PriceRecord]]:
    """Listed (ListedPrice) or negotiated price history per item, oldest first."""
    table = T[table_name]
    out: dict[str, list[PriceRecord]] = {}
    rows = session.execute(select(table).where(table.c.item_code.in_(sorted(set(item_codes)))).order_by(table.c.id))
    for r in rows:
        if table_name == "listed_prices":
            record: PriceRecord = ListedPrice(r.item_code, Decimal(r.price), r.effective_from, r.effective_to, r.id,
                                              national_negotiated=r.national_negotiated)  # fmt: skip
        else:
            record = PriceRecord(r.item_code, Decimal(r.price), r.effective_from, r.effective_to, r.id)
        out.setdefault(r.item_code, []).append(record)
    return out


def price_rows(session: Session, table_name: str, item_code: str) -> list[dict[str, Any]]:
    """A price history for the API, newest first."""
    table = T[table_name]
    rows = session.execute(select(table).where(table.c.item_code == item_code).order_by(table.c.id.desc())).mappings()
    return [dict(r) for r in rows]
