"""Format and control characters through the real endpoints of all four services and their imports.

Any Cc character but tab, CR and LF, and any Cf character but ZWJ (U+202E RIGHT-TO-LEFT OVERRIDE,
U+200B, U+FEFF, NUL …), put anywhere in a field a person types, is a 422 application/problem+json
naming the field (an import: naming the line and the column), never a 5xx, and nothing is written.
Before, prescriber names, dispatch stop names and ids, screening ids and dose text, temperature
records, distributor item lists and knowledge tables kept such characters as sent.
"""

from __future__ import annotations

import io
import json
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.dispatch.app import SPEC as DISPATCH
from services.formulary.app import SPEC as FORMULARY
from services.prescription_review.app import SPEC as REVIEW
from services.procurement.app import SPEC as PROCUREMENT
from shared.runtime import ServiceContext
from tests.e2e.dispatch_support import small_problem
from tests.e2e.test_hostile_input import _build as build_app
from tests.e2e.test_procurement_api import receipt_body
from tests.service.prescription_review.review_support import body as rx_body
from tests.service.procurement.procurement_support import AMOX
from tests.support.formulary import sample_item
from tests.support.web import bearer, table_dump

PROBLEM = "application/problem+json"
SPECS = {s.name: s for s in (FORMULARY, PROCUREMENT, REVIEW, DISPATCH)}
_TMP = Path(tempfile.mkdtemp(prefix="countyhub-text-api-"))
_APPS: dict[str, tuple[ServiceContext, Flask]] = {}
BAD = st.characters(categories=["Cc", "Cf"]).filter(lambda ch: ch not in "\t\n\r\u200d")
HEADERS = {
    "pharmacy_manager": bearer("pharmacy_manager", name="text-mgr"),
    "his": bearer("his", name="text-his"),
    "dispatcher": bearer("dispatcher", name="text-dispatcher"),
}


def app_of(name: str) -> tuple[ServiceContext, Flask]:
    """One SQLite-backed app per service, with the reference data its writes need."""
    if name not in _APPS:
        _APPS[name] = build_app(SPECS[name], f"sqlite:///{_TMP / name}.sqlite3")
    return _APPS[name]


def _set(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return body


def _field(path: tuple[Any, ...]) -> str:
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out


def _assert_refused(response: Any, field: str, bad: str) -> dict[str, Any]:
    assert response.status_code == 422, (response.status_code, response.get_data()[:400])
    assert response.mimetype == PROBLEM
    problem: dict[str, Any] = json.loads(response.get_data())
    fields = [e["field"] for e in problem.get("errors", [])]
    assert field in fields, problem
    return problem


def _placed(good: str, bad: str, where: int) -> str:
    at = where % (len(good) + 1)
    return good[:at] + bad + good[at:]


# (service, role, method, url, a valid body, path of the typed field, a value it takes)
WRITES: list[tuple[str, str, str, Any, tuple[Any, ...], str]] = [
    ("formulary", "pharmacy_manager", "/api/v1/items", lambda: sample_item("YP990101"), ("manufacturer",), "华北制药"),
    ("procurement", "pharmacy_manager", "/api/v1/receipts/check", receipt_body, ("lines", 0, "temperature_record"), "冷链记录 4.2℃"),
    ("procurement", "pharmacy_manager", "/api/v1/receipts/check", lambda: receipt_body(), ("lines", 0, "trace_codes"), None),
    ("procurement", "pharmacy_manager", "/api/v1/distributors",
     lambda: {"name": "x", "tax_id": "913700007628000901", "items": [AMOX]}, ("items", 0), AMOX),
    ("prescription_review", "pharmacy_manager", "/api/v1/prescribers",
     lambda: {"entries": [{"id": "D0901", "name": "张医生", "sites": ["CW-H01"], "title": "主治医师"}]}, ("entries", 0, "name"), "张医生"),
    ("prescription_review", "his", "/api/v1/screenings", lambda: rx_body(prescription_no="R-TEXT-1"), ("items", 0, "dose"), "遵医嘱"),
    ("prescription_review", "his", "/api/v1/screenings", lambda: rx_body(prescription_no="R-TEXT-2"), ("prescriber", "id"), "D001"),
    ("dispatch", "dispatcher", "/api/v1/solve", lambda: small_problem(time_limit_s=0.2), ("stops", 0, "name"), "城武镇卫生院"),
    ("dispatch", "dispatcher", "/api/v1/solve", lambda: small_problem(time_limit_s=0.2), ("stops", 0, "id"), "T01"),
]  # fmt: skip


@pytest.mark.parametrize("write", WRITES, ids=[f"{w[0]}:{w[2]}:{_field(w[4])}" for w in WRITES])
def test_each_write_takes_the_plain_value(write: Any) -> None:
    """The bodies are good as they are, so a 422 below is the character's doing."""
    service, role, url, make, path, good = write
    _, app = app_of(service)
    body = make()
    if good is not None:
        _set(body, path, good)
    response = app.test_client().post(url, json=body, headers=HEADERS[role])
    assert response.status_code < 300, (response.status_code, response.get_json())


@pytest.mark.parametrize("write", WRITES, ids=[f"{w[0]}:{w[2]}:{_field(w[4])}" for w in WRITES])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(bad=BAD, where=st.integers(min_value=0, max_value=40))
def test_a_format_or_control_character_in_a_typed_field_is_a_422_naming_it(write: Any, bad: str, where: int) -> None:
    service, role, url, make, path, good = write
    ctx, app = app_of(service)
    before = table_dump(ctx)
    body = make()
    if good is None:  # a list of trace codes
        _set(body, path, [_placed("81901234567890123456", bad, where)])
        field = _field((*path, 0))
    else:
        _set(body, path, _placed(good, bad, where))
        field = _field(path)
    response = app.test_client().post(url, json=body, headers=HEADERS[role])
    _assert_refused(response, field, bad)
    assert table_dump(ctx) == before


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bad=BAD, row=st.integers(min_value=0, max_value=2), column=st.sampled_from(["id", "name", "sites", "title"]))
def test_a_prescriber_csv_cell_with_such_a_character_is_a_422_naming_line_and_column(bad: str, row: int, column: str) -> None:
    ctx, app = app_of("prescription_review")
    before = table_dump(ctx)
    rows = [{"id": f"D07{i}", "name": f"医生{i}", "sites": "CW-H01", "title": "医师"} for i in range(3)]
    rows[row][column] = _placed(rows[row][column], bad, row + 1)
    text = "id,name,sites,title\n" + "".join(f"{r['id']},{r['name']},{r['sites']},{r['title']}\n" for r in rows)
    response = app.test_client().post("/api/v1/prescribers", json={"csv": text}, headers=HEADERS["pharmacy_manager"])
    problem = _assert_refused(response, "csv", bad)
    message = next(e["message"] for e in problem["errors"] if e["field"] == "csv")
    if bad == "\x00":  # the request parser refuses NUL in any JSON string first (shared/web), naming the member
        assert "U+0000" in message, message
        return
    assert f"line {row + 2}" in message and f"column {column}" in message and f"U+{ord(bad):04X}" in message, message
    assert table_dump(ctx) == before


def test_the_same_csv_without_the_character_is_imported() -> None:
    _, app = app_of("prescription_review")
    text = "id,name,sites,title\nD0801,李医生,CW-H01,医师\n"
    response = app.test_client().post("/api/v1/prescribers", json={"csv": text}, headers=HEADERS["pharmacy_manager"])
    assert response.status_code == 200 and response.get_json() == {"imported": 1}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bad=BAD, column=st.sampled_from(["generic_name", "manufacturer", "dosage_form"]))
def test_a_formulary_import_cell_with_such_a_character_is_a_422_naming_row_and_column(bad: str, column: str) -> None:
    ctx, app = app_of("formulary")
    before = table_dump(ctx)
    item = sample_item("YP990201")
    columns = ["code", "kind", "generic_name", "dosage_form", "strength", "unit", "package_size", "package_unit",
               "manufacturer", "volume_cm3", "weight_g"]  # fmt: skip
    item[column] = _placed(str(item[column]), bad, 1)
    line = ",".join('"' + str(item[c]).replace('"', '""') + '"' for c in columns)
    content = (",".join(columns) + "\n" + line + "\n").encode("utf-8")
    response = app.test_client().post(
        "/api/v1/imports/items", data={"file": (io.BytesIO(content), "items.csv")},
        headers=HEADERS["pharmacy_manager"], content_type="multipart/form-data",
    )  # fmt: skip
    if response.status_code == 422 and any(e["field"] == "file" for e in response.get_json().get("errors", [])):
        return  # a character the reader refuses for the whole file (NUL): named as the file's fault, also a 422
    _assert_refused(response, f"rows[2].{column}", bad)
    assert table_dump(ctx) == before


@pytest.mark.parametrize(("url", "field"), [
    ("/api/v1/items?cursor=abc%E2%80%AE", "cursor"),
    ("/api/v1/changes?target=a%E2%80%AEb", "target"),
])  # fmt: skip
def test_query_parameters_take_the_rule_too(url: str, field: str) -> None:
    _, app = app_of("formulary")
    _assert_refused(app.test_client().get(url, headers=HEADERS["pharmacy_manager"]), field, "\u202e")


def test_the_characters_are_what_unicode_says() -> None:
    """The strategy draws Cc and Cf characters only (its filter keeps the white space the rule allows)."""
    assert unicodedata.category("\u202e") == "Cf" and unicodedata.category("\x00") == "Cc"
