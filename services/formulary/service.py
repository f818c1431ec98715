"""The formulary's use cases: one function per command, each one transaction with its events."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from services.formulary import store
from services.formulary.codes import DEFAULT_NHSA_CONSUMABLE_PATTERN, DEFAULT_NHSA_DRUG_PATTERN
from services.formulary.model import (
    ITEM_FIELDS,
    Change,
    ChangeKind,
    ChangeStatus,
    ImportReport,
    Rules,
    item_problems,
    merge_item,
    site_problems,
)
from services.formulary.search import pinyin_initials, search_text
from shared.auth import Principal
from shared.clock import utcnow
from shared.db import unit_of_work
from shared.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from shared.runtime import ServiceContext

MANAGERS = ("pharmacy_manager",)
PROPOSERS = ("formulary_admin", "pharmacy_manager")


def rules() -> Rules:
    """The configured code patterns."""
    return Rules(
        nhsa_drug_pattern=os.environ.get("FORMULARY_NHSA_DRUG_PATTERN", DEFAULT_NHSA_DRUG_PATTERN),
        nhsa_consumable_pattern=os.environ.get("FORMULARY_NHSA_CONSUMABLE_PATTERN", DEFAULT_NHSA_CONSUMABLE_PATTERN),
    )


@dataclass(frozen=True)
class Proposal:
    """A change as a proposer hands it in."""

    kind: ChangeKind
    target: str
    payload: dict[str, Any]
    note: str | None = None
    base_version: int | None = None


def _change_from_row(row: Any) -> Change:
    return Change(
        id=row.id,
        kind=ChangeKind(row.kind),
        target=row.target,
        payload=row.payload,
        status=ChangeStatus(row.status),
        proposed_by=row.proposed_by,
        proposed_at=row.proposed_at,
        note=row.note,
        base_version=row.base_version,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_note=row.decision_note,
        catalogue_version=row.catalogue_version,
    )


def _check_proposal(session: Session, p: Proposal) -> dict[str, Any]:
    """Domain checks at proposal time; returns the payload to store (updates are stored merged)."""
    if p.kind is ChangeKind.ITEM_CREATE:
        if store.item_row(session, p.target) is not None:
            raise Conflict(f"item {p.target} already exists; propose an update instead", {"code": "already exists"})
        problems = item_problems(p.payload, rules())
        if problems:
            raise InvalidInput("the item breaks catalogue rules", problems)
        return p.payload
    if p.kind is ChangeKind.ITEM_UPDATE:
        current = store.item_row(session, p.target)
        if current is None:
            raise NotFound(f"no item {p.target}")
        if p.base_version is not None and p.base_version != current["version"]:
            raise PreconditionFailed(f"item {p.target} is at version {current['version']}, not {p.base_version}")
        merged = merge_item({k: current[k] for k in ITEM_FIELDS}, p.payload)
        problems = item_problems(merged, rules())
        if problems:
            raise InvalidInput("the item breaks catalogue rules", problems)
        return {k: merged[k] for k in ITEM_FIELDS}
    if p.kind is ChangeKind.ITEM_RETIRE:
        current = store.item_row(session, p.target)
        if current is None:
            raise NotFound(f"no item {p.target}")
        if current["status"] == "retired":
            raise Conflict(f"item {p.target} is already retired")
        return p.payload
    if p.kind is ChangeKind.SITE_UPSERT:
        parent_level = _parent_level(session, p.payload.get("parent_code"))
        problems = site_problems(p.payload, parent_level)
        if problems:
            raise InvalidInput("the site breaks catalogue rules", problems)
        return p.payload
    if p.kind is ChangeKind.STOCKLIST_SET:
        return {"item_codes": sorted(set(p.payload["item_codes"]))}
    raise InvalidInput(f"unknown change kind {p.kind}", {"kind": "unknown"})


def _parent_level(session: Session, parent_code: str | None) -> str | None:
    if not parent_code:
        return None
    level = session.execute(select(store.sites.c.level).where(store.sites.c.code == parent_code)).scalar_one_or_none()
    if level is not None:
        return str(level)
    # A parent proposed in the same batch (a new township and its villages) counts too.
    draft = session.execute(
        select(store.changes.c.payload).where(
            store.changes.c.kind == ChangeKind.SITE_UPSERT.value,
            store.changes.c.target == parent_code,
            store.changes.c.status == ChangeStatus.DRAFT.value,
        )
    ).first()
    if draft is None:
        raise InvalidInput(f"no site {parent_code}", {"parent_code": "no such site"})
    return str(draft.payload["level"])


def _insert_change(
    session: Session, actor: Principal, p: Proposal, payload: dict[str, Any], at: Any = None, position: int = 0
) -> str:
    change_id = str(uuid.uuid4())
    session.execute(
        insert(store.changes).values(
            id=change_id,
            kind=p.kind.value,
            target=p.target,
            payload=payload,
            status=ChangeStatus.DRAFT.value,
            note=p.note,
            base_version=p.base_version,
            proposed_by=actor.subject,
            proposed_at=at or utcnow(),
            position=position,
        )
    )
    return change_id


def propose(ctx: ServiceContext, actor: Principal, proposal: Proposal) -> Change:
    """Record a draft change after checking it; nothing is published until approval."""
    actor.require(*PROPOSERS)
    with unit_of_work(ctx.factory) as session:
        payload = _check_proposal(session, proposal)
        change_id = _insert_change(session, actor, proposal, payload)
        session.flush()
        return get_change_in(session, change_id)


def propose_many(ctx: ServiceContext, actor: Principal, proposals: Iterable[Proposal]) -> list[str]:
    """Record many drafts in one transaction (seeding, imports): all or none."""
    actor.require(*PROPOSERS)
    ids: list[str] = []
    now = utcnow()
    with unit_of_work(ctx.factory) as session:
        for position, p in enumerate(proposals):
            ids.append(_insert_change(session, actor, p, _check_proposal(session, p), now, position))
    return ids


def get_change_in(session: Session, change_id: str) -> Change:
    """One change, read inside an open session."""
    row = session.execute(select(store.changes).where(store.changes.c.id == change_id)).first()
    if row is None:
        raise NotFound(f"no change {change_id}")
    return _change_from_row(row)


def get_change(ctx: ServiceContext, change_id: str) -> Change:
    """One change."""
    with ctx.factory() as session:
        return get_change_in(session, change_id)


def list_changes(ctx: ServiceContext, status: str | None, target: str | None = None, limit: int = 500) -> list[Change]:
    """Changes, oldest first (the committee works through them in order), optionally for one target."""
    query = select(store.changes).order_by(store.changes.c.proposed_at, store.changes.c.position).limit(limit)
    if status:
        query = query.where(store.changes.c.status == status)
    if target:
        query = query.where(store.changes.c.target == target)
    with ctx.factory() as session:
        return [_change_from_row(r) for r in session.execute(query)]


def reject(ctx: ServiceContext, actor: Principal, change_id: str, reason: str) -> Change:
    """The committee turns a draft down, with a reason."""
    actor.require(*MANAGERS)
    with unit_of_work(ctx.factory) as session:
        change = get_change_in(session, change_id)
        if change.status is not ChangeStatus.DRAFT:
            raise Conflict(f"change {change_id} is {change.status.value}, not a draft")
        session.execute(
            update(store.changes)
            .where(store.changes.c.id == change_id)
            .values(status=ChangeStatus.REJECTED.value, decided_by=actor.subject, decided_at=utcnow(), decision_note=reason)
        )
        return get_change_in(session, change_id)


def approve(ctx: ServiceContext, actor: Principal, change_ids: list[str], note: str | None = None) -> int:
    """Approve drafts as one new catalogue version, publishing full snapshots; returns the version.

    All or nothing: if any change no longer applies (its item moved on, a parent site is
    missing), nothing is approved and the error names the change.
    """
    actor.require(*MANAGERS)
    if not change_ids:
        raise InvalidInput("nothing to approve", {"change_ids": "name at least one change"})
    now = utcnow()
    with unit_of_work(ctx.factory) as session:
        query = select(store.changes).where(store.changes.c.id.in_(change_ids)).order_by(
            store.changes.c.proposed_at, store.changes.c.position
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        rows = session.execute(query).all()
        found = {r.id for r in rows}
        missing = [c for c in change_ids if c not in found]
        if missing:
            raise NotFound(f"no change {missing[0]}", {"change_ids": f"unknown id {missing[0]}"})
        version = store.current_catalogue_version(session) + 1
        session.execute(
            insert(store.catalogue_versions).values(
                version=version, approved_by=actor.subject, approved_at=now, note=note, change_count=len(rows)
            )
        )
        for row in rows:
            change = _change_from_row(row)
            if change.status is not ChangeStatus.DRAFT:
                raise Conflict(f"change {change.id} is {change.status.value}, not a draft", {"change_ids": change.id})
            _apply(ctx, session, change, version, actor, now)
            session.execute(
                update(store.changes)
                .where(store.changes.c.id == change.id)
                .values(
                    status=ChangeStatus.APPROVED.value,
                    decided_by=actor.subject,
                    decided_at=now,
                    decision_note=note,
                    catalogue_version=version,
                )
            )
        return version


def _apply(ctx: ServiceContext, session: Session, change: Change, version: int, actor: Principal, now: Any) -> None:
    if change.kind in (ChangeKind.ITEM_CREATE, ChangeKind.ITEM_UPDATE, ChangeKind.ITEM_RETIRE):
        _apply_item(ctx, session, change, version, actor, now)
    elif change.kind is ChangeKind.SITE_UPSERT:
        _apply_site(ctx, session, change, version, now)
    else:
        _apply_stocklist(ctx, session, change, version)


def _apply_item(ctx: ServiceContext, session: Session, change: Change, version: int, actor: Principal, now: Any) -> None:
    current = store.item_row(session, change.target)
    if change.kind is ChangeKind.ITEM_CREATE:
        if current is not None:
            raise Conflict(f"change {change.id}: item {change.target} exists already", {"change_ids": change.id})
        fields, status, item_version = dict(change.payload), "active", 1
    else:
        if current is None:
            raise Conflict(f"change {change.id}: item {change.target} is gone", {"change_ids": change.id})
        if change.base_version is not None and current["version"] != change.base_version:
            raise Conflict(
                f"change {change.id} was made against version {change.base_version}; the item is now at "
                f"{current['version']}",
                {"change_ids": change.id},
            )
        item_version = current["version"] + 1
        if change.kind is ChangeKind.ITEM_UPDATE:
            fields, status = dict(change.payload), current["status"]
        else:
            fields, status = {k: current[k] for k in ITEM_FIELDS}, "retired"
    values = {
        **fields,
        "version": item_version,
        "catalogue_version": version,
        "status": status,
        "pinyin_initials": pinyin_initials(fields["generic_name"]),
        "search_text": search_text(fields),
        "updated_at": now,
    }
    if current is None:
        session.execute(insert(store.items).values(**values))
    else:
        session.execute(update(store.items).where(store.items.c.code == change.target).values(**values))
    snapshot = item_snapshot({**fields, "version": item_version, "catalogue_version": version, "status": status})
    session.execute(
        insert(store.item_versions).values(
            code=change.target,
            version=item_version,
            catalogue_version=version,
            status=status,
            snapshot=snapshot,
            change_id=change.id,
            approved_by=actor.subject,
            approved_at=now,
        )
    )
    if status == "retired":
        ctx.record(
            session,
            "formulary.item.retired",
            {"code": change.target, "version": item_version, "catalogue_version": version, "reason": change.payload.get("reason")},
            subject=change.target,
        )
    else:
        ctx.record(session, "formulary.item.published", snapshot, subject=change.target)


def item_snapshot(row: dict[str, Any]) -> dict[str, Any]:
    """The published form of an item (the event contract's fields)."""
    out = {k: row.get(k) for k in ITEM_FIELDS}
    out.update(version=row["version"], catalogue_version=row["catalogue_version"], status=row["status"])
    out["volume_cm3"] = float(row["volume_cm3"])
    out["weight_g"] = float(row["weight_g"])
    return out


def site_snapshot(row: dict[str, Any]) -> dict[str, Any]:
    """The published form of a site."""
    keys = ("code", "version", "catalogue_version", "name", "tax_id", "level", "parent_code", "is_hub", "lat", "lon")
    out = {k: row[k] for k in keys}
    out["receiving_hours"] = list(row["receiving_hours"])
    out["active"] = bool(row["active"])
    return out


def _apply_site(ctx: ServiceContext, session: Session, change: Change, version: int, now: Any) -> None:
    current = store.site_row(session, change.target)
    payload = dict(change.payload)
    if payload.get("parent_code") and store.site_row(session, payload["parent_code"]) is None:
        raise Conflict(f"change {change.id}: parent site {payload['parent_code']} does not exist", {"change_ids": change.id})
    site_version = 1 if current is None else current["version"] + 1
    values = {**payload, "version": site_version, "catalogue_version": version, "updated_at": now}
    values.setdefault("active", True)
    if current is None:
        session.execute(insert(store.sites).values(**values))
    else:
        session.execute(update(store.sites).where(store.sites.c.code == change.target).values(**values))
    ctx.record(session, "formulary.site.upserted", site_snapshot(values), subject=change.target)


def _apply_stocklist(ctx: ServiceContext, session: Session, change: Change, version: int) -> None:
    codes = change.payload["item_codes"]
    known = set(session.execute(select(store.items.c.code).where(store.items.c.code.in_(codes))).scalars())
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise Conflict(f"change {change.id}: unknown items {', '.join(unknown[:5])}", {"item_codes": "unknown item"})
    session.execute(delete(store.stocklist_entries).where(store.stocklist_entries.c.scope_key == change.target))
    if codes:
        session.execute(insert(store.stocklist_entries), [{"scope_key": change.target, "item_code": c} for c in codes])
    scope, value = change.target.split(":", 1)
    data = {
        "scope": scope,
        "level": value if scope == "level" else None,
        "site_code": value if scope == "site" else None,
        "catalogue_version": version,
        "item_codes": codes,
    }
    ctx.record(session, "formulary.stocklist.changed", data, subject=change.target)


def import_items(
    ctx: ServiceContext,
    actor: Principal,
    rows: list[tuple[int, str | None, dict[str, Any] | None, dict[str, str]]],
    valid_only: bool,
) -> ImportReport:
    """Turn parsed import rows into draft changes; nothing is written if any row is bad, unless valid_only."""
    actor.require(*PROPOSERS)
    report = ImportReport()
    with unit_of_work(ctx.factory) as session:
        proposals: list[tuple[int, Proposal]] = []
        seen: set[str] = set()
        for row_no, code, data, errors in rows:
            if data is not None and not errors:
                if code in seen:
                    errors = {"code": "appears twice in this file"}
                else:
                    errors = item_problems(data, rules())
            if errors or data is None:
                report.rows.append({"row": row_no, "code": code, "status": "error", "errors": _as_list(errors)})
                continue
            seen.add(str(code))
            exists = store.item_row(session, str(code)) is not None
            kind = ChangeKind.ITEM_UPDATE if exists else ChangeKind.ITEM_CREATE
            proposals.append((row_no, Proposal(kind, str(code), data, note="bulk import")))
            report.rows.append({"row": row_no, "code": code, "status": "ok", "action": kind.value, "errors": []})
        if report.invalid and not valid_only:
            return report  # only reads so far: nothing is written
        now = utcnow()
        for position, (_row_no, p) in enumerate(proposals):
            _insert_change(session, actor, p, _check_proposal(session, p), now, position)
            report.written += 1
    return report


def _as_list(errors: dict[str, str]) -> list[dict[str, str]]:
    return [{"field": k, "message": v} for k, v in errors.items()]
