"""Use cases of the pharmacy manager's configuration: knowledge versions, rule severities per site
level, the prescriber registry and the waiting limit. Each change is audited; knowledge versions
are kept forever and superseded, never edited."""

from __future__ import annotations

from typing import Any

from services.prescription_review import store
from services.prescription_review.engine_cache import current_engine, invalidate
from services.prescription_review.knowledge.importer import ImportReport, kb_to_tables, parse_tables
from services.prescription_review.model.commands import (
    ImportKnowledge,
    ImportPrescribers,
    SetSeverity,
    SetWaitLimit,
)
from shared.auth import Principal
from shared.clock import utcnow
from shared.db import unit_of_work
from shared.errors import Conflict, InvalidInput
from shared.runtime import ServiceContext

MANAGER = ("pharmacy_manager",)


def _audit(session: Any, actor: Principal, action: str, detail: dict[str, Any], version: str | None = None) -> None:
    store.append_audit(session, {"at": utcnow(), "actor": actor.subject, "actor_role": actor.roles[0], "action": action,
                                 "knowledge_version": version, "detail": detail})  # fmt: skip


def import_knowledge(ctx: ServiceContext, actor: Principal, cmd: ImportKnowledge) -> ImportReport:
    """Validate and store a new knowledge version; it is live within a second in every process.
    InvalidInput (naming table[row].field) when any row is bad; Conflict when the version exists."""
    actor.require(*MANAGER)
    with unit_of_work(ctx.factory) as session:
        if store.knowledge_exists(session, cmd.version):
            raise Conflict(f"knowledge version {cmd.version} exists; versions are never changed", {"version": "already exists"})
        engine = current_engine(ctx, session, force=True)
        names = {p.facts.generic_name for p in engine.knowledge.profiles.values()}
        base = None
        if cmd.base_current:
            base, _ = parse_tables(engine.knowledge.version, _current_tables(session, engine), names)
        kb, report = parse_tables(cmd.version, cmd.tables, names, base)
        if kb is None:
            fields: dict[str, str] = {}
            for e in report.errors[:50]:
                where = f"tables.{e['table']}[{e['row']}].{e['field']}" if e["table"] else str(e["field"])
                fields.setdefault(where, e["message"])
            raise InvalidInput(f"{len(report.errors)} bad rows; nothing was imported", fields)
        store.insert_knowledge(session, {"version": cmd.version, "created_at": utcnow(), "created_by": actor.subject,
                                         "content": kb_to_tables(kb), "report": report.as_dict(), "note": cmd.note})  # fmt: skip
        _audit(session, actor, "knowledge_imported", {"counts": report.counts, "note": cmd.note}, cmd.version)
    invalidate(ctx)
    return report


def _current_tables(session: Any, engine: Any) -> dict[str, Any]:
    row = store.active_knowledge(session)
    if row is not None:
        return dict(row["content"])
    from services.prescription_review.knowledge.importer import load_sample

    return kb_to_tables(load_sample())


def knowledge_versions(ctx: ServiceContext, actor: Principal) -> dict[str, Any]:
    """The active version and every imported one with its report."""
    actor.require("pharmacist", *MANAGER)
    with ctx.factory() as session:
        engine = current_engine(ctx, session)
        return {"active": engine.knowledge.version, "catalogue_version": engine.knowledge.catalogue_version,
                "versions": store.list_knowledge(session)}  # fmt: skip


def set_severity(ctx: ServiceContext, actor: Principal, cmd: SetSeverity) -> dict[str, str]:
    """Change one rule's severity at one site level ("*" = every level without its own setting)."""
    actor.require(*MANAGER)
    with unit_of_work(ctx.factory) as session:
        store.put_severity(session, cmd.site_level, cmd.code, cmd.severity, actor.subject, utcnow())
        _audit(session, actor, "severity_changed", {"site_level": cmd.site_level, "code": cmd.code, "severity": cmd.severity})
        result = severities_in(session)
    invalidate(ctx)
    return result


def severities_in(session: Any) -> dict[str, Any]:
    """{site_level: {code: severity}} of the overrides."""
    out: dict[str, dict[str, str]] = {}
    for r in store.severity_rows(session):
        out.setdefault(r["site_level"], {})[r["code"]] = r["severity"]
    return out


def severities(ctx: ServiceContext, actor: Principal) -> dict[str, Any]:
    """Defaults and overrides per site level."""
    actor.require("pharmacist", *MANAGER)
    from services.prescription_review.model.findings import RULES

    with ctx.factory() as session:
        overrides = severities_in(session)
    rules = [{"code": r.code, "group": r.group, "title": r.title, "default": r.severity, "basis": r.basis} for r in RULES.values()]
    return {"rules": rules, "overrides": overrides}


def import_prescribers(ctx: ServiceContext, actor: Principal, cmd: ImportPrescribers) -> int:
    """Add or replace doctors in the registry (from the medical affairs office's list)."""
    actor.require(*MANAGER)
    now = utcnow()
    ids = [e.id for e in cmd.entries]
    if len(set(ids)) != len(ids):
        raise InvalidInput("a doctor appears twice", {"entries": "duplicate id"})
    with unit_of_work(ctx.factory) as session:
        store.put_prescribers(session, [
            {"id": e.id, "name": e.name, "sites": list(e.sites), "title": e.title, "privileges": list(e.privileges),
             "active": e.active, "updated_at": now} for e in cmd.entries
        ])  # fmt: skip
        _audit(session, actor, "registry_imported", {"count": len(ids)})
    invalidate(ctx)
    return len(ids)


def prescribers(ctx: ServiceContext, actor: Principal, limit: int) -> list[dict[str, Any]]:
    """Registry entries."""
    actor.require("pharmacist", *MANAGER, "his")
    with ctx.factory() as session:
        return store.list_prescribers(session, limit)


def set_wait_limit(ctx: ServiceContext, actor: Principal, cmd: SetWaitLimit) -> dict[str, Any]:
    """Set the waiting limit (minutes; None switches it off)."""
    actor.require(*MANAGER)
    with unit_of_work(ctx.factory) as session:
        store.put_setting(session, "wait_limit_minutes", cmd.minutes, actor.subject, utcnow())
        _audit(session, actor, "wait_limit_changed", {"minutes": cmd.minutes})
    return {"wait_limit_minutes": cmd.minutes}


def wait_limit(ctx: ServiceContext, actor: Principal) -> dict[str, Any]:
    """The current waiting limit."""
    actor.require("pharmacist", *MANAGER)
    with ctx.factory() as session:
        return {"wait_limit_minutes": store.setting(session, "wait_limit_minutes")}
