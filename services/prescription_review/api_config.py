"""The pharmacy manager's HTTP API: knowledge versions, rule severities, the prescriber registry,
the waiting limit, and the quality figures. Thin views."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView

from services.prescription_review import config, queries, schemas_knowledge, schemas_work, service
from services.prescription_review.model.commands import (
    ImportKnowledge,
    ImportPrescribers,
    SetSeverity,
    SetWaitLimit,
)
from shared.runtime import ServiceContext
from shared.web.app import current_principal
from shared.web.blueprint import Blueprint
from shared.web.request_parsing import large_body

blp = Blueprint("prescription_review_config", __name__, url_prefix="/api/v1", description="审方中心 — configuration and quality")


def _ctx() -> ServiceContext:
    return current_app.extensions["countyhub"]  # type: ignore[no-any-return]


@blp.route("/knowledge")
class Knowledge(MethodView):
    """Knowledge versions."""

    @blp.response(200, schemas_work.KnowledgeVersionsOut)
    def get(self) -> Any:
        """The active version and every imported one with its validation report."""
        return config.knowledge_versions(_ctx(), current_principal())

    @large_body  # tables of up to 5 MB of CSV (schemas_knowledge.TableContent)
    @blp.arguments(schemas_knowledge.KnowledgeIn)
    @blp.response(201, schemas_work.ImportReportOut)
    def post(self, cmd: ImportKnowledge) -> Any:
        """Import a new version (tables as CSV text or rows); 422 naming table[row].field if any row is bad."""
        return config.import_knowledge(_ctx(), current_principal(), cmd).as_dict(), 201


@blp.route("/rules")
@blp.response(200, schemas_work.RulesOut)
def rules() -> Any:
    """Every rule with its default severity and basis, and the overrides per site level."""
    return config.severities(_ctx(), current_principal())


@blp.route("/rules/severity", methods=["PUT"])
@blp.arguments(schemas_work.SeverityIn)
@blp.response(200, schemas_work.SeverityOverridesOut)
def set_severity(cmd: SetSeverity) -> Any:
    """Set one rule's severity at one site level (the pharmacy manager)."""
    return config.set_severity(_ctx(), current_principal(), cmd)


@blp.route("/prescribers")
class Prescribers(MethodView):
    """The prescriber registry (医务科处方权名册)."""

    @blp.arguments(schemas_work.LimitQuery, location="query")
    @blp.response(200, schemas_work.PrescriberOut(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """Registry entries."""
        return config.prescribers(_ctx(), current_principal(), args["limit"])

    @large_body  # a registry CSV of up to 2 MB, JSON-escaped
    @blp.arguments(schemas_work.PrescribersIn)
    @blp.response(200, schemas_work.ImportedOut)
    def post(self, cmd: ImportPrescribers) -> Any:
        """Add or replace entries."""
        return {"imported": config.import_prescribers(_ctx(), current_principal(), cmd)}


@blp.route("/settings/wait-limit")
class WaitLimit(MethodView):
    """The waiting limit at rush hour."""

    @blp.response(200, schemas_work.WaitLimitOut)
    def get(self) -> Any:
        """Minutes, or null when prescriptions always wait for a pharmacist."""
        return config.wait_limit(_ctx(), current_principal())

    @blp.arguments(schemas_work.WaitLimitIn)
    @blp.response(200, schemas_work.WaitLimitOut)
    def put(self, cmd: SetWaitLimit) -> Any:
        """Set or switch off the limit."""
        return config.set_wait_limit(_ctx(), current_principal(), cmd)


@blp.route("/queue/release-overdue", methods=["POST"])
@blp.response(200, schemas_work.ReleasedOut)
def release_overdue() -> Any:
    """Apply the waiting limit now (the worker does it every 30 s)."""
    current_principal().require("pharmacy_manager")
    return {"released": service.release_overdue(_ctx())}


@blp.route("/quality")
@blp.arguments(schemas_work.QualityQuery, location="query")
@blp.response(200, schemas_work.QualityOut)
def quality(args: dict[str, Any]) -> Any:
    """Auto-pass, intervention and acceptance rates, turnaround, per-rule hit and override rates."""
    return queries.quality(_ctx(), current_principal(), args["start"], args["end"], args["site"])
