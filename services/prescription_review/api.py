"""The review centre's HTTP API: thin views (parse, call one use case or query, serialise)."""

from __future__ import annotations

from typing import Any

from flask import current_app

from services.prescription_review import queries, schemas_work, service
from services.prescription_review.model.commands import ClaimReview, ReleaseClaim
from services.prescription_review.model.prescription import Prescription
from services.prescription_review.schemas import ScreeningIn, ScreeningOut
from shared.runtime import ServiceContext
from shared.web.app import current_principal
from shared.web.blueprint import Blueprint
from shared.web.idempotency import idempotent
from shared.web.responses import problems

blp = Blueprint("prescription_review", __name__, url_prefix="/api/v1", description="审方 — screening and the pharmacist's queue")


def _ctx() -> ServiceContext:
    return current_app.extensions["countyhub"]  # type: ignore[no-any-return]


@blp.route("/screenings", methods=["POST"])
@idempotent
@blp.arguments(ScreeningIn())  # one instance: nested schemas are built once, not per request
@blp.response(200, ScreeningOut())
def screen(rx: Prescription) -> Any:
    """Screen a prescription before dispensing: pass, review (pharmacist's queue) or block."""
    answer = service.screen_prescription(_ctx(), current_principal(), rx)
    body = {"id": answer.id, "outcome": answer.outcome, "knowledge_version": answer.knowledge_version, "findings": answer.findings}
    return body, 200, {"Location": f"/api/v1/reviews/{answer.id}"}


@blp.route("/reviews")
@blp.arguments(schemas_work.ReviewsQuery, location="query")
@blp.response(200, schemas_work.ReviewOut(many=True))
def reviews(args: dict[str, Any]) -> Any:
    """Prescriptions under review or decided, newest first."""
    return queries.list_reviews(_ctx(), current_principal(), args["status"], args["site"], args["limit"])


@blp.route("/reviews/<review_id>")
@blp.response(200, schemas_work.ReviewDetailOut)
@problems(blp, 404)
def review(review_id: str) -> Any:
    """One prescription: its screenings (findings, knowledge version) and audit trail."""
    return queries.review_detail(_ctx(), current_principal(), review_id)


@blp.route("/queue")
@blp.arguments(schemas_work.QueueQuery, location="query")
@blp.response(200, schemas_work.QueueOut)
def queue(args: dict[str, Any]) -> Any:
    """The pharmacists' queue, oldest first, with waiting minutes and counts per status."""
    return queries.queue(_ctx(), current_principal(), args["site"], args["limit"])


@blp.route("/queue/claim-next", methods=["POST"])
@blp.arguments(schemas_work.ClaimNextIn)
@blp.response(200, schemas_work.ReviewOut)
@problems(blp, 409)
@blp.alt_response(204, description="the queue is empty")
def claim_next(args: dict[str, Any]) -> Any:
    """Claim the oldest waiting prescription."""
    claimed = service.claim_next(_ctx(), current_principal(), args["site"])
    return claimed if claimed is not None else ("", 204)


@blp.route("/reviews/<review_id>/claim", methods=["POST"])
@blp.response(200, schemas_work.ReviewOut)
@problems(blp, 404, 409)
def claim(review_id: str) -> Any:
    """Claim one prescription; 409 if another pharmacist holds or decided it."""
    return service.claim(_ctx(), current_principal(), ClaimReview(review_id))


@blp.route("/reviews/<review_id>/release", methods=["POST"])
@blp.response(200, schemas_work.ReviewOut)
@problems(blp, 404, 409)
def release(review_id: str) -> Any:
    """Put a claimed prescription back in the queue."""
    return service.release(_ctx(), current_principal(), ReleaseClaim(review_id))


@blp.route("/reviews/<review_id>/decision", methods=["POST"])
@blp.arguments(schemas_work.DecisionIn)
@blp.response(200, schemas_work.ReviewOut)
@problems(blp, 404, 409)
def decide(args: dict[str, Any], review_id: str) -> Any:
    """Approve, reject, or return to the prescriber with a reason code and comment."""
    return service.decide(_ctx(), current_principal(), schemas_work.DecisionIn().command(review_id, args))


@blp.route("/reviews/<review_id>/double-sign", methods=["POST"])
@blp.arguments(schemas_work.DoubleSignIn)
@blp.response(200, schemas_work.ReviewOut)
@problems(blp, 404, 409)
def double_sign(args: dict[str, Any], review_id: str) -> Any:
    """The prescriber insists (双签) on a returned prescription; it goes back to a pharmacist."""
    return service.double_sign(_ctx(), current_principal(), schemas_work.DoubleSignIn.command(review_id, args))
