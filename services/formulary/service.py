"""The formulary's use cases: one function per command, each one transaction with its events.

Proposals become drafts (drafting.py); approval by a second member of the committee applies them
as one catalogue version (approval.py); imports are in imports.py. Errors raised are those of
shared/errors.py: InvalidInput 422, NotFound 404, Conflict 409 (stale draft, wrong status),
PreconditionFailed 412 (If-Match), Forbidden 403 (role; approving one's own proposal).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.formulary import approval, drafting, queries, store_changes
from services.formulary.commands import (
    ApproveChanges,
    ProposeItem,
    ProposeItemEdit,
    ProposeRetire,
    ProposeSite,
    ProposeStocklist,
    RejectChange,
    Why,
)
from services.formulary.drafting import Draft
from services.formulary.model import Change, ChangeKind, ChangeStatus, Flag, diff
from shared.auth import Principal
from shared.clock import utcnow
from shared.db import read_only, unit_of_work
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.runtime import ServiceContext

MANAGERS = ("pharmacy_manager",)
PROPOSERS = ("formulary_admin", "pharmacy_manager")
ProposeCommand = ProposeItem | ProposeItemEdit | ProposeRetire | ProposeSite | ProposeStocklist


@dataclass(frozen=True)
class ChangeView:
    """A change with what the reviewer needs: the diff against the current state and whether it is stale."""

    change: Change
    diff: list[dict[str, Any]]
    stale: bool
    current_version: int


def change_from_row(row: Any) -> Change:
    """A Change from a `changes` row."""
    flags = tuple(Flag(**f) for f in (row.flags or []))
    return Change(
        id=row.id, kind=ChangeKind(row.kind), target=row.target, payload=row.payload, status=ChangeStatus(row.status),
        proposed_by=row.proposed_by, proposed_at=row.proposed_at, note=row.note, base_version=row.base_version,
        decided_by=row.decided_by, decided_at=row.decided_at, decision_note=row.decision_note,
        catalogue_version=row.catalogue_version, reason=row.reason, meeting_ref=row.meeting_ref, flags=flags,
        batch_id=row.batch_id,
    )  # fmt: skip


def change_row_values(
    draft: Draft, actor: Principal, why: Why, at: datetime, position: int = 0, batch_id: str | None = None
) -> dict[str, Any]:
    """The `changes` row of a draft."""
    return {
        "id": str(uuid.uuid4()), "kind": draft.kind.value, "target": draft.target, "payload": draft.payload,
        "status": ChangeStatus.DRAFT.value, "note": why.note, "reason": why.reason, "meeting_ref": why.meeting_ref,
        "base_version": draft.base_version, "proposed_by": actor.subject, "proposed_at": at, "position": position,
        "flags": [f.__dict__ for f in draft.flags] or None, "batch_id": batch_id,
    }  # fmt: skip


def draft_for(session: Session, cmd: ProposeCommand) -> Draft:
    """The checked draft of any proposal command."""
    if isinstance(cmd, ProposeItem):
        return drafting.draft_item(session, cmd)
    if isinstance(cmd, ProposeItemEdit):
        return drafting.draft_item_edit(session, cmd)
    if isinstance(cmd, ProposeRetire):
        return drafting.draft_retire(session, cmd)
    if isinstance(cmd, ProposeSite):
        return drafting.draft_site(session, cmd)
    return drafting.draft_stocklist(session, cmd)


def propose(ctx: ServiceContext, actor: Principal, cmd: ProposeCommand) -> ChangeView:
    """Record a checked draft; nothing is published until a second committee member approves it."""
    actor.require(*PROPOSERS)
    with unit_of_work(ctx.factory) as session:
        values = change_row_values(draft_for(session, cmd), actor, cmd.why, utcnow())
        store_changes.insert_changes(session, [values])
        return view_in(session, values["id"])


def propose_many(ctx: ServiceContext, actor: Principal, cmds: Iterable[ProposeCommand], batch_id: str | None = None) -> list[str]:
    """Record many drafts in one transaction, in order (seeding): all or none."""
    actor.require(*PROPOSERS)
    now = utcnow()
    rows: list[dict[str, Any]] = []
    with unit_of_work(ctx.factory) as session:
        for position, cmd in enumerate(cmds):
            values = change_row_values(draft_for(session, cmd), actor, cmd.why, now, position, batch_id)
            store_changes.insert_changes(session, [values])  # later drafts may refer to earlier ones (parent sites)
            rows.append(values)
    return [r["id"] for r in rows]


def view_in(session: Session, change_id: str) -> ChangeView:
    """One change with its diff, read inside an open session."""
    row = store_changes.change_row(session, change_id)
    if row is None:
        raise NotFound(f"no change {change_id}")
    return views(session, [row])[0]


def views(session: Session, rows: Sequence[Any]) -> list[ChangeView]:
    """Changes with diffs against the current state (not the base) and their staleness."""
    current = queries.current_states(session, rows)
    out = []
    for row in rows:
        change = change_from_row(row)
        state = current.get(change.target)
        version = int(state["version"]) if state else 0
        if change.kind is ChangeKind.ITEM_RETIRE:
            proposed = {"status": "retired"}
        elif change.kind is ChangeKind.ITEM_CREATE:
            proposed = {k: v for k, v in change.payload.items() if v is not None}
        else:
            proposed = dict(change.payload)
        stale = change.status is ChangeStatus.DRAFT and change.base_version is not None and change.base_version != version
        out.append(ChangeView(change, diff(state, proposed), stale, version))
    return out


def get_change(ctx: ServiceContext, change_id: str) -> ChangeView:
    """One change, with its diff against the current state."""
    with read_only(ctx.factory) as session:
        return view_in(session, change_id)


def list_changes(
    ctx: ServiceContext, status: str | None, target: str | None = None, batch_id: str | None = None,
    cursor: str | None = None, limit: int = 500,
) -> tuple[list[ChangeView], str | None]:
    """Changes oldest first, optionally for one target or import batch, keyset-paged."""
    with read_only(ctx.factory) as session:
        rows, nxt = queries.list_change_rows(session, status=status, target=target, batch_id=batch_id, cursor=cursor, limit=limit)
        return views(session, rows), nxt


def reject(ctx: ServiceContext, actor: Principal, cmd: RejectChange) -> ChangeView:
    """The committee turns a draft down, with a reason."""
    actor.require(*MANAGERS)
    with unit_of_work(ctx.factory) as session:
        row = store_changes.change_row(session, cmd.change_id)
        if row is None:
            raise NotFound(f"no change {cmd.change_id}")
        if row.status != ChangeStatus.DRAFT.value:
            raise Conflict(f"change {cmd.change_id} is {row.status}, not a draft")
        if not store_changes.mark_decided(
            session, [cmd.change_id], ChangeStatus.REJECTED.value, decided_by=actor.subject, decided_at=utcnow(),
            decision_note=cmd.reason,
        ):  # fmt: skip
            raise Conflict(f"change {cmd.change_id} was decided meanwhile, not a draft")
        return view_in(session, cmd.change_id)


@dataclass(frozen=True)
class Approved:
    """The outcome of an approval: the new catalogue version and how many drafts it applied."""

    catalogue_version: int
    approved: int


APPROVAL_ATTEMPTS = 3


def approve(ctx: ServiceContext, actor: Principal, cmd: ApproveChanges) -> Approved:
    """Approve drafts as one new catalogue version (see `_approve_once`), retried when another approval
    committed the same catalogue version number at the same moment (PostgreSQL); 409 if it keeps happening.
    """
    for _attempt in range(APPROVAL_ATTEMPTS):
        try:
            return _approve_once(ctx, actor, cmd)
        except IntegrityError:
            continue  # a concurrent approval took this version number or item version: read again
    raise Conflict(
        "另一项审批同时提交，请重试 (another approval was committed at the same moment; try again)",
        {"change_ids": "concurrent approval"},
    )


def _approve_once(ctx: ServiceContext, actor: Principal, cmd: ApproveChanges) -> Approved:
    """Approve drafts (named, and/or an import batch) as one new catalogue version, publishing snapshots.

    All or nothing. Refused: a change id named twice (422), an unknown id (404), a change that is
    not a draft or was made from a version its target has left (409), one proposed by the approver
    (403: the committee needs two people).
    """
    actor.require(*MANAGERS)
    if not cmd.change_ids and not cmd.batch_id:
        raise InvalidInput("nothing to approve", {"change_ids": "name at least one change or a batch"})
    repeated = sorted(c for c, n in Counter(cmd.change_ids).items() if n > 1)  # linear: up to 20,000 ids
    if repeated:
        raise InvalidInput(
            f"提议 {repeated[0]} 重复出现 (change {repeated[0]} is named more than once)",
            {"change_ids": f"重复 (named twice): {', '.join(repeated[:5])}"},
        )
    now = utcnow()
    with unit_of_work(ctx.factory) as session:
        rows = store_changes.lock_changes(session, cmd.change_ids, cmd.batch_id)
        found = {r.id for r in rows}
        missing = [c for c in cmd.change_ids if c not in found]
        if missing:
            raise NotFound(f"no change {missing[0]}", {"change_ids": f"unknown id {missing[0]}"})
        if not rows:
            raise NotFound(f"no drafts in batch {cmd.batch_id}", {"batch_id": "no drafts"})
        own = [r.id for r in rows if r.proposed_by == actor.subject]
        if own:
            raise Forbidden(
                f"本人提议的 {len(own)} 项须由另一位药事会委员批准 ({actor.subject} proposed {len(own)} of these changes, "
                f"first {own[0]}; another committee member must approve them)",
                {"change_ids": f"proposed by you: {own[0]}"},
            )
        version = store_changes.current_catalogue_version(session) + 1
        store_changes.insert_catalogue_version(
            session, version=version, approved_by=actor.subject, approved_at=now, note=cmd.note,
            change_count=len(rows), meeting_ref=cmd.meeting_ref,
        )  # fmt: skip
        changes = []
        for row in rows:
            change = change_from_row(row)
            if change.status is not ChangeStatus.DRAFT:
                raise Conflict(f"change {change.id} is {change.status.value}, not a draft", {"change_ids": change.id})
            if change.meeting_ref is None and cmd.meeting_ref:
                change = Change(**{**change.__dict__, "meeting_ref": cmd.meeting_ref})
            changes.append(change)
        item_changes = [c for c in changes if c.kind.value.startswith("item_")]
        others = [c for c in changes if not c.kind.value.startswith("item_")]
        if len({c.target for c in item_changes}) == len(item_changes):
            # Items first, in bulk (lists of the same batch may name the new items); then sites and lists in order.
            approval.apply_item_changes(ctx, session, item_changes, version, actor, now)
        else:
            others = changes  # one item twice: one by one, in proposal order (the second one is stale)
        for change in others:
            approval.apply_change(ctx, session, change, version, actor, now)
        lists_set = {c.target for c in changes if c.kind is ChangeKind.STOCKLIST_SET}
        items_changed = bool(item_changes)
        if items_changed:
            approval.republish_category_lists(ctx, session, version, lists_set)
        store_changes.mark_decided(
            session, [r.id for r in rows], ChangeStatus.APPROVED.value, decided_by=actor.subject, decided_at=now,
            decision_note=cmd.note, catalogue_version=version,
        )  # fmt: skip
        return Approved(version, len(rows))
