"""marshmallow schemas of the screening request and answer; post_load builds the typed Prescription.

Bad input is a 422 naming the field (unknown fields too). What is merely missing or vague on a
prescription (no dose, 遵医嘱 as frequency) is not bad input: it is screened and reported as the
MISSING_FIELD finding, as a pharmacist would.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from services.prescription_review.model.findings import CODES, OUTCOMES, SEVERITIES
from services.prescription_review.model.prescription import (
    FREQUENCIES,
    ROUTES,
    RX_TYPES,
    SEXES,
    VAGUE_WORDS,
    Diagnosis,
    Patient,
    Prescriber,
    Prescription,
    RxItem,
)
from services.prescription_review.model.registry import PRIVILEGES
from shared.clock import utcnow
from shared.text import BadText, Text, normalise

ICD10 = validate.Regexp(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?\Z", error="an ICD-10 code such as I10 or J45.900")
FUTURE_SKEW = timedelta(minutes=10)  # clocks of township PCs drift; a prescription from tomorrow is an error
CODE = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}\Z",  # \Z: "$" let "R1\n" through
                       error="letters, digits, . _ -, 1–40 characters")


class Strict(Schema):
    """Unknown fields are an error, so a typo never passes silently."""

    class Meta:
        unknown = RAISE


def _text(value: str) -> str:
    """The prescriber's words through the text rule (shared/text.py): NFKC, trimmed, control characters refused."""
    try:
        return normalise(value)
    except BadText as exc:
        raise ValidationError(str(exc)) from exc


class NumberOrText(fields.Field):
    """A positive number, or the text a prescriber wrote instead (遵医嘱 …)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool):
            raise ValidationError("a positive number")
        if isinstance(value, (int, float)):
            number = float(value)
        elif isinstance(value, str):
            text = _text(value)
            try:
                number = float(text)
            except ValueError:
                if any(w in text for w in VAGUE_WORDS) and len(text) <= 40:
                    return text
                raise ValidationError("a positive number (or the prescriber's words such as 遵医嘱)") from None
        else:
            raise ValidationError("a positive number")
        if not (0 < number <= 1_000_000_000):
            raise ValidationError("a positive number up to 1e9")
        return number


class FrequencyOrText(fields.Field):
    """A frequency code (qd bid tid …), or the vague words written instead."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str):
            raise ValidationError(f"one of {', '.join(FREQUENCIES)}")
        text = _text(value)
        if text.lower() in FREQUENCIES:
            return text.lower()
        if any(w in text for w in VAGUE_WORDS) and len(text) <= 40:
            return {"vague": text}
        raise ValidationError(f"one of {', '.join(FREQUENCIES)}")


class DiagnosisIn(Strict):
    """An ICD-10 coded diagnosis."""

    code = fields.String(required=True, validate=ICD10)
    name = Text(load_default="", validate=validate.Length(max=100))  # blank: None, read as "" (prescription_from)


class PatientIn(Strict):
    """Only what screening needs; never a name or ID number."""

    id = Text(required=True, validate=validate.Length(min=1, max=64))
    age_years = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0, max=130))
    age_days = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(min=0, max=3660))
    sex = fields.String(load_default="U", validate=validate.OneOf(SEXES))
    weight_kg = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0.3, max=400))
    pregnant = fields.Boolean(load_default=False)
    lactating = fields.Boolean(load_default=False)
    allergies = fields.List(Text(required=True, validate=validate.Length(min=1, max=60)), load_default=list,
                            validate=validate.Length(max=30))
    diagnoses = fields.List(fields.Nested(DiagnosisIn), load_default=list, validate=validate.Length(max=30))

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("sex") == "M" and (data.get("pregnant") or data.get("lactating")):
            raise ValidationError("a male patient cannot be pregnant or lactating", "pregnant")


class PrescriberIn(Strict):
    """The prescriber as the HIS knows them."""

    id = Text(required=True, upper=True, validate=validate.Length(min=1, max=40))  # a code, as the registry's ids
    privileges = fields.List(fields.String(validate=validate.OneOf(PRIVILEGES)), load_default=list,
                             validate=validate.Length(max=10))
    title = Text(load_default=None, allow_none=True, validate=validate.Length(max=40))


class ItemIn(Strict):
    """One prescription line; anything but the item code may be missing (then it is a finding)."""

    item_code = fields.String(required=True, validate=CODE)
    dose = NumberOrText(load_default=None, allow_none=True)
    dose_unit = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=20))
    frequency = FrequencyOrText(load_default=None, allow_none=True)
    route = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(ROUTES))
    days = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(min=1, max=366))
    quantity = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0, min_inclusive=False, max=100000))


class ScreeningIn(Strict):
    """POST /api/v1/screenings body (issue 11)."""

    prescription_no = fields.String(required=True, validate=CODE)
    site_code = Text(required=True, validate=validate.Length(min=1, max=40))
    type = fields.String(required=True, validate=validate.OneOf(RX_TYPES))
    issued_at = fields.AwareDateTime(required=True)
    valid_days = fields.Integer(load_default=1, strict=True, validate=validate.Range(min=1, max=3))
    prescriber = fields.Nested(PrescriberIn, required=True)
    patient = fields.Nested(PatientIn, required=True)
    items = fields.List(fields.Nested(ItemIn), required=True, validate=validate.Length(min=1, max=30))

    @validates_schema
    def _not_in_future(self, data: dict[str, Any], **_: Any) -> None:
        issued = data.get("issued_at")
        if issued is not None and issued > utcnow() + FUTURE_SKEW:
            raise ValidationError("in the future", "issued_at")

    @post_load
    def _build(self, d: dict[str, Any], **_: Any) -> Prescription:
        return prescription_from(d)


def prescription_from(d: dict[str, Any]) -> Prescription:
    """The typed Prescription from loaded (validated) request data."""
    p = d["patient"]
    items = []
    for i in d["items"]:
        dose, freq = i["dose"], i["frequency"]
        items.append(
            RxItem(
                item_code=i["item_code"],
                dose=dose if isinstance(dose, float) else None,
                dose_unit=i["dose_unit"],
                frequency=freq if isinstance(freq, str) else None,
                route=i["route"],
                days=i["days"],
                quantity=i["quantity"],
                dose_text=dose if isinstance(dose, str) else None,
                frequency_text=freq["vague"] if isinstance(freq, dict) else None,
            )
        )
    return Prescription(
        prescription_no=d["prescription_no"],
        site_code=d["site_code"],
        type=d["type"],
        issued_at=d["issued_at"],
        valid_days=d["valid_days"],
        prescriber=Prescriber(d["prescriber"]["id"], tuple(d["prescriber"]["privileges"]), d["prescriber"]["title"]),
        patient=Patient(
            id=p["id"], age_years=p["age_years"], age_days=p["age_days"], sex=p["sex"], weight_kg=p["weight_kg"],
            pregnant=p["pregnant"], lactating=p["lactating"], allergies=tuple(p["allergies"]),
            diagnoses=tuple(Diagnosis(x["code"], x["name"] or "") for x in p["diagnoses"]),
        ),  # fmt: skip
        items=tuple(items),
    )


class FindingOut(Schema):
    """One finding, exactly as documented."""

    code = fields.String(validate=validate.OneOf(CODES))
    severity = fields.String(validate=validate.OneOf(SEVERITIES))
    item_index = fields.Integer(allow_none=True)
    message = fields.String()
    basis = fields.String()


class ScreeningOut(Schema):
    """The screening answer: id, outcome, knowledge version and findings."""

    id = fields.String()
    outcome = fields.String(validate=validate.OneOf(OUTCOMES))
    knowledge_version = fields.String()
    findings = fields.List(fields.Nested(FindingOut))


SCREENING_IN = ScreeningIn()
"""A shared instance (loading is stateless): building the nested schemas costs more than a screening."""
