# ruff: noqa: F811  (pytest fixtures imported from test_review_api)
"""CDS Hooks order-sign, mapped hard: FHIR R4 MedicationRequest timing codes and repeats, doseAndRate,
dispenseRequest quantity and expectedSupplyDuration in d/wk/mo, codings looked up among all of a
concept's codings; missing or malformed parts give a MISSING_FIELD card or a 422 naming the path,
never a 500. Discovery also answers at the root `/cds-services`, as the CDS Hooks spec places it."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from flask.testing import FlaskClient

from shared.runtime import ServiceContext
from tests.e2e.test_review_api import HIS, client, review_ctx, template_db  # noqa: F401  (fixtures)
from tests.support.web import table_dump

HOOK = "/api/v1/cds-services/county-prescription-review"


def order(code: str = "YP000174", **over: Any) -> dict[str, Any]:
    """Amlodipine 5 mg qd oral, 7 tablets for 7 days, as a MedicationRequest."""
    r: dict[str, Any] = {
        "resourceType": "MedicationRequest", "medicationCodeableConcept": {"coding": [{"code": code}]},
        "dosageInstruction": [{"doseAndRate": [{"doseQuantity": {"value": 5, "unit": "mg"}}],
                               "timing": {"code": {"coding": [{"code": "QD"}]}}, "route": {"coding": [{"code": "26643006"}]}}],
        "dispenseRequest": {"quantity": {"value": 7}, "expectedSupplyDuration": {"value": 7, "unit": "d"}},
    }  # fmt: skip
    r.update(over)
    return r


def call(*orders: dict[str, Any], prefetch: Any = None, extension: Any = None) -> dict[str, Any]:
    return {
        "hook": "order-sign", "hookInstance": "h-1",
        "context": {"userId": "Practitioner/D001", "patientId": "P1",
                    "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": o} for o in orders]}},
        "prefetch": prefetch if prefetch is not None else {
            "patient": {"resourceType": "Patient", "birthDate": "1980-01-01", "gender": "female"},
            "conditions": {"entry": [{"resource": {"code": {"coding": [{"code": "I10"}]}}}]}},
        "extension": extension if extension is not None else {"site_code": "CW-H01"},
    }  # fmt: skip


def codes(client: FlaskClient, body: dict[str, Any]) -> list[str]:
    r = client.post(HOOK, json=body, headers=HIS)
    assert r.status_code == 200, r.get_json()
    return [c["extension"]["code"] for c in r.get_json()["cards"]]


def with_dosage(**dosage: Any) -> dict[str, Any]:
    o = order()
    o["dosageInstruction"][0].update(dosage)
    return o


def test_clean_order_gives_no_cards(client: FlaskClient) -> None:
    assert codes(client, call(order())) == []


@pytest.mark.parametrize(("duration", "quantity", "expected"), [
    ({"value": 1, "unit": "wk", "system": "http://unitsofmeasure.org", "code": "wk"}, 7, []),
    ({"value": 2, "unit": "wk", "code": "wk"}, 14, ["DAYS_SUPPLY_EXCEEDED"]),  # 14 days, not 2
    ({"value": 7.0, "unit": "d"}, 7, []),  # FHIR decimals: 7.0 days is 7 days
    ({"value": 1, "unit": "mo", "code": "mo"}, 30, ["DAYS_SUPPLY_EXCEEDED"]),
    ({"value": 168, "unit": "h", "code": "h"}, 7, []),
])  # fmt: skip
def test_expected_supply_duration_units(client: FlaskClient, duration: dict[str, Any], quantity: int, expected: list[str]) -> None:
    o = order(dispenseRequest={"quantity": {"value": quantity}, "expectedSupplyDuration": duration})
    assert codes(client, call(o)) == expected


def test_bad_supply_duration_unit_is_a_422_naming_the_path(client: FlaskClient) -> None:
    o = order(dispenseRequest={"quantity": {"value": 7}, "expectedSupplyDuration": {"value": 7, "unit": "parsec"}})
    r = client.post(HOOK, json=call(o), headers=HIS)
    assert r.status_code == 422
    assert r.get_json()["errors"][0]["field"] == "context.draftOrders.entry[0].resource.dispenseRequest.expectedSupplyDuration"


@pytest.mark.parametrize(("timing", "quantity", "expected"), [
    ({"code": {"coding": [{"code": "BID"}]}}, 14, ["DOSE_ABOVE_MAX"] * 0),
    ({"code": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation", "code": "WK"}]}}, 1, []),
    ({"code": {"coding": [{"code": "QOD"}]}}, 4, []),
    ({"repeat": {"frequency": 1, "period": 24, "periodUnit": "h"}}, 7, []),
    ({"repeat": {"frequency": 1, "period": 8, "periodUnit": "h"}}, 21, ["DOSE_ABOVE_MAX"]),  # 15 mg/d > 10 mg/d
    ({"repeat": {"frequency": 3, "period": 1, "periodUnit": "d"}}, 21, ["DOSE_ABOVE_MAX"]),
    ({"repeat": {"frequency": 1, "period": 1, "periodUnit": "wk"}}, 1, []),
])  # fmt: skip
def test_timing_codes_and_repeats(client: FlaskClient, timing: dict[str, Any], quantity: int, expected: list[str]) -> None:
    o = with_dosage(timing=timing)
    o["dispenseRequest"]["quantity"]["value"] = quantity
    assert codes(client, call(o)) == expected


def test_unmapped_timing_is_a_missing_field_card(client: FlaskClient) -> None:
    assert codes(client, call(with_dosage(timing={"code": {"coding": [{"code": "Q4H"}]}}))) == ["MISSING_FIELD"]
    assert codes(client, call(with_dosage(timing={"repeat": {"frequency": 5, "period": 1, "periodUnit": "d"}}))) == ["MISSING_FIELD"]


def test_as_needed_maps_to_prn(client: FlaskClient) -> None:
    o = with_dosage(timing={}, asNeededBoolean=True)
    assert codes(client, call(o)) == []


def test_dose_quantity_by_ucum_code_and_micrograms(client: FlaskClient) -> None:
    assert codes(client, call(with_dosage(doseAndRate=[{"doseQuantity": {"value": 5, "system": "http://unitsofmeasure.org", "code": "mg"}}]))) == []
    assert codes(client, call(with_dosage(doseAndRate=[{"doseQuantity": {"value": 50000, "unit": "ug", "code": "ug"}}]))) == ["DOSE_ABOVE_MAX", "QUANTITY_INCONSISTENT"]


def test_catalogue_coding_found_among_several(client: FlaskClient) -> None:
    o = order(medicationCodeableConcept={"coding": [{"system": "http://www.nhsa.gov.cn/ypbm", "code": "XC08CAA0000"},
                                                    {"system": "urn:countyhub:item", "code": "YP000174"}]})
    assert codes(client, call(o)) == []
    unknown = order(medicationCodeableConcept={"coding": [{"system": "x", "code": "NOPE1"}, {"code": "NOPE2"}]})
    assert codes(client, call(unknown)) == ["NOT_IN_FORMULARY"]


@pytest.mark.parametrize("mangle", [
    lambda o: o["dosageInstruction"][0].update(doseAndRate=[{"doseQuantity": "5 mg"}]),
    lambda o: o["dosageInstruction"][0].update(doseAndRate="x"),
    lambda o: o["dosageInstruction"][0].update(timing="bid"),
    lambda o: o["dosageInstruction"][0].update(timing={"repeat": "x"}),
    lambda o: o["dosageInstruction"][0].update(timing={"repeat": {"frequency": "a", "period": [], "periodUnit": 3}}),
    lambda o: o["dosageInstruction"][0].update(route="oral"),
    lambda o: o.update(dosageInstruction="x"),
    lambda o: o.update(dispenseRequest="x"),
    lambda o: o.update(dispenseRequest={"quantity": 7, "expectedSupplyDuration": 7}),
    lambda o: o.update(medicationCodeableConcept={"coding": [{"code": 5}, "x"]}),
])  # fmt: skip
def test_malformed_parts_never_500(client: FlaskClient, mangle: Any) -> None:
    o = order()
    mangle(o)
    r = client.post(HOOK, json=call(o), headers=HIS)
    assert r.status_code in (200, 422), r.get_json()
    if r.status_code == 200:
        assert "MISSING_FIELD" in [c["extension"]["code"] for c in r.get_json()["cards"]] or r.get_json()["cards"] == []


@pytest.mark.parametrize("prefetch", [
    {"patient": [1]}, {"patient": "x"}, {"conditions": "x"}, {"conditions": {"entry": "x"}},
    {"conditions": {"entry": ["x", {"resource": {"code": {"coding": ["x"]}}}]}},
    {"allergies": {"entry": [{"resource": {"code": {"text": 5}}}]}}, {"patient": {"birthDate": 19800101}},
    {"patient": {"gender": ["f"]}},
])  # fmt: skip
def test_malformed_prefetch_never_500(client: FlaskClient, prefetch: dict[str, Any]) -> None:
    r = client.post(HOOK, json=call(order(), prefetch=prefetch), headers=HIS)
    assert r.status_code in (200, 422), r.get_json()


def test_malformed_extension_never_500(client: FlaskClient, review_ctx: ServiceContext) -> None:
    before = table_dump(review_ctx)
    for ext in ({"site_code": "CW-H01", "privileges": "x"}, {"site_code": 5}, {"site_code": "CW-H01", "weight_kg": "heavy"}):
        r = client.post(HOOK, json=call(order(), extension=copy.deepcopy(ext)), headers=HIS)
        assert r.status_code == 422, r.get_json()
    assert table_dump(review_ctx) == before


def test_discovery_at_the_root_and_hook_at_the_root(client: FlaskClient) -> None:
    r = client.get("/cds-services")
    assert r.status_code == 200 and r.get_json()["services"][0]["id"] == "county-prescription-review"
    assert client.post("/cds-services/county-prescription-review", json=call(order())).status_code == 401
    ok = client.post("/cds-services/county-prescription-review", json=call(order()), headers=HIS)
    assert ok.status_code == 200 and ok.get_json() == {"cards": []}


def test_other_draft_orders_are_left_alone(client: FlaskClient) -> None:
    """order-sign carries every draft order: a lab order beside the drugs is not ours to judge."""
    lab = {"resourceType": "ServiceRequest", "status": "draft", "intent": "order", "code": {"text": "血常规"}}
    assert codes(client, call(lab, order())) == []
    assert codes(client, call(lab)) == []  # nothing to screen: no cards
    long = order(dispenseRequest={"quantity": {"value": 8}, "expectedSupplyDuration": {"value": 8, "unit": "d"}})
    r = client.post(HOOK, json=call(lab, long), headers=HIS)
    assert [(c["extension"]["code"], c["extension"]["item_index"]) for c in r.get_json()["cards"]] == [("DAYS_SUPPLY_EXCEEDED", 0)]


def test_medication_reference_to_a_contained_medication(client: FlaskClient) -> None:
    o = order(contained=[{"resourceType": "Medication", "id": "m1", "code": {"coding": [{"code": "YP000174"}]}}],
              medicationReference={"reference": "#m1"})
    del o["medicationCodeableConcept"]
    assert codes(client, call(o)) == []
    dangling = order(medicationReference={"reference": "#nope"})
    del dangling["medicationCodeableConcept"]
    r = client.post(HOOK, json=call(dangling), headers=HIS)
    assert r.status_code == 422 and "medication" in r.get_json()["errors"][0]["field"]


def test_national_drug_code_maps_to_the_catalogue_item(client: FlaskClient) -> None:
    """An EHR that codes drugs by the NHSA national code (国家医保药品编码) gets the catalogue's item."""
    from services.formulary.seed.catalogue import load_catalogue

    nhsa = next(r.as_item()["nhsa_code"] for r in load_catalogue() if r.as_item()["code"] == "YP000174")
    o = order(medicationCodeableConcept={"coding": [{"system": "http://www.nhsa.gov.cn/ypbm", "code": nhsa}]})
    assert codes(client, call(o)) == []
    wrong = order(medicationCodeableConcept={"coding": [{"system": "http://www.nhsa.gov.cn/ypbm", "code": nhsa + "X"}]})
    assert codes(client, call(wrong)) == ["NOT_IN_FORMULARY"]
