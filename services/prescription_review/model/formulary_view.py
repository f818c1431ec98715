"""The formulary facts screening needs, compiled once from the read model's item snapshots.

Each catalogue item becomes an ItemFacts with its strength parsed into an amount per dispensing
unit (mg, IU or ml), the routes its dosage form allows, and flags (injection, controlled-release,
中成药). Parsing happens here, at load, never during screening.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Dimension of an amount: mass in mg, activity in IU (单位), volume in ml.
MASS, ACTIVITY, VOLUME = "mg", "IU", "ml"

_UNIT_FACTORS: dict[str, tuple[float, str]] = {
    "mg": (1.0, MASS), "g": (1000.0, MASS), "μg": (0.001, MASS), "ug": (0.001, MASS), "mcg": (0.001, MASS),
    "kg": (1_000_000.0, MASS),
    "iu": (1.0, ACTIVITY), "u": (1.0, ACTIVITY), "单位": (1.0, ACTIVITY), "万单位": (10000.0, ACTIVITY),
    "万iu": (10000.0, ACTIVITY), "万u": (10000.0, ACTIVITY),
    "ml": (1.0, VOLUME), "l": (1000.0, VOLUME),
}  # fmt: skip
_AMOUNT = re.compile(r"(\d+(?:\.\d+)?)\s*(万单位|万iu|万u|单位|mg|μg|ug|mcg|kg|g|iu|u|ml|l)(?![a-z])", re.I)

ORAL_FORMS = (
    "片", "胶囊", "颗粒", "混悬", "口服", "糖浆", "散剂", "丸", "粉剂", "滴剂",
)  # fmt: skip
SOLID_ORAL = ("片", "胶囊", "丸")
LOCAL_ROUTES = frozenset({"topical", "eye", "ear", "nasal", "vaginal"})


def unit_factor(unit: str | None) -> tuple[float, str] | None:
    """(factor to the canonical unit, dimension) of a dose unit such as 'g' or '万单位'; None if unknown."""
    if not unit:
        return None
    return _UNIT_FACTORS.get(unit.strip().lower().replace("µ", "μ"))


def parse_strength(strength: str | None) -> tuple[float | None, str | None, float | None]:
    """(amount per dispensing unit, its dimension, volume in ml per unit) from a catalogue strength.

    '0.25g' -> (250, mg, None); '2ml:0.2g' -> (200, mg, 2); '400单位/10ml' -> (400, IU, 10);
    '80万单位' -> (800000, IU, None). Compound or per-puff strengths give (None, None, volume?).
    """
    if not strength or "复方" in strength or "揿" in strength or "吸" in strength:
        return None, None, None
    text = re.sub(r"[（(][^)）]*[)）]", "", strength).strip()
    found = [(float(n) * _UNIT_FACTORS[u.lower()][0], _UNIT_FACTORS[u.lower()][1]) for n, u in _AMOUNT.findall(text)]
    if not found:
        return None, None, None
    volume = next((a for a, d in found if d == VOLUME), None)
    active = [(a, d) for a, d in found if d != VOLUME]
    if len(active) > 1 and "/" in text and ":" not in text:
        return None, None, volume  # e.g. 80mg/5mg combination: no single active amount
    if active:
        return active[0][0], active[0][1], volume
    return (volume, VOLUME, volume) if volume is not None else (None, None, None)


def routes_for_form(form: str | None) -> frozenset[str]:
    """Routes a dosage form can be given by (处方审核规范 第十五条(四): 剂型与给药途径是否适宜)."""
    f = form or ""
    if "眼用注射" in f:
        return frozenset({"eye", "other"})
    if "注射" in f:
        return frozenset({"iv", "ivgtt", "im", "sc", "id"})
    if "吸入" in f:
        return frozenset({"inhalation"})
    if "滴眼" in f or "眼膏" in f or "眼用" in f:
        return frozenset({"eye"})
    if "滴耳" in f:
        return frozenset({"ear"})
    if "滴鼻" in f:
        return frozenset({"nasal"})
    if "栓" in f:
        return frozenset({"rectal", "vaginal"})
    if "灌肠" in f:
        return frozenset({"rectal"})
    if "冻干粉" in f:
        return frozenset({"topical", "oral"})
    if "透析" in f:
        return frozenset({"other"})
    if any(k in f for k in ("乳膏", "软膏", "洗剂", "贴", "气雾", "酊", "凝胶")):
        return frozenset({"topical"})
    if "溶液剂" in f:
        return frozenset({"oral", "topical"})
    if "滴丸" in f:
        return frozenset({"oral", "sublingual"})
    if any(k in f for k in ORAL_FORMS):
        return frozenset({"oral"})
    return frozenset()


@dataclass(frozen=True, slots=True)
class ItemFacts:
    """What screening knows about one catalogue item (one 品规)."""

    code: str
    generic_name: str
    active: bool
    is_drug: bool
    atc: str
    dosage_form: str
    unit: str
    package_size: int
    controlled: str
    antibiotic_tier: str
    per_unit: float | None  # amount of active ingredient per dispensing unit, in `dim`
    dim: str | None
    volume_ml: float | None
    routes: frozenset[str]
    injection: bool
    controlled_release: bool
    tcm: bool  # 中成药
    solid_oral: bool
    countable: bool  # quantity can be derived from dose × frequency × days
    systemic: bool  # False for eye, ear, nose, skin and vaginal preparations (no systemic interactions)


def item_facts(snapshot: Mapping[str, Any], active: bool = True) -> ItemFacts:
    """An ItemFacts from a formulary.item.published snapshot."""
    form = snapshot.get("dosage_form") or ""
    per_unit, dim, volume = parse_strength(snapshot.get("strength"))
    routes = routes_for_form(form)
    injection = "注射" in form
    solid = any(k in form for k in SOLID_ORAL)
    countable = per_unit is not None and bool(routes & {"oral", "iv", "ivgtt", "im", "sc", "id", "sublingual"})
    return ItemFacts(
        code=str(snapshot["code"]),
        generic_name=str(snapshot["generic_name"]),
        active=active and snapshot.get("status", "active") == "active",
        is_drug=snapshot.get("kind", "drug") == "drug",
        atc=(snapshot.get("atc_code") or "").upper(),
        dosage_form=form,
        unit=str(snapshot.get("unit") or ""),
        package_size=int(snapshot.get("package_size") or 1),
        controlled=snapshot.get("controlled") or "none",
        antibiotic_tier=snapshot.get("antibiotic_tier") or "none",
        per_unit=per_unit,
        dim=dim,
        volume_ml=volume,
        routes=routes,
        injection=injection,
        controlled_release="缓释" in form or "控释" in form,
        tcm=snapshot.get("kind", "drug") == "drug" and not snapshot.get("atc_code") and not snapshot.get("generic_name_en"),
        solid_oral=solid,
        countable=countable,
        systemic=not routes or not routes <= LOCAL_ROUTES,
    )


@dataclass
class FormularyView:
    """Items, sites and stocking lists as the read model holds them.

    `stocklists` keys are 'level:<level>' and 'site:<code>' (the read model's scope keys).
    """

    items: dict[str, ItemFacts] = field(default_factory=dict)
    sites: dict[str, tuple[str, bool]] = field(default_factory=dict)  # code -> (level, active)
    stocklists: dict[str, frozenset[str]] = field(default_factory=dict)
    catalogue_version: int = 0
    national: dict[str, str] = field(default_factory=dict)  # NHSA national drug code (医保编码) -> item code

    @classmethod
    def build(
        cls,
        items: Iterable[Mapping[str, Any]],
        sites: Iterable[Mapping[str, Any]],
        stocklists: Mapping[str, Iterable[str]],
        catalogue_version: int = 0,
    ) -> FormularyView:
        """Compile item snapshots, site snapshots and stocking lists."""
        items = list(items)
        return cls(
            items={str(s["code"]): item_facts(s) for s in items},
            national={str(s["nhsa_code"]): str(s["code"]) for s in items if s.get("nhsa_code")},
            sites={str(s["code"]): (str(s["level"]), bool(s.get("active", True))) for s in sites},
            stocklists={k: frozenset(v) for k, v in stocklists.items()},
            catalogue_version=catalogue_version,
        )

    def allowed_at(self, site_code: str, level: str) -> frozenset[str] | None:
        """Items the site may prescribe: its own list if it has one, else its level's; None if neither."""
        own = self.stocklists.get(f"site:{site_code}")
        if own is not None:
            return own
        return self.stocklists.get(f"level:{level}")
