"""Every service's item search is the formulary's: /api/v1/reference/items on procurement,
prescription_review and dispatch finds what the formulary finds, in the same order; a storekeeper
reads only their own site's stocking list there too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from hub.registry import spec
from services.formulary.codes import uscc_check_char
from shared.events.envelope import CloudEvent
from shared.migrate import upgrade
from shared.runtime import ServiceContext, build_context, handle_event
from tests.support.formulary import approve_all, sample_item, sample_site
from tests.support.web import bearer, make_settings

ADMIN = bearer("formulary_admin", name="admin1")
PHARMACIST = bearer("pharmacist")
QUERIES = ("amxl", "ａｍｘｌ", "ssyxjn", "csyxjn", "阿莫西林 胶囊", "参松养心胶囊", "ＹＰ000008", "阿莫")


def _events(ctx: ServiceContext) -> list[CloudEvent]:
    outbox = ctx.metadata.tables["outbox"]
    with ctx.factory() as session:
        return [CloudEvent.from_dict(json.loads(r.envelope)) for r in session.execute(select(outbox).order_by(outbox.c.id))]


@pytest.fixture()
def catalogue(client: FlaskClient) -> FlaskClient:
    """Approved items and two sites with a site list, in the formulary."""
    items = [
        sample_item("YP000007", essential=False),
        sample_item("YP000008", generic_name="参松养心", dosage_form="胶囊剂", approval_no=None, trade_name=None,
                    generic_name_en=None, atc_code=None, nhsa_code=None, vbp=False, antibiotic_tier="none"),
        sample_item("YP000009", generic_name="阿莫西林", dosage_form="片剂", strength="0.5g", approval_no=None),
    ]  # fmt: skip
    for body in items:
        assert client.post("/api/v1/items", json=body, headers=ADMIN).status_code == 201
    for site in (sample_site("H001", "county_hospital", None, "12371723MB0000001" + uscc_check_char("12371723MB0000001")),
                 sample_site("T001", "township", "H001", "12371723MB0000002" + uscc_check_char("12371723MB0000002"))):  # fmt: skip
        assert client.post("/api/v1/sites", json=site, headers=ADMIN).status_code == 201
    approve_all(client)
    assert client.put("/api/v1/stocklists/site/T001", json={"item_codes": ["YP000008"]}, headers=ADMIN).status_code == 201
    approve_all(client)
    return client


@pytest.mark.parametrize("service", ["procurement", "prescription_review", "dispatch"])
def test_reference_search_matches_the_formulary(
    catalogue: FlaskClient, formulary_ctx: ServiceContext, tmp_path: Path, service: str
) -> None:
    other = build_context(spec(service), make_settings(service, f"sqlite:///{tmp_path}/{service}.sqlite3"))
    upgrade(spec(service).migrations, other.engine)
    for event in _events(formulary_ctx):
        handle_event(spec(service), other, event)
    client = spec(service).create_app(other).test_client()
    for q in QUERIES:
        ours = [i["code"] for i in catalogue.get("/api/v1/items", query_string={"q": q}, headers=PHARMACIST).get_json()["items"]]
        theirs = client.get("/api/v1/reference/items", query_string={"q": q}, headers=PHARMACIST)
        assert theirs.status_code == 200, theirs.get_json()
        assert [i["code"] for i in theirs.get_json()] == ours, (service, q)
        assert ours, q
    own = client.get("/api/v1/reference/items?site=T001", headers=bearer("storekeeper", site="T001"))
    assert [i["code"] for i in own.get_json()] == ["YP000008"]
    assert client.get("/api/v1/reference/items?site=H001", headers=bearer("storekeeper", site="T001")).status_code == 403
    assert client.get("/api/v1/reference/stocklists/site/H001", headers=bearer("storekeeper", site="T001")).status_code == 403
    assert client.get("/api/v1/reference/items?cursor=W10", headers=PHARMACIST).status_code == 400
    for bad in ("%00", "amx%E2%80%AEl"):  # control characters refused on every service's search, as on the formulary's
        refused = client.get(f"/api/v1/reference/items?q={bad}", headers=PHARMACIST)
        assert refused.status_code == 422 and refused.get_json()["errors"][0]["field"] == "q"
        assert catalogue.get(f"/api/v1/items?q={bad}", headers=PHARMACIST).status_code == 422
    # Codes in URLs normalised as on the formulary; values no database can hold are a 404/400, never a 5xx.
    assert client.get("/api/v1/reference/items/ｙｐ000008", headers=PHARMACIST).get_json()["code"] == "YP000008"
    for path in ("/api/v1/reference/items/YP%00", "/api/v1/reference/stocklists/site/t%00"):
        refused = client.get(path, headers=PHARMACIST)  # NUL in a path: 422 naming the parameter, as in a query
        assert refused.status_code == 422 and refused.mimetype == "application/problem+json", path
        assert "U+0000" in refused.get_json()["errors"][0]["message"], refused.get_json()
    assert client.get("/api/v1/reference/sites?cursor=Q1cA", headers=PHARMACIST).status_code == 400  # "CW\0"
    assert client.get("/api/v1/reference/sites?site=A%00", headers=PHARMACIST).status_code < 500
    other.engine.dispose()
