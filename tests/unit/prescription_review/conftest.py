"""The sample county's formulary and the bundled knowledge, compiled once for the engine tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from services.formulary.seed.catalogue import load_catalogue
from services.formulary.seed.county import generate_county
from services.formulary.seed.stocklists import default_stocklists
from services.prescription_review.knowledge.importer import load_sample
from services.prescription_review.model.compiled import CompiledKnowledge, compile_knowledge
from services.prescription_review.model.formulary_view import FormularyView

NOW = datetime.fromisoformat("2026-11-22T10:00:00+08:00")


def sample_formulary() -> FormularyView:
    """The seed catalogue, the 成武县 sites and the default stocking lists as the read model would hold them."""
    items = [dict(r.as_item(), status="active") for r in load_catalogue()]
    county = generate_county("chengwu", seed=2026)
    sites = [{"code": s.code, "level": s.level, "active": True} for s in county.sites]
    return FormularyView.build(items, sites, default_stocklists(items, county), catalogue_version=1)


@pytest.fixture(scope="session")
def ck() -> CompiledKnowledge:
    """Bundled knowledge compiled against the sample catalogue."""
    formulary = sample_formulary()
    names = {f.generic_name for f in formulary.items.values()}
    return compile_knowledge(load_sample(names), formulary)


def code_of(ck: CompiledKnowledge, generic: str, form: str | None = None) -> str:
    """The first catalogue code of a generic name (and dosage form containing `form`)."""
    for code, p in ck.profiles.items():
        if p.facts.generic_name == generic and (form is None or form in p.facts.dosage_form):
            return code
    raise KeyError(generic)


def rx_body(**over: Any) -> dict[str, Any]:
    """A clean adult outpatient prescription (one amlodipine line) as the API takes it."""
    body: dict[str, Any] = {
        "prescription_no": "R20261122-0001",
        "site_code": "CW-H01",
        "type": "outpatient",
        "issued_at": "2026-11-22T09:30:00+08:00",
        "prescriber": {"id": "D001", "privileges": ["antibiotic_restricted"]},
        "patient": {"id": "P1", "age_years": 45, "sex": "F", "weight_kg": 58, "pregnant": False, "lactating": False,
                    "allergies": [], "diagnoses": [{"code": "I10", "name": "原发性高血压"}]},
        "items": [{"item_code": "YP000174", "dose": 5, "dose_unit": "mg", "frequency": "qd", "route": "oral",
                   "days": 7, "quantity": 7}],
    }  # fmt: skip
    body.update(over)
    return body
