"""The sample county's seed catalogue (catalogue.csv beside this module) as typed rows, with checks.

Pure Python: no Flask, no SQLAlchemy. See README.md in this folder for where each column comes from.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from services.formulary.codes import ATC_PATTERN, DEFAULT_NHSA_CONSUMABLE_PATTERN, DEFAULT_NHSA_DRUG_PATTERN
from services.formulary.model import APPROVAL_NO, ITEM_FIELDS
from shared.events.contracts import ANTIBIOTIC_TIERS, CONTROLLED, KINDS, REIMBURSEMENT, STORAGE

CATALOGUE_CSV = Path(__file__).with_name("catalogue.csv")
LOGISTICS = "logistics"
# County item codes: YP (药品) drugs, HC (耗材) consumables, WL (物流) logistics goods.
CODE_PATTERNS = {
    "drug": re.compile(r"^YP\d{6}$"),
    "consumable": re.compile(r"^HC\d{6}$"),
    LOGISTICS: re.compile(r"^WL\d{6}$"),
}
DRUG_APPROVAL_NO = re.compile(r"^国药准字(H|Z|S|J|HJ|SJ|ZJ)\d{8}$")
NHSA_DRUG = re.compile(DEFAULT_NHSA_DRUG_PATTERN)
NHSA_CONSUMABLE = re.compile(DEFAULT_NHSA_CONSUMABLE_PATTERN)
BOOLEANS = {"true": True, "false": False}


@dataclass(frozen=True)
class CatalogueRow:
    """One line of the seed catalogue, typed; empty optional text is None."""

    code: str
    kind: str
    generic_name: str
    generic_name_en: str | None
    trade_name: str | None
    dosage_form: str | None
    strength: str | None
    unit: str
    package_size: int
    package_unit: str
    manufacturer: str | None
    approval_no: str | None
    nhsa_code: str | None
    atc_code: str | None
    essential: bool
    reimbursement: str
    vbp: bool
    vbp_batch: str | None
    storage: str
    controlled: str
    antibiotic_tier: str
    high_alert: bool
    volume_cm3: float
    weight_g: float
    category: str | None

    @classmethod
    def from_record(cls, record: dict[str, str]) -> CatalogueRow:
        """Parse one CSV record (column -> text); raises ValueError on a malformed cell."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            text = (record.get(f.name) or "").strip()
            if f.name in ("essential", "vbp", "high_alert"):
                if text not in BOOLEANS:
                    raise ValueError(f"{f.name}: expected true or false, got {text!r}")
                values[f.name] = BOOLEANS[text]
            elif f.name == "package_size":
                values[f.name] = int(text)
            elif f.name in ("volume_cm3", "weight_g"):
                values[f.name] = float(text)
            elif "None" in str(f.type):
                values[f.name] = text or None
            else:
                values[f.name] = text
        return cls(**values)

    @property
    def is_logistics(self) -> bool:
        """True for logistics goods (linen, instrument packs, transport boxes)."""
        return self.kind == "consumable" and self.category == LOGISTICS

    def as_item(self) -> dict[str, Any]:
        """The formulary API's item dict (same keys as the CSV columns, None for empty optionals)."""
        return {name: getattr(self, name) for name in ITEM_FIELDS}


def load_catalogue(path: Path | None = None) -> list[CatalogueRow]:
    """All rows of the seed catalogue (by default the catalogue.csv beside this module)."""
    source = path or CATALOGUE_CSV
    with source.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != ITEM_FIELDS:
            raise ValueError(f"{source.name}: header must be exactly {','.join(ITEM_FIELDS)}")
        rows = []
        for record in reader:
            try:
                rows.append(CatalogueRow.from_record(record))
            except ValueError as exc:
                raise ValueError(f"{source.name} line {reader.line_num}: {exc}") from exc
    return rows


def validate_row(row: CatalogueRow) -> list[str]:
    """Human-readable problems with one row; empty when the row is fine."""
    problems: list[str] = []
    label = row.code or row.generic_name
    if row.kind not in KINDS:
        return [f"{label}: kind {row.kind!r} is not one of {', '.join(KINDS)}"]
    code_kind = LOGISTICS if row.is_logistics else row.kind
    if not CODE_PATTERNS[code_kind].match(row.code):
        prefix = {"drug": "YP", "consumable": "HC", LOGISTICS: "WL"}[code_kind]
        problems.append(f"{label}: a {code_kind} code is {prefix} and six digits")
    for name, allowed in (
        ("reimbursement", REIMBURSEMENT),
        ("storage", STORAGE),
        ("controlled", CONTROLLED),
        ("antibiotic_tier", ANTIBIOTIC_TIERS),
    ):
        if getattr(row, name) not in allowed:
            problems.append(f"{label}: {name} {getattr(row, name)!r} is not one of {', '.join(allowed)}")
    if not row.generic_name or not row.unit or not row.package_unit:
        problems.append(f"{label}: generic name, unit and package unit are required")
    if row.kind == "drug":
        problems.extend(_drug_problems(row, label))
    else:
        problems.extend(_consumable_problems(row, label))
    if row.vbp and not row.vbp_batch:
        problems.append(f"{label}: a volume-based procurement (集采) item names its batch")
    if row.vbp_batch and not row.vbp:
        problems.append(f"{label}: a batch is given but the item is not marked vbp")
    if row.approval_no and not APPROVAL_NO.match(row.approval_no):
        problems.append(f"{label}: approval number {row.approval_no!r} is not in a known format")
    if row.package_size <= 0:
        problems.append(f"{label}: package size must be positive")
    if row.volume_cm3 <= 0 or row.weight_g <= 0:
        problems.append(f"{label}: volume and weight per package must be positive")
    return problems


def _drug_problems(row: CatalogueRow, label: str) -> list[str]:
    """Checks that only apply to drugs."""
    problems: list[str] = []
    if not row.dosage_form:
        problems.append(f"{label}: a drug needs a dosage form")
    if row.atc_code and not ATC_PATTERN.match(row.atc_code):
        problems.append(f"{label}: ATC code {row.atc_code!r} is not 7 characters such as J01CA04")
    if row.nhsa_code and not NHSA_DRUG.match(row.nhsa_code):
        problems.append(f"{label}: NHSA code {row.nhsa_code!r} does not match {NHSA_DRUG.pattern}")
    if row.approval_no and not DRUG_APPROVAL_NO.match(row.approval_no):
        problems.append(f"{label}: a drug approval number is 国药准字 + H/Z/S/J + 8 digits")
    return problems


def _consumable_problems(row: CatalogueRow, label: str) -> list[str]:
    """Checks that only apply to consumables and logistics goods."""
    problems: list[str] = []
    if row.atc_code:
        problems.append(f"{label}: only drugs have ATC codes")
    if row.antibiotic_tier != "none":
        problems.append(f"{label}: only drugs have an antibiotic tier")
    if row.controlled != "none":
        problems.append(f"{label}: only drugs can be controlled")
    if row.nhsa_code and not NHSA_CONSUMABLE.match(row.nhsa_code):
        problems.append(f"{label}: NHSA code {row.nhsa_code!r} does not match {NHSA_CONSUMABLE.pattern}")
    return problems


def placeholder_digits(seed: str, n: int) -> str:
    """n decimal digits derived from seed (SHA-256); how the seed's placeholder codes were made."""
    value = int.from_bytes(hashlib.sha256(seed.encode("utf-8")).digest(), "big")
    return str(value % 10**n).zfill(n)


def placeholder_drug_approval_no(seed: str, letter: str, region: str) -> str:
    """A 国药准字 number in the real shape: letter, 2-digit region/era prefix, 6 derived digits."""
    return f"国药准字{letter}{region}{placeholder_digits('approval|' + seed, 6)}"


def placeholder_nhsa_drug_code(seed: str, atc: str | None, tcm_class: int | None) -> str:
    """A 23-character code shaped like the NHSA 医保药品分类与代码 (X + ATC level 4, or Z + class)."""
    digits = placeholder_digits("nhsa|" + seed, 15)
    if tcm_class is not None:
        return f"ZA{tcm_class:02d}AAZ{digits[:3]}A{digits[3:]}"
    return f"X{(atc or 'V99ZZ')[:5]}X{digits[:3]}A{digits[3:]}"


def placeholder_nhsa_consumable_code(seed: str, group: str) -> str:
    """A 20-character code shaped like the NHSA 医用耗材分类与代码 (C + 2-digit group + 17)."""
    return f"C{group}{placeholder_digits('nhsa|' + seed, 17)}"
