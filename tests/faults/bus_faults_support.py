"""Helpers of the bus fault tests (poison, duplicates, out of order, dead letters): formulary
payloads that satisfy their contracts, the registry's consumers, and a whole-database dump."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select, text

from hub.registry import specs
from shared.events.envelope import CloudEvent
from shared.reference import REFERENCE_EVENTS
from shared.runtime import ServiceContext, ServiceSpec
from tests.support.bus import Broker, rabbitmqctl

SOURCE = "/countyhub/formulary"


def consumer_specs() -> list[ServiceSpec]:
    """Every registered service that handles events, in registry order."""
    return [s for s in specs() if s.handlers]


def reference_keepers() -> list[ServiceSpec]:
    """Every registered service that keeps the formulary read model (handles all formulary.* events)."""
    return [s for s in specs() if set(REFERENCE_EVENTS) <= set(s.handlers)]


def item_payload(code: str, version: int, catalogue_version: int, *, status: str = "active", **changes: Any) -> dict[str, Any]:
    """A formulary.item.published payload whose content differs from version to version."""
    payload: dict[str, Any] = {
        "code": code, "version": version, "catalogue_version": catalogue_version, "kind": "drug", "status": status,
        "generic_name": f"阿莫西林{version}", "generic_name_en": "Amoxicillin", "trade_name": None,
        "dosage_form": "胶囊剂", "strength": f"0.{version}g", "unit": "粒", "package_size": 12 * version,
        "package_unit": "盒", "manufacturer": "华北制药股份有限公司", "approval_no": None, "nhsa_code": None,
        "atc_code": "J01CA04", "essential": version % 2 == 0, "reimbursement": "甲", "vbp": False, "vbp_batch": None,
        "storage": ("ambient", "cool", "cold")[version % 3], "controlled": "none", "antibiotic_tier": "unrestricted",
        "high_alert": False, "volume_cm3": 10.0 * version, "weight_g": 5.0 * version, "category": "抗微生物药",
    }  # fmt: skip
    payload.update(changes)
    return payload


def retired_payload(code: str, version: int, catalogue_version: int) -> dict[str, Any]:
    """A formulary.item.retired payload."""
    return {"code": code, "version": version, "catalogue_version": catalogue_version, "reason": "停产"}


def site_payload(code: str, version: int, *, active: bool = True, level: str = "village", parent: str | None = "T01") -> dict[str, Any]:
    """A formulary.site.upserted payload whose name and place change from version to version."""
    return {
        "code": code, "version": version, "catalogue_version": version, "name": f"卫生室{code}第{version}版",
        "tax_id": f"1237172{version:03d}MB{code[-6:]:0>6}", "level": level, "parent_code": parent, "is_hub": False,
        "lat": 34.9 + version / 1000, "lon": 115.9 + version / 1000,
        "receiving_hours": [{"start": f"{7 + version % 3:02d}:00", "end": "17:00"}], "active": active,
        "address": f"成武县第{version}号", "phone": None,
    }  # fmt: skip


def stocklist_payload(site_code: str, catalogue_version: int, codes: list[str]) -> dict[str, Any]:
    """A formulary.stocklist.changed payload for one site's own list."""
    return {"scope": "site", "level": None, "site_code": site_code, "catalogue_version": catalogue_version, "item_codes": codes}


def dump(ctx: ServiceContext) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the service, each table's rows sorted: its whole state."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with ctx.factory() as session:
        for name, table in ctx.metadata.tables.items():
            out[name] = sorted((tuple(r) for r in session.execute(select(table))), key=repr)
    return out


def changed_tables(before: dict[str, list[Any]], after: dict[str, list[Any]]) -> set[str]:
    """Names of the tables whose rows differ."""
    return {name for name in after if before.get(name) != after[name]}


@contextmanager
def private_vhost(prefix: str) -> Iterator[Broker]:
    """A RabbitMQ vhost of its own on the machine's broker (127.0.0.1:5672), deleted afterwards."""
    vhost = f"{prefix}_{uuid.uuid4().hex[:10]}"
    if rabbitmqctl("add_vhost", vhost, check=False).returncode != 0:
        # Another suite's broker-outage test may have the app stopped for a moment: wait for it once.
        rabbitmqctl("await_startup", "--timeout", "90")
        rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield Broker(vhost)
    finally:
        rabbitmqctl("delete_vhost", vhost, check=False)


def envelope(event_type: str, data: dict[str, Any]) -> bytes:
    """A well-formed CloudEvent of any type and data, as a foreign or broken producer could send it."""
    return CloudEvent(type=event_type, source="/elsewhere", data=data).to_json().encode()


def rename_table(ctx: ServiceContext, old: str, new: str) -> None:
    """Rename a table of the service's database: its handlers then fail as on a schema gone wrong."""
    with ctx.engine.begin() as conn:
        conn.execute(text(f'ALTER TABLE "{old}" RENAME TO "{new}"'))
