"""Bulk import as a use case: check a file (never writes), or confirm it as one batch of drafts.

Rows arrive parsed (`ParsedRow`: the sheet's row number, the code, the fields the row gives, and
field errors). The rule for what a file means (issue 7 §1), shown on the import page too:
- a column absent from the file means "keep" for an existing item;
- a blank cell means "not given": keep for an existing item, the field's default for a new one;
- nothing is ever cleared by an import (clear a value with a proposal on the item's page).
A row for an existing item becomes an update of exactly the fields whose values differ, made
from the item's current version; a row that changes nothing is reported as "unchanged".
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from services.formulary import drafting, store_changes
from services.formulary.commands import ProposeItem, ProposeItemEdit, Why
from services.formulary.drafting import Draft
from services.formulary.model import ImportReport, duplicate_key, new_item
from services.formulary.service import PROPOSERS, change_row_values
from shared.auth import Principal
from shared.clock import utcnow
from shared.db import unit_of_work
from shared.errors import DomainError
from shared.runtime import ServiceContext

REQUIRED_FOR_NEW = ("kind", "generic_name", "unit", "package_size", "package_unit", "volume_cm3", "weight_g")


@dataclass(frozen=True)
class ParsedRow:
    """One data row: sheet row number, code, the fields it gives (None if it failed), field errors."""

    row: int
    code: str | None
    given: dict[str, Any] | None
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ParsedFile:
    """The rows of a file and how it was read."""

    rows: tuple[ParsedRow, ...]
    encoding: str | None
    sheet: str | None
    header_row: int
    columns: tuple[str, ...]


def _errors(errors: dict[str, str]) -> list[dict[str, str]]:
    return [{"field": k, "message": v} for k, v in errors.items()]


def import_items(
    ctx: ServiceContext, actor: Principal, parsed: ParsedFile, *, confirm: bool, valid_only: bool, why: Why
) -> ImportReport:
    """Check every row; with `confirm`, write the drafts as one batch (all or nothing unless valid_only).

    Returns the report (encoding, sheet, header row, per-row outcome with the sheet's row numbers,
    flags for the committee). Checking writes nothing, whatever the rows hold.
    """
    actor.require(*PROPOSERS)
    report = ImportReport(encoding=parsed.encoding, sheet=parsed.sheet, header_row=parsed.header_row,
                          columns=list(parsed.columns), confirmed=confirm)  # fmt: skip
    drafts: list[Draft] = []
    with unit_of_work(ctx.factory) as session:
        given = [r.given for r in parsed.rows if r.given]
        lookups = drafting.Lookups.preload(
            session, [r.code for r in parsed.rows if r.code], [g["generic_name"] for g in given if g.get("generic_name")],
            [g["approval_no"] for g in given if g.get("approval_no")],
        )
        seen: dict[str, int] = {}
        batch_items: dict[tuple[str, ...], Any] = {}
        for row in parsed.rows:
            outcome: dict[str, Any] = {"row": row.row, "code": row.code, "errors": [], "flags": [],
                                       "fields_given": sorted((row.given or {}).keys())}  # fmt: skip
            errors = dict(row.errors)
            if row.code and row.code in seen:
                errors["code"] = f"编码在文件中重复（第 {seen[row.code]} 行和第 {row.row} 行） (appears twice in this file)"
            if row.code:
                seen.setdefault(row.code, row.row)
            if errors or row.given is None or row.code is None:
                if row.code is None and "code" not in errors:
                    errors["code"] = "每行都须填写编码 (required: every row names its item code)"
                report.rows.append({**outcome, "status": "error", "errors": _errors(errors)})
                continue
            try:
                draft = _draft_row(session, row.code, row.given, batch_items, lookups)
            except DomainError as exc:
                report.rows.append({**outcome, "status": "error", "errors": _errors(exc.fields or {"row": exc.detail})})
                continue
            if draft is None:
                report.rows.append({**outcome, "status": "unchanged", "action": "none"})
                continue
            drafts.append(draft)
            report.rows.append({**outcome, "status": "ok", "action": draft.kind.value, "flags": [f.__dict__ for f in draft.flags]})
        if not confirm or (report.invalid and not valid_only) or not drafts:
            return report  # only reads so far: nothing is written
        batch_id = str(uuid.uuid4())
        why = Why(note=why.note or "批量导入", reason=why.reason, meeting_ref=why.meeting_ref)
        now = utcnow()
        rows = [change_row_values(d, actor, why, now, position, batch_id) for position, d in enumerate(drafts)]
        store_changes.insert_changes(session, rows)
        report.written = len(rows)
        report.batch_id = batch_id
    return report


def _draft_row(
    session: Any, code: str, given: dict[str, Any], batch_items: dict[tuple[str, ...], Any], lookups: drafting.Lookups
) -> Draft | None:
    current = lookups.item(session, code)
    if current is None:
        missing = [f for f in REQUIRED_FOR_NEW if f not in given]
        if missing:
            raise DomainError("required for a new item", {f: "新品种必填（空白或缺少此列） (required for a new item)" for f in missing})
        draft = drafting.draft_item(session, ProposeItem(code, {k: v for k, v in given.items() if k != "code"}), batch_items, lookups)
        key = duplicate_key(new_item({**given, "code": code}))
        if key is not None:
            batch_items.setdefault(key, {"code": code})
        return draft
    changes = {k: v for k, v in given.items() if k != "code"}
    if not any(current.get(k) != v for k, v in changes.items()):
        return None
    return drafting.draft_item_edit(session, ProposeItemEdit(code, changes, base_version=int(current["version"])), lookups)


def summary_errors(rows: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """Field errors of every bad row as `rows[<sheet row>].<field>` (for the 422 problem)."""
    return [{"field": f"rows[{r['row']}].{e['field']}", "message": e["message"]} for r in rows for e in r["errors"]]
