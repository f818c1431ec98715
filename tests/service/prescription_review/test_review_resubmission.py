"""What an HIS gets when it sends a prescription number again (decided for issue 11):

- the very same prescription again (a retry after a timeout, with or without Idempotency-Key): the
  answer it already had, nothing written;
- a changed prescription while it waits for a pharmacist (pending or claimed), or after a return or
  a block: a new screening version of the same review (attempt + 1), the old claim dropped and the
  change audited as `resubmitted`; a pharmacist's decision on the old version then loses (409);
- a returned prescription sent back unchanged: 409 — change it or insist with a double signature;
- a number already passed, approved or rejected: 409 (it may be dispensed; write a new one);
- two first sends racing: one review, the loser gets the winner's answer or a 409, never a 500.
"""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor

import pytest

from services.prescription_review import service, store
from services.prescription_review.model.commands import ClaimReview, DecideReview
from shared.errors import Conflict
from shared.runtime import ServiceContext
from tests.service.prescription_review.review_support import HIS, PHARMACIST, body, flagged, rx


def counts(ctx: ServiceContext, review_id: str) -> tuple[int, int]:
    with ctx.factory() as s:
        return len(store.screenings_of(s, review_id)), len(store.audit_of(s, review_id))


def test_the_same_prescription_again_is_the_same_answer_and_writes_nothing(service_ctx: ServiceContext) -> None:
    sent = flagged("R-SAME-1")
    first = service.screen_prescription(service_ctx, HIS, rx(sent))
    before = counts(service_ctx, first.id)
    again = service.screen_prescription(service_ctx, HIS, rx(copy.deepcopy(sent)))
    assert (again.id, again.outcome, again.findings, again.attempt) == (first.id, first.outcome, first.findings, 1)
    assert counts(service_ctx, first.id) == before
    clean = body(prescription_no="R-SAME-2")
    passed = service.screen_prescription(service_ctx, HIS, rx(clean))
    assert service.screen_prescription(service_ctx, HIS, rx(copy.deepcopy(clean))).id == passed.id


@pytest.mark.parametrize("claimed", [False, True])
def test_a_changed_prescription_while_waiting_is_a_new_version(service_ctx: ServiceContext, claimed: bool) -> None:
    sent = flagged("R-CHG-1")
    first = service.screen_prescription(service_ctx, HIS, rx(sent))
    assert first.outcome == "review"
    if claimed:
        service.claim(service_ctx, PHARMACIST, ClaimReview(first.id))
    fixed = copy.deepcopy(sent)
    fixed["items"][0].update(dose=10, quantity=9)
    second = service.screen_prescription(service_ctx, HIS, rx(fixed))
    assert second.id == first.id and second.attempt == 2 and second.outcome == "pass"
    with service_ctx.factory() as s:
        review = store.review_by_id(s, first.id)
        actions = [a["action"] for a in store.audit_of(s, first.id)]
    assert review is not None and review["status"] == "passed" and review["claimed_by"] is None
    assert actions[-3:] == ["resubmitted", "screened", "auto_passed"]
    if claimed:
        with pytest.raises(Conflict):  # the pharmacist was looking at the old version
            service.decide(service_ctx, PHARMACIST, DecideReview(first.id, "approve", None, None))


def test_returned_unchanged_is_409_and_decided_numbers_are_final(service_ctx: ServiceContext) -> None:
    sent = flagged("R-RET-1")
    first = service.screen_prescription(service_ctx, HIS, rx(sent))
    service.claim(service_ctx, PHARMACIST, ClaimReview(first.id))
    service.decide(service_ctx, PHARMACIST, DecideReview(first.id, "return", "DOSE", "一日不超过30mg"))
    with pytest.raises(Conflict) as returned:
        service.screen_prescription(service_ctx, HIS, rx(copy.deepcopy(sent)))
    assert "prescription_no" in (returned.value.fields or {})
    clean = body(prescription_no="R-FINAL-1")
    service.screen_prescription(service_ctx, HIS, rx(clean))
    changed = copy.deepcopy(clean)
    changed["items"][0].update(days=6, quantity=6)
    with pytest.raises(Conflict):
        service.screen_prescription(service_ctx, HIS, rx(changed))


def test_two_first_sends_race_to_one_review(service_ctx: ServiceContext) -> None:
    sent = flagged("R-RACE-1")
    prescriptions = [rx(copy.deepcopy(sent)) for _ in range(4)]

    def send(p: object) -> str:
        try:
            return service.screen_prescription(service_ctx, HIS, p).id  # type: ignore[arg-type]
        except Conflict:
            return "conflict"

    with ThreadPoolExecutor(4) as pool:
        ids = set(pool.map(send, prescriptions))
    assert len(ids - {"conflict"}) == 1


def test_his_message_when_the_database_fails_is_a_503_reply_not_a_dead_worker(backend: object) -> None:
    """The HIS inbox answers every message: a database that cannot serve (here: never migrated) gives a
    503 problem naming no patient data, so the consumer loop lives on and the HIS can resend."""
    from services.prescription_review.app import SPEC
    from services.prescription_review.worker import answer_for

    ctx = backend.context(SPEC, migrate=False)  # type: ignore[attr-defined]
    reply = answer_for(ctx, flagged("R-DBDOWN-1"))
    assert reply["status"] == 503 and "P2" not in str(reply)
