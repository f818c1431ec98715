"""The published forms of the formulary's records: the `data` of formulary.* events (full snapshots).

The contracts are in shared/events/contracts.py; these functions only pick and shape fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from services.formulary.model import ITEM_FIELDS


def item_snapshot(row: Mapping[str, Any]) -> dict[str, Any]:
    """An item as `formulary.item.published` carries it (volumes in cm³, weights in g)."""
    out = {k: row.get(k) for k in ITEM_FIELDS}
    out.update(version=row["version"], catalogue_version=row["catalogue_version"], status=row["status"])
    out["volume_cm3"] = float(row["volume_cm3"])
    out["weight_g"] = float(row["weight_g"])
    return out


def site_snapshot(row: Mapping[str, Any]) -> dict[str, Any]:
    """A site as `formulary.site.upserted` carries it."""
    keys = ("code", "version", "catalogue_version", "name", "tax_id", "level", "parent_code", "is_hub", "lat", "lon")
    out = {k: row[k] for k in keys}
    out["receiving_hours"] = list(row["receiving_hours"])
    out["active"] = bool(row["active"])
    out["address"] = row.get("address")
    out["phone"] = row.get("phone")
    return out


def stocklist_data(scope_key: str, catalogue_version: int, members: Sequence[str]) -> dict[str, Any]:
    """A list as `formulary.stocklist.changed` carries it: every member, named or by category."""
    scope, value = scope_key.split(":", 1)
    return {
        "scope": scope,
        "level": value if scope == "level" else None,
        "site_code": value if scope == "site" else None,
        "catalogue_version": catalogue_version,
        "item_codes": list(members),
    }
