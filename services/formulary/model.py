"""The formulary's domain: catalogue items, sites, stocking lists and the changes that move them.

Pure Python: no Flask, no SQLAlchemy. A change is proposed as a draft made from a known version
of its target, checked here, and only an approval by a second member of the pharmacy &
therapeutics committee (药事会) makes it part of a catalogue version. Typed commands are in
`services.formulary.commands`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from services.formulary.codes import ATC_PATTERN, uscc_valid

ITEM_FIELDS = (
    "code", "kind", "generic_name", "generic_name_en", "trade_name", "dosage_form", "strength", "unit",
    "package_size", "package_unit", "manufacturer", "approval_no", "nhsa_code", "atc_code", "essential",
    "reimbursement", "vbp", "vbp_batch", "storage", "controlled", "antibiotic_tier", "high_alert",
    "volume_cm3", "weight_g", "category",
)  # fmt: skip
SITE_FIELDS = (
    "code",
    "name",
    "tax_id",
    "level",
    "parent_code",
    "is_hub",
    "lat",
    "lon",
    "receiving_hours",
    "active",
    "address",
    "phone",
)
LEVELS = ("county_hospital", "township", "village")
# The level a site's parent has (county medical community: 县医院 → 乡镇卫生院 → 村卫生室).
PARENT_LEVEL: dict[str, str | None] = {
    "county_hospital": None,
    "township": "county_hospital",
    "village": "township",
}
APPROVAL_NO = re.compile(r"^(国药准字|国械注准|国械注进|鲁械注准|鲁械备)[A-Z0-9]+$")
# What a new item takes for a field the proposer did not give (the API's defaults).
ITEM_DEFAULTS: dict[str, Any] = {
    "generic_name_en": None, "trade_name": None, "dosage_form": None, "strength": None, "manufacturer": None,
    "approval_no": None, "nhsa_code": None, "atc_code": None, "essential": False, "reimbursement": "none",
    "vbp": False, "vbp_batch": None, "storage": "ambient", "controlled": "none", "antibiotic_tier": "none",
    "high_alert": False, "category": None,
}  # fmt: skip
DRUG_ONLY_DEFAULTS = {"controlled": "none", "antibiotic_tier": "none", "atc_code": None}


class ChangeKind(StrEnum):
    """What a change does."""

    ITEM_CREATE = "item_create"
    ITEM_UPDATE = "item_update"
    ITEM_RETIRE = "item_retire"
    SITE_UPSERT = "site_upsert"
    STOCKLIST_SET = "stocklist_set"


class ChangeStatus(StrEnum):
    """Where a change stands."""

    DRAFT = "draft"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Rules:
    """Configurable checks (provinces differ in code schemes)."""

    nhsa_drug_pattern: str
    nhsa_consumable_pattern: str


@dataclass(frozen=True)
class Flag:
    """Something the committee should look at before approving (not an error)."""

    flag: str
    message: str
    field: str | None = None
    related: str | None = None


@dataclass(frozen=True)
class Change:
    """A proposed change to the catalogue, waiting for (or past) the committee's decision.

    `base_version` is the version of the target the draft was made from (0: it did not exist).
    """

    id: str
    kind: ChangeKind
    target: str
    payload: dict[str, Any]
    status: ChangeStatus
    proposed_by: str
    proposed_at: datetime
    note: str | None = None
    base_version: int | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_note: str | None = None
    catalogue_version: int | None = None
    reason: str | None = None
    meeting_ref: str | None = None
    flags: tuple[Flag, ...] = ()
    batch_id: str | None = None


@dataclass
class ImportReport:
    """Per-row outcome of a bulk import, with what was read (encoding, sheet, header row)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    written: int = 0
    encoding: str | None = None
    sheet: str | None = None
    header_row: int | None = None
    columns: list[str] = field(default_factory=list)
    batch_id: str | None = None
    confirmed: bool = False

    @property
    def invalid(self) -> int:
        """How many rows failed validation."""
        return sum(1 for r in self.rows if r["status"] == "error")

    @property
    def flagged(self) -> int:
        """How many rows carry flags for the committee."""
        return sum(1 for r in self.rows if r.get("flags"))


def item_problems(item: Mapping[str, Any], rules: Rules) -> dict[str, str]:
    """Domain rules over a whole item (types already checked); field -> what is wrong."""
    problems: dict[str, str] = {}
    kind = item.get("kind")
    nhsa = item.get("nhsa_code")
    if kind == "drug":
        if nhsa and not re.match(rules.nhsa_drug_pattern, nhsa):
            problems["nhsa_code"] = f"does not match the drug code pattern {rules.nhsa_drug_pattern}"
        if not item.get("dosage_form"):
            problems["dosage_form"] = "a drug needs a dosage form"
        atc = item.get("atc_code")
        if atc and not ATC_PATTERN.match(atc):
            problems["atc_code"] = "not a 7-character ATC code such as J01CA04"
    else:
        if nhsa and not re.match(rules.nhsa_consumable_pattern, nhsa):
            problems["nhsa_code"] = (
                f"does not match the consumable code pattern {rules.nhsa_consumable_pattern}"
            )
        if item.get("atc_code"):
            problems["atc_code"] = "only drugs have ATC codes"
        if (item.get("antibiotic_tier") or "none") != "none":
            problems["antibiotic_tier"] = "only drugs have an antibiotic tier"
        if (item.get("controlled") or "none") != "none":
            problems["controlled"] = "only drugs can be controlled"
    if item.get("vbp") and not item.get("vbp_batch"):
        problems["vbp_batch"] = "a volume-based procurement item names its batch (集采批次)"
    approval = item.get("approval_no")
    if approval and not APPROVAL_NO.match(approval):
        problems["approval_no"] = "not an approval number such as 国药准字H20003263"
    return problems


def new_item(given: Mapping[str, Any]) -> dict[str, Any]:
    """A new item from the fields given: the rest take their defaults (a consumable needs no drug-only field)."""
    item = {**ITEM_DEFAULTS, **{k: v for k, v in given.items() if v is not None or k not in ITEM_DEFAULTS}}
    return {k: item.get(k) for k in ITEM_FIELDS}


def item_delta(current: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of `given` whose values differ from `current` (what an update really changes)."""
    return {k: v for k, v in given.items() if k != "code" and k in ITEM_FIELDS and current.get(k) != v}


def merge_item(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The item after an update: fields not named keep their values; the code never changes."""
    merged = dict(current)
    merged.update({k: v for k, v in changes.items() if k != "code"})
    return merged


def item_flags(current: Mapping[str, Any] | None, changes: Mapping[str, Any]) -> list[Flag]:
    """Flags on an item change: a pack-size change without new volume/weight (dispatch loads vans by them)."""
    flags: list[Flag] = []
    if (
        current is not None
        and "package_size" in changes
        and changes["package_size"] != current.get("package_size")
    ):
        missing = [f for f in ("volume_cm3", "weight_g") if f not in changes]
        if missing:
            flags.append(Flag(
                "pack_size_without_volume",
                f"包装数量由 {current.get('package_size')} 改为 {changes['package_size']}，但每包装的体积/重量未改；物流按它们装车 "
                f"(package_size changes but {' and '.join(missing)} per package stay as they were)",
                field="package_size",
            ))  # fmt: skip
    return flags


def duplicate_key(item: Mapping[str, Any]) -> tuple[str, ...] | None:
    """Generic name, form, strength and manufacturer, compared without case or spaces (None if incomplete)."""
    parts = [item.get(k) for k in ("generic_name", "dosage_form", "strength", "manufacturer")]
    if not parts[0]:
        return None
    return tuple(re.sub(r"\s+", "", str(p or "")).lower() for p in parts)


def duplicate_flag(code: str, other: Mapping[str, Any], why: str) -> Flag:
    """A likely duplicate of another item (an existing one or another row of the same batch)."""
    return Flag(
        "possible_duplicate",
        f"可能与 {other.get('code')} 是同一品规（{why}） (likely the same product)",
        related=str(other.get("code")),
    )


def site_problems(site: Mapping[str, Any], parent_level: str | None) -> dict[str, str]:
    """Domain rules over a site; parent_level is the level of its parent, if it has one."""
    problems: dict[str, str] = {}
    if not uscc_valid(site.get("tax_id", "")):
        problems["tax_id"] = "not a valid 18-character 统一社会信用代码 (check character wrong)"
    level = site.get("level")
    expected_parent = PARENT_LEVEL.get(level or "")
    if level == "county_hospital" and site.get("parent_code"):
        problems["parent_code"] = "a county hospital has no parent site"
    elif level != "county_hospital" and parent_level != expected_parent:
        problems["parent_code"] = f"a {level} site belongs to a {expected_parent} site"
    if site.get("parent_code") and site.get("parent_code") == site.get("code"):
        problems["parent_code"] = "a site cannot be its own parent"
    for i, window in enumerate(site.get("receiving_hours", [])):
        if window["start"] >= window["end"]:
            problems[f"receiving_hours.{i}"] = "the window ends before it starts"
    return problems


def children_problems(level: str, children: Sequence[tuple[str, str]]) -> dict[str, str]:
    """A site with children (code, level) may only take a level those children can belong to."""
    misplaced = [code for code, child_level in children if PARENT_LEVEL.get(child_level) != level]
    if not misplaced:
        return {}
    shown = ", ".join(misplaced[:10]) + (f" and {len(misplaced) - 10} more" if len(misplaced) > 10 else "")
    return {
        "level": f"该机构下有 {len(misplaced)} 个下级机构，改为 {level} 后将无所属：{shown} (child sites a {level} cannot hold: {shown})"
    }


def active_problems(
    site: Mapping[str, Any], parent_active: bool | None, active_children: Sequence[str]
) -> dict[str, str]:
    """An inactive site holds no active sites, and an active site does not sit under an inactive one.

    `parent_active` is None when the site has no parent. Rule: the county medical community's
    structure (县医院 → 乡镇卫生院 → 村卫生室) — a clinic whose township is closed has nowhere to order from.
    """
    problems: dict[str, str] = {}
    if site.get("active") is False and active_children:
        shown = ", ".join(active_children[:10]) + (
            f" and {len(active_children) - 10} more" if len(active_children) > 10 else ""
        )
        problems["active"] = (
            f"该机构下仍有 {len(active_children)} 个在用的下级机构，须先停用或改挂：{shown} "
            f"(active child sites must be deactivated or moved first: {shown})"
        )
    if site.get("active") is not False and parent_active is False:
        problems["parent_code"] = f"上级机构 {site.get('parent_code')} 已停用 (the parent site is inactive)"
    return problems


def stocklist_key(scope: str, value: str) -> str:
    """The storage key of a level's or a site's stocking list."""
    if scope == "level" and value not in LEVELS:
        raise ValueError(f"unknown level {value}")
    if scope not in ("level", "site"):
        raise ValueError(f"unknown stocking-list scope {scope}")
    return f"{scope}:{value}"


# A stocking list may name categories as well as items: every essential medicine, every drug or
# consumable, an ATC group (prefix of the WHO ATC code, 1–7 characters), a pharmacological category.
SELECTOR = re.compile(
    r"^(essential|kind:(drug|consumable)|atc:[A-Z](\d{2}([A-Z]([A-Z](\d{2})?)?)?)?|category:.{1,120})$"
)


def normal_selector(selector: str) -> str:
    """A selector as stored: names lower-case, ATC groups upper-case as WHO writes them (atc:j01 → atc:J01,
    ESSENTIAL → essential, Kind:Drug → kind:drug); a pharmacological category's own text is kept."""
    name, sep, value = selector.strip().partition(":")
    name = name.strip().lower()
    if not sep:
        return name
    value = value.strip()
    if name == "atc":
        value = value.upper()
    elif name == "kind":
        value = value.lower()
    return f"{name}:{value}"


def selector_problem(selector: str) -> str | None:
    """Why a category selector is malformed, or None."""
    if not SELECTOR.match(selector):
        return "use essential, kind:drug, kind:consumable, atc:<ATC group such as J01C> or category:<分类>"
    return None


def selector_matches(selector: str, item: Mapping[str, Any]) -> bool:
    """True when an item falls in a stocking list's category."""
    if selector == "essential":
        return bool(item.get("essential"))
    name, _, value = selector.partition(":")
    if name == "kind":
        return item.get("kind") == value
    if name == "atc":
        return str(item.get("atc_code") or "").startswith(value)
    return item.get("category") == value


def diff(current: Mapping[str, Any] | None, proposed: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What a draft would change against the current state: [{field, current, proposed}]."""
    current = current or {}
    return [
        {"field": k, "current": current.get(k), "proposed": v}
        for k, v in proposed.items()
        if current.get(k) != v
    ]
