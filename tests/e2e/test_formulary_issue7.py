"""Issue 7's examples over HTTP: lost updates, structure, normalisation, no 500, imports, search, committee, scale."""

from __future__ import annotations

import io
import json

import pytest
from flask.testing import FlaskClient

from services.formulary.codes import uscc_check_char
from shared.runtime import ServiceContext
from tests.support.formulary import approve_all, sample_item, sample_site
from tests.support.web import bearer, table_dump

ADMIN = bearer("formulary_admin", name="admin1")
MANAGER = bearer("pharmacy_manager", name="mgr1")
MANAGER2 = bearer("pharmacy_manager", name="mgr2")


def uscc(first17: str) -> str:
    """A valid 统一社会信用代码 from its first 17 characters."""
    return first17 + uscc_check_char(first17)


def upload(client: FlaskClient, content: bytes, name: str = "items.csv", query: str = "confirm=true") -> dict:
    """POST a file to the importer; returns the JSON (report or problem)."""
    response = client.post(f"/api/v1/imports/items?{query}", data={"file": (io.BytesIO(content), name)}, headers=ADMIN)
    body = response.get_json()
    body["_status"] = response.status_code
    return body


def item(client: FlaskClient, code: str = "YP900001") -> dict:
    """The item's approved state."""
    return client.get(f"/api/v1/items/{code}", headers=ADMIN).get_json()


@pytest.fixture()
def one_item(client: FlaskClient) -> FlaskClient:
    """One approved drug with every optional field set."""
    assert client.post("/api/v1/items", json=sample_item(), headers=ADMIN).status_code == 201
    approve_all(client)
    return client


# --- §1 data loss and lost updates ---------------------------------------------------------------


def test_partial_column_import_keeps_every_absent_column(one_item: FlaskClient) -> None:
    before = item(one_item)
    content = "编码,通用名,包装数量\nYP900001,阿莫西林,48\n".encode()
    report = upload(one_item, content)
    assert report["_status"] == 200 and report["written"] == 1, report
    change = one_item.get("/api/v1/changes", headers=ADMIN).get_json()[0]
    assert change["payload"] == {"package_size": 48} and change["base_version"] == 1
    approve_all(one_item)
    after = item(one_item)
    assert after["package_size"] == 48
    for field in ("antibiotic_tier", "vbp", "nhsa_code", "atc_code", "manufacturer", "approval_no", "essential"):
        assert after[field] == before[field], field


def test_blank_optional_cells_keep_for_existing_and_default_for_new(one_item: FlaskClient) -> None:
    content = (
        "编码,类别,通用名,剂型,单位,包装数量,包装单位,体积cm3,重量g,基药,医保类别,储存条件,生产企业\n"
        "YP900001,药品,阿莫西林,胶囊,粒,24,盒,60,30,,,,\n"
        "YP900002,耗材,一次性注射器,,支,100,盒,900,400,,,,\n"
    ).encode()
    report = upload(one_item, content)
    assert report["_status"] == 200, report
    statuses = {r["code"]: r["status"] for r in report["rows"]}
    assert statuses == {"YP900001": "unchanged", "YP900002": "ok"}
    approve_all(one_item)
    assert item(one_item)["manufacturer"] == "华北制药股份有限公司"
    new = item(one_item, "YP900002")
    assert (new["essential"], new["reimbursement"], new["storage"], new["controlled"]) == (False, "none", "ambient", "none")


def test_two_site_drafts_from_one_version_the_second_is_refused(client: FlaskClient) -> None:
    hub = sample_site("H001", "county_hospital", None, uscc("12371723MB0000001"))
    client.post("/api/v1/sites", json=hub, headers=ADMIN)
    approve_all(client)
    a = client.post("/api/v1/sites", json={**hub, "receiving_hours": [{"start": "07:00", "end": "12:00"}]}, headers=ADMIN)
    b = client.post("/api/v1/sites", json={**hub, "name": "成武县人民医院"}, headers=ADMIN)
    assert a.get_json()["base_version"] == b.get_json()["base_version"] == 1
    assert client.post("/api/v1/changes/approve", json={"change_ids": [a.get_json()["id"]]}, headers=MANAGER).status_code == 200
    stale = client.post("/api/v1/changes/approve", json={"change_ids": [b.get_json()["id"]]}, headers=MANAGER)
    assert stale.status_code == 409
    assert "version 1" in stale.get_json()["detail"] and "now at version 2" in stale.get_json()["detail"]
    assert client.get("/api/v1/sites/H001", headers=ADMIN).get_json()["receiving_hours"] == [{"start": "07:00", "end": "12:00"}]


def test_stale_item_draft_names_the_fields_that_moved_and_diff_is_against_current(one_item: FlaskClient) -> None:
    etag = {"If-Match": '"YP900001-v1"'}
    a = one_item.patch("/api/v1/items/YP900001", json={"strength": "0.5g"}, headers={**ADMIN, **etag}).get_json()
    b = one_item.patch("/api/v1/items/YP900001", json={"unit": "片"}, headers={**ADMIN, **etag}).get_json()
    one_item.post("/api/v1/changes/approve", json={"change_ids": [a["id"]]}, headers=MANAGER)
    view = one_item.get(f"/api/v1/changes/{b['id']}", headers=ADMIN).get_json()
    assert view["stale"] is True and view["current_version"] == 2
    assert view["diff"] == [{"field": "unit", "current": "粒", "proposed": "片"}]
    refused = one_item.post("/api/v1/changes/approve", json={"change_ids": [b["id"]]}, headers=MANAGER)
    assert refused.status_code == 409 and "strength" in refused.get_json()["detail"]


def test_import_drafts_carry_their_base_version_and_a_stale_import_is_refused(one_item: FlaskClient) -> None:
    upload(one_item, "编码,规格\nYP900001,0.5g\n".encode())
    edit = one_item.patch("/api/v1/items/YP900001", json={"unit": "片"}, headers={**ADMIN, "If-Match": '"YP900001-v1"'}).get_json()
    one_item.post("/api/v1/changes/approve", json={"change_ids": [edit["id"]]}, headers=MANAGER)
    batch = one_item.get("/api/v1/changes/batches", headers=ADMIN).get_json()[0]
    refused = one_item.post("/api/v1/changes/approve", json={"batch_id": batch["batch_id"]}, headers=MANAGER)
    assert refused.status_code == 409 and "unit" in refused.get_json()["detail"]


def test_the_same_change_twice_in_one_approval_is_refused(client: FlaskClient, formulary_ctx: ServiceContext) -> None:
    change = client.post("/api/v1/items", json=sample_item(), headers=ADMIN).get_json()
    before = table_dump(formulary_ctx)
    twice = client.post("/api/v1/changes/approve", json={"change_ids": [change["id"], change["id"]]}, headers=MANAGER)
    assert twice.status_code == 422 and twice.get_json()["errors"][0]["field"] == "change_ids"
    assert table_dump(formulary_ctx) == before


# --- §2 structure ----------------------------------------------------------------------------------


def test_a_township_with_villages_cannot_become_a_village(client: FlaskClient) -> None:
    hub = sample_site("H001", "county_hospital", None, uscc("12371723MB0000001"))
    towns = [sample_site(f"T00{i}", "township", "H001", uscc(f"12371723MB000001{i}")) for i in (1, 2)]
    villages = [sample_site(f"V00{i}", "village", "T001", uscc(f"12371723MB000002{i}")) for i in range(1, 4)]
    for site in (hub, *towns, *villages):
        assert client.post("/api/v1/sites", json=site, headers=ADMIN).status_code == 201, site["code"]
    approve_all(client)
    demoted = client.post("/api/v1/sites", json={**towns[0], "level": "village", "parent_code": "T002"}, headers=ADMIN)
    assert demoted.status_code == 422
    message = {e["field"]: e["message"] for e in demoted.get_json()["errors"]}["level"]
    assert all(v["code"] in message for v in villages)


def test_references_must_exist_at_proposal_and_at_approval(one_item: FlaskClient) -> None:
    unknown_site = one_item.put("/api/v1/stocklists/site/NOPE", json={"item_codes": ["YP900001"]}, headers=ADMIN)
    assert unknown_site.status_code == 422
    unknown_item = one_item.put("/api/v1/stocklists/level/village", json={"item_codes": ["YP999999"]}, headers=ADMIN)
    assert unknown_item.status_code == 422 and "YP999999" in unknown_item.get_json()["errors"][0]["message"]
    orphan = sample_site("T009", "township", "H404", uscc("12371723MB0000099"))
    assert one_item.post("/api/v1/sites", json=orphan, headers=ADMIN).status_code == 422


# --- §3 normalisation --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [1.5, "1.5", "1.5e0", True, "二十"])
def test_pack_size_must_be_a_whole_number_on_post_and_patch(one_item: FlaskClient, value: object) -> None:
    post = one_item.post("/api/v1/items", json=sample_item("YP900005", package_size=value), headers=ADMIN)
    assert post.status_code == 422 and post.get_json()["errors"][0]["field"] == "package_size"
    patch = one_item.patch("/api/v1/items/YP900001", json={"package_size": value}, headers={**ADMIN, "If-Match": "*"})
    assert patch.status_code == 422 and patch.get_json()["errors"][0]["field"] == "package_size"


def test_pack_size_in_an_xlsx_cell_follows_the_same_rule(client: FlaskClient) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["编码", "类别", "通用名", "剂型", "单位", "包装数量", "包装单位", "体积cm3", "重量g"])
    sheet.append(["YP920001", "药品", "布洛芬", "片剂", "片", 1.5, "盒", 40, 20])
    sheet.append(["YP920002", "药品", "对乙酰氨基酚", "片剂", "片", 24.0, "盒", 40, 20])
    buffer = io.BytesIO()
    workbook.save(buffer)
    report = upload(client, buffer.getvalue(), "目录.xlsx", "valid_only=true&confirm=true")
    rows = {r["code"]: r for r in report["rows"]}
    assert rows["YP920001"]["status"] == "error" and rows["YP920001"]["errors"][0]["field"] == "package_size"
    assert rows["YP920002"]["status"] == "ok"


@pytest.mark.parametrize("name", ["   ", "\u3000", "\u3000 \u3000"])
def test_blank_generic_name_is_refused(client: FlaskClient, name: str) -> None:
    response = client.post("/api/v1/items", json=sample_item(generic_name=name), headers=ADMIN)
    assert response.status_code == 422 and response.get_json()["errors"][0]["field"] == "generic_name"


def test_full_width_and_spaces_are_normalised_and_controls_refused(client: FlaskClient) -> None:
    body = sample_item("ｙｐ９０００１１", generic_name="\u3000阿莫西林\u3000", strength="０.２５ｇ")
    created = client.post("/api/v1/items", json=body, headers=ADMIN)
    assert created.status_code == 201, created.get_json()
    payload = created.get_json()["payload"]
    assert (payload["code"], payload["generic_name"], payload["strength"]) == ("YP900011", "阿莫西林", "0.25g")
    site = sample_site("h001", "county_hospital", None, uscc("12371723MB0000001").lower())
    proposed = client.post("/api/v1/sites", json={**site, "name": "\u3000成武县人民医院 "}, headers=ADMIN).get_json()
    assert (proposed["target"], proposed["payload"]["tax_id"], proposed["payload"]["name"]) == (
        "H001", uscc("12371723MB0000001"), "成武县人民医院")
    nul = client.post("/api/v1/items", json=sample_item("YP900012", generic_name="阿莫\x00西林"), headers=ADMIN)
    assert nul.status_code == 422 and nul.get_json()["errors"][0]["field"] == "generic_name"


# --- §4 no 500 ---------------------------------------------------------------------------------------


def test_deeply_nested_json_is_a_400(client: FlaskClient) -> None:
    for depth in (100, 100_000):
        body = "[" * depth + "]" * depth
        response = client.post("/api/v1/items", data=body, content_type="application/json", headers=ADMIN)
        assert response.status_code == 400, depth
        assert response.get_json()["errors"][0]["field"] == "body"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_json_with_the_wrong_content_type_is_a_415(client: FlaskClient, content_type: str | None) -> None:
    data = json.dumps(sample_item()).encode()
    headers = dict(ADMIN)
    kwargs = {"content_type": content_type} if content_type else {}
    response = client.post("/api/v1/items", data=data, headers=headers, **kwargs)
    assert response.status_code == 415
    assert "application/json" in response.get_json()["detail"]


@pytest.mark.parametrize("cursor", ["WzAsMCwiWVAiXQ", "W10", "eyJhIjoxfQ", "WzksOSwiWVAiXQ", "%%%", "WyJhIiwxLDJd"])
def test_tampered_cursors_are_a_400(one_item: FlaskClient, cursor: str) -> None:
    for path in ("/api/v1/items?q=amxl&cursor=", "/api/v1/sites?cursor=", "/api/v1/changes?cursor=", "/api/v1/versions?cursor="):
        response = one_item.get(path + cursor, headers=ADMIN)
        assert response.status_code in (200, 400), (path, response.get_json())
        if response.status_code == 400:
            assert response.get_json()["errors"][0]["field"] == "cursor"
    assert one_item.get("/api/v1/items?q=amxl&cursor=W10", headers=ADMIN).status_code == 400


def test_if_match_takes_a_list_and_star_and_refuses_weak_tags(one_item: FlaskClient) -> None:
    path = "/api/v1/items/YP900001"
    listed = one_item.patch(path, json={"strength": "1g"}, headers={**ADMIN, "If-Match": '"x-v9", "YP900001-v1"'})
    assert listed.status_code == 201
    weak = one_item.patch(path, json={"strength": "2g"}, headers={**ADMIN, "If-Match": 'W/"YP900001-v1"'})
    assert weak.status_code == 412
    star = one_item.patch(path, json={"strength": "3g"}, headers={**ADMIN, "If-Match": "*"})
    assert star.status_code == 201
    garbage = one_item.patch(path, json={"strength": "4g"}, headers={**ADMIN, "If-Match": "YP900001-v1"})
    assert garbage.status_code == 422 and garbage.get_json()["errors"][0]["field"] == "If-Match"


def test_every_list_pages_with_limit_and_cursor(client: FlaskClient) -> None:
    hub = sample_site("H001", "county_hospital", None, uscc("12371723MB0000001"))
    towns = [sample_site(f"T00{i}", "township", "H001", uscc(f"12371723MB000001{i}")) for i in range(1, 5)]
    for site in (hub, *towns):
        client.post("/api/v1/sites", json=site, headers=ADMIN)
    seen: list[str] = []
    url = "/api/v1/changes?limit=2"
    while url:
        response = client.get(url, headers=ADMIN)
        seen += [c["target"] for c in response.get_json()]
        link = response.headers.get("Link")
        url = link[1:link.index(">")] if link else ""
    assert seen == ["H001", "T001", "T002", "T003", "T004"]
    approve_all(client)
    codes: list[str] = []
    url = "/api/v1/sites?limit=2"
    while url:
        response = client.get(url, headers=ADMIN)
        codes += [s["code"] for s in response.get_json()]
        link = response.headers.get("Link")
        url = link[1:link.index(">")] if link else ""
    assert codes == ["H001", "T001", "T002", "T003", "T004"]


# --- §5 imports ----------------------------------------------------------------------------------------

HEADER = "编码,类别,通用名,剂型,单位,包装数量,包装单位,体积cm3,重量g,基药,医保类别,储存条件"
ROW = "{code},药品,参松养心胶囊,胶囊剂,粒,36,盒,80,40,是,乙类,阴凉"


def _csv(*codes: str, trailing: str = "") -> str:
    return HEADER + "\n" + "\n".join(ROW.format(code=c) for c in codes) + "\n" + trailing


@pytest.mark.parametrize(
    ("content", "name", "encoding"),
    [
        (_csv("YP930001").encode("utf-8"), "a.csv", "UTF-8"),
        (b"\xef\xbb\xbf" + _csv("YP930001").encode("utf-8"), "a.csv", "UTF-8 (BOM)"),
        (b"\xef\xbb\xbf\xef\xbb\xbf" + _csv("YP930001").encode("utf-8"), "a.csv", "UTF-8 (BOM)"),
        (b"\x84\x31\x95\x33" + _csv("YP930001").encode("gb18030"), "a.csv", "GB18030 (BOM)"),
        (_csv("YP930001").encode("gbk"), "a.csv", "GB18030/GBK"),
        (_csv("YP930001").replace(",", "\t").encode("utf-16"), "a.txt", "UTF-16"),
        (_csv("YP930001").replace(",", "\t").encode("gbk"), "a.txt", "GB18030/GBK"),
        (_csv("YP930001", trailing=",,,,,,,,,,,\n,,,,,,,,,,,\n").encode("utf-8"), "a.csv", "UTF-8"),
    ],
)
def test_files_as_chinese_excel_saves_them(client: FlaskClient, content: bytes, name: str, encoding: str) -> None:
    report = upload(client, content, name)
    assert report["_status"] == 200, report
    assert report["encoding"] == encoding and report["header_row"] == 1
    assert [(r["row"], r["code"], r["status"]) for r in report["rows"]] == [(2, "YP930001", "ok")]
    approve_all(client)
    found = item(client, "YP930001")
    assert (found["kind"], found["essential"], found["reimbursement"], found["storage"]) == ("drug", True, "乙", "cool")


def test_workbook_with_an_instructions_sheet_numeric_codes_and_sheet_row_numbers(client: FlaskClient) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    notes = workbook.active
    notes.title = "填写说明"
    notes.append(["请按模板填写，编码为必填"])
    data = workbook.create_sheet("目录")
    data.append(["成武县医共体药品目录"])
    data.append([])
    data.append(HEADER.split(","))
    data.append([86900001000011, "药品", "阿莫西林", "胶囊剂", "粒", 24, "盒", 60, 30, "是", "甲类", "常温"])
    data.append([])
    data.append([1234, "耗材", "医用棉签", None, "包", 50, "箱", 900, 300, None, None, None])
    data.append([None] * 12)
    buffer = io.BytesIO()
    workbook.save(buffer)
    report = upload(client, buffer.getvalue(), "目录.xlsx", "confirm=false")
    assert report["_status"] == 200, report
    assert (report["sheet"], report["header_row"], report["written"]) == ("目录", 3, 0)
    assert [(r["row"], r["code"], r["status"]) for r in report["rows"]] == [(4, "86900001000011", "ok"), (6, "1234", "ok")]


def test_checking_never_writes_even_when_every_row_is_valid(client: FlaskClient, formulary_ctx: ServiceContext) -> None:
    before = table_dump(formulary_ctx)
    report = upload(client, _csv("YP930001", "YP930002").encode(), query="")
    assert report["_status"] == 200 and report["written"] == 0 and report["confirmed"] is False
    assert table_dump(formulary_ctx) == before


def test_row_errors_use_the_sheet_row_numbers(client: FlaskClient) -> None:
    content = ("说明：每行一个品种\n" + HEADER + "\n" + ROW.format(code="YP930001") + "\n,,,,,,,,,,,\n"
               + ROW.format(code="YP930002").replace(",36,", ",1.5,") + "\n").encode()  # fmt: skip
    report = upload(client, content)
    assert report["_status"] == 422
    assert report["report"]["header_row"] == 2
    assert {e["field"] for e in report["errors"]} == {"rows[5].package_size"}


def test_a_file_at_the_row_limit_is_not_refused_for_its_size(client: FlaskClient) -> None:
    rows = [ROW.format(code=f"YP{940000 + i}").replace("参松养心胶囊", "参松养心胶囊" * 9) for i in range(20000)]
    content = (HEADER + "\n" + "\n".join(rows) + "\n").encode()
    assert len(content) > 4 * 1024 * 1024  # twice the JSON body limit, as the issue's 4.4 MB file
    report = upload(client, content, query="")
    assert report["_status"] == 200 and report["total"] == 20000, {k: v for k, v in report.items() if k != "rows"}


# --- §6 search -----------------------------------------------------------------------------------------


@pytest.fixture()
def catalogue(client: FlaskClient) -> FlaskClient:
    """A few items whose names need the search's rules."""
    bodies = [
        sample_item("YP000007", essential=False),
        sample_item("YP000008", generic_name="参松养心", dosage_form="胶囊剂", trade_name=None, approval_no=None,
                    generic_name_en=None, atc_code=None, nhsa_code=None, vbp=False, antibiotic_tier="none"),
        sample_item("YP000009", generic_name="阿莫西林", dosage_form="片剂", strength="0.5g", essential=True,
                    approval_no="国药准字H13023965"),
    ]  # fmt: skip
    for body in bodies:
        assert client.post("/api/v1/items", json=body, headers=ADMIN).status_code == 201, body["code"]
    approve_all(client)
    return client


def codes_for(client: FlaskClient, q: str) -> list[str]:
    """Codes the formulary search returns for q, in order."""
    return [i["code"] for i in client.get("/api/v1/items", query_string={"q": q}, headers=ADMIN).get_json()["items"]]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("ssyxjn", ["YP000008"]), ("csyxjn", ["YP000008"]), ("shensongyangxin", ["YP000008"]),
        ("ａｍｘｌ", ["YP000009", "YP000007"]), ("ＹＰ000007", ["YP000007"]), ("阿莫西林胶囊", ["YP000007"]),
        ("阿莫西林 0.5g", ["YP000009"]), ("amxl 片", ["YP000009"]), ("参松养心胶囊", ["YP000008"]),
        ("阿莫西林片0.5g", ["YP000009"]), ("阿莫西林胶囊0.25g", ["YP000007"]),
    ],
)  # fmt: skip
def test_search_finds_what_pharmacists_type(catalogue: FlaskClient, q: str, expected: list[str]) -> None:
    assert codes_for(catalogue, q) == expected


def test_rank_exact_code_then_name_prefix_then_initials_essential_first(catalogue: FlaskClient) -> None:
    assert codes_for(catalogue, "yp000007")[0] == "YP000007"
    assert codes_for(catalogue, "阿莫") == ["YP000009", "YP000007"]  # equal rank: the essential medicine first


# --- §7 committee --------------------------------------------------------------------------------------


def test_proposer_may_not_approve_their_own_change(client: FlaskClient, formulary_ctx: ServiceContext) -> None:
    change = client.post("/api/v1/items", json=sample_item(), headers=MANAGER).get_json()
    before = table_dump(formulary_ctx)
    own = client.post("/api/v1/changes/approve", json={"change_ids": [change["id"]]}, headers=MANAGER)
    assert own.status_code == 403 and table_dump(formulary_ctx) == before
    other = client.post("/api/v1/changes/approve", json={"change_ids": [change["id"]]}, headers=MANAGER2)
    assert other.status_code == 200


def test_reason_and_meeting_are_kept_in_history_and_pack_size_change_is_flagged(one_item: FlaskClient) -> None:
    body = {"package_size": 48, "reason": "供应商改为大包装", "meeting_ref": "药事会2026-11"}
    change = one_item.patch("/api/v1/items/YP900001", json=body, headers={**ADMIN, "If-Match": "*"}).get_json()
    assert [f["flag"] for f in change["flags"]] == ["pack_size_without_volume"]
    assert change["reason"] == "供应商改为大包装" and change["meeting_ref"] == "药事会2026-11"
    one_item.post("/api/v1/changes/approve", json={"change_ids": [change["id"]], "meeting_ref": "药事会2026-11"}, headers=MANAGER)
    latest = one_item.get("/api/v1/items/YP900001/history", headers=ADMIN).get_json()[0]
    assert (latest["proposed_by"], latest["approved_by"], latest["reason"], latest["meeting_ref"]) == (
        "admin1", "mgr1", "供应商改为大包装", "药事会2026-11")
    versions = one_item.get("/api/v1/versions", headers=ADMIN).get_json()
    assert versions[0]["meeting_ref"] == "药事会2026-11"
    with_volume = one_item.patch("/api/v1/items/YP900001", json={"package_size": 96, "volume_cm3": 200, "weight_g": 90},
                                 headers={**ADMIN, "If-Match": "*"}).get_json()  # fmt: skip
    assert with_volume["flags"] == []


def test_likely_duplicates_are_flagged_at_proposal_and_import(one_item: FlaskClient) -> None:
    same = one_item.post("/api/v1/items", json=sample_item("YP900077", approval_no=None), headers=ADMIN).get_json()
    assert [f["related"] for f in same["flags"]] == ["YP900001"]
    same_approval = one_item.post("/api/v1/items", json=sample_item("YP900078", strength="9g"), headers=ADMIN).get_json()
    assert same_approval["flags"][0]["flag"] == "possible_duplicate"
    report = upload(one_item, (HEADER + "\n" + ROW.format(code="YP930001") + "\n" + ROW.format(code="YP930002") + "\n").encode(), query="")
    assert report["rows"][1]["flags"][0]["related"] == "YP930001"


# --- §8 large catalogues -------------------------------------------------------------------------------


def test_an_import_is_approved_as_one_batch_reviewed_by_totals(client: FlaskClient) -> None:
    upload(client, _csv(*[f"YP95{i:04d}" for i in range(30)]).encode())
    batches = client.get("/api/v1/changes/batches", headers=MANAGER).get_json()
    assert len(batches) == 1 and batches[0]["total"] == 30 and batches[0]["creates"] == 30
    assert batches[0]["flagged"] == 29  # every row after the first is a likely duplicate of it
    approved = client.post("/api/v1/changes/approve", json={"batch_id": batches[0]["batch_id"]}, headers=MANAGER).get_json()
    assert approved["approved"] == 30


def test_stocking_lists_may_name_categories(one_item: FlaskClient) -> None:
    one_item.post("/api/v1/items", json=sample_item("YP900002", essential=False, approval_no=None, strength="1g"), headers=ADMIN)
    approve_all(one_item)
    put = one_item.put("/api/v1/stocklists/level/village", json={"item_codes": [], "categories": ["essential"]}, headers=ADMIN)
    assert put.status_code == 201, put.get_json()
    bad = one_item.put("/api/v1/stocklists/level/township", json={"item_codes": [], "categories": ["colour:red"]}, headers=ADMIN)
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "categories[0]"
    approve_all(one_item)
    listed = one_item.get("/api/v1/stocklists/level/village", headers=ADMIN).get_json()
    assert listed["members"] == ["YP900001"] and listed["categories"] == ["essential"]
    assert [i["code"] for i in one_item.get("/api/v1/items?level=village", headers=ADMIN).get_json()["items"]] == ["YP900001"]
    one_item.post("/api/v1/items", json=sample_item("YP900003", approval_no=None, strength="2g"), headers=ADMIN)
    approve_all(one_item)
    assert one_item.get("/api/v1/stocklists/level/village", headers=ADMIN).get_json()["members"] == ["YP900001", "YP900003"]


def test_a_storekeeper_reads_only_their_own_sites_list(client: FlaskClient) -> None:
    hub = sample_site("H001", "county_hospital", None, uscc("12371723MB0000001"))
    town = sample_site("T001", "township", "H001", uscc("12371723MB0000002"))
    for site in (hub, town):
        client.post("/api/v1/sites", json=site, headers=ADMIN)
    approve_all(client)
    own = client.get("/api/v1/stocklists/site/T001", headers=bearer("storekeeper", site="T001"))
    assert own.status_code == 200
    other = client.get("/api/v1/stocklists/site/H001", headers=bearer("storekeeper", site="T001"))
    assert other.status_code == 403


@pytest.mark.parametrize("field", ["generic_name_en", "trade_name", "manufacturer", "approval_no", "category", "atc_code"])
def test_a_blank_optional_field_is_not_given(client: FlaskClient, field: str) -> None:
    created = client.post("/api/v1/items", json=sample_item(**{field: " \u3000 "}), headers=ADMIN)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["payload"][field] is None


def test_an_upload_over_its_own_limit_says_how_many_rows_fit(client: FlaskClient) -> None:
    content = b"x" * (33 * 1024 * 1024)
    response = client.post("/api/v1/imports/items", data={"file": (io.BytesIO(content), "big.csv")}, headers=ADMIN)
    assert response.status_code == 413
    message = response.get_json()["errors"][0]["message"]
    assert "32 MiB" in message and "20000 rows" in message


def test_codes_in_the_url_are_normalised_too(one_item: FlaskClient) -> None:
    assert one_item.get("/api/v1/items/ｙｐ９０００１", headers=ADMIN).status_code == 404
    assert one_item.get("/api/v1/items/ｙｐ９００００１", headers=ADMIN).get_json()["code"] == "YP900001"
    assert one_item.get("/api/v1/items/yp900001/history", headers=ADMIN).status_code == 200


def test_absent_site_and_list_fields_keep_their_values(client: FlaskClient) -> None:
    hub = sample_site("H001", "county_hospital", None, uscc("12371723MB0000001"))
    client.post("/api/v1/sites", json=hub, headers=ADMIN)
    client.post("/api/v1/items", json=sample_item(), headers=ADMIN)
    approve_all(client)
    partial = {k: v for k, v in hub.items() if k not in ("is_hub", "parent_code")}
    change = client.post("/api/v1/sites", json={**partial, "name": "成武县人民医院"}, headers=ADMIN).get_json()
    assert change["diff"] == [{"field": "name", "current": "测试H001", "proposed": "成武县人民医院"}]
    client.put("/api/v1/stocklists/level/village", json={"item_codes": [], "categories": ["essential"]}, headers=ADMIN)
    approve_all(client)
    assert client.get("/api/v1/sites/H001", headers=ADMIN).get_json()["is_hub"] is True
    client.put("/api/v1/stocklists/level/village", json={"item_codes": ["YP900001"]}, headers=ADMIN)
    approve_all(client)
    assert client.get("/api/v1/stocklists/level/village", headers=ADMIN).get_json()["categories"] == ["essential"]


@pytest.mark.parametrize("position", [["not-a-date", 0, "x"], ["2026-01-01T00:00:00+00:00", "0", "x"], [1, 2, 3], {"a": 1}])
def test_cursors_that_decode_but_were_never_given_out_are_a_400(client: FlaskClient, position: object) -> None:
    import base64

    cursor = base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")
    for path, query in (("/api/v1/changes", {}), ("/api/v1/sites", {}), ("/api/v1/versions", {}), ("/api/v1/items", {"q": "a"})):
        response = client.get(path, query_string={**query, "cursor": cursor}, headers=ADMIN)
        assert response.status_code == 400, (path, response.get_json())


def test_an_import_sent_as_json_is_a_415_naming_multipart(client: FlaskClient) -> None:
    response = client.post("/api/v1/imports/items", json={"file": "编码,通用名"}, headers=ADMIN)
    assert response.status_code == 415 and "multipart/form-data" in response.get_json()["detail"]
