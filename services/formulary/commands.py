"""The formulary's typed commands: what each use case takes (built by the schemas' post_load).

Every proposal carries who-and-why for the committee (药事会): a reason (e.g. "supplier moves to
a larger pack") and the meeting reference it was or will be decided at. Values have already been
normalised at the edge (`shared.text`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Why:
    """The proposer's note, reason and committee meeting reference (all optional)."""

    note: str | None = None
    reason: str | None = None
    meeting_ref: str | None = None


@dataclass(frozen=True)
class ProposeItem:
    """A new item. `fields` holds what was given; the rest take the catalogue defaults."""

    code: str
    fields: Mapping[str, Any]
    why: Why = Why()


@dataclass(frozen=True)
class ProposeItemEdit:
    """New values for some fields of an item, made from `base_version` (from If-Match or the import)."""

    code: str
    changes: Mapping[str, Any]
    base_version: int | None = None
    why: Why = Why()


@dataclass(frozen=True)
class ProposeRetire:
    """Take an item out of the catalogue."""

    code: str
    reason: str
    why: Why = Why()


@dataclass(frozen=True)
class ProposeSite:
    """A new site or new details for one; `base_version` None means "the version current now"."""

    code: str
    site: Mapping[str, Any]
    base_version: int | None = None
    why: Why = Why()


@dataclass(frozen=True)
class ProposeStocklist:
    """The whole stocking list of a level or a site: item codes and category selectors."""

    scope: str
    value: str
    item_codes: tuple[str, ...]
    categories: tuple[str, ...] | None = None  # None: keep the list's current categories
    base_version: int | None = None
    why: Why = Why()


@dataclass(frozen=True)
class ApproveChanges:
    """The committee's approval: named drafts and/or every draft of an import batch."""

    change_ids: tuple[str, ...] = ()
    batch_id: str | None = None
    note: str | None = None
    meeting_ref: str | None = None


@dataclass(frozen=True)
class RejectChange:
    """The committee turns one draft (or a whole batch) down."""

    change_id: str
    reason: str


@dataclass(frozen=True)
class ImportItems:
    """A catalogue file to check (`confirm` False: nothing is written) or to propose (`confirm` True)."""

    filename: str
    content: bytes
    confirm: bool = False
    valid_only: bool = False
    why: Why = field(default_factory=Why)
