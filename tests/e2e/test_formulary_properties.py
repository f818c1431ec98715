"""Issue 7's kinds as properties (hypothesis), over HTTP on one formulary app per test module.

- a partial-column import never changes a column that was not in the file;
- random interleavings of drafts and approvals never lose an approved change;
- normalisation is idempotent and gives the same stored value on every path (API, CSV, xlsx, search);
- no generated request yields a 5xx.
Each example uses its own item code, so examples share the database without sharing state.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.formulary.app import SPEC
from shared.migrate import upgrade
from shared.runtime import build_context
from shared.search import query_terms
from shared.text import BadText, normalise
from tests.support.formulary import sample_item
from tests.support.web import bearer, make_settings

ADMIN = bearer("formulary_admin", name="admin1")
MANAGER = bearer("pharmacy_manager", name="mgr1")
PROPS = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
CODES = (f"YP{n:06d}" for n in itertools.count(700000))


@pytest.fixture(scope="module")
def app_client() -> Iterator[FlaskClient]:
    """One formulary app on its own SQLite file for the whole module."""
    tmp = Path(tempfile.mkdtemp(prefix="formulary-props-"))
    ctx = build_context(SPEC, make_settings("formulary", f"sqlite:///{tmp}/formulary.sqlite3"))
    upgrade(SPEC.migrations, ctx.engine)
    yield SPEC.create_app(ctx).test_client()
    ctx.engine.dispose()


def _new_item(client: FlaskClient) -> str:
    code = next(CODES)
    change = client.post("/api/v1/items", json=sample_item(code, approval_no=None), headers=ADMIN).get_json()
    assert client.post("/api/v1/changes/approve", json={"change_ids": [change["id"]]}, headers=MANAGER).status_code == 200
    return code


def _item(client: FlaskClient, code: str) -> dict[str, Any]:
    return client.get(f"/api/v1/items/{code}", headers=ADMIN).get_json()


# Columns an import may carry, with values valid for the sample drug.
COLUMN_VALUES: dict[str, st.SearchStrategy[str]] = {
    "包装数量": st.integers(1, 500).map(str),
    "规格": st.sampled_from(["0.5g", "1g", "250mg"]),
    "单位": st.sampled_from(["粒", "片"]),
    "储存条件": st.sampled_from(["常温", "阴凉", "冷藏", "cool"]),
    "基药": st.sampled_from(["是", "否", "TRUE", ""]),
    "医保类别": st.sampled_from(["甲类", "乙类", "非医保", ""]),
    "体积cm3": st.integers(1, 900).map(str),
    "生产企业": st.sampled_from(["石药集团", "", "华北制药股份有限公司"]),
    "英文名": st.sampled_from(["Amoxicillin", "", "Amoxicillin Capsules"]),
}
FIELD_OF = {"包装数量": "package_size", "规格": "strength", "单位": "unit", "储存条件": "storage", "基药": "essential",
            "医保类别": "reimbursement", "体积cm3": "volume_cm3", "生产企业": "manufacturer", "英文名": "generic_name_en"}  # fmt: skip


@PROPS
@given(data=st.data())
def test_partial_column_imports_never_change_an_absent_column(app_client: FlaskClient, data: st.DataObject) -> None:
    code = _new_item(app_client)
    before = _item(app_client, code)
    columns = data.draw(st.lists(st.sampled_from(sorted(COLUMN_VALUES)), min_size=1, max_size=5, unique=True))
    values = [data.draw(COLUMN_VALUES[c]) for c in columns]
    content = ("编码," + ",".join(columns) + "\n" + code + "," + ",".join(values) + "\n").encode("gb18030")
    response = app_client.post(
        "/api/v1/imports/items?confirm=true", data={"file": (io.BytesIO(content), "x.csv")}, headers=ADMIN
    )
    assert response.status_code == 200, response.get_json()
    if response.get_json()["written"]:
        drafts = app_client.get(f"/api/v1/changes?target={code}", headers=ADMIN).get_json()
        ok = app_client.post("/api/v1/changes/approve", json={"change_ids": [d["id"] for d in drafts]}, headers=MANAGER)
        assert ok.status_code == 200, ok.get_json()
    after = _item(app_client, code)
    given_fields = {FIELD_OF[c] for c, v in zip(columns, values, strict=True) if v != ""}
    for field, value in before.items():
        if field not in given_fields and field not in ("version", "catalogue_version"):
            assert after[field] == value, (field, columns, values)


@PROPS
@given(steps=st.lists(st.tuples(st.sampled_from(["propose", "approve"]), st.integers(0, 9), st.sampled_from(["strength", "unit", "package_unit"])), min_size=2, max_size=14))  # noqa: E501
def test_interleaved_drafts_and_approvals_never_lose_an_approved_change(app_client: FlaskClient, steps: list[tuple[str, int, str]]) -> None:
    code = _new_item(app_client)
    expected = {k: v for k, v in _item(app_client, code).items() if k in ("strength", "unit", "package_unit")}
    drafts: list[dict[str, Any]] = []
    for action, n, field in steps:
        if action == "propose":
            current = _item(app_client, code)
            etag = f'"{code}-v{current["version"]}"'
            value = f"{n}{'g' if field == 'strength' else '盒' if field == 'package_unit' else '片'}"
            r = app_client.patch(f"/api/v1/items/{code}", json={field: value}, headers={**ADMIN, "If-Match": etag})
            if r.status_code == 201:
                drafts.append(r.get_json())
            else:
                assert r.status_code == 422  # the value is already current: nothing to change
        elif drafts:
            draft = drafts.pop(n % len(drafts))
            version_before = _item(app_client, code)["version"]
            r = app_client.post("/api/v1/changes/approve", json={"change_ids": [draft["id"]]}, headers=MANAGER)
            if r.status_code == 200:
                assert draft["base_version"] == version_before  # only a draft made from the current version applies
                expected.update(draft["payload"])
            else:
                assert r.status_code == 409 and draft["base_version"] != version_before
        assert {k: _item(app_client, code)[k] for k in expected} == expected


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_normalisation_is_idempotent(text: str) -> None:
    try:
        once = normalise(text)
    except BadText:
        return
    assert normalise(once) == once
    assert query_terms(once) == query_terms(text)


NAMES = st.text(st.sampled_from("阿莫西林胶囊参松养心ＡＢａｂ１２ 　\u3000"), min_size=1, max_size=12)


@PROPS
@given(name=NAMES)
def test_the_same_value_is_stored_by_every_path(app_client: FlaskClient, name: str) -> None:
    try:
        expected: str | None = normalise(name) or None
    except BadText:
        return
    api_code, csv_code, xlsx_code = next(CODES), next(CODES), next(CODES)
    by_api = app_client.post("/api/v1/items", json=sample_item(api_code, generic_name=name, approval_no=None), headers=ADMIN)
    header = "编码,类别,通用名,剂型,单位,包装数量,包装单位,体积cm3,重量g"
    csv = f"{header}\n{csv_code},药品,{name},胶囊,粒,24,盒,60,30\n".encode()
    by_csv = app_client.post("/api/v1/imports/items?confirm=true", data={"file": (io.BytesIO(csv), "a.csv")}, headers=ADMIN)
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(header.split(","))
    workbook.active.append([xlsx_code, "药品", name, "胶囊", "粒", 24, "盒", 60, 30])
    buffer = io.BytesIO()
    workbook.save(buffer)
    by_xlsx = app_client.post(
        "/api/v1/imports/items?confirm=true", data={"file": (io.BytesIO(buffer.getvalue()), "a.xlsx")}, headers=ADMIN
    )
    if expected is None:
        assert by_api.status_code == 422 and by_csv.status_code == 422 and by_xlsx.status_code == 422
        return
    assert by_api.status_code == 201 and by_csv.status_code == 200 and by_xlsx.status_code == 200
    stored = {}
    for code in (api_code, csv_code, xlsx_code):
        stored[code] = app_client.get(f"/api/v1/changes?target={code}", headers=ADMIN).get_json()[0]["payload"]["generic_name"]
    assert set(stored.values()) == {expected}


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
ROUTES = [
    ("post", "/api/v1/items"), ("patch", "/api/v1/items/YP700000"), ("post", "/api/v1/items/YP700000/retire"),
    ("post", "/api/v1/sites"), ("put", "/api/v1/stocklists/level/village"), ("put", "/api/v1/stocklists/site/X1"),
    ("post", "/api/v1/changes/approve"), ("post", "/api/v1/changes/x/reject"), ("get", "/api/v1/items"),
    ("get", "/api/v1/sites"), ("get", "/api/v1/changes"), ("get", "/api/v1/versions"), ("post", "/api/v1/imports/items"),
]  # fmt: skip


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    route=st.sampled_from(ROUTES),
    body=JSON_VALUES,
    content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded", None]),
    query=st.dictionaries(st.sampled_from(["q", "limit", "cursor", "level", "status", "confirm", "kind"]), st.text(max_size=12), max_size=3),
    if_match=st.sampled_from([None, "*", '"YP700000-v1"', 'W/"x"', "garbage", '"a", "b"']),
    depth=st.integers(0, 3000),
    crafted=st.one_of(st.none(), JSON_VALUES.map(lambda v: base64.urlsafe_b64encode(json.dumps(v).encode()).decode().rstrip("="))),
)
def test_no_generated_request_yields_a_server_error(
    app_client: FlaskClient, route: tuple[str, str], body: Any, content_type: str | None, query: dict[str, str],
    if_match: str | None, depth: int, crafted: str | None,
) -> None:
    method, path = route
    if crafted is not None:
        query = {**query, "cursor": crafted}
    data = ("[" * depth + json.dumps(body) + "]" * depth).encode()
    headers = {**MANAGER, **({"If-Match": if_match} if if_match else {})}
    kwargs: dict[str, Any] = {"data": data, "headers": headers, "query_string": query}
    if content_type:
        kwargs["content_type"] = content_type
    response = getattr(app_client, method)(path, **kwargs)
    assert response.status_code < 500, (route, response.get_data(as_text=True)[:300])
    if response.status_code >= 400:
        assert response.content_type == "application/problem+json"


ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**12), st.floats(allow_nan=True, allow_infinity=True),
    st.text(st.sampled_from(" \u3000\t\x00\ufeffａ１阿.-_,\"'"), max_size=8), st.lists(st.integers(), max_size=2),
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_mutated_valid_bodies_never_yield_a_server_error(app_client: FlaskClient, data: st.DataObject) -> None:
    body: dict[str, Any] = sample_item(next(CODES))
    for field in data.draw(st.lists(st.sampled_from(sorted(body)), max_size=4, unique=True)):
        body[field] = data.draw(ODD_VALUES)
    route = data.draw(st.sampled_from(["post", "patch", "import"]))
    if route == "post":
        response = app_client.post("/api/v1/items", json=body, headers=ADMIN)
    elif route == "patch":
        body.pop("code", None)
        response = app_client.patch("/api/v1/items/YP700000", json=body, headers={**ADMIN, "If-Match": "*"})
    else:
        line = ",".join(json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v.replace(",", " ") for v in body.values())
        content = (",".join(body) + "\n" + line + "\n").encode("utf-8", "surrogatepass")
        response = app_client.post("/api/v1/imports/items", data={"file": (io.BytesIO(content), "a.csv")}, headers=ADMIN)
    assert response.status_code < 500, (route, body, response.get_data(as_text=True)[:300])
