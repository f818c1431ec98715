"""Turning a proposal into a draft: checks at proposal time, the base version, the committee's flags.

Every draft records the version of its target it was made from (`base_version`; 0 when the target
did not exist), so approval can refuse it once the target has moved on (see approval.py).
Updates keep only the fields that really change: a field the proposer did not name is never
written back, so nothing is reset to a default behind the proposer's back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from services.formulary import store, store_changes
from services.formulary.codes import DEFAULT_NHSA_CONSUMABLE_PATTERN, DEFAULT_NHSA_DRUG_PATTERN
from services.formulary.commands import (
    ProposeItem,
    ProposeItemEdit,
    ProposeRetire,
    ProposeSite,
    ProposeStocklist,
)
from services.formulary.model import (
    ChangeKind,
    Flag,
    Rules,
    active_problems,
    children_problems,
    duplicate_flag,
    duplicate_key,
    item_delta,
    item_flags,
    item_problems,
    merge_item,
    new_item,
    normal_selector,
    selector_problem,
    site_problems,
    stocklist_key,
)
from shared.errors import Conflict, InvalidInput, NotFound, PreconditionFailed

MAX_LIST_CODES = 20000


def rules() -> Rules:
    """The configured code patterns (FORMULARY_NHSA_DRUG_PATTERN / _CONSUMABLE_PATTERN)."""
    return Rules(
        nhsa_drug_pattern=os.environ.get("FORMULARY_NHSA_DRUG_PATTERN", DEFAULT_NHSA_DRUG_PATTERN),
        nhsa_consumable_pattern=os.environ.get(
            "FORMULARY_NHSA_CONSUMABLE_PATTERN", DEFAULT_NHSA_CONSUMABLE_PATTERN
        ),
    )


class Lookups:
    """Where drafting reads items: the store, one query per question (the default), or bulk-loaded
    dicts for an import of thousands of rows (`Lookups.preload`)."""

    def __init__(self) -> None:
        self.by_code: dict[str, dict[str, Any] | None] | None = None
        self.by_name: dict[str, list[dict[str, Any]]] = {}
        self.by_approval: dict[str, list[dict[str, Any]]] = {}

    @classmethod
    def preload(cls, session: Session, codes: list[str], names: list[str], approvals: list[str]) -> Lookups:
        """Load the items an import's rows name, and the duplicate candidates of its names, in bulk."""
        found = cls()
        items = store.items_by_codes(session, codes)
        found.by_code = {c: items.get(c) for c in codes}
        for other in store.items_named(session, names, approvals):
            found.by_name.setdefault(other["generic_name"], []).append(other)
            if other.get("approval_no"):
                found.by_approval.setdefault(other["approval_no"], []).append(other)
        return found

    def item(self, session: Session, code: str) -> dict[str, Any] | None:
        """The item with this code, or None."""
        if self.by_code is not None and code in self.by_code:
            return self.by_code[code]
        return store.item_row(session, code)

    def alike(self, session: Session, name: str | None, approval_no: str | None) -> list[dict[str, Any]]:
        """Active items with the same generic name or approval number."""
        if self.by_code is None:
            return store.items_like(session, name, approval_no)
        out = {
            o["code"]: o
            for o in self.by_name.get(name or "", []) + self.by_approval.get(approval_no or "", [])
        }
        return list(out.values())


DEFAULT_LOOKUPS = Lookups()


@dataclass(frozen=True)
class Draft:
    """A checked proposal, ready to be written as a change row."""

    kind: ChangeKind
    target: str
    payload: dict[str, Any]
    base_version: int
    flags: tuple[Flag, ...] = ()


def duplicate_flags(
    session: Session,
    code: str,
    item: Mapping[str, Any],
    others: Mapping[tuple[str, ...], Any] | None = None,
    lookups: Lookups = DEFAULT_LOOKUPS,
) -> list[Flag]:
    """Likely duplicates: same generic name, form, strength and manufacturer, or the same approval number."""
    flags: list[Flag] = []
    key = duplicate_key(item)
    for other in lookups.alike(session, item.get("generic_name"), item.get("approval_no")):
        if other["code"] == code:
            continue
        if item.get("approval_no") and other.get("approval_no") == item.get("approval_no"):
            flags.append(duplicate_flag(code, other, f"批准文号相同 {item['approval_no']}"))
        elif key is not None and duplicate_key(other) == key:
            flags.append(duplicate_flag(code, other, "通用名、剂型、规格、生产企业相同"))
    if others is not None and key is not None and key in others and others[key].get("code") != code:
        flags.append(duplicate_flag(code, others[key], "与本文件中另一行相同"))
    return flags


def draft_item(
    session: Session,
    cmd: ProposeItem,
    others: Mapping[tuple[str, ...], Any] | None = None,
    lookups: Lookups = DEFAULT_LOOKUPS,
) -> Draft:
    """A new item: refused if the code exists or the item breaks catalogue rules."""
    if lookups.item(session, cmd.code) is not None:
        raise Conflict(
            f"item {cmd.code} already exists; propose an update instead", {"code": "already exists"}
        )
    item = new_item({**cmd.fields, "code": cmd.code})
    problems = item_problems(item, rules())
    if problems:
        raise InvalidInput("the item breaks catalogue rules", problems)
    return Draft(
        ChangeKind.ITEM_CREATE,
        cmd.code,
        item,
        0,
        tuple(duplicate_flags(session, cmd.code, item, others, lookups)),
    )


def draft_item_edit(session: Session, cmd: ProposeItemEdit, lookups: Lookups = DEFAULT_LOOKUPS) -> Draft:
    """Changed fields of an item (only those that differ), made from its current (or If-Match) version."""
    current = lookups.item(session, cmd.code)
    if current is None:
        raise NotFound(f"no item {cmd.code}")
    if cmd.base_version is not None and cmd.base_version != current["version"]:
        raise PreconditionFailed(
            f"item {cmd.code} is at version {current['version']}, not {cmd.base_version}",
            {"If-Match": "stale ETag"},
        )
    if current["status"] == "retired":
        raise Conflict(f"item {cmd.code} is retired", {"code": "retired"})
    delta = item_delta(current, cmd.changes)
    if not delta:
        raise InvalidInput(
            "every value given is the item's current value: nothing to change",
            {"body": "所填的值与当前相同，没有要修改的内容 (nothing to change)"},
        )
    merged = merge_item(current, delta)
    problems = item_problems(merged, rules())
    if problems:
        raise InvalidInput("the item breaks catalogue rules", problems)
    flags = item_flags(current, delta)
    if {"generic_name", "dosage_form", "strength", "manufacturer", "approval_no"} & delta.keys():
        flags += duplicate_flags(session, cmd.code, merged, lookups=lookups)
    return Draft(ChangeKind.ITEM_UPDATE, cmd.code, delta, int(current["version"]), tuple(flags))


def draft_retire(session: Session, cmd: ProposeRetire) -> Draft:
    """Retiring an item that is in the catalogue and not retired yet."""
    current = store.item_row(session, cmd.code)
    if current is None:
        raise NotFound(f"no item {cmd.code}")
    if current["status"] == "retired":
        raise Conflict(f"item {cmd.code} is already retired")
    return Draft(ChangeKind.ITEM_RETIRE, cmd.code, {"reason": cmd.reason}, int(current["version"]))


def parent_level(session: Session, parent_code: str | None, *, drafts_count: bool) -> str | None:
    """The level of a site's parent; a parent proposed in the same batch counts at proposal time."""
    if not parent_code:
        return None
    parent = store.site_row(session, parent_code)
    if parent is not None:
        return str(parent["level"])
    level = store_changes.draft_site_level(session, parent_code) if drafts_count else None
    if level is None:
        raise InvalidInput(
            f"no site {parent_code}", {"parent_code": f"没有机构 {parent_code} (no site {parent_code})"}
        )
    return level


def check_site(session: Session, code: str, site: Mapping[str, Any], *, drafts_count: bool) -> None:
    """Level, parent and children consistent: a level change that would orphan children is refused, naming them."""
    problems = site_problems(site, parent_level(session, site.get("parent_code"), drafts_count=drafts_count))
    problems.update(children_problems(str(site["level"]), store.site_children(session, code)))
    parent = store.site_row(session, str(site["parent_code"])) if site.get("parent_code") else None
    parent_active = None if parent is None else bool(parent["active"])
    problems.update(active_problems(site, parent_active, store.active_child_codes(session, code)))
    if problems:
        raise InvalidInput("the site breaks the county's structure", problems)


def draft_site(session: Session, cmd: ProposeSite) -> Draft:
    """A new site or new details, made from the site's current version."""
    current = store.site_row(session, cmd.code)
    base = int(current["version"]) if current else 0
    if cmd.base_version is not None and cmd.base_version != base:
        raise PreconditionFailed(
            f"site {cmd.code} is at version {base}, not {cmd.base_version}", {"If-Match": "stale ETag"}
        )
    # Fields the proposal leaves out keep the site's values (a new site: no parent, not a hub, active).
    kept = (
        {k: current[k] for k in ("parent_code", "is_hub", "active", "address", "phone")}
        if current
        else {"parent_code": None, "is_hub": False, "active": True, "address": None, "phone": None}
    )
    site = {**kept, **cmd.site, "code": cmd.code}
    check_site(session, cmd.code, site, drafts_count=True)
    return Draft(ChangeKind.SITE_UPSERT, cmd.code, dict(site), base)


def check_stocklist(
    session: Session, key: str, codes: list[str], selectors: list[str], *, drafts_count: bool
) -> None:
    """Every reference of a list exists: its site, its items; its categories are well-formed."""
    problems: dict[str, str] = {}
    scope, value = key.split(":", 1)
    if (
        scope == "site"
        and store.site_row(session, value) is None
        and not (drafts_count and store_changes.draft_site_level(session, value))
    ):
        raise InvalidInput(f"no site {value}", {"value": f"没有机构 {value} (no site {value})"})
    if len(codes) > MAX_LIST_CODES:
        problems["item_codes"] = (
            f"at most {MAX_LIST_CODES} codes; name categories (essential, atc:J01, …) for larger lists"
        )
    unknown = sorted(set(codes) - store.existing_item_codes(session, codes))
    if unknown and drafts_count:
        unknown = sorted(set(unknown) - store_changes.drafted_item_codes(session, unknown))
    if unknown:
        problems["item_codes"] = (
            f"{len(unknown)} 个编码不在目录中：{'、'.join(unknown[:10])} (unknown item codes)"
        )
    for i, selector in enumerate(selectors):
        problem = selector_problem(selector)
        if problem:
            problems[f"categories[{i}]"] = problem
    if problems:
        raise InvalidInput("the stocking list names things that do not exist", problems)


def draft_stocklist(session: Session, cmd: ProposeStocklist) -> Draft:
    """The whole list of a level or a site, made from the list's current version."""
    try:
        key = stocklist_key(cmd.scope, cmd.value)
    except ValueError as exc:
        raise NotFound(str(exc)) from exc
    codes = sorted(set(cmd.item_codes))
    header = store.stocklist_header(session, key)
    kept = list((header or {}).get("selectors") or [])
    selectors = kept if cmd.categories is None else list(dict.fromkeys(normal_selector(c) for c in cmd.categories))
    check_stocklist(session, key, codes, selectors, drafts_count=True)
    base = int(header["version"]) if header else 0
    if cmd.base_version is not None and cmd.base_version != base:
        raise PreconditionFailed(
            f"list {key} is at version {base}, not {cmd.base_version}", {"If-Match": "stale ETag"}
        )
    return Draft(ChangeKind.STOCKLIST_SET, key, {"item_codes": codes, "categories": selectors}, base)
