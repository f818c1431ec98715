"""marshmallow schemas of the pharmacist's work and the manager's configuration; post_load builds
the typed commands of model/commands.py. Response schemas declare what each endpoint answers."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, pre_load, validate, validates_schema

from services.prescription_review.knowledge.importer import CsvError, read_csv
from services.prescription_review.model.commands import (
    DECISIONS,
    REASON_CODES,
    DecideReview,
    DoubleSign,
    ImportPrescribers,
    PrescriberEntry,
    SetSeverity,
    SetWaitLimit,
)
from services.prescription_review.model.findings import CODES, SEVERITIES
from services.prescription_review.model.registry import PRIVILEGES
from services.prescription_review.schemas import Strict
from services.prescription_review.schemas_knowledge import refuse_control_cells
from shared.events.contracts import SITE_LEVELS
from shared.repeats import repeats
from shared.text import Text
from shared.web.responses import OpenSchema

STATUSES = ("pending", "claimed", "approved", "rejected", "returned", "passed", "blocked", "released_unreviewed")


class DecisionIn(Strict):
    """approve | reject | return with a reason code (required to reject or return)."""

    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    reason_code = fields.String(load_default=None, allow_none=True, validate=validate.OneOf((*REASON_CODES, "ACCEPTED")))
    comment = Text(load_default=None, allow_none=True, multiline=True, validate=validate.Length(max=500))

    @validates_schema
    def _reason(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("decision") in ("reject", "return") and not data.get("reason_code"):
            raise ValidationError("a reason code is required to reject or return", "reason_code")

    @post_load
    def _build(self, d: dict[str, Any], **_: Any) -> dict[str, Any]:
        return d

    def command(self, review_id: str, d: dict[str, Any]) -> DecideReview:
        """The typed command for one review."""
        return DecideReview(review_id, d["decision"], d["reason_code"], d["comment"])


class DoubleSignIn(Strict):
    """The prescriber's insistence, through the HIS."""

    prescriber_id = Text(required=True, upper=True, validate=validate.Length(min=1, max=40))  # a code, as the registry's
    reason = Text(required=True, multiline=True, validate=validate.Length(min=2, max=500))

    @staticmethod
    def command(review_id: str, d: dict[str, Any]) -> DoubleSign:
        """The typed command."""
        return DoubleSign(review_id, d["prescriber_id"], d["reason"])


class SeverityIn(Strict):
    """One rule's severity at one site level."""

    site_level = fields.String(required=True, validate=validate.OneOf(("*", *SITE_LEVELS)))
    code = fields.String(required=True, validate=validate.OneOf(CODES))
    severity = fields.String(required=True, validate=validate.OneOf(SEVERITIES))

    @post_load
    def _build(self, d: dict[str, Any], **_: Any) -> SetSeverity:
        return SetSeverity(d["site_level"], d["code"], d["severity"])


class RegistryEntryIn(Strict):
    """A doctor from the medical affairs office's list."""

    # codes (upper-case, no blanks), as the HIS's prescriber id and every site code are: "d952" in the
    # registry and "D952" from the HIS are one doctor; a site "cw-h01" is CW-H01 (was stored as typed,
    # and the doctor was then reported as not registered at CW-H01)
    id = Text(required=True, upper=True, validate=validate.Length(min=1, max=40))
    name = Text(required=True, validate=validate.Length(min=1, max=60))
    sites = fields.List(Text(required=True, upper=True, validate=validate.Length(min=1, max=40)), load_default=list,
                        validate=validate.Length(max=50))
    title = Text(load_default=None, allow_none=True, validate=validate.Length(max=40))
    privileges = fields.List(fields.String(validate=validate.OneOf(PRIVILEGES)), load_default=list,
                             validate=validate.Length(max=len(PRIVILEGES)))  # was unbounded: one privilege 100,000 times was accepted
    active = fields.Boolean(load_default=True)

    @validates_schema
    def _each_once(self, d: dict[str, Any], **_: Any) -> None:
        """A site or privilege twice grants nothing more: a 422 naming the repeat (sites[i], privileges[i])."""
        errors: dict[str, dict[int, list[str]]] = {}
        for name in ("sites", "privileges"):
            listed = d.get(name) or ()
            for i, j in repeats(listed).items():
                errors.setdefault(name, {})[i] = [f"{listed[i]} 重复 (already at {name}[{j}])"]
        if errors:
            raise ValidationError(errors)  # type: ignore[arg-type]


class PrescribersIn(Strict):
    """Registry entries to add or replace: `entries` as objects, or `csv` as the medical affairs
    office exports it (header id,name,sites,title,privileges,active; lists `;`-separated)."""

    entries = fields.List(fields.Nested(RegistryEntryIn), required=True, validate=validate.Length(min=1, max=5000))

    @pre_load
    def _from_csv(self, data: Any, **_: Any) -> Any:
        if not isinstance(data, dict) or "csv" not in data:
            return data
        text = data.get("csv")
        if not isinstance(text, str) or len(text) > 2_000_000:
            raise ValidationError("CSV text up to 2 MB", "csv")
        try:  # a cell with NUL, U+202E, U+200B …: 422 naming its line and column, as a bad quote names its line
            refuse_control_cells(text)
        except ValidationError as exc:
            raise ValidationError(exc.messages, "csv") from exc
        try:
            rows = read_csv(text)  # strict: a quote left open is refused, never swallows the rows after it
        except CsvError as exc:
            raise ValidationError(f"第 {exc.line} 行不是有效的 CSV ({exc})", "csv") from exc
        entries = []
        for row in rows:
            entry: dict[str, Any] = {k: (v or "").strip() for k, v in row.items() if k}
            for key in ("sites", "privileges"):
                entry[key] = [x.strip() for x in entry.get(key, "").split(";") if x.strip()]
            entry["title"] = entry.get("title") or None
            # 是/否 or what fields.Boolean reads (true/false, yes/no, y/n, 1/0, on/off); anything else is
            # left for it to refuse naming entries[N].active (it was read as active: a doctor marked 停用 kept prescribing)
            active = entry.get("active") or "true"
            entry["active"] = {"是": "true", "否": "false"}.get(active, active)
            entries.append(entry)
        return {"entries": entries, **{k: v for k, v in data.items() if k not in ("csv", "entries")}}

    @validates_schema
    def _each_doctor_once(self, d: dict[str, Any], **_: Any) -> None:
        """The same id twice: which row wins is a guess, so a 422 naming each repeat (entries[i].id)."""
        entries = d.get("entries") or ()
        errors = {i: {"id": [f"医生 {entries[i]['id']} 重复 (doctor {entries[i]['id']} is already at entries[{j}])"]}
                  for i, j in repeats(e["id"] for e in entries).items()}
        if errors:
            raise ValidationError({"entries": errors})  # type: ignore[dict-item]

    @post_load
    def _build(self, d: dict[str, Any], **_: Any) -> ImportPrescribers:
        return ImportPrescribers(tuple(PrescriberEntry(e["id"], e["name"], tuple(e["sites"]), e["title"],
                                                       tuple(e["privileges"]), e["active"]) for e in d["entries"]))  # fmt: skip


class WaitLimitIn(Strict):
    """Minutes before a flagged prescription goes through unreviewed; null switches it off."""

    minutes = fields.Integer(required=True, allow_none=True, strict=True, validate=validate.Range(min=1, max=1440))

    @post_load
    def _build(self, d: dict[str, Any], **_: Any) -> SetWaitLimit:
        return SetWaitLimit(d["minutes"])


class LimitQuery(Strict):
    """How many rows."""

    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))


class QueueQuery(Strict):
    """Filters of the queue."""

    site = Text(load_default=None, validate=validate.Length(min=1, max=40))
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))


class ReviewsQuery(QueueQuery):
    """Filters of the review list."""

    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))


class QualityQuery(Strict):
    """The period of the quality figures (default: the last 30 days)."""

    start = fields.AwareDateTime(load_default=None)
    end = fields.AwareDateTime(load_default=None)
    site = Text(load_default=None, validate=validate.Length(min=1, max=40))


class ClaimNextIn(Strict):
    """Optionally only one site's prescriptions."""

    site = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=40))


# -- responses -------------------------------------------------------------------------------------

ReviewOut = Schema.from_dict({
    "id": fields.String(), "prescription_no": fields.String(), "site_code": fields.String(), "site_level": fields.String(),
    "status": fields.String(validate=validate.OneOf(STATUSES)), "outcome": fields.String(), "screening_id": fields.String(),
    "attempts": fields.Integer(), "double_signed": fields.Boolean(), "created_at": fields.DateTime(),
    "queued_at": fields.DateTime(allow_none=True), "claimed_by": fields.String(allow_none=True),
    "claimed_at": fields.DateTime(allow_none=True), "decided_by": fields.String(allow_none=True),
    "decided_at": fields.DateTime(allow_none=True), "version": fields.Integer(),
}, name="Review")  # fmt: skip

ScreeningRunOut = Schema.from_dict({
    "id": fields.String(), "attempt": fields.Integer(), "screened_at": fields.DateTime(), "screened_by": fields.String(),
    "source": fields.String(), "outcome": fields.String(), "knowledge_version": fields.String(),
    "prescription": fields.Dict(), "findings": fields.List(fields.Dict()),
}, name="ScreeningRun")  # fmt: skip

AuditOut = Schema.from_dict({
    "id": fields.Integer(), "at": fields.DateTime(), "actor": fields.String(), "actor_role": fields.String(),
    "action": fields.String(), "reason_code": fields.String(allow_none=True), "comment": fields.String(allow_none=True),
    "knowledge_version": fields.String(allow_none=True), "screening_id": fields.String(allow_none=True),
    "detail": fields.Dict(),
}, name="AuditEntry")  # fmt: skip


class ReviewDetailOut(ReviewOut):  # type: ignore[misc,valid-type]
    """A review with its screenings and audit trail."""

    screenings = fields.List(fields.Nested(ScreeningRunOut))
    audit = fields.List(fields.Nested(AuditOut))


QueueEntryOut = Schema.from_dict({
    "id": fields.String(), "prescription_no": fields.String(), "site_code": fields.String(), "status": fields.String(),
    "queued_at": fields.DateTime(), "waiting_minutes": fields.Float(), "claimed_by": fields.String(allow_none=True),
    "double_signed": fields.Boolean(), "attempts": fields.Integer(), "worst": fields.String(),
    "codes": fields.List(fields.String()), "items": fields.Integer(), "patient": fields.Dict(),
}, name="QueueEntry")  # fmt: skip


class QueueOut(Schema):
    """The queue: counts per status and the entries oldest first."""

    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    entries = fields.List(fields.Nested(QueueEntryOut))
    oldest_waiting_minutes = fields.Float(allow_none=True)


class ImportReportOut(Schema):
    """The validation report of a knowledge import."""

    version = fields.String()
    ok = fields.Boolean()
    counts = fields.Dict()
    errors = fields.List(fields.Dict())
    warnings = fields.List(fields.Dict())
    coverage = fields.Dict()


class QualityOut(Schema):
    """Quality figures of a period (model/quality.py defines each)."""

    start = fields.DateTime()
    end = fields.DateTime()
    site_code = fields.String(allow_none=True)
    prescriptions = fields.Integer()
    screenings = fields.Integer()
    first_outcomes = fields.Dict()
    statuses = fields.Dict()
    auto_pass_rate = fields.Float(allow_none=True)
    intervention_rate = fields.Float(allow_none=True)
    acceptance_rate = fields.Float(allow_none=True)
    interventions = fields.Integer()
    resubmitted = fields.Integer()
    double_signed = fields.Integer()
    released_unreviewed = fields.Integer()
    turnaround_minutes = fields.Dict()
    rules = fields.Dict()


class KnowledgeVersionsOut(Schema):
    """The active knowledge version and every imported one."""

    active = fields.String()
    catalogue_version = fields.Integer()
    versions = fields.List(fields.Dict())


RuleOut = Schema.from_dict({"code": fields.String(), "group": fields.String(), "title": fields.String(),
                            "default": fields.String(), "basis": fields.String()}, name="Rule")  # fmt: skip


class RulesOut(Schema):
    """Every rule with its default severity and basis, and the overrides per site level."""

    rules = fields.List(fields.Nested(RuleOut))
    overrides = fields.Dict(keys=fields.String(), values=fields.Dict())


class SeverityOverridesOut(OpenSchema):
    """The severity overrides after a change: {site level or "*": {rule code: severity}}."""


PrescriberOut = Schema.from_dict({
    "id": fields.String(), "name": fields.String(), "sites": fields.List(fields.String()), "title": fields.String(allow_none=True),
    "privileges": fields.List(fields.String()), "active": fields.Boolean(), "updated_at": fields.DateTime(),
}, name="Prescriber")  # fmt: skip
ImportedOut = Schema.from_dict({"imported": fields.Integer()}, name="Imported")
WaitLimitOut = Schema.from_dict({"wait_limit_minutes": fields.Integer(allow_none=True)}, name="WaitLimit")
ReleasedOut = Schema.from_dict({"released": fields.Integer()}, name="Released")
