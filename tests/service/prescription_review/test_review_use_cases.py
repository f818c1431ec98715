"""The review centre's use cases: outcomes, the queue, claims, decisions, double signature,
resubmission, the waiting limit, the audit trail's immutability, events, role and site checks."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from services.prescription_review import config, queries, service, store
from services.prescription_review.model.commands import (
    ClaimReview,
    DecideReview,
    DoubleSign,
    SetSeverity,
    SetWaitLimit,
)
from shared.bus.tables import bus_tables
from shared.clock import utcnow
from shared.errors import Conflict, Forbidden, InvalidInput
from shared.runtime import ServiceContext
from tests.service.prescription_review.review_support import (
    HIS,
    MANAGER,
    PHARMACIST,
    PHARMACIST2,
    STOREKEEPER_T01,
    blocked,
    body,
    flagged,
    rx,
)


def events(ctx: ServiceContext, kind: str = "review.prescription.approved") -> list[dict]:
    outbox, _ = bus_tables(ctx.metadata)
    with ctx.factory() as s:
        rows = s.execute(select(outbox.c.envelope).where(outbox.c.event_type == kind)).scalars().all()
    return [json.loads(r)["data"] for r in rows]


def actions(ctx: ServiceContext, review_id: str) -> list[str]:
    with ctx.factory() as s:
        return [a["action"] for a in store.audit_of(s, review_id)]


def test_clean_prescription_passes_and_is_released_for_dispensing(service_ctx: ServiceContext) -> None:
    answer = service.screen_prescription(service_ctx, HIS, rx(body()))
    assert answer.outcome == "pass" and answer.findings == []
    assert answer.knowledge_version == "sample-2026.11"
    [event] = events(service_ctx)
    assert event["site_code"] == "CW-H01" and event["lines"] == [{"item_code": "YP000174", "quantity": 7}]
    assert event["approved_how"] == "auto_pass" and event["pharmacist"] == "auto"
    assert "patient" not in json.dumps(event) and "P1" not in json.dumps(event)
    assert actions(service_ctx, answer.id) == ["screened", "auto_passed"]


def test_outcome_mapping_review_and_block(service_ctx: ServiceContext) -> None:
    review = service.screen_prescription(service_ctx, HIS, rx(flagged()))
    assert review.outcome == "review" and {f["severity"] for f in review.findings} == {"major"}
    block = service.screen_prescription(service_ctx, HIS, rx(blocked()))
    assert block.outcome == "block" and "DDI_CONTRAINDICATED" in {f["code"] for f in block.findings}
    assert events(service_ctx) == []  # nothing released
    with service_ctx.factory() as s:
        assert store.review_by_id(s, review.id)["status"] == "pending"
        assert store.review_by_id(s, block.id)["status"] == "blocked"


def test_severity_override_per_site_level_changes_the_outcome(service_ctx: ServiceContext) -> None:
    config.set_severity(service_ctx, MANAGER, SetSeverity("county_hospital", "DOSE_ABOVE_MAX", "info"))
    assert service.screen_prescription(service_ctx, HIS, rx(flagged("R-SEV-1"))).outcome == "pass"
    # the township keeps the default: still reviewed
    assert service.screen_prescription(service_ctx, HIS, rx(flagged("R-SEV-2", site="CW-T01"))).outcome == "review"


def test_queue_oldest_first_claim_is_exclusive_and_decision_needs_the_claim(service_ctx: ServiceContext) -> None:
    first = service.screen_prescription(service_ctx, HIS, rx(flagged("R-Q-1")))
    second = service.screen_prescription(service_ctx, HIS, rx(flagged("R-Q-2")))
    q = queries.queue(service_ctx, PHARMACIST, None, 10)
    assert [e["id"] for e in q["entries"]] == [first.id, second.id] and q["counts"]["pending"] == 2
    with pytest.raises(Conflict):
        service.decide(service_ctx, PHARMACIST, DecideReview(first.id, "approve", None, None))
    service.claim(service_ctx, PHARMACIST, ClaimReview(first.id))
    with pytest.raises(Conflict):
        service.claim(service_ctx, PHARMACIST2, ClaimReview(first.id))
    with pytest.raises(Conflict):
        service.decide(service_ctx, PHARMACIST2, DecideReview(first.id, "approve", None, None))
    nxt = service.claim_next(service_ctx, PHARMACIST2)
    assert nxt is not None and nxt["id"] == second.id
    assert service.claim_next(service_ctx, PHARMACIST2) is None
    done = service.decide(service_ctx, PHARMACIST, DecideReview(first.id, "approve", "ACCEPTED", "已核对剂量"))
    assert done["status"] == "approved" and done["decided_by"] == "ph-1"
    [event] = events(service_ctx)
    assert event["approved_how"] == "pharmacist" and event["pharmacist"] == "ph-1"
    with pytest.raises(Conflict):
        service.decide(service_ctx, PHARMACIST, DecideReview(first.id, "reject", "DOSE", None))


def answer_issued(ctx: ServiceContext, review_id: str) -> str:
    """The issued_at of the review's latest screening, as sent."""
    with ctx.factory() as s:
        return str(store.screenings_of(s, review_id)[-1]["prescription"]["issued_at"])


def test_return_resubmit_is_screened_again(service_ctx: ServiceContext) -> None:
    answer = service.screen_prescription(service_ctx, HIS, rx(flagged("R-RS-1")))
    service.claim(service_ctx, PHARMACIST, ClaimReview(answer.id))
    service.decide(service_ctx, PHARMACIST, DecideReview(answer.id, "return", "DOSE", "多潘立酮一日不超过30mg"))
    with pytest.raises(Conflict):  # a returned prescription sent back unchanged (see test_review_resubmission.py)
        service.screen_prescription(service_ctx, HIS, rx(flagged("R-RS-1") | {"issued_at": answer_issued(service_ctx, answer.id)}))
    fixed = flagged("R-RS-1")
    fixed["items"][0].update(dose=10, quantity=9)
    again = service.screen_prescription(service_ctx, HIS, rx(fixed))
    assert again.id == answer.id and again.outcome == "pass" and again.attempt == 2
    assert actions(service_ctx, answer.id) == ["screened", "queued", "claimed", "returned", "resubmitted", "screened", "auto_passed"]
    figures = queries.quality(service_ctx, MANAGER, None, None, None)
    assert figures["acceptance_rate"] == 1.0 and figures["interventions"] == 1


def test_double_signature_goes_back_to_the_pharmacist(service_ctx: ServiceContext) -> None:
    answer = service.screen_prescription(service_ctx, HIS, rx(flagged("R-DS-1")))
    with pytest.raises(Conflict):  # only a returned prescription can be double-signed
        service.double_sign(service_ctx, HIS, DoubleSign(answer.id, "D001", "病情需要"))
    service.claim(service_ctx, PHARMACIST, ClaimReview(answer.id))
    service.decide(service_ctx, PHARMACIST, DecideReview(answer.id, "return", "DOSE", None))
    back = service.double_sign(service_ctx, HIS, DoubleSign(answer.id, "D001", "患者胃轻瘫，需加量，医师签字负责"))
    assert back["status"] == "pending" and back["double_signed"] is True
    assert queries.queue(service_ctx, PHARMACIST, None, 10)["entries"][0]["double_signed"] is True
    service.claim(service_ctx, PHARMACIST2, ClaimReview(answer.id))
    service.decide(service_ctx, PHARMACIST2, DecideReview(answer.id, "approve", None, "双签放行"))
    [event] = events(service_ctx)
    assert event["approved_how"] == "double_signed"
    detail = queries.review_detail(service_ctx, PHARMACIST, answer.id)
    signed = [a for a in detail["audit"] if a["action"] == "double_signed"][0]
    assert signed["detail"]["prescriber_id"] == "D001" and "签字" in signed["comment"]


def test_waiting_limit_lets_old_prescriptions_through_recorded_and_counted(service_ctx: ServiceContext) -> None:
    answer = service.screen_prescription(service_ctx, HIS, rx(flagged("R-WL-1")))
    assert service.release_overdue(service_ctx) == 0  # no limit set
    config.set_wait_limit(service_ctx, MANAGER, SetWaitLimit(15))
    assert service.release_overdue(service_ctx, utcnow() + timedelta(minutes=5)) == 0
    assert service.release_overdue(service_ctx, utcnow() + timedelta(minutes=16)) == 1
    [event] = events(service_ctx)
    assert event["approved_how"] == "released_unreviewed"
    assert actions(service_ctx, answer.id)[-1] == "released_unreviewed"
    end = utcnow() + timedelta(hours=1)
    assert queries.quality(service_ctx, MANAGER, None, end, None)["released_unreviewed"] == 1


def test_audit_trail_and_screenings_are_append_only(service_ctx: ServiceContext) -> None:
    answer = service.screen_prescription(service_ctx, HIS, rx(flagged("R-AU-1")))
    for statement in ("UPDATE audit_events SET action = 'approved'", "DELETE FROM audit_events",
                      "UPDATE screenings SET outcome = 'pass'", "DELETE FROM screenings"):  # fmt: skip
        with pytest.raises(DBAPIError), service_ctx.engine.begin() as conn:
            conn.execute(text(statement))
    assert actions(service_ctx, answer.id) == ["screened", "queued"]


def test_roles_and_site_scope(service_ctx: ServiceContext) -> None:
    with pytest.raises(Forbidden):
        service.screen_prescription(service_ctx, MANAGER, rx(body()))
    with pytest.raises(Forbidden):  # a storekeeper never screens, nor sees another site's reviews
        service.screen_prescription(service_ctx, STOREKEEPER_T01, rx(body()))
    answer = service.screen_prescription(service_ctx, HIS, rx(flagged("R-SC-1")))
    with pytest.raises(Forbidden):
        queries.review_detail(service_ctx, STOREKEEPER_T01, answer.id)
    assert queries.list_reviews(service_ctx, STOREKEEPER_T01, None, None, 50) == []
    with pytest.raises(Forbidden):
        service.claim(service_ctx, HIS, ClaimReview(answer.id))
    with pytest.raises(Forbidden):
        config.set_wait_limit(service_ctx, PHARMACIST, SetWaitLimit(5))


def test_unknown_site_is_refused_and_nothing_is_written(service_ctx: ServiceContext) -> None:
    with pytest.raises(InvalidInput) as err:
        service.screen_prescription(service_ctx, HIS, rx(body(site_code="NOWHERE")))
    assert "site_code" in err.value.fields
    with service_ctx.factory() as s:
        assert s.execute(select(store.reviews)).first() is None
        assert s.execute(select(store.audit_events)).first() is None


def test_quality_figures_per_rule(service_ctx: ServiceContext) -> None:
    service.screen_prescription(service_ctx, HIS, rx(body(prescription_no="R-QF-1")))
    a = service.screen_prescription(service_ctx, HIS, rx(flagged("R-QF-2")))
    b = service.screen_prescription(service_ctx, HIS, rx(flagged("R-QF-3")))
    for review_id, decision in ((a.id, "approve"), (b.id, "reject")):
        service.claim(service_ctx, PHARMACIST, ClaimReview(review_id))
        service.decide(service_ctx, PHARMACIST, DecideReview(review_id, decision, None if decision == "approve" else "DOSE", None))
    f = queries.quality(service_ctx, MANAGER, None, None, None)
    assert f["prescriptions"] == 3 and f["auto_pass_rate"] == pytest.approx(1 / 3)
    assert f["intervention_rate"] == pytest.approx(1 / 3)
    assert f["rules"]["DOSE_ABOVE_MAX"]["hits"] == 2 and f["rules"]["DOSE_ABOVE_MAX"]["override_rate"] == 0.5
    assert f["turnaround_minutes"]["n"] == 2


def test_patient_id_never_in_logs_nor_kept(service_ctx: ServiceContext, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    b = body(prescription_no="R-PII-1")
    b["patient"]["id"] = "370123199001011234"  # an ID-card-like patient id
    service.screen_prescription(service_ctx, HIS, rx(b))
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "370123199001011234" not in logged
    with service_ctx.factory() as s:
        kept = json.dumps([dict(r._mapping) for r in s.execute(select(store.screenings))], default=str)
    assert "370123199001011234" not in kept


def test_racing_claims_one_pharmacist_wins(service_ctx: ServiceContext) -> None:
    import threading

    from shared.auth import Principal

    answer = service.screen_prescription(service_ctx, HIS, rx(flagged("R-RACE-1")))
    results: list[str] = []
    barrier = threading.Barrier(6)

    def attempt(n: int) -> None:
        who = Principal(f"ph-race-{n}", ("pharmacist",))
        barrier.wait()
        try:
            service.claim(service_ctx, who, ClaimReview(answer.id))
            results.append(who.subject)
        except Conflict:
            results.append("conflict")

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if r != "conflict"]
    assert len(winners) == 1 and results.count("conflict") == 5
    with service_ctx.factory() as s:
        assert store.review_by_id(s, answer.id)["claimed_by"] == winners[0]
    assert actions(service_ctx, answer.id).count("claimed") == 1
