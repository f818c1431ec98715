"""Helpers of the bus fault tests (poison, duplicates, out of order, dead letters): formulary
payloads that satisfy their contracts, the registry's consumers, and a whole-database dump."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hub.registry import specs
from shared.reference import REFERENCE_EVENTS
from shared.runtime import ServiceContext, ServiceSpec

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
