"""The prescription_review tables and every SQL statement, behind functions named in domain words.

- `reviews`: one row per prescription (prescription_no + site): the queue state (pending → claimed
  → approved | rejected | returned; passed / blocked / released_unreviewed). Claims are a
  conditional UPDATE (status = 'pending'), so two pharmacists can never hold the same one.
- `screenings`: every screening run, resubmissions included (append-only).
- `audit_events`: the append-only audit trail (who, when, what, why, knowledge version). A
  database trigger refuses UPDATE and DELETE on both SQLite and PostgreSQL.
- `knowledge_versions`, `severity_overrides`, `prescribers`, `review_settings`: configuration.
Patient data: only the clinical facts screening needs, under a keyed hash of the patient id
(issue 13). `screenings.prescription.patient` keeps key (HMAC-SHA256 of the id with the service
secret, 16 hex), age_years, age_days, sex, weight_kg, pregnant, lactating, allergies and the coded
diagnoses (code, name) the checks and the reviewing pharmacist read; `screenings.patient_key` the
same key. No name or ID number is accepted (the schema refuses unknown fields), none is logged
(shared/web/logging.py masks SQL values), and events carry no patient field
(tests/faults/test_patient_data.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from shared.db import UtcDateTime, lock_for_update, new_metadata
from shared.migrate import add_common_tables

metadata = add_common_tables(new_metadata())

reviews = Table(
    "reviews",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("prescription_no", String(40), nullable=False),
    Column("site_code", String(40), nullable=False),
    Column("site_level", String(20), nullable=False),
    Column("status", String(24), nullable=False),
    Column("outcome", String(8), nullable=False),
    Column("screening_id", String(36), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("double_signed", Boolean, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("queued_at", UtcDateTime(), nullable=True),
    Column("claimed_by", String(120), nullable=True),
    Column("claimed_at", UtcDateTime(), nullable=True),
    Column("decided_by", String(120), nullable=True),
    Column("decided_at", UtcDateTime(), nullable=True),
    Column("version", Integer, nullable=False),
    Index("ix_reviews_no_site", "prescription_no", "site_code", unique=True),
    Index("ix_reviews_status_queued", "status", "queued_at"),
)

screenings = Table(
    "screenings",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("review_id", String(36), nullable=False, index=True),
    Column("attempt", Integer, nullable=False),
    Column("screened_at", UtcDateTime(), nullable=False),
    Column("screened_by", String(120), nullable=False),
    Column("source", String(12), nullable=False),
    Column("outcome", String(8), nullable=False),
    Column("knowledge_version", String(40), nullable=False),
    Column("patient_key", String(24), nullable=False),
    Column("prescription", JSON, nullable=False),
    Column("findings", JSON, nullable=False),
    Column("codes", String(800), nullable=False),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("review_id", String(36), nullable=True, index=True),
    Column("prescription_no", String(40), nullable=True),
    Column("site_code", String(40), nullable=True),
    Column("actor", String(120), nullable=False),
    Column("actor_role", String(40), nullable=False),
    Column("action", String(32), nullable=False),
    Column("reason_code", String(40), nullable=True),
    Column("comment", Text, nullable=True),
    Column("knowledge_version", String(40), nullable=True),
    Column("screening_id", String(36), nullable=True),
    Column("detail", JSON, nullable=False),
)

knowledge_versions = Table(
    "knowledge_versions",
    metadata,
    Column("version", String(40), primary_key=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("created_by", String(120), nullable=False),
    Column("content", JSON, nullable=False),
    Column("report", JSON, nullable=False),
    Column("note", Text, nullable=True),
)

severity_overrides = Table(
    "severity_overrides",
    metadata,
    Column("site_level", String(20), primary_key=True),
    Column("code", String(40), primary_key=True),
    Column("severity", String(10), nullable=False),
    Column("updated_by", String(120), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

prescribers = Table(
    "prescribers",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(60), nullable=False),
    Column("sites", JSON, nullable=False),
    Column("title", String(40), nullable=True),
    Column("privileges", JSON, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

review_settings = Table(
    "review_settings",
    metadata,
    Column("key", String(40), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_by", String(120), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# -- reviews ---------------------------------------------------------------------------------


# Statements on the screening hot path are built once: building a construct and its cache key per
# call cost more CPU than running it (issue 11, cProfile of POST /api/v1/screenings).
_REVIEW_BY_NUMBER = select(reviews).where(
    reviews.c.prescription_no == bindparam("prescription_no"), reviews.c.site_code == bindparam("site_code")
)
_INSERT_REVIEW = insert(reviews)
_INSERT_SCREENING = insert(screenings)
_INSERT_AUDIT = insert(audit_events)


def review_by_number(session: Session, prescription_no: str, site_code: str) -> dict[str, Any] | None:
    """The review of a prescription number at a site, or None."""
    row = session.execute(_REVIEW_BY_NUMBER, {"prescription_no": prescription_no, "site_code": site_code}).mappings().first()
    return dict(row) if row else None


def review_by_id(session: Session, review_id: str) -> dict[str, Any] | None:
    """One review, or None."""
    row = session.execute(select(reviews).where(reviews.c.id == review_id)).mappings().first()
    return dict(row) if row else None


def insert_review(session: Session, values: dict[str, Any]) -> None:
    """A new review row (version 1)."""
    session.execute(_INSERT_REVIEW, {"version": 1, **values})


def oldest_pending_review_locked(session: Session, site: str | None) -> str | None:
    """Id of the oldest pending review (of `site` when given), locked and skipping rows another
    pharmacist is claiming at this moment; None when there is none."""
    query = select(reviews.c.id).where(reviews.c.status == "pending")
    if site is not None:
        query = query.where(reviews.c.site_code == site)
    query = query.order_by(reviews.c.queued_at, reviews.c.id).limit(1)
    return session.execute(lock_for_update(query, session, skip_locked=True)).scalar_one_or_none()


def move_review(session: Session, review_id: str, expect_status: Sequence[str], expect_version: int | None = None,
                **values: Any) -> bool:
    """Change a review only if it is still in one of `expect_status` (and at `expect_version`): the
    conditional update that makes claims and decisions race-free. True if this call won."""
    query = update(reviews).where(reviews.c.id == review_id, reviews.c.status.in_(tuple(expect_status)))
    if expect_version is not None:
        query = query.where(reviews.c.version == expect_version)
    result = session.execute(query.values(version=reviews.c.version + 1, **values))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def pending_queue(session: Session, site: str | None, limit: int) -> list[dict[str, Any]]:
    """Reviews waiting for or held by a pharmacist, oldest first, with their current screening."""
    query = (
        select(reviews, screenings.c.findings, screenings.c.prescription, screenings.c.knowledge_version)
        .join(screenings, screenings.c.id == reviews.c.screening_id)
        .where(reviews.c.status.in_(("pending", "claimed")))
        .order_by(reviews.c.queued_at, reviews.c.id)
        .limit(limit)
    )
    if site is not None:
        query = query.where(reviews.c.site_code == site)
    return [dict(r) for r in session.execute(query).mappings()]


def queue_counts(session: Session, site: str | None) -> dict[str, int]:
    """Reviews per status."""
    query = select(reviews.c.status, func.count()).group_by(reviews.c.status)
    if site is not None:
        query = query.where(reviews.c.site_code == site)
    return {status: int(n) for status, n in session.execute(query)}


def overdue(session: Session, before: datetime) -> list[dict[str, Any]]:
    """Pending (unclaimed) reviews queued before `before`, oldest first."""
    query = select(reviews).where(reviews.c.status == "pending", reviews.c.queued_at < before).order_by(reviews.c.queued_at)
    return [dict(r) for r in session.execute(query).mappings()]


def reviews_between(session: Session, start: datetime, end: datetime, site: str | None) -> list[dict[str, Any]]:
    """Reviews created in [start, end)."""
    query = select(reviews).where(reviews.c.created_at >= start, reviews.c.created_at < end)
    if site is not None:
        query = query.where(reviews.c.site_code == site)
    return [dict(r) for r in session.execute(query).mappings()]


def list_reviews(session: Session, status: str | None, site: str | None, limit: int) -> list[dict[str, Any]]:
    """Reviews newest first, optionally of one status or site."""
    query = select(reviews).order_by(reviews.c.created_at.desc(), reviews.c.id).limit(limit)
    if status is not None:
        query = query.where(reviews.c.status == status)
    if site is not None:
        query = query.where(reviews.c.site_code == site)
    return [dict(r) for r in session.execute(query).mappings()]


# -- screenings and audit ----------------------------------------------------------------------


def insert_screening(session: Session, values: dict[str, Any]) -> None:
    """Keep one screening run."""
    session.execute(_INSERT_SCREENING, values)


def screening_by_id(session: Session, screening_id: str) -> dict[str, Any] | None:
    """One screening run, or None."""
    row = session.execute(select(screenings).where(screenings.c.id == screening_id)).mappings().first()
    return dict(row) if row else None


def screenings_of(session: Session, review_id: str) -> list[dict[str, Any]]:
    """Every screening of one review, first attempt first."""
    query = select(screenings).where(screenings.c.review_id == review_id).order_by(screenings.c.attempt)
    return [dict(r) for r in session.execute(query).mappings()]


def screenings_between(session: Session, start: datetime, end: datetime, site_ids: set[str] | None) -> list[dict[str, Any]]:
    """(review_id, attempt, outcome, codes) of screenings in [start, end)."""
    query = select(screenings.c.review_id, screenings.c.attempt, screenings.c.outcome, screenings.c.codes).where(
        screenings.c.screened_at >= start, screenings.c.screened_at < end
    )
    rows = [dict(r) for r in session.execute(query).mappings()]
    return rows if site_ids is None else [r for r in rows if r["review_id"] in site_ids]


def append_audit(session: Session, values: dict[str, Any]) -> None:
    """Add one entry to the audit trail (the only write this table ever sees)."""
    values.setdefault("detail", {})
    session.execute(_INSERT_AUDIT, values)


def append_audits(session: Session, rows: list[dict[str, Any]]) -> None:
    """Add entries to the audit trail in one statement (rows with the same keys)."""
    session.execute(_INSERT_AUDIT, rows)


def audit_of(session: Session, review_id: str) -> list[dict[str, Any]]:
    """The audit trail of one review, oldest first."""
    query = select(audit_events).where(audit_events.c.review_id == review_id).order_by(audit_events.c.id)
    return [dict(r) for r in session.execute(query).mappings()]


def audit_between(session: Session, start: datetime, end: datetime, actions: Sequence[str]) -> list[dict[str, Any]]:
    """Audit entries of the given actions in [start, end)."""
    query = select(audit_events).where(
        audit_events.c.at >= start, audit_events.c.at < end, audit_events.c.action.in_(tuple(actions))
    )
    return [dict(r) for r in session.execute(query).mappings()]


# -- configuration ------------------------------------------------------------------------------


def active_knowledge(session: Session) -> dict[str, Any] | None:
    """The newest imported knowledge version (content included), or None."""
    row = session.execute(
        select(knowledge_versions).order_by(knowledge_versions.c.created_at.desc()).limit(1)
    ).mappings().first()
    return dict(row) if row else None


def knowledge_exists(session: Session, version: str) -> bool:
    """True if that version label is taken."""
    return session.execute(select(knowledge_versions.c.version).where(knowledge_versions.c.version == version)).first() is not None


def insert_knowledge(session: Session, values: dict[str, Any]) -> None:
    """Keep an imported knowledge version (versions are never changed, only superseded)."""
    session.execute(insert(knowledge_versions).values(**values))


def list_knowledge(session: Session) -> list[dict[str, Any]]:
    """Versions newest first, without their content."""
    cols = [knowledge_versions.c.version, knowledge_versions.c.created_at, knowledge_versions.c.created_by,
            knowledge_versions.c.report, knowledge_versions.c.note]  # fmt: skip
    return [dict(r) for r in session.execute(select(*cols).order_by(knowledge_versions.c.created_at.desc())).mappings()]


def severity_rows(session: Session) -> list[dict[str, Any]]:
    """Every severity override."""
    return [dict(r) for r in session.execute(select(severity_overrides)).mappings()]


def put_severity(session: Session, level: str, code: str, severity: str, by: str, at: datetime) -> None:
    """Set (insert or replace) one override."""
    session.execute(severity_overrides.delete().where(severity_overrides.c.site_level == level, severity_overrides.c.code == code))
    session.execute(insert(severity_overrides).values(site_level=level, code=code, severity=severity, updated_by=by, updated_at=at))


def prescriber(session: Session, prescriber_id: str) -> dict[str, Any] | None:
    """One registry entry, or None."""
    row = session.execute(select(prescribers).where(prescribers.c.id == prescriber_id)).mappings().first()
    return dict(row) if row else None


def put_prescribers(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert or replace registry entries."""
    ids = [r["id"] for r in rows]
    session.execute(prescribers.delete().where(prescribers.c.id.in_(ids)))
    if rows:
        session.execute(insert(prescribers), rows)


def all_prescribers(session: Session) -> list[dict[str, Any]]:
    """Every registry entry (the engine keeps them in memory)."""
    return [dict(r) for r in session.execute(select(prescribers)).mappings()]


def list_prescribers(session: Session, limit: int) -> list[dict[str, Any]]:
    """Registry entries by id."""
    return [dict(r) for r in session.execute(select(prescribers).order_by(prescribers.c.id).limit(limit)).mappings()]


def setting(session: Session, key: str) -> Any:
    """A setting's value, or None."""
    return session.execute(select(review_settings.c.value).where(review_settings.c.key == key)).scalar_one_or_none()


def put_setting(session: Session, key: str, value: Any, by: str, at: datetime) -> None:
    """Set one setting."""
    session.execute(review_settings.delete().where(review_settings.c.key == key))
    session.execute(insert(review_settings).values(key=key, value=value, updated_by=by, updated_at=at))


def config_stamp(session: Session) -> tuple[Any, ...]:
    """What the compiled engine depends on: changes whenever knowledge, reference data, severities or
    the prescriber registry do."""
    ref_items, ref_sites, ref_lists = (metadata.tables[n] for n in ("ref_items", "ref_sites", "ref_stocklists"))
    parts = [
        select(func.max(knowledge_versions.c.created_at), func.count()).select_from(knowledge_versions),
        select(func.max(ref_items.c.updated_at), func.count()).select_from(ref_items),
        select(func.max(ref_sites.c.updated_at), func.count()).select_from(ref_sites),
        select(func.max(ref_lists.c.updated_at), func.count()).select_from(ref_lists),
        select(func.max(severity_overrides.c.updated_at), func.count()).select_from(severity_overrides),
        select(func.max(prescribers.c.updated_at), func.count()).select_from(prescribers),
    ]
    return tuple(tuple(session.execute(q).one()) for q in parts)


def reference_rows(session: Session) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, list[str]]]:
    """(item snapshots, site snapshots, stocking lists) of the formulary read model."""
    ref_items, ref_sites, ref_lists = (metadata.tables[n] for n in ("ref_items", "ref_sites", "ref_stocklists"))
    items = [dict(r.snapshot, status=r.status) for r in session.execute(select(ref_items.c.snapshot, ref_items.c.status))]
    sites = [dict(r.snapshot, active=r.active) for r in session.execute(select(ref_sites.c.snapshot, ref_sites.c.active))]
    lists = {r.scope_key: list(r.item_codes) for r in session.execute(select(ref_lists.c.scope_key, ref_lists.c.item_codes))}
    return items, sites, lists


def catalogue_version(session: Session) -> int:
    """The newest catalogue version the read model has seen."""
    ref_lists = metadata.tables["ref_stocklists"]
    return int(session.execute(select(func.max(ref_lists.c.catalogue_version))).scalar_one() or 0)
