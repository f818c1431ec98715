"""The formulary API end to end on SQLite: propose, approve, publish, search, history, import."""

from __future__ import annotations

import io
import json

from flask.testing import FlaskClient
from sqlalchemy import select

from services.formulary.codes import uscc_check_char
from shared.runtime import ServiceContext
from tests.support.formulary import approve_all, sample_item, sample_site
from tests.support.web import bearer

ADMIN = bearer("formulary_admin", name="admin1")
MANAGER = bearer("pharmacy_manager", name="mgr1")


def uscc(first17: str) -> str:
    """A valid 统一社会信用代码 from its first 17 characters."""
    return first17 + uscc_check_char(first17)


def outbox_events(ctx: ServiceContext) -> list[dict]:
    """Every event the formulary wrote, oldest first."""
    table = ctx.metadata.tables["outbox"]
    with ctx.factory() as session:
        return [json.loads(r.envelope) for r in session.execute(select(table).order_by(table.c.id))]


def test_item_lifecycle_publishes_full_snapshots(client: FlaskClient, formulary_ctx: ServiceContext) -> None:
    created = client.post("/api/v1/items", json=sample_item(), headers=ADMIN)
    assert created.status_code == 201
    assert created.headers["Location"] == f"/api/v1/changes/{created.get_json()['id']}"
    assert client.get("/api/v1/items/YP900001", headers=ADMIN).status_code == 404  # a draft is not the catalogue
    assert approve_all(client) == 1

    for query in ("amxl", "YP900001", "amoxicillin", "阿莫", "阿莫仙"):
        found = client.get(f"/api/v1/items?q={query}", headers=ADMIN).get_json()["items"]
        assert [i["code"] for i in found] == ["YP900001"], query

    item = client.get("/api/v1/items/YP900001", headers=ADMIN)
    assert item.headers["ETag"] == '"YP900001-v1"'
    edit = client.patch(
        "/api/v1/items/YP900001", json={"strength": "0.5g", "note": "新规格"}, headers={**ADMIN, "If-Match": '"YP900001-v1"'}
    )
    assert edit.status_code == 201
    assert approve_all(client) == 2

    history = client.get("/api/v1/items/YP900001/history", headers=ADMIN).get_json()
    assert [h["version"] for h in history] == [2, 1]
    assert history[0]["snapshot"]["strength"] == "0.5g" and history[1]["snapshot"]["strength"] == "0.25g"

    events = outbox_events(formulary_ctx)
    published = [e for e in events if e["type"] == "formulary.item.published"]
    assert [e["data"]["version"] for e in published] == [1, 2]
    assert published[1]["data"]["strength"] == "0.5g" and published[1]["data"]["generic_name"] == "阿莫西林"
    assert all(e["specversion"] == "1.0" and e["source"] == "/countyhub/formulary" for e in events)


def test_retire_emits_retired_and_hides_from_active_search(client: FlaskClient, formulary_ctx: ServiceContext) -> None:
    client.post("/api/v1/items", json=sample_item(), headers=ADMIN)
    approve_all(client)
    assert client.post("/api/v1/items/YP900001/retire", json={"reason": "停产"}, headers=ADMIN).status_code == 201
    approve_all(client)
    assert client.get("/api/v1/items?q=amxl", headers=ADMIN).get_json()["items"] == []
    retired = client.get("/api/v1/items?q=amxl&status=retired", headers=ADMIN).get_json()["items"]
    assert retired[0]["status"] == "retired"
    assert outbox_events(formulary_ctx)[-1]["type"] == "formulary.item.retired"
    again = client.post("/api/v1/items/YP900001/retire", json={"reason": "停产"}, headers=ADMIN)
    assert again.status_code == 409


def test_sites_stocklists_and_level_filter(client: FlaskClient, formulary_ctx: ServiceContext) -> None:
    hub = sample_site("H001", "county_hospital", None, uscc("12371723MB0000001"))
    town = sample_site("T001", "township", "H001", uscc("12371723MB0000002"))
    village = sample_site("V001", "village", "T001", uscc("12371723MB0000003"))
    for site in (hub, town, village):
        assert client.post("/api/v1/sites", json=site, headers=ADMIN).status_code == 201, site["code"]
    client.post("/api/v1/items", json=sample_item(), headers=ADMIN)
    client.post("/api/v1/items", json=sample_item("YP900002", generic_name="吗啡", essential=False), headers=ADMIN)
    approve_all(client)
    put = client.put("/api/v1/stocklists/level/village", json={"item_codes": ["YP900001"]}, headers=ADMIN)
    assert put.status_code == 201
    approve_all(client)
    codes = [i["code"] for i in client.get("/api/v1/items?level=village", headers=ADMIN).get_json()["items"]]
    assert codes == ["YP900001"]
    own_site = client.get("/api/v1/items?site=V001", headers=bearer("storekeeper", site="V001")).get_json()
    assert [i["code"] for i in own_site["items"]] == ["YP900001"]
    other = client.get("/api/v1/items?site=T001", headers=bearer("storekeeper", site="V001"))
    assert other.status_code == 403
    types = [e["type"] for e in outbox_events(formulary_ctx)]
    assert types.count("formulary.site.upserted") == 3 and "formulary.stocklist.changed" in types
    bad_parent = sample_site("V002", "village", "H001", uscc("12371723MB0000004"))
    response = client.post("/api/v1/sites", json=bad_parent, headers=ADMIN)
    assert response.status_code == 422 and response.get_json()["errors"][0]["field"] == "parent_code"


def test_cursor_pages_cover_every_match_once(client: FlaskClient) -> None:
    for i in range(7):
        client.post("/api/v1/items", json=sample_item(f"YP90000{i}"), headers=ADMIN)
    approve_all(client)
    seen: list[str] = []
    cursor = None
    while True:
        url = "/api/v1/items?q=amxl&limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=ADMIN).get_json()
        seen += [i["code"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"YP90000{i}" for i in range(7)]


def test_stale_or_missing_if_match(client: FlaskClient) -> None:
    client.post("/api/v1/items", json=sample_item(), headers=ADMIN)
    approve_all(client)
    missing = client.patch("/api/v1/items/YP900001", json={"strength": "1g"}, headers=ADMIN)
    assert missing.status_code == 428
    stale = client.patch("/api/v1/items/YP900001", json={"strength": "1g"}, headers={**ADMIN, "If-Match": '"YP900001-v7"'})
    assert stale.status_code == 412 and stale.get_json()["errors"][0]["field"] == "If-Match"


def test_concurrent_edits_from_one_base_approve_all_or_nothing(client: FlaskClient, formulary_ctx: ServiceContext) -> None:
    client.post("/api/v1/items", json=sample_item(), headers=ADMIN)
    approve_all(client)
    etag = {"If-Match": '"YP900001-v1"'}
    a = client.patch("/api/v1/items/YP900001", json={"strength": "1g"}, headers={**ADMIN, **etag}).get_json()["id"]
    b = client.patch("/api/v1/items/YP900001", json={"strength": "2g"}, headers={**ADMIN, **etag}).get_json()["id"]
    before = len(outbox_events(formulary_ctx))
    response = client.post("/api/v1/changes/approve", json={"change_ids": [a, b]}, headers=MANAGER)
    assert response.status_code == 409 and b in response.get_json()["detail"]
    assert len(outbox_events(formulary_ctx)) == before
    assert client.get("/api/v1/items/YP900001", headers=ADMIN).get_json()["strength"] == "0.25g"


def test_reject_keeps_catalogue_unchanged(client: FlaskClient) -> None:
    change = client.post("/api/v1/items", json=sample_item(), headers=ADMIN).get_json()
    rejected = client.post(f"/api/v1/changes/{change['id']}/reject", json={"reason": "重复品规"}, headers=MANAGER)
    assert rejected.status_code == 200 and rejected.get_json()["status"] == "rejected"
    assert client.get("/api/v1/items/YP900001", headers=ADMIN).status_code == 404
    late = client.post("/api/v1/changes/approve", json={"change_ids": [change["id"]]}, headers=MANAGER)
    assert late.status_code == 409


def test_idempotency_key_replays_and_refuses_a_different_body(client: FlaskClient) -> None:
    headers = {**ADMIN, "Idempotency-Key": "req-0001"}
    first = client.post("/api/v1/items", json=sample_item(), headers=headers)
    second = client.post("/api/v1/items", json=sample_item(), headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.get_json()["id"] == second.get_json()["id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert len(client.get("/api/v1/changes", headers=ADMIN).get_json()) == 1
    other = client.post("/api/v1/items", json=sample_item("YP900009"), headers=headers)
    assert other.status_code == 422 and other.get_json()["errors"][0]["field"] == "Idempotency-Key"


def csv_bytes(rows: list[dict]) -> bytes:
    """A UTF-8 CSV of item rows."""
    header = list(sample_item().keys())
    lines = [",".join(header)] + [",".join(str(r.get(h, "")) for h in header) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8-sig")


def test_import_all_or_nothing_then_valid_only(client: FlaskClient, formulary_ctx: ServiceContext) -> None:
    good = sample_item("YP910001")
    bad = sample_item("YP910002", package_size="十", storage="hot")
    dup = sample_item("YP910001")
    content = csv_bytes([good, bad, dup])
    response = client.post(
        "/api/v1/imports/items", data={"file": (io.BytesIO(content), "items.csv")}, headers=ADMIN
    )
    assert response.status_code == 422
    body = response.get_json()
    fields = {e["field"] for e in body["errors"]}
    assert {"rows[3].package_size", "rows[3].storage", "rows[4].code"} <= fields
    assert body["report"]["written"] == 0
    assert client.get("/api/v1/changes", headers=ADMIN).get_json() == []

    checked = client.post(
        "/api/v1/imports/items?valid_only=true", data={"file": (io.BytesIO(content), "items.csv")}, headers=ADMIN
    )
    assert checked.status_code == 200 and checked.get_json()["written"] == 0  # checking never writes
    assert client.get("/api/v1/changes", headers=ADMIN).get_json() == []
    response = client.post(
        "/api/v1/imports/items?valid_only=true&confirm=true", data={"file": (io.BytesIO(content), "items.csv")}, headers=ADMIN
    )
    assert response.status_code == 200 and response.get_json()["written"] == 1
    assert [c["target"] for c in client.get("/api/v1/changes", headers=ADMIN).get_json()] == ["YP910001"]


def test_import_excel_with_chinese_headers(client: FlaskClient) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["编码", "类别", "通用名", "剂型", "单位", "包装数量", "包装单位", "体积cm3", "重量g", "基药"])
    sheet.append(["YP920001", "drug", "布洛芬", "片剂", "片", 20, "盒", 40, 20, "是"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = client.post(
        "/api/v1/imports/items?confirm=true", data={"file": (io.BytesIO(buffer.getvalue()), "目录.xlsx")}, headers=ADMIN
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["sheet"] == "Sheet" and response.get_json()["header_row"] == 1
    approve_all(client)
    item = client.get("/api/v1/items/YP920001", headers=ADMIN).get_json()
    assert item["generic_name"] == "布洛芬" and item["essential"] is True
