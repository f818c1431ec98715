"""Helpers of the review centre's use-case tests: the sample county's read model, actors, bodies."""

from __future__ import annotations

from typing import Any

from services.formulary.seed.catalogue import load_catalogue
from services.formulary.seed.county import generate_county
from services.formulary.seed.loader import site_payload
from services.formulary.seed.stocklists import default_stocklists
from services.prescription_review.handlers import HANDLERS
from services.prescription_review.model.prescription import Prescription
from services.prescription_review.schemas import ScreeningIn
from shared.auth import Principal
from shared.clock import utcnow
from shared.db import unit_of_work
from shared.events.envelope import new_event
from shared.runtime import ServiceContext

HIS = Principal("his-1", ("his",), name="HIS")
PHARMACIST = Principal("ph-1", ("pharmacist",), name="药师甲")
PHARMACIST2 = Principal("ph-2", ("pharmacist",), name="药师乙")
MANAGER = Principal("mgr-1", ("pharmacy_manager",), name="药剂科主任")
STOREKEEPER_T01 = Principal("sk-t01", ("storekeeper",), site="CW-T01")


def load_reference(ctx: ServiceContext) -> None:
    """Feed the sample catalogue, sites and default stocking lists to the read model in one transaction."""
    items = [dict(r.as_item(), status="active", version=1, catalogue_version=1) for r in load_catalogue()]
    county = generate_county("chengwu", seed=2026)
    events = [("formulary.item.published", {k: v for k, v in i.items() if k != "is_logistics"}) for i in items]
    events += [("formulary.site.upserted", {**site_payload(s), "version": 1, "catalogue_version": 1}) for s in county.sites]
    for key, codes in default_stocklists(items, county).items():
        events.append(("formulary.stocklist.changed", {"scope": "level", "level": key.split(":")[1], "site_code": None,
                                                       "catalogue_version": 1, "item_codes": codes}))  # fmt: skip
    with unit_of_work(ctx.factory) as session:
        for kind, data in events:
            event = new_event(kind, data, source="/countyhub/formulary")
            HANDLERS[kind](session, event.data, event)


def body(**over: Any) -> dict[str, Any]:
    """A clean adult outpatient prescription at the county hospital, issued now."""
    b: dict[str, Any] = {
        "prescription_no": "R20261122-0001", "site_code": "CW-H01", "type": "outpatient",
        "issued_at": utcnow().isoformat(),
        "prescriber": {"id": "D001", "privileges": ["antibiotic_restricted"]},
        "patient": {"id": "P1", "age_years": 45, "sex": "F", "weight_kg": 58, "allergies": [],
                    "diagnoses": [{"code": "I10", "name": "原发性高血压"}]},
        "items": [{"item_code": "YP000174", "dose": 5, "dose_unit": "mg", "frequency": "qd", "route": "oral",
                   "days": 7, "quantity": 7}],
    }  # fmt: skip
    b.update(over)
    return b


def flagged(no: str = "R-FLAG-1", site: str = "CW-H01") -> dict[str, Any]:
    """A prescription that goes to the pharmacist: domperidone 20 mg tid (above 30 mg/d)."""
    return body(prescription_no=no, site_code=site, items=[
        {"item_code": "YP000223", "dose": 20, "dose_unit": "mg", "frequency": "tid", "route": "oral", "days": 3, "quantity": 18},
    ], patient={"id": "P2", "age_years": 50, "sex": "M", "diagnoses": [{"code": "K30", "name": "功能性消化不良"}]})  # fmt: skip


def blocked(no: str = "R-BLOCK-1") -> dict[str, Any]:
    """A prescription that is blocked: simvastatin with clarithromycin (contraindicated)."""
    return body(prescription_no=no, items=[
        {"item_code": "YP000188", "dose": 20, "dose_unit": "mg", "frequency": "qn", "route": "oral", "days": 7, "quantity": 7},
        {"item_code": "YP000029", "dose": 0.25, "dose_unit": "g", "frequency": "bid", "route": "oral", "days": 7, "quantity": 14},
    ], patient={"id": "P3", "age_years": 60, "sex": "M",
                "diagnoses": [{"code": "E78.0", "name": "高胆固醇血症"}, {"code": "J20.9", "name": "急性支气管炎"}]})  # fmt: skip


def rx(b: dict[str, Any]) -> Prescription:
    """The typed prescription of a body."""
    return ScreeningIn().load(b)  # type: ignore[no-any-return]
