"""The read model of formulary reference data that every other service keeps from events.

Written once here, added to each consumer's own metadata: a service never reads the formulary's
database. Snapshots carry versions, so a late, older event never overwrites a newer state.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import JSON, Boolean, Column, Float, Integer, MetaData, String, Table, select
from sqlalchemy.orm import Session

from shared.bus.inbox import Handler
from shared.clock import utcnow
from shared.db import UtcDateTime
from shared.events.envelope import CloudEvent


def add_reference_tables(metadata: MetaData) -> None:
    """Define ref_items, ref_sites and ref_stocklists in a service's metadata."""
    Table(
        "ref_items",
        metadata,
        Column("code", String(40), primary_key=True),
        Column("version", Integer, nullable=False),
        Column("status", String(12), nullable=False),
        Column("kind", String(12), nullable=False),
        Column("generic_name", String(200), nullable=False),
        Column("storage", String(12), nullable=False),
        Column("unit", String(20), nullable=False),
        Column("package_size", Integer, nullable=False),
        Column("volume_cm3", Float, nullable=False),
        Column("weight_g", Float, nullable=False),
        Column("snapshot", JSON, nullable=False),
        Column("updated_at", UtcDateTime(), nullable=False),
    )
    Table(
        "ref_sites",
        metadata,
        Column("code", String(40), primary_key=True),
        Column("version", Integer, nullable=False),
        Column("name", String(200), nullable=False),
        Column("level", String(20), nullable=False),
        Column("parent_code", String(40), nullable=True),
        Column("is_hub", Boolean, nullable=False),
        Column("lat", Float, nullable=False),
        Column("lon", Float, nullable=False),
        Column("active", Boolean, nullable=False),
        Column("snapshot", JSON, nullable=False),
        Column("updated_at", UtcDateTime(), nullable=False),
    )
    Table(
        "ref_stocklists",
        metadata,
        Column("scope_key", String(60), primary_key=True),
        Column("catalogue_version", Integer, nullable=False),
        Column("item_codes", JSON, nullable=False),
        Column("updated_at", UtcDateTime(), nullable=False),
    )


def _upsert_versioned(session: Session, table: Table, key: str, version: int, values: dict[str, Any]) -> bool:
    current = session.execute(select(table.c.version).where(table.c.code == key)).scalar_one_or_none()
    if current is None:
        session.execute(table.insert().values(code=key, version=version, **values))
        return True
    if version <= current:
        return False  # an older or repeated snapshot: the newer state stays
    session.execute(table.update().where(table.c.code == key).values(version=version, **values))
    return True


def reference_handlers(metadata: MetaData) -> dict[str, Handler]:
    """Handlers for the formulary.* events, bound to one service's tables."""
    items, sites, stocklists = (metadata.tables[n] for n in ("ref_items", "ref_sites", "ref_stocklists"))

    def item_published(session: Session, event: CloudEvent) -> None:
        d = event.data
        _upsert_versioned(
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
                "snapshot": d,
                "updated_at": utcnow(),
            },
        )

    def item_retired(session: Session, event: CloudEvent) -> None:
        d = event.data
        row = session.execute(select(items.c.version, items.c.snapshot).where(items.c.code == d["code"])).first()
        if row is None or d["version"] <= row.version:
            return
        snapshot = dict(row.snapshot, status="retired", version=d["version"])
        session.execute(
            items.update()
            .where(items.c.code == d["code"])
            .values(status="retired", version=d["version"], snapshot=snapshot, updated_at=utcnow())
        )

    def site_upserted(session: Session, event: CloudEvent) -> None:
        d = event.data
        _upsert_versioned(
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
                "snapshot": d,
                "updated_at": utcnow(),
            },
        )

    def stocklist_changed(session: Session, event: CloudEvent) -> None:
        d = event.data
        key = f"level:{d['level']}" if d["scope"] == "level" else f"site:{d['site_code']}"
        current = session.execute(
            select(stocklists.c.catalogue_version).where(stocklists.c.scope_key == key)
        ).scalar_one_or_none()
        values = {"catalogue_version": d["catalogue_version"], "item_codes": sorted(d["item_codes"]), "updated_at": utcnow()}
        if current is None:
            session.execute(stocklists.insert().values(scope_key=key, **values))
        elif d["catalogue_version"] >= current:
            session.execute(stocklists.update().where(stocklists.c.scope_key == key).values(**values))

    return {
        "formulary.item.published": item_published,
        "formulary.item.retired": item_retired,
        "formulary.site.upserted": site_upserted,
        "formulary.stocklist.changed": stocklist_changed,
    }


def snapshot_json(value: Any) -> str:
    """Compact JSON for logs and tests."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
