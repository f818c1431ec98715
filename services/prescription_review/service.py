"""Use cases of the review centre: screen, queue, claim, decide, double-sign, waiting limit.

One function per command: f(ctx, actor, cmd). Each opens one transaction in which the review
state, the screening, the audit entries and any outbox event are written together.
Errors: Forbidden (role or site), NotFound, Conflict (state or a race lost), InvalidInput.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.prescription_review import store
from services.prescription_review.engine_cache import current_engine
from services.prescription_review.model.commands import ClaimReview, DecideReview, DoubleSign, ReleaseClaim
from services.prescription_review.model.engine import ScreeningRefused, screen
from services.prescription_review.model.prescription import Prescription
from shared.auth import Principal
from shared.clock import utcnow
from shared.db import unit_of_work
from shared.errors import Conflict, InvalidInput, NotFound
from shared.runtime import ServiceContext

log = logging.getLogger(__name__)
# A changed prescription may replace the screened one while it is not yet dispensed or refused.
RESCREENABLE = ("returned", "blocked", "pending", "claimed")
STATUS_OF = {"pass": "passed", "review": "pending", "block": "blocked"}
DECIDED = {"approve": "approved", "reject": "rejected", "return": "returned"}


@dataclass(frozen=True)
class ScreeningAnswer:
    """The documented answer: the review id, outcome, knowledge version and findings."""

    id: str
    outcome: str
    knowledge_version: str
    findings: list[dict[str, Any]]
    attempt: int


def patient_key(ctx: ServiceContext, patient_id: str) -> str:
    """A keyed hash of the patient id: the same patient links across screenings, the id is not kept."""
    return hmac.new(ctx.settings.jwt_secret.encode(), patient_id.encode(), hashlib.sha256).hexdigest()[:16]


def _minimal(rx: Prescription, key: str) -> dict[str, Any]:
    """What is kept of the prescription: clinical facts only, the patient under a key."""
    p = rx.patient
    return {
        "prescription_no": rx.prescription_no, "site_code": rx.site_code, "type": rx.type,
        "issued_at": rx.issued_at.isoformat(), "valid_days": rx.valid_days,
        "prescriber": {"id": rx.prescriber.id, "privileges": list(rx.prescriber.privileges), "title": rx.prescriber.title},
        "patient": {"key": key, "age_years": p.age_years, "age_days": p.age_days, "sex": p.sex, "weight_kg": p.weight_kg,
                    "pregnant": p.pregnant, "lactating": p.lactating, "allergies": list(p.allergies),
                    "diagnoses": [{"code": d.code, "name": d.name} for d in p.diagnoses]},
        "items": [{"item_code": i.item_code, "dose": i.dose if i.dose is not None else i.dose_text,
                   "dose_unit": i.dose_unit, "frequency": i.frequency or i.frequency_text, "route": i.route,
                   "days": i.days, "quantity": i.quantity} for i in rx.items],
    }  # fmt: skip


def _entry(review: dict[str, Any], actor: Principal | str, action: str, **values: Any) -> dict[str, Any]:
    who, role = (actor, "system") if isinstance(actor, str) else (actor.subject, actor.roles[0])
    row = {"review_id": review["id"], "prescription_no": review["prescription_no"], "site_code": review["site_code"],
           "actor": who, "actor_role": role, "action": action, "reason_code": None, "comment": None,
           "knowledge_version": None, "screening_id": None, "detail": {}}  # fmt: skip
    row.update(values)
    row.setdefault("at", utcnow())
    return row


def _audit(session: Session, review: dict[str, Any], actor: Principal | str, action: str, **values: Any) -> None:
    store.append_audits(session, [_entry(review, actor, action, **values)])


def _approved_event(ctx: ServiceContext, session: Session, review: dict[str, Any], by: str, how: str, at: datetime,
                    screening: dict[str, Any] | None = None) -> None:
    screening = screening or store.screening_by_id(session, review["screening_id"]) or {}
    lines = [
        {"item_code": i["item_code"], "quantity": int(math.ceil(float(i["quantity"])))}
        for i in screening.get("prescription", {}).get("items", [])
        if isinstance(i.get("quantity"), (int, float)) and i["quantity"] > 0
    ]
    ctx.record(session, "review.prescription.approved", {
        "prescription_id": review["id"], "prescription_no": review["prescription_no"], "site_code": review["site_code"],
        "pharmacist": by, "approved_at": at.isoformat(), "approved_how": how,
        "knowledge_version": screening.get("knowledge_version"), "lines": lines,
    }, subject=review["id"])  # fmt: skip


def screen_prescription(ctx: ServiceContext, actor: Principal, rx: Prescription, source: str = "api") -> ScreeningAnswer:
    """Screen a prescription: pass releases it, review queues it, block returns it to the prescriber.

    The same number again: the same prescription is answered as before with nothing written (an HIS
    retry); a changed one while pending, claimed, returned or blocked is a new screening version of
    the same review (attempt + 1, any claim dropped); Conflict for an unchanged returned one (change
    it or double-sign) and for a number already passed, approved or rejected. Two first sends that
    race: the loser is answered as a resend."""
    actor.require("his", "pharmacist")
    actor.require_site(rx.site_code)
    try:
        return _screen_once(ctx, actor, rx, source)
    except IntegrityError:  # another send of this number created the review meanwhile
        return _screen_once(ctx, actor, rx, source)


def _screen_once(ctx: ServiceContext, actor: Principal, rx: Prescription, source: str) -> ScreeningAnswer:
    now = utcnow()
    with unit_of_work(ctx.factory) as session:
        engine = current_engine(ctx, session)
        try:
            result = screen(rx, engine.knowledge, engine.policy, engine.registry, now)
        except ScreeningRefused as exc:
            raise InvalidInput(exc.message, {exc.field: exc.message}) from None
        key = patient_key(ctx, rx.patient.id)
        kept = _minimal(rx, key)
        existing = store.review_by_number(session, rx.prescription_no, rx.site_code)
        if existing is not None:
            replay = _resend(session, existing, kept)
            if replay is not None:
                return replay
        findings = [f.as_dict() for f in result.findings]
        screening_id = str(uuid.uuid4())
        status = STATUS_OF[result.outcome]
        state: dict[str, Any] = {
            "status": status, "outcome": result.outcome, "screening_id": screening_id, "site_level": result.site_level,
            "queued_at": now if status == "pending" else None, "claimed_by": None, "claimed_at": None,
            "decided_by": "auto" if status in ("passed", "blocked") else None,
            "decided_at": now if status in ("passed", "blocked") else None, "double_signed": False,
        }  # fmt: skip
        if existing is None:
            review: dict[str, Any] = {"id": str(uuid.uuid4()), "prescription_no": rx.prescription_no, "site_code": rx.site_code,
                      "created_at": now, "attempts": 1, **state}  # fmt: skip
            store.insert_review(session, review)
        else:
            review = {**existing, **state, "attempts": existing["attempts"] + 1}
            if not store.move_review(session, existing["id"], RESCREENABLE, existing["version"], attempts=review["attempts"], **state):
                raise Conflict("the prescription changed meanwhile; try again", {"prescription_no": "changed meanwhile"})
        screening_row = {
            "id": screening_id, "review_id": review["id"], "attempt": review["attempts"], "screened_at": now,
            "screened_by": actor.subject, "source": source, "outcome": result.outcome,
            "knowledge_version": result.knowledge_version, "patient_key": key, "prescription": kept,
            "findings": findings, "codes": ",".join(sorted({str(f["code"]) for f in findings}))[:800],
        }  # fmt: skip
        store.insert_screening(session, screening_row)
        common: dict[str, Any] = {"knowledge_version": result.knowledge_version, "screening_id": screening_id, "at": now}
        entries = []
        if review["attempts"] > 1:
            entries.append(_entry(review, actor, "resubmitted", detail={"from_status": existing["status"] if existing else None,
                                                                          "claim_dropped": existing.get("claimed_by") if existing else None},
                                  **common))  # fmt: skip
        entries.append(_entry(review, actor, "screened", detail={"outcome": result.outcome, "codes": [f["code"] for f in findings]},
                              **common))  # fmt: skip
        entries.append(_entry(review, "engine", {"passed": "auto_passed", "pending": "queued", "blocked": "blocked"}[status], **common))
        store.append_audits(session, entries)
        if status == "passed":
            _approved_event(ctx, session, review, "auto", "auto_pass", now, screening_row)
    log.info("screened", extra={"prescription_no": rx.prescription_no, "site": rx.site_code, "outcome": result.outcome,
                                "patient": key[:6] + "…", "findings": len(findings)})  # fmt: skip
    return ScreeningAnswer(review["id"], result.outcome, result.knowledge_version, findings, review["attempts"])


def _resend(session: Session, existing: dict[str, Any], kept: dict[str, Any]) -> ScreeningAnswer | None:
    """A number sent again: the answer already given if the prescription is the same (a retry),
    None if a changed one may be screened as a new version; Conflict when it may not."""
    latest = store.screening_by_id(session, existing["screening_id"])
    same = latest is not None and latest["prescription"] == json.loads(json.dumps(kept))
    if same and existing["status"] == "returned":
        raise Conflict(f"prescription {existing['prescription_no']} was returned; change it or insist with a double signature",
                       {"prescription_no": "returned unchanged"})  # fmt: skip
    if same and latest is not None:
        return ScreeningAnswer(existing["id"], latest["outcome"], latest["knowledge_version"], list(latest["findings"]),
                               int(latest["attempt"]))  # fmt: skip
    if existing["status"] not in RESCREENABLE:
        raise Conflict(
            f"prescription {existing['prescription_no']} is already {existing['status']}; write a new prescription",
            {"prescription_no": f"already {existing['status']}"},
        )
    return None


def _review(session: Session, review_id: str) -> dict[str, Any]:
    review = store.review_by_id(session, review_id)
    if review is None:
        raise NotFound(f"no review {review_id}", {"review_id": "not found"})
    return review


def claim(ctx: ServiceContext, actor: Principal, cmd: ClaimReview) -> dict[str, Any]:
    """Take a pending prescription; Conflict if someone else holds or decided it (conditional update)."""
    actor.require("pharmacist")
    now = utcnow()
    with unit_of_work(ctx.factory) as session:
        review = _review(session, cmd.review_id)
        actor.require_site(review["site_code"])
        if not store.move_review(session, review["id"], ("pending",), None, status="claimed", claimed_by=actor.subject, claimed_at=now):
            current = _review(session, cmd.review_id)
            holder = f" by {current['claimed_by']}" if current["status"] == "claimed" else ""
            raise Conflict(f"prescription is {current['status']}{holder}", {"review_id": f"already {current['status']}{holder}"})
        _audit(session, review, actor, "claimed", at=now)
        return _review(session, cmd.review_id)


def claim_next(ctx: ServiceContext, actor: Principal, site: str | None = None) -> dict[str, Any] | None:
    """Claim the oldest pending prescription (skipping rows others are claiming); None if the queue is empty."""
    actor.require("pharmacist")
    now = utcnow()
    with unit_of_work(ctx.factory) as session:
        review_id = store.oldest_pending_review_locked(session, site)
        if review_id is None:
            return None
        review = _review(session, review_id)
        if not store.move_review(session, review_id, ("pending",), None, status="claimed", claimed_by=actor.subject, claimed_at=now):
            return None
        _audit(session, review, actor, "claimed", at=now)
        return _review(session, review_id)


def release(ctx: ServiceContext, actor: Principal, cmd: ReleaseClaim) -> dict[str, Any]:
    """Put a prescription one holds back in the queue; Conflict if it is not (or no longer) held by the caller
    (a decision or a resubmission that committed first wins: the conditional update then changes nothing)."""
    actor.require("pharmacist")
    with unit_of_work(ctx.factory) as session:
        review = _review(session, cmd.review_id)
        if review["status"] != "claimed" or review["claimed_by"] != actor.subject:
            raise Conflict("you do not hold this prescription", {"review_id": "not claimed by you"})
        if not store.move_review(session, review["id"], ("claimed",), review["version"], status="pending", claimed_by=None,
                                 claimed_at=None):  # fmt: skip
            raise Conflict("the prescription changed meanwhile", {"review_id": "changed meanwhile"})
        _audit(session, review, actor, "released")
        return _review(session, cmd.review_id)


def decide(ctx: ServiceContext, actor: Principal, cmd: DecideReview) -> dict[str, Any]:
    """Approve, reject or return a prescription the pharmacist holds (claim first)."""
    actor.require("pharmacist")
    now = utcnow()
    with unit_of_work(ctx.factory) as session:
        review = _review(session, cmd.review_id)
        if review["status"] != "claimed" or review["claimed_by"] != actor.subject:
            raise Conflict(f"claim the prescription first (it is {review['status']})", {"review_id": "not claimed by you"})
        status = DECIDED[cmd.decision]
        if not store.move_review(session, review["id"], ("claimed",), review["version"], status=status,
                                 decided_by=actor.subject, decided_at=now):  # fmt: skip
            raise Conflict("the prescription changed meanwhile", {"review_id": "changed meanwhile"})
        screening = store.screening_by_id(session, review["screening_id"]) or {}
        _audit(session, review, actor, status, reason_code=cmd.reason_code, comment=cmd.comment, at=now,
               knowledge_version=screening.get("knowledge_version"), screening_id=review["screening_id"])  # fmt: skip
        if status == "approved":
            _approved_event(ctx, session, review, actor.subject, "double_signed" if review["double_signed"] else "pharmacist", now)
        return _review(session, cmd.review_id)


def double_sign(ctx: ServiceContext, actor: Principal, cmd: DoubleSign) -> dict[str, Any]:
    """The prescriber insists on a returned prescription (双签): it goes back to the pharmacists' queue."""
    actor.require("his")
    now = utcnow()
    with unit_of_work(ctx.factory) as session:
        review = _review(session, cmd.review_id)
        actor.require_site(review["site_code"])
        if not store.move_review(session, review["id"], ("returned",), review["version"], status="pending", double_signed=True,
                                 queued_at=now, claimed_by=None, claimed_at=None, decided_by=None, decided_at=None):  # fmt: skip
            raise Conflict(f"only a returned prescription can be double-signed (it is {review['status']})",
                           {"review_id": f"is {review['status']}"})  # fmt: skip
        _audit(session, review, actor, "double_signed", comment=cmd.reason, at=now,
               detail={"prescriber_id": cmd.prescriber_id}, screening_id=review["screening_id"])  # fmt: skip
        return _review(session, cmd.review_id)


def release_overdue(ctx: ServiceContext, now: datetime | None = None) -> int:
    """Let through unreviewed the pending prescriptions older than the waiting limit (recorded,
    counted, and approved with approved_how=released_unreviewed); 0 when no limit is set."""
    now = now or utcnow()
    released = 0
    with unit_of_work(ctx.factory) as session:
        minutes = store.setting(session, "wait_limit_minutes")
        if minutes is None:
            return 0
        for review in store.overdue(session, now - timedelta(minutes=int(minutes))):
            if store.move_review(session, review["id"], ("pending",), review["version"], status="released_unreviewed",
                                 decided_by="waiting-limit", decided_at=now):  # fmt: skip
                _audit(session, review, "waiting-limit", "released_unreviewed", at=now,
                       detail={"waited_minutes": round((now - review["queued_at"]).total_seconds() / 60, 1), "limit": minutes})
                _approved_event(ctx, session, review, "waiting-limit", "released_unreviewed", now)
                released += 1
    return released


def preview(ctx: ServiceContext, actor: Principal, rx: Prescription) -> ScreeningAnswer:
    """Screen without recording anything (CDS Hooks order-sign, before the prescription exists)."""
    actor.require("his", "pharmacist")
    actor.require_site(rx.site_code)
    with ctx.factory() as session:
        engine = current_engine(ctx, session)
    try:
        result = screen(rx, engine.knowledge, engine.policy, engine.registry, utcnow())
    except ScreeningRefused as exc:
        raise InvalidInput(exc.message, {exc.field: exc.message}) from None
    return ScreeningAnswer("", result.outcome, result.knowledge_version, [f.as_dict() for f in result.findings], 0)


def catalogue_codes(ctx: ServiceContext) -> Mapping[str, str]:
    """Item code or NHSA national drug code -> the catalogue item code, for the loaded engine
    (CDS Hooks looks a MedicationRequest's codings up here). Built once per engine."""
    with ctx.factory() as session:
        engine = current_engine(ctx, session)
    cached = ctx.extras.get("prescription_review.code_map")
    if cached is None or cached[0] is not engine.knowledge:
        codes = dict(engine.knowledge.formulary.national)
        codes.update({code: code for code in engine.knowledge.profiles})
        cached = (engine.knowledge, codes)
        ctx.extras["prescription_review.code_map"] = cached
    return cached[1]  # type: ignore[no-any-return]
