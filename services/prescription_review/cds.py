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

import math
import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

from flask import current_app
from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

from services.prescription_review import service
from services.prescription_review.model.prescription import VAGUE_WORDS
from services.prescription_review.schemas import SCREENING_IN
from shared.clock import utcnow
from shared.errors import InvalidInput
from shared.text import Text
from shared.web.app import current_principal
from shared.web.blueprint import Blueprint

SERVICE_ID = "county-prescription-review"
INDICATOR = {"critical": "critical", "major": "warning", "warning": "warning", "info": "info"}
SNOMED_ROUTES = {"26643006": "oral", "47625008": "iv", "78421000": "im", "34206005": "sc", "37161004": "rectal",
                 "37839007": "sublingual", "6064005": "topical", "54485002": "eye", "18679011000001101": "inhalation"}  # fmt: skip
# FHIR R4 request resources that may be draft orders beside MedicationRequest (CDS Hooks order-sign).
OTHER_ORDERS = frozenset({"ServiceRequest", "NutritionOrder", "DeviceRequest", "VisionPrescription", "CommunicationRequest",
                          "Task", "ImmunizationRecommendation", "SupplyRequest", "MedicationDispense"})  # fmt: skip
# HL7 v3 GTSAbbreviation timing codes (and ours, upper-cased) -> our frequency codes.
GTS_CODES = {"QD": "qd", "BID": "bid", "TID": "tid", "QID": "qid", "Q6H": "q6h", "Q8H": "q8h", "Q12H": "q12h",
             "QOD": "qod", "WK": "qw", "QW": "qw", "BED": "qn", "HS": "qn", "QN": "qn", "AM": "qd", "PM": "qd",
             "PRN": "prn", "ST": "st", "STAT": "st"}  # fmt: skip
# UCUM time units in days (FHIR Timing.repeat.periodUnit, Duration codes); a month is 30 days.
PERIOD_DAYS = {"s": 1 / 86400, "min": 1 / 1440, "h": 1 / 24, "d": 1.0, "wk": 7.0, "mo": 30.0, "a": 365.0,
               "day": 1.0, "days": 1.0, "week": 7.0, "weeks": 7.0, "month": 30.0, "天": 1.0, "日": 1.0, "周": 7.0}  # fmt: skip
PER_DAY_CODES = (("qd", 1.0), ("bid", 2.0), ("tid", 3.0), ("qid", 4.0), ("qod", 0.5), ("qw", 1 / 7))



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
    hookInstance = Text(required=True, validate=validate.Length(min=1, max=100))  # part of a prescription number
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


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _frequency(dosage: dict[str, Any]) -> str | None:
    """Our frequency code from timing.code (HL7 GTS abbreviations or ours), timing.repeat, asNeeded
    or the vague text; None when nothing maps (then the MISSING_FIELD card names `frequency`)."""
    timing = _dict(dosage.get("timing"))
    codings = _get(timing, "code", "coding")
    for coding in codings if isinstance(codings, list) else []:
        code = _get(coding, "code")
        if isinstance(code, str) and code.upper() in GTS_CODES:
            return GTS_CODES[code.upper()]
    repeat = _dict(timing.get("repeat"))
    if repeat:
        return _from_repeat(repeat)
    if timing.get("code") is None and dosage.get("asNeededBoolean") is True:
        return "prn"
    text = _get(timing, "code", "text") or dosage.get("text")
    return text if isinstance(text, str) and any(w in text for w in VAGUE_WORDS) else None


def _from_repeat(repeat: dict[str, Any]) -> str | None:
    """timing.repeat {frequency, period, periodUnit} as administrations per day, mapped to a code."""
    count = _number(repeat.get("frequency", 1))
    period = _number(repeat.get("period"))
    unit = repeat.get("periodUnit")
    days = PERIOD_DAYS.get(unit) if isinstance(unit, str) else None
    if count is None or period is None or days is None or count <= 0 or period <= 0 or period * days == 0:
        return None  # period * days is 0 for a subnormal period (5e-324 h): no rate, not a division by zero
    if unit == "h" and count == 1 and f"q{period:g}h" in ("q6h", "q8h", "q12h"):
        return f"q{period:g}h"
    per_day = count / (period * days)
    return next((code for code, n in PER_DAY_CODES if abs(n - per_day) < 1e-6), None)


def _days(duration: Any, where: str) -> Any:
    """expectedSupplyDuration in whole days (UCUM d, wk, mo, h, a); a bad unit is a 422 naming the path."""
    if not isinstance(duration, dict):
        return None
    value = duration.get("value")
    number = _number(value)
    if number is None:
        return value  # not a number: the screening schema names mapped.items.N.days
    unit = duration.get("code") or duration.get("unit") or "d"
    days = PERIOD_DAYS.get(unit) if isinstance(unit, str) else None
    if days is None:
        raise InvalidInput("expectedSupplyDuration has a unit that is not a time",
                           {f"{where}.dispenseRequest.expectedSupplyDuration": "unit d, wk, mo, h or a"})
    whole = number * days
    if not math.isfinite(whole):  # 1e308 years: no whole number of days (round() would overflow)
        raise InvalidInput("expectedSupplyDuration is too long",
                           {f"{where}.dispenseRequest.expectedSupplyDuration.value": "a finite number of days"})
    return int(whole) if abs(whole - round(whole)) < 1e-9 else int(whole) + 1


def _code(resource: dict[str, Any], known: Mapping[str, str]) -> str | None:
    """The catalogue item code for the concept's codings (any system; an item code or an NHSA national
    drug code), else the first code given (then NOT_IN_FORMULARY)."""
    codings = _get(resource, "medicationCodeableConcept", "coding")
    ref = _get(resource, "medicationReference", "reference")
    if codings is None and isinstance(ref, str) and ref.startswith("#"):  # a contained Medication
        contained = resource.get("contained")
        med = next((m for m in contained if isinstance(m, dict) and m.get("resourceType") == "Medication"
                    and m.get("id") == ref[1:]), None) if isinstance(contained, list) else None  # fmt: skip
        codings = _get(med, "code", "coding")
    found = [c["code"] for c in codings if isinstance(c, dict) and isinstance(c.get("code"), str)] if isinstance(codings, list) else []
    return next((known[c] for c in found if c in known), found[0] if found else None)


def _item(resource: Any, where: str, known: Mapping[str, str]) -> dict[str, Any]:
    if not isinstance(resource, dict) or resource.get("resourceType") != "MedicationRequest":
        raise InvalidInput("draftOrders must hold MedicationRequest resources", {where: "not a MedicationRequest"})
    code = _code(resource, known)
    if code is None:
        raise InvalidInput("medication code missing", {f"{where}.medicationCodeableConcept.coding[0].code": "required"})
    dosage = _dict(_get(resource, "dosageInstruction", 0))
    dose = _dict(_get(dosage, "doseAndRate", 0, "doseQuantity"))
    route = _get(dosage, "route", "coding", 0, "code")
    text = dosage.get("text")
    return {
        "item_code": code,
        "dose": dose.get("value") if dose else (text if isinstance(text, str) and any(w in text for w in VAGUE_WORDS) else None),
        "dose_unit": (dose.get("unit") or dose.get("code")) if dose else None,
        "frequency": _frequency(dosage),
        "route": SNOMED_ROUTES.get(route, route) if isinstance(route, str) else None,
        "days": _days(_get(resource, "dispenseRequest", "expectedSupplyDuration"), where),
        "quantity": _get(resource, "dispenseRequest", "quantity", "value"),
    }


def _age(birth: Any, today: date) -> float | None:
    if not isinstance(birth, str):
        return None
    try:
        born = date.fromisoformat(birth[:10])
    except ValueError:
        raise InvalidInput("Patient.birthDate is not a date", {"prefetch.patient.birthDate": "YYYY-MM-DD"}) from None
    return round((today - born).days / 365.25, 2)


def _entries(bundle: Any) -> list[Any]:
    entries = _get(bundle, "entry")
    return entries if isinstance(entries, list) else []


def screening_body(call: dict[str, Any], known: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """The POST /api/v1/screenings body equivalent to a CDS Hooks order-sign call; `known` holds the
    catalogue's codes (item codes and national codes -> item code; a MedicationRequest's codings are
    searched for one of them). Other draft
    orders (ServiceRequest …) are skipped; None when no MedicationRequest is left."""
    entries = _get(call, "context", "draftOrders", "entry")
    if not isinstance(entries, list) or not entries:
        raise InvalidInput("context.draftOrders must be a Bundle with entries", {"context.draftOrders": "a Bundle with entries"})
    items = []
    for n, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") in OTHER_ORDERS:
            continue  # a lab, device or diet order signed alongside: not ours to screen
        items.append(_item(resource, f"context.draftOrders.entry[{n}].resource", known or {}))
    if not items:
        return None
    ext, pre = _dict(call.get("extension")), _dict(call.get("prefetch"))
    patient = _dict(pre.get("patient"))
    today = utcnow().date()
    gender = patient.get("gender")
    sex = {"female": "F", "male": "M"}.get(gender if isinstance(gender, str) else "", "U")
    conditions = [_get(e, "resource", "code", "coding", 0) for e in _entries(pre.get("conditions"))]
    allergies = [_get(e, "resource", "code", "text") or _get(e, "resource", "code", "coding", 0, "display")
                 for e in _entries(pre.get("allergies"))]  # fmt: skip
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
        "items": items,
    }


def _discovery() -> Any:
    """CDS Hooks discovery: the services this server offers."""
    return {"services": [{
        "hook": "order-sign", "id": SERVICE_ID, "title": "县域审方中心 处方前置审核",
        "description": "Screens draft MedicationRequests against the county formulary and knowledge base "
                       "(处方管理办法 2007, 医疗机构处方审核规范 2018).",
        "prefetch": {"patient": "Patient/{{context.patientId}}",
                     "conditions": "Condition?patient={{context.patientId}}&clinical-status=active",
                     "allergies": "AllergyIntolerance?patient={{context.patientId}}"},
    }]}  # fmt: skip


def _order_sign(call: dict[str, Any]) -> Any:
    """order-sign: one card per finding; nothing is stored."""
    ctx = current_app.extensions["countyhub"]
    body = screening_body(call, service.catalogue_codes(ctx))
    if body is None:
        return {"cards": []}
    try:
        rx = SCREENING_IN.load(body)
    except ValidationError as exc:
        fields_ = {f"mapped.{k}": str(v) for k, v in _flat(exc.messages).items()}
        raise InvalidInput("the draft orders do not map to a prescription", fields_) from None
    result = service.preview(ctx, current_principal(), rx)
    cards = [{
        "uuid": str(uuid.uuid4()), "summary": f["message"][:140], "indicator": INDICATOR[f["severity"]],
        "detail": f"{f['code']} · 依据: {f['basis']}", "source": {"label": f"县域审方中心 ({result.knowledge_version})"},
        "extension": {"code": f["code"], "severity": f["severity"], "item_index": f["item_index"]},
    } for f in result.findings]  # fmt: skip
    return {"cards": cards}


def _mount(b: Blueprint) -> Blueprint:
    """The two CDS Hooks routes on a blueprint (fresh view functions per blueprint)."""

    @b.route("", methods=["GET"])
    @b.response(200, ServicesOut)
    def discovery() -> Any:
        """CDS Hooks discovery: the services this server offers."""
        return _discovery()

    @b.route(f"/{SERVICE_ID}", methods=["POST"])
    @b.arguments(HookIn)
    @b.response(200, CardsOut)
    def order_sign(call: dict[str, Any]) -> Any:
        """order-sign: one card per finding; nothing is stored."""
        return _order_sign(call)

    return b


blp = _mount(Blueprint("prescription_review_cds", __name__, url_prefix="/api/v1/cds-services", description="CDS Hooks order-sign"))
# The CDS Hooks spec puts discovery at {baseUrl}/cds-services; an EHR configured with the bare host
# finds it at the root too. Discovery is public (it holds no data); the hook needs the bearer JWT.
root_blp = _mount(Blueprint("prescription_review_cds_root", __name__, url_prefix="/cds-services",
                            description="CDS Hooks at the root path"))


def _flat(messages: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(messages, dict):
        for k, v in messages.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    else:
        out[prefix or "body"] = messages[0] if isinstance(messages, list) and messages and isinstance(messages[0], str) else messages
    return out
