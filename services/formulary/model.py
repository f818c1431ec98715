"""The formulary's domain: catalogue items, sites, stocking lists and the changes that move them.

Pure Python: no Flask, no SQLAlchemy. A change is proposed as a draft, checked here, and only
an approval by the pharmacy & therapeutics committee (药事会) makes it part of a catalogue version.
"""

from __future__ import annotations

import re
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
SITE_FIELDS = ("code", "name", "tax_id", "level", "parent_code", "is_hub", "lat", "lon", "receiving_hours", "active")
LEVELS = ("county_hospital", "township", "village")
APPROVAL_NO = re.compile(r"^(国药准字|国械注准|国械注进|鲁械注准|鲁械备)[A-Z0-9]+$")


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


def item_problems(item: dict[str, Any], rules: Rules) -> dict[str, str]:
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
            problems["nhsa_code"] = f"does not match the consumable code pattern {rules.nhsa_consumable_pattern}"
        if item.get("atc_code"):
            problems["atc_code"] = "only drugs have ATC codes"
        if item.get("antibiotic_tier", "none") != "none":
            problems["antibiotic_tier"] = "only drugs have an antibiotic tier"
        if item.get("controlled", "none") != "none":
            problems["controlled"] = "only drugs can be controlled"
    if item.get("vbp") and not item.get("vbp_batch"):
        problems["vbp_batch"] = "a volume-based procurement item names its batch (集采批次)"
    approval = item.get("approval_no")
    if approval and not APPROVAL_NO.match(approval):
        problems["approval_no"] = "not an approval number such as 国药准字H20003263"
    return problems


def site_problems(site: dict[str, Any], parent_level: str | None) -> dict[str, str]:
    """Domain rules over a site; parent_level is the level of its parent, if it has one."""
    problems: dict[str, str] = {}
    if not uscc_valid(site.get("tax_id", "")):
        problems["tax_id"] = "not a valid 18-character 统一社会信用代码 (check character wrong)"
    level = site.get("level")
    expected_parent = {"county_hospital": None, "township": "county_hospital", "village": "township"}.get(level or "")
    if level != "county_hospital" and parent_level != expected_parent:
        problems["parent_code"] = f"a {level} site belongs to a {expected_parent} site"
    for i, window in enumerate(site.get("receiving_hours", [])):
        if window["start"] >= window["end"]:
            problems[f"receiving_hours.{i}"] = "the window ends before it starts"
    return problems


@dataclass(frozen=True)
class Change:
    """A proposed change to the catalogue, waiting for (or past) the committee's decision."""

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


@dataclass
class ImportReport:
    """Per-row outcome of a bulk import."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    written: int = 0

    @property
    def invalid(self) -> int:
        """How many rows failed validation."""
        return sum(1 for r in self.rows if r["status"] == "error")


def stocklist_key(scope: str, value: str) -> str:
    """The storage key of a level's or a site's stocking list."""
    if scope == "level" and value not in LEVELS:
        raise ValueError(f"unknown level {value}")
    return f"{scope}:{value}"


def merge_item(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """The item after an update: unspecified fields keep their values, code never changes."""
    merged = dict(current)
    merged.update({k: v for k, v in changes.items() if k != "code"})
    return merged
