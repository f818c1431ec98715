"""Applying approved changes inside the approval's transaction, and refusing stale ones.

A draft applies only to the version it was made from: if its target moved on (another change
was approved first), the approval is refused with 409 naming the change, the versions and the
fields that moved, and nothing of the batch is written. References are checked again here:
a list's site and items, a site's parent and children must still exist and fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from services.formulary import drafting, queries, store, store_bulk
from services.formulary.model import ITEM_FIELDS, Change, ChangeKind, item_problems, merge_item
from services.formulary.snapshots import item_snapshot, site_snapshot, stocklist_data
from shared.auth import Principal
from shared.errors import Conflict, InvalidInput
from shared.runtime import ServiceContext
from shared.search import item_keys

# The fields shared.search.item_keys reads: an update that names none of them keeps the item's search keys.
SEARCHED_FIELDS = frozenset(("code", "generic_name", "generic_name_en", "trade_name", "dosage_form", "strength", "approval_no"))


def _moved_fields(session: Session, code: str, base: int, current: dict[str, Any]) -> list[str]:
    before = store.item_version_snapshot(session, code, base)
    if before is None:
        return []
    return [k for k in ITEM_FIELDS if before["snapshot"].get(k) != current.get(k)]


def refuse_if_stale(session: Session, change: Change, current_version: int, what: str, moved: list[str] | None = None) -> None:
    """409 when the target is no longer at the version the draft was made from."""
    if change.base_version is None or change.base_version == current_version:
        return
    detail = (
        f"提议 {change.id} 基于 {change.target} 的第 {change.base_version} 版，现已是第 {current_version} 版"
        + (f"，其间改动的字段：{'、'.join(moved)}" if moved else "")
        + f"；请按当前版本重新提议。 (change {change.id} was made from version {change.base_version} of {what} "
        f"{change.target}, which is now at version {current_version}"
    )
    if moved:
        detail += f"; fields changed since: {', '.join(moved)}"
    fields = {"change_ids": change.id, "moved": ", ".join(moved) if moved else f"version {current_version}"}
    raise Conflict(detail + ". Propose it again from the current version.)", fields)


def apply_change(ctx: ServiceContext, session: Session, change: Change, version: int, actor: Principal, now: datetime) -> None:
    """Apply one draft as part of catalogue version `version` (events written to the outbox)."""
    if change.kind in (ChangeKind.ITEM_CREATE, ChangeKind.ITEM_UPDATE, ChangeKind.ITEM_RETIRE):
        apply_item_changes(ctx, session, [change], version, actor, now)
    elif change.kind is ChangeKind.SITE_UPSERT:
        _apply_site(ctx, session, change, version, now)
    else:
        _apply_stocklist(ctx, session, change, version)


def apply_item_changes(ctx: ServiceContext, session: Session, changes: Sequence[Change], version: int, actor: Principal, now: datetime) -> None:
    """Apply item drafts (each target at most once) as part of catalogue version `version`, in bulk.

    The targets are read and locked together; new rows, updated rows, history rows and events are
    each written by one statement per 1,000 rows (a 20,000-row import approves in one request).
    Raises Conflict 409 (stale draft, item exists/gone) or InvalidInput 422 as one-by-one would.
    """
    currents = store_bulk.items_locked(session, [c.target for c in changes])
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    events: list[tuple[str, dict[str, Any], str | None]] = []
    for change in changes:
        current = currents.get(change.target)
        fields, status, item_version = _next_item_state(session, change, current)
        if current is not None and not SEARCHED_FIELDS & change.payload.keys():
            initials, text = current["pinyin_initials"], current["search_text"]  # nothing searched by changed
        else:
            keys = item_keys(fields)
            initials, text = "|".join(keys.prefixes), keys.text
        values = {
            **{k: fields[k] for k in ITEM_FIELDS},
            "code": change.target, "version": item_version, "catalogue_version": version, "status": status,
            "pinyin_initials": initials, "search_text": text, "updated_at": now,
        }  # fmt: skip
        (updates if current is not None else inserts).append(values)
        snapshot = item_snapshot({**fields, "version": item_version, "catalogue_version": version, "status": status})
        history.append({
            "code": change.target, "version": item_version, "catalogue_version": version, "status": status,
            "snapshot": snapshot, "change_id": change.id, "approved_by": actor.subject, "approved_at": now,
            "proposed_by": change.proposed_by, "reason": change.reason or change.note, "meeting_ref": change.meeting_ref,
        })  # fmt: skip
        if status == "retired":
            data = {"code": change.target, "version": item_version, "catalogue_version": version, "reason": change.payload.get("reason")}
            events.append(("formulary.item.retired", data, change.target))
        else:
            events.append(("formulary.item.published", snapshot, change.target))
    store_bulk.insert_items(session, inserts)
    store_bulk.update_items(session, updates)
    store_bulk.record_item_versions(session, history)
    ctx.record_many(session, events)


def _next_item_state(session: Session, change: Change, current: dict[str, Any] | None) -> tuple[dict[str, Any], str, int]:
    """(fields, status, item version) of an item once `change` applies to `current`; 409/422 when it cannot."""
    if change.kind is ChangeKind.ITEM_CREATE:
        if current is not None:
            raise Conflict(f"change {change.id}: item {change.target} exists already", {"change_ids": change.id})
        return {**dict(change.payload), "code": change.target}, "active", 1
    if current is None:
        raise Conflict(f"change {change.id}: item {change.target} is gone", {"change_ids": change.id})
    if change.base_version is not None and change.base_version != int(current["version"]):
        moved = _moved_fields(session, change.target, change.base_version, current)
        refuse_if_stale(session, change, int(current["version"]), "item", moved)
    base = {k: current[k] for k in ITEM_FIELDS}
    if change.kind is ChangeKind.ITEM_RETIRE:
        return base, "retired", int(current["version"]) + 1
    fields = merge_item(base, change.payload)
    problems = item_problems(fields, drafting.rules())
    if problems:
        raise InvalidInput(f"change {change.id} no longer fits the item", problems)
    return fields, str(current["status"]), int(current["version"]) + 1


def _apply_site(ctx: ServiceContext, session: Session, change: Change, version: int, now: datetime) -> None:
    current = store.site_row_locked(session, change.target)
    refuse_if_stale(session, change, int(current["version"]) if current else 0, "site")
    payload = dict(change.payload)
    try:
        drafting.check_site(session, change.target, payload, drafts_count=False)
    except InvalidInput as exc:
        raise Conflict(f"change {change.id}: {exc.detail}: {'; '.join(exc.fields.values())}", {"change_ids": change.id, **exc.fields}) from exc
    site_version = 1 if current is None else int(current["version"]) + 1
    values = {k: v for k, v in payload.items() if k != "code"}
    values.update(version=site_version, catalogue_version=version, updated_at=now)
    values.setdefault("active", True)
    store.save_site(session, change.target, values, exists=current is not None)
    ctx.record(session, "formulary.site.upserted", site_snapshot({**values, "code": change.target}), subject=change.target)


def _apply_stocklist(ctx: ServiceContext, session: Session, change: Change, version: int) -> None:
    header = store.stocklist_header(session, change.target)
    refuse_if_stale(session, change, int(header["version"]) if header else 0, "stocking list")
    codes = list(change.payload["item_codes"])
    selectors = list(change.payload.get("categories") or [])
    try:
        drafting.check_stocklist(session, change.target, codes, selectors, drafts_count=False)
    except InvalidInput as exc:
        raise Conflict(f"change {change.id}: {exc.detail}: {'; '.join(exc.fields.values())}", {"change_ids": change.id, **exc.fields}) from exc
    store.replace_stocklist(session, change.target, codes, selectors, version)
    publish_stocklist(ctx, session, change.target, version)


def publish_stocklist(ctx: ServiceContext, session: Session, scope_key: str, version: int) -> None:
    """Write the list's full membership (named and by category) as a formulary.stocklist.changed event."""
    data = stocklist_data(scope_key, version, queries.stocklist_members(session, scope_key))
    ctx.record(session, "formulary.stocklist.changed", data, subject=scope_key)


def republish_category_lists(ctx: ServiceContext, session: Session, version: int, already: set[str]) -> None:
    """Lists that name categories change when items do: publish them again (except those just set)."""
    for header in store.lists_with_categories(session):
        if header["scope_key"] in already:
            continue
        store.touch_stocklist(session, header["scope_key"], version)
        publish_stocklist(ctx, session, header["scope_key"], version)
