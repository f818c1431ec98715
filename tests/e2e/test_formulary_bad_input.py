"""Bad input to every formulary endpoint: a 4xx problem+json naming the field, and nothing written."""

from __future__ import annotations

import io

import pytest
from flask.testing import FlaskClient

from shared.runtime import ServiceContext
from tests.support.formulary import approve_all, sample_item
from tests.support.web import bearer, table_dump

ADMIN = bearer("formulary_admin")
MANAGER = bearer("pharmacy_manager")
ETAG = {"If-Match": '"YP900001-v1"'}

# (method, path, json body or None, extra headers, expected status, field the problem must name)
CASES = [
    ("get", "/api/v1/items?limit=0", None, {}, 422, "limit"),
    ("get", "/api/v1/items?limit=abc", None, {}, 422, "limit"),
    ("get", "/api/v1/items?kind=food", None, {}, 422, "kind"),
    ("get", "/api/v1/items?cursor=not-a-cursor", None, {}, 400, "cursor"),
    ("get", "/api/v1/items?colour=red", None, {}, 422, "colour"),
    ("get", "/api/v1/items?q=%00", None, {}, 422, "q"),  # control characters refused on the search path too
    ("get", "/api/v1/items?q=amx%E2%80%AEl", None, {}, 422, "q"),
    ("get", "/api/v1/items?site=NOPE", None, {}, 404, None),
    ("post", "/api/v1/items", sample_item(code="YP900003", package_size="many"), {}, 422, "package_size"),
    ("post", "/api/v1/items", sample_item(code="YP900003", package_size=0), {}, 422, "package_size"),
    ("post", "/api/v1/items", sample_item(code="YP900003", storage="hot"), {}, 422, "storage"),
    ("post", "/api/v1/items", sample_item(code="bad code!"), {}, 422, "code"),
    ("post", "/api/v1/items", sample_item(code="YP900003", nhsa_code="123"), {}, 422, "nhsa_code"),
    ("post", "/api/v1/items", sample_item(code="YP900003", atc_code="J01"), {}, 422, "atc_code"),
    ("post", "/api/v1/items", sample_item(code="YP900003", vbp=True, vbp_batch=None), {}, 422, "vbp_batch"),
    ("post", "/api/v1/items", sample_item(code="YP900003", kind="consumable", atc_code="J01CA04", nhsa_code=None), {}, 422, "atc_code"),
    ("post", "/api/v1/items", sample_item(code="YP900003", approval_no="H123"), {}, 422, "approval_no"),
    ("post", "/api/v1/items", sample_item(code="YP900003", colour="red"), {}, 422, "colour"),
    ("post", "/api/v1/items", {"code": "YP1"}, {}, 422, "generic_name"),
    ("post", "/api/v1/items", [1, 2], {}, 422, "body"),
    ("post", "/api/v1/items", sample_item(code="YP900001"), {}, 409, "code"),  # exists already
    ("patch", "/api/v1/items/YP900001", {"package_size": -1}, ETAG, 422, "package_size"),
    ("patch", "/api/v1/items/YP900001", {"code": "YP2"}, ETAG, 422, "code"),
    ("patch", "/api/v1/items/YP900001", {}, ETAG, 422, "body"),
    # A blank choice or yes/no is not a value: refused, never stored as null/false (leave the field out to keep it).
    ("patch", "/api/v1/items/YP900001", {"storage": ""}, ETAG, 422, "storage"),
    ("patch", "/api/v1/items/YP900001", {"antibiotic_tier": "\u3000"}, ETAG, 422, "antibiotic_tier"),
    ("patch", "/api/v1/items/YP900001", {"essential": ""}, ETAG, 422, "essential"),
    ("post", "/api/v1/items", sample_item(code="YP900003", reimbursement=" "), {}, 422, "reimbursement"),
    ("patch", "/api/v1/items/YP900001", {"strength": "1g"}, {}, 428, "If-Match"),
    ("patch", "/api/v1/items/NOPE", {"strength": "1g"}, ETAG, 404, None),
    ("post", "/api/v1/items/YP900001/retire", {}, {}, 422, "reason"),
    ("post", "/api/v1/items/NOPE/retire", {"reason": "停产"}, {}, 404, None),
    ("get", "/api/v1/items/NOPE/history", None, {}, 404, None),
    ("post", "/api/v1/sites", {"code": "T9", "name": "x"}, {}, 422, "tax_id"),
    ("post", "/api/v1/sites", {"code": "T9", "name": "某镇卫生院", "tax_id": "123456789012345678", "level": "township",
                               "parent_code": "H1", "lat": 99, "lon": 115, "receiving_hours": [{"start": "8", "end": "17:00"}]},
     {}, 422, "lat"),
    ("post", "/api/v1/sites", {"code": "T9", "name": "某镇卫生院", "tax_id": "12345678901234567X", "level": "township",
                               "lat": 35, "lon": 115, "receiving_hours": [{"start": "08:00", "end": "17:00"}]},
     {}, 422, "tax_id"),
    ("get", "/api/v1/sites?level=city", None, {}, 422, "level"),
    ("put", "/api/v1/stocklists/level/village", {"item_codes": "YP900001"}, {}, 422, "item_codes"),
    ("put", "/api/v1/stocklists/level/planet", {"item_codes": []}, {}, 404, None),
    ("get", "/api/v1/changes?status=maybe", None, {}, 422, "status"),
    ("post", "/api/v1/changes/approve", {"change_ids": []}, {}, 422, "change_ids"),
    ("post", "/api/v1/changes/approve", {"change_ids": ["nope"]}, {}, 404, "change_ids"),
    ("post", "/api/v1/changes/nope/reject", {"reason": "重复"}, {}, 404, None),
    ("post", "/api/v1/changes/nope/reject", {}, {}, 422, "reason"),
    ("get", "/api/v1/changes/nope", None, {}, 404, None),
]


@pytest.fixture()
def seeded(client: FlaskClient) -> FlaskClient:
    """One approved item and one pending draft."""
    client.post("/api/v1/items", json=sample_item(), headers=ADMIN)
    approve_all(client)
    client.post("/api/v1/items", json=sample_item("YP900002"), headers=ADMIN)
    return client


@pytest.mark.parametrize(("method", "path", "body", "headers", "status", "field"), CASES)
def test_bad_input_is_a_problem_and_writes_nothing(
    seeded: FlaskClient,
    formulary_ctx: ServiceContext,
    method: str,
    path: str,
    body: object,
    headers: dict[str, str],
    status: int,
    field: str | None,
) -> None:
    role = MANAGER if "approve" in path or "reject" in path else ADMIN
    before = table_dump(formulary_ctx)
    response = getattr(seeded, method)(path, json=body, headers={**role, **headers})
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == status and problem["title"]
    if field is not None:
        assert field in [e["field"] for e in problem.get("errors", [])], problem
    assert table_dump(formulary_ctx) == before


@pytest.mark.parametrize(
    ("data", "content_type", "field"),
    [
        ("{not json", "application/json", "body"),
        ("x" * (3 * 1024 * 1024), "application/json", "body"),
    ],
)
def test_unreadable_bodies(seeded: FlaskClient, formulary_ctx: ServiceContext, data: str, content_type: str, field: str) -> None:
    before = table_dump(formulary_ctx)
    response = seeded.post("/api/v1/items", data=data, content_type=content_type, headers=ADMIN)
    assert response.status_code in (400, 413)
    assert response.content_type == "application/problem+json"
    assert response.get_json()["errors"][0]["field"] == field
    assert table_dump(formulary_ctx) == before


@pytest.mark.parametrize(
    ("files", "field"),
    [({}, "file"), ({"file": (io.BytesIO(b"PK\x03\x04garbage"), "x.xlsx")}, "file"),
     ({"file": (io.BytesIO(b"a,b\n"), "x.pdf")}, "file"), ({"file": (io.BytesIO(b"code,kind\n"), "x.csv")}, "file")],
)
def test_bad_import_files(seeded: FlaskClient, formulary_ctx: ServiceContext, files: dict, field: str) -> None:
    before = table_dump(formulary_ctx)
    response = seeded.post("/api/v1/imports/items", data=files, headers=ADMIN)
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == field
    assert table_dump(formulary_ctx) == before


def test_auth_is_required_and_roles_are_checked(seeded: FlaskClient, formulary_ctx: ServiceContext) -> None:
    before = table_dump(formulary_ctx)
    assert seeded.get("/api/v1/items").status_code == 401
    assert seeded.get("/api/v1/items", headers={"Authorization": "Bearer forged"}).status_code == 401
    storekeeper = bearer("storekeeper", site="V001")
    assert seeded.post("/api/v1/items", json=sample_item("YP900003"), headers=storekeeper).status_code == 403
    drafts = seeded.get("/api/v1/changes", headers=ADMIN).get_json()
    denied = seeded.post("/api/v1/changes/approve", json={"change_ids": [drafts[0]["id"]]}, headers=ADMIN)
    assert denied.status_code == 403
    assert table_dump(formulary_ctx) == before
    for open_path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert seeded.get(open_path).status_code == 200, open_path


@pytest.mark.parametrize(
    ("body", "headers", "field"),
    [
        ("阿莫西林".encode("gbk"), {"Content-Type": "application/json; charset=gbk"}, "Content-Type"),
        ('{"a": 1}'.encode("utf-16"), {"Content-Type": "application/json; charset=utf-16"}, "Content-Type"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", {"Content-Type": "application/json", "Content-Encoding": "gzip"}, "Content-Encoding"),
        (b'{"code": "\xff"}', {"Content-Type": "application/json"}, "body"),
    ],
)
def test_bodies_not_in_utf8_json_say_what_to_send(
    seeded: FlaskClient, formulary_ctx: ServiceContext, body: bytes, headers: dict[str, str], field: str
) -> None:
    """RFC 8259 §8.1: JSON between systems is UTF-8; a content coding the server does not apply is 415 (RFC 9110 §15.5.16)."""
    before = table_dump(formulary_ctx)
    response = seeded.post("/api/v1/items", data=body, headers={**ADMIN, **headers})
    assert response.status_code in (400, 415) and response.content_type == "application/problem+json"
    assert response.get_json()["errors"][0]["field"] == field, response.get_json()
    assert "UTF-8" in response.get_json()["detail"] or field == "Content-Encoding"
    assert table_dump(formulary_ctx) == before
    ok = seeded.post("/api/v1/items", json=sample_item(code="YP900777"), headers={**ADMIN, "Content-Type": "application/json; charset=UTF-8"})
    assert ok.status_code == 201


def test_change_and_batch_ids_are_case_insensitive_everywhere(seeded: FlaskClient) -> None:
    """UUIDs are case-insensitive on input (RFC 9562 §4): in the URL, in the approval body and in the list filter."""
    created = seeded.post("/api/v1/items", json=sample_item(code="YP900778", approval_no=None, strength="9g"), headers=ADMIN)
    change_id = created.get_json()["id"]
    assert seeded.get(f"/api/v1/changes/{change_id.upper()}", headers=MANAGER).status_code == 200
    blank = seeded.post("/api/v1/changes/approve", json={"change_ids": [" "]}, headers=MANAGER)
    assert blank.status_code == 422 and blank.get_json()["errors"][0]["field"].startswith("change_ids")
    approved = seeded.post("/api/v1/changes/approve", json={"change_ids": [change_id.upper()]}, headers=MANAGER)
    assert approved.status_code == 200, approved.get_json()
    assert seeded.get(f"/api/v1/changes/{change_id}", headers=MANAGER).get_json()["status"] == "approved"


def test_if_match_is_honoured_on_every_write_and_every_record_has_an_etag(seeded: FlaskClient, formulary_ctx: ServiceContext) -> None:
    """RFC 9110 §13.1.1: a write whose If-Match does not match is not performed (412), on sites, lists and retirements too."""
    from services.formulary.codes import uscc_check_char
    from tests.support.formulary import sample_site

    base = "12371723MB0000001"
    proposed = seeded.post("/api/v1/sites", json=sample_site("H1", "county_hospital", None, base + uscc_check_char(base)), headers=ADMIN)
    assert proposed.status_code == 201, proposed.get_json()
    seeded.post("/api/v1/changes/approve", json={"change_ids": [proposed.get_json()["id"]]}, headers=MANAGER)
    site = seeded.get("/api/v1/sites?limit=1", headers=ADMIN).get_json()[0]
    got = seeded.get(f"/api/v1/sites/{site['code']}", headers=ADMIN)
    assert got.headers["ETag"] == f'"{site["code"]}-v{site["version"]}"'
    body = {k: site[k] for k in ("code", "name", "tax_id", "level", "parent_code", "lat", "lon", "receiving_hours")}
    before = table_dump(formulary_ctx)
    stale = {"If-Match": f'"{site["code"]}-v{site["version"] + 5}"'}
    assert seeded.post("/api/v1/sites", json={**body, "name": "新名称卫生院"}, headers={**ADMIN, **stale}).status_code == 412
    listed = seeded.get("/api/v1/stocklists/level/village", headers=ADMIN)
    assert listed.headers["ETag"].startswith('"level:village-v')
    assert seeded.put("/api/v1/stocklists/level/village", json={"item_codes": []}, headers={**ADMIN, "If-Match": '"x"'}).status_code == 412
    assert seeded.post("/api/v1/items/YP900001/retire", json={"reason": "停产停售"}, headers={**ADMIN, "If-Match": '"YP900001-v9"'}).status_code == 412
    assert table_dump(formulary_ctx) == before
    fresh = seeded.put("/api/v1/stocklists/level/village", json={"item_codes": []}, headers={**ADMIN, "If-Match": listed.headers["ETag"]})
    assert fresh.status_code == 201 and fresh.get_json()["base_version"] == listed.get_json()["version"]
    renamed = seeded.post("/api/v1/sites", json={**body, "name": "新名称卫生院"}, headers={**ADMIN, "If-Match": got.headers["ETag"]})
    assert renamed.status_code == 201, renamed.get_json()
