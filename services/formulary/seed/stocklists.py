"""Default stocking lists (配备目录) per site level, derived from the catalogue's item attributes.

Pure Python. The rules follow what each level may lawfully and safely hold: township centres have
no 特殊使用级 antibiotics and no 麻醉/第一类精神 drugs; village clinics carry essential drugs without
controlled drugs or injectable restricted antibiotics, plus every consumable they are supplied with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.formulary.seed.county import County

# Narcotics and class-1 psychotropics need a licensed prescriber (麻醉药品和第一类精神药品处方资格)
# and a safe, which township centres in the sample community do not have.
TOWNSHIP_BANNED_CONTROLLED = frozenset({"narcotic", "psychotropic_1"})
VILLAGE_BANNED_INJECTABLE_TIERS = frozenset({"restricted", "special"})


def default_stocklists(items: list[dict[str, Any]], county: County) -> dict[str, list[str]]:
    """Item codes per level (`level:county_hospital`, `level:township`, `level:village`), in catalogue order."""
    # The county is part of the signature so site-specific lists can be added without changing
    # callers; today every level of every county gets the same rules.
    del county
    return {
        "level:county_hospital": [item["code"] for item in items],
        "level:township": [item["code"] for item in items if township_allowed(item)],
        "level:village": [item["code"] for item in items if village_allowed(item)],
    }


def township_allowed(item: Mapping[str, Any]) -> bool:
    """Everything except 特殊使用级 antibiotics and narcotic / class-1 psychotropic drugs."""
    if item.get("antibiotic_tier") == "special":
        return False
    return (item.get("controlled") or "none") not in TOWNSHIP_BANNED_CONTROLLED


def village_allowed(item: Mapping[str, Any]) -> bool:
    """All consumables; of drugs, essential ones that are not controlled nor injectable restricted antibiotics."""
    # Checking the township rules first keeps the village list a subset of the township list.
    if not township_allowed(item):
        return False
    if item.get("kind") == "consumable":
        return True  # includes logistics goods (linen, specimen boxes), which every site receives
    if not item.get("essential"):
        return False
    if (item.get("controlled") or "none") != "none":
        return False
    injectable = "注射" in (item.get("dosage_form") or "")
    return not (injectable and item.get("antibiotic_tier") in VILLAGE_BANNED_INJECTABLE_TIERS)
