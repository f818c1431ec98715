"""The read model of formulary reference data that every other service keeps from events.

Handlers for the formulary.* events, bound to one service's tables (statements, and the rule that
keeps a late, older snapshot from overwriting a newer one, in shared/reference_store.py). Each gets
the payload already loaded through its contract.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.orm import Session

from shared.bus.inbox import Handler
from shared.clock import utcnow
from shared.events.envelope import CloudEvent
from shared.reference_store import (
    add_reference_tables,
    mark_item_retired,
    replace_stocklist,
    upsert_item,
    upsert_versioned,
)

__all__ = ["add_reference_tables", "reference_handlers", "snapshot_json"]

REFERENCE_EVENTS = (
    "formulary.item.published",
    "formulary.item.retired",
    "formulary.site.upserted",
    "formulary.stocklist.changed",
)


def reference_handlers(metadata: MetaData) -> dict[str, Handler]:
    """Handlers for the formulary.* events, bound to one service's tables."""
    items, sites, stocklists = (metadata.tables[n] for n in ("ref_items", "ref_sites", "ref_stocklists"))

    def item_published(session: Session, d: dict[str, Any], event: CloudEvent) -> None:
        upsert_item(
            session,
            items,
            d["code"],
            d["version"],
            {
                "status": d["status"],
                "kind": d["kind"],
                "generic_name": d["generic_name"],
                "storage": d["storage"],
                "unit": d["unit"],
                "package_size": d["package_size"],
                "volume_cm3": d["volume_cm3"],
                "weight_g": d["weight_g"],
                "snapshot": event.data,  # the snapshot as published (JSON), not the loaded form
                "updated_at": utcnow(),
            },
        )

    def item_retired(session: Session, d: dict[str, Any], event: CloudEvent) -> None:
        mark_item_retired(session, items, d["code"], d["version"], utcnow())

    def site_upserted(session: Session, d: dict[str, Any], event: CloudEvent) -> None:
        upsert_versioned(
            session,
            sites,
            d["code"],
            d["version"],
            {
                "name": d["name"],
                "level": d["level"],
                "parent_code": d.get("parent_code"),
                "is_hub": d["is_hub"],
                "lat": d["lat"],
                "lon": d["lon"],
                "active": d["active"],
                "snapshot": event.data,
                "updated_at": utcnow(),
            },
        )

    def stocklist_changed(session: Session, d: dict[str, Any], event: CloudEvent) -> None:
        key = f"level:{d['level']}" if d["scope"] == "level" else f"site:{d['site_code']}"
        replace_stocklist(session, stocklists, key, d["catalogue_version"], d["item_codes"], utcnow())

    return dict(zip(REFERENCE_EVENTS, (item_published, item_retired, site_upserted, stocklist_changed), strict=True))


def snapshot_json(value: Any) -> str:
    """Compact JSON for logs and tests."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
