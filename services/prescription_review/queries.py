"""Read side: one review with its history, the queue with waiting times, quality figures.

Each function checks the caller's role and site scope (a storekeeper sees only their site).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.prescription_review import store
from services.prescription_review.model.quality import figures
from shared.auth import Principal
from shared.clock import utcnow
from shared.errors import InvalidInput, NotFound
from shared.runtime import ServiceContext

READERS = ("pharmacist", "pharmacy_manager", "his", "storekeeper")


def _scope(actor: Principal, site: str | None) -> str | None:
    scope = actor.site_scope()
    if scope is not None:
        if site is not None:
            actor.require_site(site)
        return scope
    return site


def review_detail(ctx: ServiceContext, actor: Principal, review_id: str) -> dict[str, Any]:
    """The review, every screening (findings, prescription, knowledge version) and its audit trail."""
    actor.require(*READERS)
    with ctx.factory() as session:
        review = store.review_by_id(session, review_id)
        if review is None:
            raise NotFound(f"no review {review_id}", {"review_id": "not found"})
        actor.require_site(review["site_code"])
        return {**review, "screenings": store.screenings_of(session, review_id), "audit": store.audit_of(session, review_id)}


def queue(ctx: ServiceContext, actor: Principal, site: str | None, limit: int) -> dict[str, Any]:
    """Pending and claimed prescriptions oldest first with waiting minutes, and counts per status."""
    actor.require("pharmacist", "pharmacy_manager")
    site = _scope(actor, site)
    now = utcnow()
    with ctx.factory() as session:
        rows = store.pending_queue(session, site, limit)
        counts = store.queue_counts(session, site)
    entries = []
    for r in rows:
        findings = r["findings"] or []
        entries.append({
            "id": r["id"], "prescription_no": r["prescription_no"], "site_code": r["site_code"], "status": r["status"],
            "queued_at": r["queued_at"], "waiting_minutes": round((now - r["queued_at"]).total_seconds() / 60, 1),
            "claimed_by": r["claimed_by"], "double_signed": r["double_signed"], "attempts": r["attempts"],
            "worst": max((f["severity"] for f in findings), key=("info", "warning", "major", "critical").index, default="info"),
            "codes": sorted({f["code"] for f in findings}), "items": len(r["prescription"].get("items", [])),
            "patient": {k: r["prescription"]["patient"].get(k) for k in ("age_years", "age_days", "sex")},
        })  # fmt: skip
    return {"counts": counts, "entries": entries, "oldest_waiting_minutes": entries[0]["waiting_minutes"] if entries else None}


def list_reviews(ctx: ServiceContext, actor: Principal, status: str | None, site: str | None, limit: int) -> list[dict[str, Any]]:
    """Reviews newest first (a storekeeper sees their own site's)."""
    actor.require(*READERS)
    with ctx.factory() as session:
        return store.list_reviews(session, status, _scope(actor, site), limit)


def quality(ctx: ServiceContext, actor: Principal, start: datetime | None, end: datetime | None, site: str | None) -> dict[str, Any]:
    """Quality figures of [start, end) (default: the last 30 days); see model/quality.py."""
    actor.require("pharmacist", "pharmacy_manager")
    end = end or utcnow() + timedelta(seconds=1)
    start = start or end - timedelta(days=30)
    if end <= start:
        raise InvalidInput("end must be after start", {"end": "must be after start"})
    site = _scope(actor, site)
    with ctx.factory() as session:
        reviews = store.reviews_between(session, start, end, site)
        ids = {r["id"] for r in reviews} if site is not None else None
        screenings = store.screenings_between(session, start, end, ids)
        audit = store.audit_between(session, start, end, ("returned", "rejected", "resubmitted", "double_signed",
                                                          "released_unreviewed"))
        if ids is not None:
            audit = [a for a in audit if a["review_id"] in ids]
    return {"start": start, "end": end, "site_code": site, **figures(reviews, screenings, audit)}
