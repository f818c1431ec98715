"""Pharmacists at once on the same prescriptions, over real HTTP: claims, claim-next, decisions,
releases, the prescriber's resubmission and double signature, and the waiting limit's worker.

Each test runs on the embedded SQLite default and on the real PostgreSQL. Invariants: no 5xx;
one holder at a time; one decision per screening version (one audit row of the decision, one
review.prescription.approved event exactly when approved); a loser gets a 409 problem+json naming
`review_id` (or `prescription_no` for a resubmission that came too late).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from sqlalchemy import select

from services.prescription_review import config, service, store
from services.prescription_review.app import SPEC
from services.prescription_review.model.commands import SetWaitLimit
from shared.bus.tables import bus_tables
from shared.clock import utcnow
from shared.runtime import ServiceContext
from tests.faults.concurrency_support import LiveService, Reply, no_server_errors, race, serve
from tests.service.prescription_review.review_support import MANAGER, body, flagged, load_reference
from tests.support.backends import BACKENDS, Backend
from tests.support.web import bearer

HIS = bearer("his", name="his-1")
PH = [bearer("pharmacist", name=f"ph-{i}") for i in range(1, 7)]
DECISIONS = ("approved", "rejected", "returned", "released_unreviewed")


@pytest.fixture(scope="module", params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """The review centre over HTTP on SQLite, then on PostgreSQL, shared by this module's tests (the
    sample county's read model takes seconds to load); each test works on prescriptions of its own."""
    made = Backend(str(request.param), tmp_path_factory.mktemp("review"))
    try:
        with serve(SPEC, made, load_reference) as service:
            yield service
    finally:
        made.close()


def screen(live: LiveService, no: str, quantity: int = 18) -> Reply:
    rx = flagged(no)
    rx["items"][0]["quantity"] = quantity
    return live.call("POST", "/api/v1/screenings", HIS, rx)


def pending(live: LiveService, n: int, prefix: str, site: str = "CW-H01") -> list[str]:
    """n prescriptions of a site waiting for a pharmacist; their review ids."""
    ids = []
    for i in range(n):
        r = live.call("POST", "/api/v1/screenings", HIS, flagged(f"{prefix}-{i}", site))
        assert r.status == 200 and r.body["outcome"] == "review", r.body
        ids.append(r.body["id"])
    return ids


def post(live: LiveService, path: str, headers: dict[str, str], body: Any = None) -> Reply:
    return live.call("POST", path, headers, body if body is not None else {})


def decide(live: LiveService, rid: str, who: dict[str, str], decision: str = "approve") -> Reply:
    body = {"decision": decision, "reason_code": None if decision == "approve" else "DOSE"}
    return post(live, f"/api/v1/reviews/{rid}/decision", who, body)


def audit(ctx: ServiceContext, rid: str) -> list[str]:
    with ctx.factory() as session:
        return [e["action"] for e in store.audit_of(session, rid)]


def approved_events(ctx: ServiceContext) -> Counter[str]:
    outbox, _ = bus_tables(ctx.metadata)
    with ctx.factory() as session:
        rows = session.execute(select(outbox.c.envelope).where(outbox.c.event_type == "review.prescription.approved"))
        return Counter(json.loads(envelope)["data"]["prescription_id"] for (envelope,) in rows)


def status(ctx: ServiceContext, rid: str) -> dict[str, Any]:
    with ctx.factory() as session:
        found = store.review_by_id(session, rid)
    assert found is not None
    return found


def losers_name(replies: list[Reply], field: str = "review_id") -> None:
    no_server_errors(replies)
    bad = [(r.status, r.body) for r in replies if r.status not in (200, 204) and not r.is_conflict(field)]
    assert not bad, bad


def test_six_pharmacists_claim_the_same_prescriptions(live: LiveService) -> None:
    for rid in pending(live, 4, "RX-CLAIM"):
        replies = race([partial(post, live, f"/api/v1/reviews/{rid}/claim", h) for h in PH])
        losers_name(replies)
        winners = [i for i, r in enumerate(replies) if r.status == 200]
        assert len(winners) == 1, [r.status for r in replies]
        assert status(live.ctx, rid)["claimed_by"] == f"ph-{winners[0] + 1}"
        assert audit(live.ctx, rid).count("claimed") == 1
    # claim-next: 8 waiting at a site of their own, 6 pharmacists asking twice each: 8 claims, each review once, then 204s
    ids = set(pending(live, 8, "RX-NEXT", site="CW-H02"))
    replies = race([partial(post, live, "/api/v1/queue/claim-next", h, {"site": "CW-H02"}) for h in PH * 2])
    losers_name(replies)
    got = [r.body["id"] for r in replies if r.status == 200]
    assert sorted(got) == sorted(ids) and sum(r.status == 204 for r in replies) == 4, [r.status for r in replies]


def test_decisions_releases_and_other_pharmacists_race_on_a_claimed_prescription(live: LiveService) -> None:
    """The holder's two tabs approve and reject at once while the holder releases it and another
    pharmacist tries to decide and to claim: one outcome, one audit row of it, one event if approved."""
    for rid in pending(live, 5, "RX-DECIDE"):
        assert post(live, f"/api/v1/reviews/{rid}/claim", PH[0]).status == 200
        replies = race([
            partial(decide, live, rid, PH[0], "approve"), partial(decide, live, rid, PH[0], "reject"),
            partial(decide, live, rid, PH[0], "return"), partial(post, live, f"/api/v1/reviews/{rid}/release", PH[0]),
            partial(decide, live, rid, PH[1], "approve"), partial(post, live, f"/api/v1/reviews/{rid}/claim", PH[1]),
        ])  # fmt: skip
        losers_name(replies)
        final = status(live.ctx, rid)
        trail = audit(live.ctx, rid)
        decided = [i for i in range(3) if replies[i].status == 200]
        released, other_decided, other_claimed = (replies[i].status == 200 for i in (3, 4, 5))
        assert len(decided) + released == 1, ([r.status for r in replies], trail)
        assert not other_claimed or released  # ph-2 gets it only once ph-1 let go …
        assert not other_decided or other_claimed  # … and decides only what ph-2 holds
        assert sum(trail.count(a) for a in DECISIONS) == len(decided) + other_decided, trail
        assert trail.count("released") == int(released), trail
        if decided:
            assert final["status"] == ("approved", "rejected", "returned")[decided[0]] and final["decided_by"] == "ph-1"
        elif other_decided:
            assert final["status"] == "approved" and final["decided_by"] == "ph-2"
        else:
            assert final["status"] == ("claimed" if other_claimed else "pending")
        assert approved_events(live.ctx)[rid] == int(final["status"] == "approved")


def test_decision_against_the_prescribers_changed_prescription(live: LiveService) -> None:
    """The HIS sends a changed prescription (same number) while the pharmacist decides the old one:
    either the decision stands and the resubmission is refused, or the new version is queued and
    the decision is refused; never both, never a decision on a version the pharmacist did not see."""
    outcomes: Counter[str] = Counter()
    for i, rid in enumerate(pending(live, 6, "RX-CHANGE")):
        assert post(live, f"/api/v1/reviews/{rid}/claim", PH[0]).status == 200
        replies = race([partial(decide, live, rid, PH[0], "approve"), partial(screen, live, f"RX-CHANGE-{i}", 12)])
        no_server_errors(replies)
        final = status(live.ctx, rid)
        if replies[0].status == 200:
            outcomes["decision"] += 1
            assert replies[1].is_conflict("prescription_no") and final["status"] == "approved" and final["attempts"] == 1
        else:
            outcomes["resubmission"] += 1
            assert replies[0].is_conflict("review_id") and replies[1].status == 200
            assert final["status"] == "pending" and final["attempts"] == 2 and final["claimed_by"] is None
        assert approved_events(live.ctx)[rid] == int(final["status"] == "approved")
    assert sum(outcomes.values()) == 6


def test_waiting_limit_worker_against_claims_and_double_signatures(live: LiveService) -> None:
    """The worker lets overdue prescriptions through while pharmacists claim them: each is either
    claimed or released unreviewed, never both. Two double signatures of one returned prescription: one wins."""
    config.set_wait_limit(live.ctx, MANAGER, SetWaitLimit(1))
    ids = pending(live, 6, "RX-WAIT")

    def worker() -> Reply:
        released = service.release_overdue(live.ctx, now=utcnow() + timedelta(minutes=5))
        return Reply(200, "application/json", {"released": released}, {})

    replies = race([worker] + [partial(post, live, f"/api/v1/reviews/{rid}/claim", PH[i % 6]) for i, rid in enumerate(ids)])
    losers_name(replies)
    for i, rid in enumerate(ids):
        final = status(live.ctx, rid)
        trail = audit(live.ctx, rid)
        claimed = replies[i + 1].status == 200
        assert (final["status"] == "claimed") == claimed and (final["status"] == "released_unreviewed") == (not claimed)
        assert trail.count("claimed") + trail.count("released_unreviewed") == 1, trail
        assert approved_events(live.ctx)[rid] == int(not claimed)
    assert replies[0].body["released"] >= sum(r.status != 200 for r in replies[1:])  # (others' pending ones too)
    config.set_wait_limit(live.ctx, MANAGER, SetWaitLimit(None))
    # a returned prescription double-signed three times at once by the HIS
    rid = pending(live, 1, "RX-SIGN")[0]
    assert post(live, f"/api/v1/reviews/{rid}/claim", PH[0]).status == 200
    assert decide(live, rid, PH[0], "return").status == 200
    sign = {"prescriber_id": "D001", "reason": "患者病情需要"}
    replies = race([partial(post, live, f"/api/v1/reviews/{rid}/double-sign", HIS, sign)] * 3)
    losers_name(replies)
    assert sum(r.status == 200 for r in replies) == 1
    assert audit(live.ctx, rid).count("double_signed") == 1 and status(live.ctx, rid)["status"] == "pending"


def test_first_sends_of_one_prescription_at_once(live: LiveService) -> None:
    """The HIS sends a new prescription four times at once (a retry storm): one review, one
    screening, the same answer to every send, and for a passing one exactly one approval event."""
    for i in range(3):
        clean, review = body(prescription_no=f"RX-STORM-{i}"), flagged(f"RX-STORM-F{i}")
        replies = race([partial(live.call, "POST", "/api/v1/screenings", HIS, clean)] * 4
                       + [partial(live.call, "POST", "/api/v1/screenings", HIS, review)] * 4)  # fmt: skip
        no_server_errors(replies)
        assert {r.status for r in replies} == {200}, [r.body for r in replies]
        for part in (replies[:4], replies[4:]):
            assert len({json.dumps(r.body, sort_keys=True) for r in part}) == 1, [r.body for r in part]
            rid = part[0].body["id"]
            with live.ctx.factory() as session:
                assert len(store.screenings_of(session, rid)) == 1
            assert audit(live.ctx, rid).count("screened") == 1
        assert replies[0].body["outcome"] == "pass" and approved_events(live.ctx)[replies[0].body["id"]] == 1
        assert replies[4].body["outcome"] == "review" and approved_events(live.ctx)[replies[4].body["id"]] == 0
