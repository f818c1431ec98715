"""CDS Hooks 2.0 (https://cds-hooks.org): `GET /api/v1/cds-services` discovery and the `order-sign` hook
(the CDS base URL is `<host>/api/v1`, so the paths are the standard ones under it; both need a token).

The EHR sends the draft FHIR R4 MedicationRequest resources of a prescription about to be signed
(context.draftOrders, a Bundle) and, in prefetch, the Patient, the Conditions (ICD-10) and the
AllergyIntolerances; the request's `extension` carries the county's facts FHIR has no slot for
(site_code, prescription type and number, pregnant/lactating). The answer is one card per finding,
indicator by severity (critical → critical, major/warning → warning, info → info). Nothing is stored:
the signed prescription is screened for real through POST /api/v1/screenings.

Mapping: medicationCodeableConcept.coding[0].code = the catalogue item code; dosageInstruction[0]:
doseAndRate[0].doseQuantity {value, unit}, timing.code.coding[0].code (qd, bid … or BID …) or
timing.repeat {frequency, period, periodUnit}, route.coding[0].code (our route words or SNOMED
26643006 oral, 47625008 iv, 78421000 im, 34206005 sc); text 遵医嘱 when no dose is given;
dispenseRequest.quantity.value and expectedSupplyDuration.value (days).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from flask import current_app
from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

from services.prescription_review import service
from services.prescription_review.schemas import SCREENING_IN
from shared.clock import utcnow
from shared.errors import InvalidInput
from shared.web.app import current_principal
from shared.web.blueprint import Blueprint

SERVICE_ID = "county-prescription-review"
INDICATOR = {"critical": "critical", "major": "warning", "warning": "warning", "info": "info"}
SNOMED_ROUTES = {"26643006": "oral", "47625008": "iv", "78421000": "im", "34206005": "sc", "37161004": "rectal",
                 "37839007": "sublingual", "6064005": "topical", "54485002": "eye", "18679011000001101": "inhalation"}  # fmt: skip
PER_DAY = {(1, 1, "d"): "qd", (2, 1, "d"): "bid", (3, 1, "d"): "tid", (4, 1, "d"): "qid", (1, 6, "h"): "q6h",
           (1, 8, "h"): "q8h", (1, 12, "h"): "q12h", (1, 2, "d"): "qod", (1, 1, "wk"): "qw"}  # fmt: skip

blp = Blueprint("prescription_review_cds", __name__, url_prefix="/api/v1/cds-services", description="CDS Hooks order-sign")


CardOut = Schema.from_dict({
    "uuid": fields.String(), "summary": fields.String(), "indicator": fields.String(validate=validate.OneOf(("info", "warning", "critical"))),
    "detail": fields.String(), "source": fields.Dict(), "extension": fields.Dict(),
}, name="CdsCard")  # fmt: skip
CardsOut = Schema.from_dict({"cards": fields.List(fields.Nested(CardOut))}, name="CdsCards")
ServicesOut = Schema.from_dict({"services": fields.List(fields.Dict())}, name="CdsServices")


class HookIn(Schema):
    """A CDS Hooks call (other members of the request are allowed and ignored)."""

    class Meta:
        unknown = INCLUDE

    hook = fields.String(required=True, validate=validate.Equal("order-sign"))
    hookInstance = fields.String(required=True, validate=validate.Length(min=1, max=100))
    context = fields.Dict(required=True)  # type: ignore[assignment]
    prefetch = fields.Dict(load_default=dict)
    extension = fields.Dict(load_default=dict)


def _get(obj: Any, *path: Any) -> Any:
    for step in path:
        if isinstance(step, int):
            obj = obj[step] if isinstance(obj, list) and len(obj) > step else None
        else:
            obj = obj.get(step) if isinstance(obj, dict) else None
        if obj is None:
            return None
    return obj


def _frequency(dosage: dict[str, Any]) -> str | None:
    code = _get(dosage, "timing", "code", "coding", 0, "code")
    if isinstance(code, str):
        return code.lower()
    repeat = _get(dosage, "timing", "repeat")
    if isinstance(repeat, dict):
        key = (repeat.get("frequency"), repeat.get("period"), repeat.get("periodUnit"))
        return PER_DAY.get(key)  # type: ignore[arg-type]
    text = dosage.get("text")
    return text if isinstance(text, str) else None


def _item(resource: Any, where: str) -> dict[str, Any]:
    if not isinstance(resource, dict) or resource.get("resourceType") != "MedicationRequest":
        raise InvalidInput("draftOrders must hold MedicationRequest resources", {where: "not a MedicationRequest"})
    code = _get(resource, "medicationCodeableConcept", "coding", 0, "code")
    if not isinstance(code, str):
        raise InvalidInput("medication code missing", {f"{where}.medicationCodeableConcept.coding[0].code": "required"})
    dosage = _get(resource, "dosageInstruction", 0) or {}
    dose = _get(dosage, "doseAndRate", 0, "doseQuantity") or {}
    route = _get(dosage, "route", "coding", 0, "code")
    item: dict[str, Any] = {
        "item_code": code,
        "dose": dose.get("value") if dose else (dosage.get("text") if isinstance(dosage, dict) else None),
        "dose_unit": dose.get("unit") if dose else None,
        "frequency": _frequency(dosage) if isinstance(dosage, dict) else None,
        "route": SNOMED_ROUTES.get(route, route) if isinstance(route, str) else None,
        "days": _get(resource, "dispenseRequest", "expectedSupplyDuration", "value"),
        "quantity": _get(resource, "dispenseRequest", "quantity", "value"),
    }
    return item


def _age(birth: Any, today: date) -> float | None:
    if not isinstance(birth, str):
        return None
    try:
        born = date.fromisoformat(birth[:10])
    except ValueError:
        raise InvalidInput("Patient.birthDate is not a date", {"prefetch.patient.birthDate": "YYYY-MM-DD"}) from None
    return round((today - born).days / 365.25, 2)


def screening_body(call: dict[str, Any]) -> dict[str, Any]:
    """The POST /api/v1/screenings body equivalent to a CDS Hooks order-sign call."""
    entries = _get(call, "context", "draftOrders", "entry")
    if not isinstance(entries, list) or not entries:
        raise InvalidInput("context.draftOrders must be a Bundle with entries", {"context.draftOrders": "a Bundle with entries"})
    ext, pre = call.get("extension") or {}, call.get("prefetch") or {}
    patient = pre.get("patient") or {}
    today = utcnow().date()
    gender = patient.get("gender") if isinstance(patient, dict) else None
    sex = {"female": "F", "male": "M"}.get(str(gender), "U")
    conditions = [_get(e, "resource", "code", "coding", 0) for e in (_get(pre, "conditions", "entry") or [])]
    allergies = [_get(e, "resource", "code", "text") or _get(e, "resource", "code", "coding", 0, "display")
                 for e in (_get(pre, "allergies", "entry") or [])]  # fmt: skip
    user = _get(call, "context", "userId") or "unknown"
    return {
        "prescription_no": str(ext.get("prescription_no") or "CDS-" + str(call["hookInstance"])[:30]),
        "site_code": ext.get("site_code"),
        "type": ext.get("prescription_type", "outpatient"),
        "issued_at": utcnow().isoformat(),
        "prescriber": {"id": str(user).split("/")[-1][:40], "privileges": ext.get("privileges", [])},
        "patient": {
            "id": str(_get(call, "context", "patientId") or "unknown"), "age_years": _age(patient.get("birthDate"), today),
            "sex": sex, "weight_kg": ext.get("weight_kg"), "pregnant": bool(ext.get("pregnant", False)),
            "lactating": bool(ext.get("lactating", False)), "allergies": [a for a in allergies if isinstance(a, str)],
            "diagnoses": [{"code": c.get("code"), "name": c.get("display", "")} for c in conditions if isinstance(c, dict)],
        },  # fmt: skip
        "items": [_item(e.get("resource") if isinstance(e, dict) else None, f"context.draftOrders.entry[{n}].resource")
                  for n, e in enumerate(entries)],  # fmt: skip
    }


@blp.route("", methods=["GET"])
@blp.response(200, ServicesOut)
def discovery() -> Any:
    """CDS Hooks discovery: the services this server offers."""
    return {"services": [{
        "hook": "order-sign", "id": SERVICE_ID, "title": "县域审方中心 处方前置审核",
        "description": "Screens draft MedicationRequests against the county formulary and knowledge base "
                       "(处方管理办法 2007, 医疗机构处方审核规范 2018).",
        "prefetch": {"patient": "Patient/{{context.patientId}}",
                     "conditions": "Condition?patient={{context.patientId}}&clinical-status=active",
                     "allergies": "AllergyIntolerance?patient={{context.patientId}}"},
    }]}  # fmt: skip


@blp.route(f"/{SERVICE_ID}", methods=["POST"])
@blp.arguments(HookIn)
@blp.response(200, CardsOut)
def order_sign(call: dict[str, Any]) -> Any:
    """order-sign: one card per finding; nothing is stored."""
    body = screening_body(call)
    try:
        rx = SCREENING_IN.load(body)
    except ValidationError as exc:
        fields_ = {f"mapped.{k}": str(v) for k, v in _flat(exc.messages).items()}
        raise InvalidInput("the draft orders do not map to a prescription", fields_) from None
    result = service.preview(current_app.extensions["countyhub"], current_principal(), rx)
    cards = [{
        "uuid": str(uuid.uuid4()), "summary": f["message"][:140], "indicator": INDICATOR[f["severity"]],
        "detail": f"{f['code']} · 依据: {f['basis']}", "source": {"label": f"县域审方中心 ({result.knowledge_version})"},
        "extension": {"code": f["code"], "severity": f["severity"], "item_index": f["item_index"]},
    } for f in result.findings]  # fmt: skip
    return {"cards": cards}


def _flat(messages: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(messages, dict):
        for k, v in messages.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    else:
        out[prefix or "body"] = messages[0] if isinstance(messages, list) and messages and isinstance(messages[0], str) else messages
    return out
