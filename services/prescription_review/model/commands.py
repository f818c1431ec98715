"""Typed commands of the pharmacist's work and of configuration (built by schemas' post_load).

Reason codes for returning or rejecting follow the problem groups of 医疗机构处方审核规范(2018)
第十三–十五条 (legality, standardisation, appropriateness) at the level a pharmacist records them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DECISIONS = ("approve", "reject", "return")
REASON_CODES = {
    "LEGALITY": "处方不合法(处方权、资质)",
    "STANDARDISATION": "处方不规范(缺项、书写不清、超过5种)",
    "INDICATION": "用药与诊断不符",
    "DOSE": "剂量、用法不适宜",
    "ROUTE": "剂型或给药途径不适宜",
    "DUPLICATE": "重复给药",
    "INTERACTION": "有临床意义的相互作用或配伍禁忌",
    "CONTRAINDICATION": "用药禁忌(过敏、疾病、妊娠、哺乳、年龄)",
    "DAYS_SUPPLY": "用量或天数超过规定",
    "OTHER": "其他用药不适宜情况",
}
ACCEPTED = "ACCEPTED"  # an approval needs no reason; ACCEPTED may be given to say why an alert was overridden


@dataclass(frozen=True)
class ClaimReview:
    """A pharmacist takes a prescription from the queue (nobody else can decide it meanwhile)."""

    review_id: str


@dataclass(frozen=True)
class ReleaseClaim:
    """A pharmacist puts a claimed prescription back in the queue."""

    review_id: str


@dataclass(frozen=True)
class DecideReview:
    """approve | reject | return (to the prescriber), with a reason code (required unless approving)."""

    review_id: str
    decision: str
    reason_code: str | None
    comment: str | None


@dataclass(frozen=True)
class DoubleSign:
    """The prescriber insists on a returned prescription (双签): it goes back to a pharmacist."""

    review_id: str
    prescriber_id: str
    reason: str


@dataclass(frozen=True)
class ImportKnowledge:
    """A new knowledge version: tables as CSV text or row lists; `base_current` keeps tables not given."""

    version: str
    tables: dict[str, Any]
    base_current: bool
    note: str | None


@dataclass(frozen=True)
class SetSeverity:
    """The pharmacy manager sets one rule's severity at one site level ("*" for every level)."""

    site_level: str
    code: str
    severity: str


@dataclass(frozen=True)
class PrescriberEntry:
    """One doctor from the medical affairs office's list."""

    id: str
    name: str
    sites: tuple[str, ...]
    title: str | None
    privileges: tuple[str, ...]
    active: bool


@dataclass(frozen=True)
class ImportPrescribers:
    """Replace or add registry entries."""

    entries: tuple[PrescriberEntry, ...]


@dataclass(frozen=True)
class SetWaitLimit:
    """Minutes a flagged prescription may wait before it is let through unreviewed (None: never)."""

    minutes: int | None
