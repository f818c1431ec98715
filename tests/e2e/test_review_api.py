"""The review centre over HTTP: the documented answer, the queue and decisions, bad input (a 4xx
problem+json naming the field, nothing written), roles and sites, knowledge import, CDS Hooks."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from services.prescription_review.app import SPEC
from shared.migrate import upgrade
from shared.runtime import ServiceContext, build_context
from tests.service.prescription_review.review_support import body, flagged, load_reference
from tests.support.web import bearer, make_settings, table_dump

HIS = bearer("his", name="his-1")
PH = bearer("pharmacist", name="ph-1")
PH2 = bearer("pharmacist", name="ph-2")
MGR = bearer("pharmacy_manager", name="mgr-1")


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated review database that knows the sample county, made once per module."""
    path = tmp_path_factory.mktemp("review") / "template.sqlite3"
    ctx = build_context(SPEC, make_settings("prescription_review", f"sqlite:///{path}"))
    upgrade(SPEC.migrations, ctx.engine)
    load_reference(ctx)
    with ctx.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    ctx.engine.dispose()
    return path


@pytest.fixture()
def review_ctx(template_db: Path, tmp_path: Path) -> Iterator[ServiceContext]:
    """A copy of the template database of its own."""
    path = tmp_path / "review.sqlite3"
    shutil.copyfile(template_db, path)
    ctx = build_context(SPEC, make_settings("prescription_review", f"sqlite:///{path}"))
    yield ctx
    ctx.engine.dispose()


@pytest.fixture()
def client(review_ctx: ServiceContext) -> FlaskClient:
    """A test client of the review app."""
    return SPEC.create_app(review_ctx).test_client()


def test_screening_answer_is_exactly_the_documented_shape(client: FlaskClient) -> None:
    r = client.post("/api/v1/screenings", json=flagged(), headers=HIS)
    assert r.status_code == 200, r.get_json()
    answer = r.get_json()
    assert set(answer) == {"id", "outcome", "knowledge_version", "findings"}
    assert answer["outcome"] == "review" and r.headers["Location"] == f"/api/v1/reviews/{answer['id']}"
    for f in answer["findings"]:
        assert set(f) == {"code", "severity", "item_index", "message", "basis"}
    assert answer["findings"][0]["code"] == "DOSE_ABOVE_MAX" and answer["findings"][0]["item_index"] == 0


def test_pharmacist_works_a_flagged_prescription_and_return_double_sign(client: FlaskClient) -> None:
    review_id = client.post("/api/v1/screenings", json=flagged(), headers=HIS).get_json()["id"]
    queue = client.get("/api/v1/queue", headers=PH).get_json()
    assert queue["counts"] == {"pending": 1} and queue["entries"][0]["id"] == review_id
    assert client.post(f"/api/v1/reviews/{review_id}/claim", headers=PH).status_code == 200
    taken = client.post(f"/api/v1/reviews/{review_id}/claim", headers=PH2)
    assert taken.status_code == 409 and taken.content_type == "application/problem+json"
    bad = client.post(f"/api/v1/reviews/{review_id}/decision", json={"decision": "return"}, headers=PH)
    assert bad.status_code == 422 and [e["field"] for e in bad.get_json()["errors"]] == ["reason_code"]
    ret = client.post(f"/api/v1/reviews/{review_id}/decision", json={"decision": "return", "reason_code": "DOSE",
                                                                     "comment": "超量"}, headers=PH)  # fmt: skip
    assert ret.status_code == 200 and ret.get_json()["status"] == "returned"
    signed = client.post(f"/api/v1/reviews/{review_id}/double-sign", json={"prescriber_id": "D001", "reason": "病情需要"}, headers=HIS)
    assert signed.status_code == 200 and signed.get_json()["status"] == "pending"
    assert client.post("/api/v1/queue/claim-next", json={}, headers=PH2).get_json()["id"] == review_id
    ok = client.post(f"/api/v1/reviews/{review_id}/decision", json={"decision": "approve"}, headers=PH2)
    assert ok.get_json()["status"] == "approved"
    detail = client.get(f"/api/v1/reviews/{review_id}", headers=PH).get_json()
    assert [a["action"] for a in detail["audit"]] == ["screened", "queued", "claimed", "returned", "double_signed", "claimed", "approved"]
    assert all(a["knowledge_version"] for a in detail["audit"] if a["action"] in ("screened", "approved", "returned"))
    assert "id" not in detail["screenings"][0]["prescription"]["patient"]  # the patient only under a key
    assert client.post("/api/v1/queue/claim-next", json={}, headers=PH).status_code == 204
    quality = client.get("/api/v1/quality", headers=MGR).get_json()
    assert quality["double_signed"] == 1 and quality["rules"]["DOSE_ABOVE_MAX"]["override_rate"] == 1.0


def _items(**over: Any) -> dict[str, Any]:
    b = body()
    b["items"][0].update(over)
    return b


def _patient(**over: Any) -> dict[str, Any]:
    b = body()
    b["patient"].update(over)
    return b


def _without(key: str) -> dict[str, Any]:
    b = body()
    del b[key]
    return b


BAD: list[tuple[dict[str, Any] | Any, int, str]] = [
    (_without("prescription_no"), 422, "prescription_no"),
    (_without("items"), 422, "items"),
    (body(type="walk_in"), 422, "type"),
    (body(issued_at="2026-11-22T09:30:00"), 422, "issued_at"),
    (body(issued_at="yesterday"), 422, "issued_at"),
    (body(issued_at="2099-01-01T08:00:00+08:00"), 422, "issued_at"),
    (body(items=[]), 422, "items"),
    (body(items="YP000174"), 422, "items"),
    (body(valid_days=4), 422, "valid_days"),
    (body(site_code="NOWHERE"), 422, "site_code"),
    (body(surprise=1), 422, "surprise"),
    (_items(dose=-5), 422, "items[0].dose"),
    (_items(dose="5mg"), 422, "items[0].dose"),
    (_items(dose=True), 422, "items[0].dose"),
    (_items(frequency="thrice"), 422, "items[0].frequency"),
    (_items(route="mouth"), 422, "items[0].route"),
    (_items(days=0), 422, "items[0].days"),
    (_items(days=2.5), 422, "items[0].days"),
    (_items(quantity="lots"), 422, "items[0].quantity"),
    (_items(item_code=""), 422, "items[0].item_code"),
    (_items(colour="red"), 422, "items[0].colour"),
    (_patient(age_years=200), 422, "patient.age_years"),
    (_patient(sex="X"), 422, "patient.sex"),
    (_patient(sex="M", pregnant=True), 422, "patient.pregnant"),
    (_patient(diagnoses=[{"code": "hypertension"}]), 422, "patient.diagnoses[0].code"),
    (_patient(allergies="青霉素"), 422, "patient.allergies"),
    (_patient(name="张三"), 422, "patient.name"),
    (body(prescriber={"id": "D1", "privileges": ["god"]}), 422, "prescriber.privileges[0]"),
    ([1, 2, 3], 422, "body"),
]


@pytest.mark.parametrize(("payload", "status", "field"), BAD, ids=[b[2] + str(i) for i, b in enumerate(BAD)])
def test_bad_screening_input_names_the_field_and_writes_nothing(client: FlaskClient, review_ctx: ServiceContext, payload: Any,
                                                                status: int, field: str) -> None:
    before = table_dump(review_ctx)
    r = client.post("/api/v1/screenings", json=copy.deepcopy(payload), headers=HIS)
    assert r.status_code == status, r.get_json()
    assert r.content_type == "application/problem+json"
    assert field in [e["field"] for e in r.get_json().get("errors", [])], r.get_json()
    assert table_dump(review_ctx) == before


def test_unreadable_body(client: FlaskClient, review_ctx: ServiceContext) -> None:
    before = table_dump(review_ctx)
    r = client.post("/api/v1/screenings", data="{not json", content_type="application/json", headers=HIS)
    assert 400 <= r.status_code < 500 and r.content_type == "application/problem+json"
    assert table_dump(review_ctx) == before


@pytest.mark.parametrize(("role", "site", "status"), [
    ("storekeeper", "CW-H01", 403), ("dispatcher", None, 403), ("pharmacy_manager", None, 403), ("formulary_admin", None, 403),
    ("pharmacist", None, 200), ("his", None, 200),
])  # fmt: skip
def test_who_may_screen(client: FlaskClient, role: str, site: str | None, status: int) -> None:
    r = client.post("/api/v1/screenings", json=body(prescription_no=f"R-{role}"), headers=bearer(role, site=site))
    assert r.status_code == status


def test_no_token_is_401_and_storekeeper_sees_only_own_site(client: FlaskClient) -> None:
    assert client.post("/api/v1/screenings", json=body()).status_code == 401
    client.post("/api/v1/screenings", json=flagged("R-H01"), headers=HIS)
    client.post("/api/v1/screenings", json=flagged("R-T01", site="CW-T01"), headers=HIS)
    mine = client.get("/api/v1/reviews", headers=bearer("storekeeper", site="CW-T01")).get_json()
    assert [r["prescription_no"] for r in mine] == ["R-T01"]
    other = client.get("/api/v1/reviews?site=CW-H01", headers=bearer("storekeeper", site="CW-T01"))
    assert other.status_code == 403
    h01 = next(r for r in client.get("/api/v1/reviews", headers=PH).get_json() if r["site_code"] == "CW-H01")
    assert client.get(f"/api/v1/reviews/{h01['id']}", headers=bearer("storekeeper", site="CW-T01")).status_code == 403
    assert client.get("/api/v1/queue", headers=bearer("storekeeper", site="CW-T01")).status_code == 403


def test_idempotent_retry_and_duplicate_number(client: FlaskClient, review_ctx: ServiceContext) -> None:
    sent = flagged("R-ID-1")
    first = client.post("/api/v1/screenings", json=sent, headers={**HIS, "Idempotency-Key": "k1"})
    again = client.post("/api/v1/screenings", json=sent, headers={**HIS, "Idempotency-Key": "k1"})
    assert again.get_json() == first.get_json() and again.headers.get("Idempotent-Replayed") == "true"
    before = table_dump(review_ctx)
    resent = client.post("/api/v1/screenings", json=sent, headers=HIS)  # a retry without a key: same answer, nothing written
    assert resent.status_code == 200 and resent.get_json() == first.get_json()
    assert table_dump(review_ctx) == before
    review_id = first.get_json()["id"]
    assert client.post(f"/api/v1/reviews/{review_id}/claim", headers=PH).status_code == 200
    assert client.post(f"/api/v1/reviews/{review_id}/decision", json={"decision": "approve"}, headers=PH).status_code == 200
    changed = copy.deepcopy(sent)
    changed["items"][0]["days"] = 2
    dup = client.post("/api/v1/screenings", json=changed, headers=HIS)  # approved: final
    assert dup.status_code == 409 and dup.get_json()["errors"][0]["field"] == "prescription_no"


def test_knowledge_import_validates_and_a_new_version_is_used_at_once(client: FlaskClient, review_ctx: ServiceContext) -> None:
    before = table_dump(review_ctx)
    bad = client.post("/api/v1/knowledge", json={"version": "county-2", "tables": {
        "interactions": "a,b,level,message,source\n氨氯地平,对乙酰氨基酚,severe,x,y\n"}}, headers=MGR)  # fmt: skip
    assert bad.status_code == 422 and "tables.interactions[1].level" in [e["field"] for e in bad.get_json()["errors"]]
    assert table_dump(review_ctx) == before
    assert client.post("/api/v1/knowledge", json={"version": "x", "tables": {}}, headers=MGR).status_code == 422
    assert client.post("/api/v1/knowledge", json={"version": "c3", "tables": {"doses": []}}, headers=PH).status_code == 403
    good = client.post("/api/v1/knowledge", json={"version": "county-2", "note": "县药事会2026-11", "tables": {
        "interactions": [{"a": "氨氯地平", "b": "对乙酰氨基酚", "level": "major", "message": "测试", "source": "测试来源"}]}},
        headers=MGR)  # fmt: skip
    assert good.status_code == 201 and good.get_json()["ok"] and good.get_json()["counts"]["doses"] > 100
    b = body(prescription_no="R-KB-1")
    b["items"].append({"item_code": "YP000077", "dose": 0.5, "dose_unit": "g", "frequency": "tid", "route": "oral", "days": 3,
                       "quantity": 9})  # fmt: skip
    answer = client.post("/api/v1/screenings", json=b, headers=HIS).get_json()
    assert answer["knowledge_version"] == "county-2" and "DDI_MAJOR" in [f["code"] for f in answer["findings"]]
    assert client.post("/api/v1/knowledge", json={"version": "county-2", "tables": {"doses": []}}, headers=MGR).status_code == 409
    assert client.get("/api/v1/knowledge", headers=MGR).get_json()["active"] == "county-2"


def test_severity_configuration(client: FlaskClient) -> None:
    bad = client.put("/api/v1/rules/severity", json={"site_level": "moon", "code": "NOPE", "severity": "fatal"}, headers=MGR)
    assert bad.status_code == 422 and {e["field"] for e in bad.get_json()["errors"]} == {"site_level", "code", "severity"}
    ok = client.put("/api/v1/rules/severity", json={"site_level": "village", "code": "DDI_MODERATE", "severity": "warning"},
                    headers=MGR)  # fmt: skip
    assert ok.status_code == 200 and ok.get_json() == {"village": {"DDI_MODERATE": "warning"}}
    rules = client.get("/api/v1/rules", headers=PH).get_json()
    assert {r["code"] for r in rules["rules"]} >= {"ALLERGY", "DDI_MAJOR"}


def test_cds_hooks_discovery_and_order_sign(client: FlaskClient, review_ctx: ServiceContext) -> None:
    services = client.get("/api/v1/cds-services", headers=HIS).get_json()["services"]
    assert services[0]["hook"] == "order-sign"
    call = {
        "hook": "order-sign", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/D001", "patientId": "P9", "draftOrders": {"resourceType": "Bundle", "entry": [
            {"resource": {"resourceType": "MedicationRequest", "medicationCodeableConcept": {"coding": [{"code": "YP000262"}]},
                          "dosageInstruction": [{"doseAndRate": [{"doseQuantity": {"value": 2.5, "unit": "mg"}}],
                                                 "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                                                 "route": {"coding": [{"code": "26643006"}]}}],
                          "dispenseRequest": {"quantity": {"value": 3}, "expectedSupplyDuration": {"value": 3}}}},
            {"resource": {"resourceType": "MedicationRequest", "medicationCodeableConcept": {"coding": [{"code": "YP000081"}]},
                          "dosageInstruction": [{"doseAndRate": [{"doseQuantity": {"value": 0.3, "unit": "g"}}],
                                                 "timing": {"code": {"coding": [{"code": "BID"}]}}, "route": {"coding": [{"code": "oral"}]}}],
                          "dispenseRequest": {"quantity": {"value": 6}, "expectedSupplyDuration": {"value": 3}}}},
        ]}},
        "prefetch": {"patient": {"resourceType": "Patient", "gender": "female", "birthDate": "1960-05-01"},
                     "conditions": {"entry": [{"resource": {"code": {"coding": [{"code": "I48.9", "display": "心房颤动"}]}}}]}},
        "extension": {"site_code": "CW-H01"},
    }  # fmt: skip
    before = table_dump(review_ctx)
    r = client.post("/api/v1/cds-services/county-prescription-review", json=call, headers=HIS)
    assert r.status_code == 200, r.get_json()
    cards = r.get_json()["cards"]
    assert any(c["extension"]["code"] == "DDI_MAJOR" and c["indicator"] == "warning" for c in cards)
    assert all(c["indicator"] in ("info", "warning", "critical") and c["summary"] for c in cards)
    assert table_dump(review_ctx) == before  # order-sign stores nothing
    broken = copy.deepcopy(call)
    broken["context"]["draftOrders"] = {"entry": [{"resource": {"resourceType": "Patient"}}]}
    bad = client.post("/api/v1/cds-services/county-prescription-review", json=broken, headers=HIS)
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "context.draftOrders.entry[0].resource"
    wrong_hook = dict(call, hook="patient-view")
    assert client.post("/api/v1/cds-services/county-prescription-review", json=wrong_hook, headers=HIS).status_code == 422


def test_registry_and_wait_limit_endpoints(client: FlaskClient) -> None:
    bad = client.post("/api/v1/prescribers", json={"entries": [{"id": "D001", "name": "张", "privileges": ["x"]}]}, headers=MGR)
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "entries[0].privileges[0]"
    ok = client.post("/api/v1/prescribers", json={"entries": [{"id": "D001", "name": "张医生", "sites": ["CW-T01"],
                                                               "privileges": ["antibiotic_unrestricted"]}]}, headers=MGR)  # fmt: skip
    assert ok.get_json() == {"imported": 1}
    answer = client.post("/api/v1/screenings", json=body(prescription_no="R-REG-1"), headers=HIS).get_json()
    assert answer["outcome"] == "block" and answer["findings"][0]["code"] == "PRESCRIBER_NOT_AUTHORIZED"
    csv_list = "id,name,sites,title,privileges,active\nD002,李医生,CW-H01;CW-T01,attending,antibiotic_special;narcotic,true\n"
    assert client.post("/api/v1/prescribers", json={"csv": csv_list}, headers=MGR).get_json() == {"imported": 1}
    bad_csv = client.post("/api/v1/prescribers", json={"csv": "id,name,privileges\nD003,王,superuser\n"}, headers=MGR)
    assert bad_csv.status_code == 422 and bad_csv.get_json()["errors"][0]["field"] == "entries[0].privileges[0]"
    listed = client.get("/api/v1/prescribers", headers=PH).get_json()
    assert {p["id"]: p["sites"] for p in listed}["D002"] == ["CW-H01", "CW-T01"]
    assert client.put("/api/v1/settings/wait-limit", json={"minutes": 0}, headers=MGR).status_code == 422
    assert client.put("/api/v1/settings/wait-limit", json={"minutes": 20}, headers=MGR).get_json() == {"wait_limit_minutes": 20}
