"""The read side: site stock with suggestions, central lots, recall tracing, alerts, VBP progress, settlements.

The two long lists, a site's stock and the central lots, page as the formulary's lists do: `limit` rows
after an opaque `cursor` (URL-safe base64 of the last row's sort key, JSON), returning the next page's
cursor or None at the end; a cursor this API did not give out is a 400 (`shared.search.BadCursor`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.procurement.model.policy import ProcurementPolicy
from services.procurement.model.stocking import LotOnHand, near_expiry, suggest_order
from services.procurement.model.transfers import TransferValue, settle_month
from services.procurement.model.vbp import contract_progress, generic_key
from services.procurement.store import T, stock
from services.procurement.store import purchasing as pur
from services.procurement.store import receiving as rcv
from services.procurement.store import reference as ref
from services.procurement.store import requisitions as rq
from services.procurement.store.queries_support import purchases_for
from shared.errors import InvalidInput
from shared.search import BadCursor, decode_position, encode_position


def central_lots(session: Session, item_code: str | None, cursor: str | None, limit: int) -> dict[str, Any]:
    """One page of central lots with stock (optionally one item's) in FEFO order, id the tie-breaker."""
    after = decode_position(cursor, (str, str, str, int))
    position: stock.CentralPosition | None = None
    if after is not None:
        try:
            position = (after[0], date.fromisoformat(after[1]), after[2], after[3])
        except ValueError as exc:
            raise BadCursor("the cursor is not one this API gave out", {"cursor": "invalid"}) from exc
    rows = stock.central_lots_page(session, item_code, position, limit)
    page = rows[:limit]
    nxt = None
    if len(rows) > limit and page:
        last = page[-1]
        nxt = encode_position([last["item_code"], last["expiry"].isoformat(), last["batch_no"], last["id"]])
    return {"lots": page, "next_cursor": nxt}


def site_stock(
    session: Session,
    site_code: str,
    now: datetime,
    policy: ProcurementPolicy,
    cursor: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """One page of a site's balances per item (by item code, unique) with lots, recent consumption and a
    suggested order (whole packages); `next_cursor` continues after the page's last item, None at the end."""
    site = ref.site(session, site_code)
    if site is None:
        raise InvalidInput(f"no site {site_code}", {"site": "no such site"})
    after = decode_position(cursor, (str,))
    since = now - timedelta(days=policy.consumption_window_days)
    consumed = stock.site_consumption(session, site_code, since)
    on_order = rq.on_order(session, site_code)
    held = stock.site_lot_codes(session, site_code) | set(consumed) | set(on_order)
    following = sorted(code for code in held if after is None or code > after[0])
    codes = following[:limit]
    nxt = encode_position([codes[-1]]) if len(following) > limit and codes else None
    lots = stock.site_lots(session, site_code, item_codes=codes)
    items = ref.item_facts(session, codes)
    by_item: dict[str, list[dict[str, Any]]] = {}
    for lot in lots:
        by_item.setdefault(lot["item_code"], []).append(lot)
    out = []
    for code in codes:
        mine = by_item.get(code, [])
        item = items.get(code)
        on_hand = sum(lot["balance"] for lot in mine)
        suggestion = suggest_order(code, on_hand, on_order.get(code, 0), consumed.get(code, 0),
                                   policy.consumption_window_days, policy.lead_time_days, policy.safety_days,
                                   item.package_size if item else 1)  # fmt: skip
        out.append({
            "item_code": code, "generic_name": item.generic_name if item else None,
            "package_size": item.package_size if item else None, "on_hand": on_hand,
            "on_order": suggestion.on_order, "consumed": consumed.get(code, 0), "avg_daily": suggestion.avg_daily,
            "target": suggestion.target, "suggested": suggestion.suggested,
            "lots": [{"batch_no": lot["batch_no"], "expiry": lot["expiry"], "balance": lot["balance"]} for lot in mine],
        })  # fmt: skip
    return {"site_code": site_code, "site_name": site["name"], "items": out,
            "policy": {"window_days": policy.consumption_window_days, "lead_time_days": policy.lead_time_days,
                       "safety_days": policy.safety_days}, "next_cursor": nxt}  # fmt: skip


def _same_batch(session: Session, item_code: str, batch_no: str) -> list[str]:
    """The stored batch numbers of the item that equal `batch_no` ignoring case (or `batch_no` itself)."""
    known = {lot["batch_no"] for lot in stock.central_lots(session, item_code, with_empty=True)}
    known |= {lot["batch_no"] for lot in stock.site_lots(session, None, item_code)}
    return sorted(b for b in known if b and b.casefold() == batch_no.casefold()) or [batch_no]


def recall(session: Session, item_code: str, batch_no: str | None, trace_code: str | None) -> dict[str, Any]:
    """Where a batch went: central lots, and every site that received it (when, how much) and what is left there.

    With a 追溯码 the batches carrying it are traced. Sites include direct deliveries and 调剂 arrivals.
    A batch number is matched regardless of letter case (b2311 finds B2311): a recall must not miss stock.
    """
    batches = [(item_code, b) for b in _same_batch(session, item_code, batch_no)] if batch_no else []
    if trace_code:
        batches += [b for b in rcv.batches_with_trace_code(session, trace_code) if b[0] == item_code or not item_code]
    out = []
    moves = T["site_movements"]
    for code, batch in sorted(set(batches)):
        central = [
            {"lot_id": lot["id"], "expiry": lot["expiry"], "received_quantity": lot["received_quantity"],
             "balance": lot["balance"], "receipt_id": lot["receipt_id"], "received_at": lot["created_at"],
             "trace_codes": lot["trace_codes"]}
            for lot in stock.central_lots(session, code, with_empty=True) if lot["batch_no"] == batch
        ]  # fmt: skip
        arrivals = session.execute(
            select(moves).where(moves.c.item_code == code, moves.c.batch_no == batch,
                                moves.c.kind.in_(("receipt", "direct_receipt", "transfer_in")))
            .order_by(moves.c.at)
        ).mappings()  # fmt: skip
        sites: dict[str, Any] = {}
        for m in arrivals:
            entry = sites.setdefault(m["site_code"], {"site_code": m["site_code"], "received": [], "on_hand": 0})
            entry["received"].append({"at": m["at"], "quantity": m["quantity"], "kind": m["kind"], "ref": m["ref"]})
        for lot in stock.site_lots(session, None, code):
            if lot["batch_no"] == batch and lot["site_code"] in sites:
                sites[lot["site_code"]]["on_hand"] = lot["balance"]
        names = ref.sites(session)
        for entry in sites.values():
            entry["site_name"] = (names.get(entry["site_code"]) or {}).get("name")
        out.append({"item_code": code, "batch_no": batch, "central": central, "sites": sorted(sites.values(), key=lambda e: e["site_code"])})
    return {"item_code": item_code, "batch_no": batch_no, "trace_code": trace_code, "batches": out}


def expiry_alerts(session: Session, today: date, months: int, site_code: str | None) -> list[dict[str, Any]]:
    """近效期 lots across central and site stock (one site's only when scoped), soonest first."""
    lots: list[LotOnHand] = []
    if site_code is None:
        lots += [LotOnHand("central", r["item_code"], r["batch_no"], r["expiry"], r["balance"]) for r in stock.central_lots(session)]
    lots += [
        LotOnHand(r["site_code"], r["item_code"], r["batch_no"], r["expiry"], r["balance"])
        for r in stock.site_lots(session, site_code) if r["expiry"] is not None
    ]  # fmt: skip
    items = ref.item_facts(session, {lot.item_code for lot in lots})
    return [
        {"where": lot.where, "item_code": lot.item_code, "generic_name": items[lot.item_code].generic_name if lot.item_code in items else None,
         "batch_no": lot.batch_no, "expiry": lot.expiry, "balance": lot.balance, "expired": lot.expiry < today,
         "days_left": (lot.expiry - today).days}
        for lot in near_expiry(lots, today, months)
    ]  # fmt: skip


def vbp_progress(session: Session, today: date, policy: ProcurementPolicy) -> list[dict[str, Any]]:
    """Progress of every VBP contract (see model.vbp), with the item's name."""
    out = []
    for contract in pur.contracts(session):
        if contract.item_code:
            item = ref.item_facts(session, [contract.item_code]).get(contract.item_code)
            if item is None:
                continue
            name, key = item.generic_name, generic_key(item.generic_name, item.dosage_form, item.strength)
        else:
            key = contract.generic_key or ""
            name = key.split("|")[0]
        same = {c: i for c, i in ref.items_of_generic(session, name).items()
                if generic_key(i.generic_name, i.dosage_form, i.strength) == key}  # fmt: skip
        p = contract_progress(contract, key, purchases_for(session, same), today, policy.vbp)
        out.append({
            "contract_id": contract.id, "item_code": contract.item_code, "generic_name": name,
            "generic_key": contract.generic_key,
            "price": contract.price, "agreed_quantity": contract.agreed_quantity, "start": contract.start, "end": contract.end,
            "accepted_quantity": p.accepted_quantity, "completion": p.completion, "time_progress": p.time_progress,
            "status": p.status, "non_vbp_share": p.non_vbp_share, "unpaid_overdue": p.unpaid_overdue,
            "unpaid_overdue_amount": p.unpaid_overdue_amount, "retained_savings": p.retained_savings,
        })  # fmt: skip
    return out


def settlement(session: Session, month: str, site_code: str | None) -> dict[str, Any]:
    """The month's 调剂 statement: per pair of sites, what each owes the other; sums to zero.

    With `site_code` only that site's entries are listed, and `site_net` is what it owes net
    (negative: is owed); `total` stays the community-wide sum, 0.00.
    """
    try:
        first = date.fromisoformat(month + "-01")
    except ValueError as exc:
        raise InvalidInput("month is YYYY-MM", {"month": "not YYYY-MM"}) from exc
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    rows = rcv.transfers(session, None, first, last)
    entries = settle_month((TransferValue(r["from_site"], r["to_site"], r["day"], Decimal(r["value"])) for r in rows), month)
    shown = [e for e in entries if site_code is None or e.site == site_code]
    return {
        # total: the whole community's statement, which sums to zero whoever looks; site_net: the shown site's net payable.
        "month": month, "transfers": len(rows), "total": sum((e.payable for e in entries), Decimal("0.00")),
        "site_code": site_code,
        "site_net": None if site_code is None else sum((e.payable for e in shown), Decimal("0.00")),
        "entries": [{"site_code": e.site, "counterparty": e.counterparty, "payable": e.payable,
                     "received_value": e.received_value, "sent_value": e.sent_value} for e in shown],
    }  # fmt: skip
