# ruff: noqa: F811  (pytest fixtures imported from test_review_api)
"""Fresh-eyes reliability cases (issue 13): hostile input a new user found that the earlier suites
did not send. Each case failed before its fix.

- CDS Hooks order-sign: a MedicationRequest whose numbers are finite JSON but overflow or underflow
  when turned into days (expectedSupplyDuration 1e308 years) or administrations per day
  (timing.repeat.period 5e-324 hours) was a 500; now a 422 naming the path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.e2e.test_review_api import HIS, MGR, client, review_ctx, template_db  # noqa: F401  (fixtures)
from tests.e2e.test_review_cds import HOOK, call, order

ENTRY = "context.draftOrders.entry[0].resource"


@pytest.mark.parametrize("duration", [
    {"value": 1e308, "unit": "a"},    # 1e308 years: inf days
    {"value": 1e308, "code": "mo"},
    {"value": 1e307, "unit": "wk", "code": "a"},  # the code wins: 3.65e309 days
])  # fmt: skip
def test_a_supply_duration_that_overflows_is_a_422_naming_it(client: FlaskClient, duration: dict[str, Any]) -> None:
    o = order(dispenseRequest={"quantity": {"value": 7}, "expectedSupplyDuration": duration})
    r = client.post(HOOK, json=call(o), headers=HIS)
    assert r.status_code == 422, r.get_json()
    assert r.content_type == "application/problem+json"
    assert [e["field"] for e in r.get_json()["errors"]] == [f"{ENTRY}.dispenseRequest.expectedSupplyDuration.value"]


@pytest.mark.parametrize("repeat", [
    {"frequency": 1, "period": 5e-324, "periodUnit": "h"},   # period x 1/24 day underflows to 0
    {"frequency": 1, "period": 1e-320, "periodUnit": "s"},
    {"frequency": 1e308, "period": 1e-308, "periodUnit": "h"},
])  # fmt: skip
def test_a_timing_repeat_that_underflows_is_never_a_server_error(client: FlaskClient, repeat: dict[str, Any]) -> None:
    o = order()
    o["dosageInstruction"][0]["timing"] = {"repeat": repeat}
    r = client.post(HOOK, json=call(o), headers=HIS)
    assert r.status_code in (200, 422), r.get_json()
    if r.status_code == 422:
        assert r.content_type == "application/problem+json"
        assert r.get_json()["errors"][0]["field"].startswith(f"{ENTRY}.dosageInstruction")


# --- prescriber registry and knowledge CSV: a quote left open swallows the rows after it ------------------

PRESCRIBERS = "id,name,sites,title,privileges,active\n"


def _problem(r: Any) -> dict[str, Any]:
    assert r.status_code == 422, (r.status_code, r.get_json())
    assert r.content_type == "application/problem+json"
    problem: dict[str, Any] = r.get_json()
    return problem


@pytest.mark.parametrize("text", [
    PRESCRIBERS + 'D1,"张三,CW-H01,主治医师,prescribe,true\nD2,李四,CW-H01,主治医师,prescribe,true\n',  # D2 vanished into D1's name
    PRESCRIBERS + 'D1,张三,"CW-H01,主治医师,prescribe,true\n',                                        # the quote closes at the end of the file
    PRESCRIBERS + 'D1,"张三"x,CW-H01,主治医师,prescribe,true\n',                                       # text after a closing quote
])  # fmt: skip
def test_a_prescriber_csv_with_a_quote_left_open_is_a_422_and_writes_nothing(client: FlaskClient, review_ctx: Any, text: str) -> None:
    from tests.support.web import table_dump

    before = table_dump(review_ctx)
    problem = _problem(client.post("/api/v1/prescribers", json={"csv": text}, headers=MGR))
    assert problem["errors"][0]["field"] == "csv" and "line 2" in problem["errors"][0]["message"], problem
    assert table_dump(review_ctx) == before


def test_a_prescriber_csv_error_never_names_line_0(client: FlaskClient) -> None:
    text = PRESCRIBERS.replace("\n", "\r") + "D1,张三,CW-H01,主治医师,prescribe,true\r"  # old Mac line ends
    problem = _problem(client.post("/api/v1/prescribers", json={"csv": text}, headers=MGR))
    assert problem["errors"][0]["field"] == "csv" and "line 0" not in problem["errors"][0]["message"], problem


@pytest.mark.parametrize("active", ["maybe", "停用", "inactive"])
def test_a_prescriber_active_flag_that_is_not_yes_or_no_is_refused_naming_it(client: FlaskClient, review_ctx: Any, active: str) -> None:
    """Before, anything but false/0/no/否 read as active: a doctor the office marked 停用 (or N) kept prescribing."""
    from tests.support.web import table_dump

    before = table_dump(review_ctx)
    text = PRESCRIBERS + f"D1,张三,CW-H01,主治医师,prescribe,{active}\n"
    problem = _problem(client.post("/api/v1/prescribers", json={"csv": text}, headers=MGR))
    assert [e["field"] for e in problem["errors"]] == ["entries[0].active"], problem
    assert table_dump(review_ctx) == before


@pytest.mark.parametrize(("active", "expected"), [("true", True), ("", True), ("是", True), ("否", False), ("FALSE", False), ("0", False), ("N", False)])
def test_prescriber_active_flags_the_office_writes_still_read(client: FlaskClient, active: str, expected: bool) -> None:
    text = PRESCRIBERS + f"D7,张三,CW-H01,主治医师,prescribe,{active}\n"
    assert client.post("/api/v1/prescribers", json={"csv": text}, headers=MGR).status_code == 200
    listed = client.get("/api/v1/prescribers?limit=500", headers=MGR).get_json()
    rows = listed if isinstance(listed, list) else listed["prescribers"]
    assert [p["active"] for p in rows if p["id"] == "D7"] == [expected]


def test_a_knowledge_csv_with_a_quote_left_open_is_a_422_and_writes_nothing(client: FlaskClient, review_ctx: Any) -> None:
    from tests.support.web import table_dump

    before = table_dump(review_ctx)
    chronic = 'icd_prefix,source,name\nI10,卫健委指南,"高血压\nE11,卫健委指南,糖尿病\n'  # E11 vanished into I10's name
    r = client.post("/api/v1/knowledge", json={"version": "fresh-1", "tables": {"chronic": chronic}}, headers=MGR)
    problem = _problem(r)
    assert any(e["field"].startswith("tables.chronic[") and e["field"].endswith("].csv") for e in problem["errors"]), problem
    assert table_dump(review_ctx) == before


def test_a_catalogue_csv_with_a_quote_left_open_is_refused_not_read_as_an_update(tmp_path: Any) -> None:
    """An unclosed quote before the maker of the last row: the lenient reader took the rest of the line
    ("maker,approval no,...,30") as the maker and every later column as absent (kept): a clean-looking update."""
    from services.formulary.app import SPEC as FORMULARY
    from tests.e2e.test_hostile_imports import COLUMNS, GOOD, csv_of, refused, upload
    from tests.support.backends import Backend
    from tests.support.formulary import approve_all
    from tests.support.web import table_dump

    made = Backend("sqlite", tmp_path)
    try:
        ctx = made.context(FORMULARY)
        client = FORMULARY.create_app(ctx).test_client()
        assert upload(client, csv_of(GOOD), "目录.csv", confirm=True).status_code == 200
        approve_all(client)
        lines = csv_of(GOOD).decode().split("\r\n")
        cells = lines[2].split(",")
        cells[COLUMNS.index("manufacturer")] = '"' + cells[COLUMNS.index("manufacturer")]
        lines[2] = ",".join(cells)
        before = table_dump(ctx)
        refused(upload(client, "\r\n".join(lines).encode(), "目录.csv"), "line 3", "not valid CSV")
        refused(upload(client, "\r\n".join(lines).encode(), "目录.csv", confirm=True), "line 3", "not valid CSV")
        assert table_dump(ctx) == before
    finally:
        made.close()


# --- a signed token whose subject the audit columns cannot hold --------------------------------------------

ODD_SUBJECTS = {"200 characters": "u" * 200, "NUL": "nurse\x00one", "lone surrogate": "nurse\ud800one"}


def _signed(token: str, subject: str) -> str:
    """`token` with its `sub` replaced and signed again (JSON escapes a lone surrogate as \\ud800, as an IdP may)."""
    import base64
    import hashlib
    import hmac
    import json

    from shared.auth import Keyring
    from tests.support.web import SECRET

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    head, body, _ = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["sub"] = subject
    signing = f"{head}.{b64(json.dumps(claims).encode())}"
    key = Keyring.single(SECRET).signing_secret.encode()
    return f"{signing}.{b64(hmac.new(key, signing.encode(), hashlib.sha256).digest())}"


@pytest.mark.parametrize("backend_name", ["sqlite", "postgresql"])
@pytest.mark.parametrize("case", list(ODD_SUBJECTS))
def test_a_token_subject_no_audit_column_can_hold_is_a_401_not_a_500(tmp_path: Any, backend_name: str, case: str) -> None:
    """The identity provider signs `sub`; every *_by column is 120 characters of text. A longer subject,
    or one with U+0000 (PostgreSQL text cannot hold it), failed the first write with a 500 on PostgreSQL."""
    from services.formulary.app import SPEC as FORMULARY
    from shared.auth import issue_token
    from tests.support.backends import Backend
    from tests.support.formulary import sample_item
    from tests.support.web import SECRET, table_dump

    made = Backend(backend_name, tmp_path)
    try:
        ctx = made.context(FORMULARY)
        client = FORMULARY.create_app(ctx).test_client()
        token = _signed(issue_token(SECRET, "pharmacy_manager", subject="placeholder"), ODD_SUBJECTS[case])
        before = table_dump(ctx)
        r = client.post("/api/v1/items", json=sample_item("YP960001"), headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, (r.status_code, r.get_data()[:300])
        assert r.content_type == "application/problem+json"
        assert "sub" in r.get_json()["detail"]
        assert table_dump(ctx) == before
    finally:
        made.close()


@pytest.mark.parametrize("backend_name", ["sqlite", "postgresql"])
@pytest.mark.parametrize("key", ["a\x00b", "key\x1b[31m", "\x7f"])
def test_an_idempotency_key_with_a_control_character_is_a_400_naming_it(tmp_path: Any, backend_name: str, key: str) -> None:
    from services.formulary.app import SPEC as FORMULARY
    from tests.support.backends import Backend
    from tests.support.formulary import sample_item
    from tests.support.web import bearer, table_dump

    made = Backend(backend_name, tmp_path)
    try:
        ctx = made.context(FORMULARY)
        client = FORMULARY.create_app(ctx).test_client()
        before = table_dump(ctx)
        headers = {**bearer("pharmacy_manager", name="idem-mgr"), "Idempotency-Key": key}
        r = client.post("/api/v1/items", json=sample_item("YP960002"), headers=headers)
        assert r.status_code == 400, (r.status_code, r.get_data()[:300])
        assert r.content_type == "application/problem+json"
        assert r.get_json()["errors"][0]["field"] == "Idempotency-Key"
        assert table_dump(ctx) == before
    finally:
        made.close()


# --- an approval naming one change 20,000 times -------------------------------------------------------------

class _Compared(str):
    """A change id that counts how often it is compared with another (equal but distinct objects)."""

    calls = 0

    def __eq__(self, other: object) -> bool:
        _Compared.calls += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_finding_change_ids_named_twice_is_linear_not_quadratic(formulary_ctx: Any) -> None:
    """The schema allows 20,000 ids; the repeat check compared every id with every other (list.count
    per id: 20,000 copies of one id took 9.3 s of CPU in one request on the embedded hub). Counted in
    comparisons, not seconds (no timed assertions): a linear check makes about one per id."""
    from services.formulary import service
    from services.formulary.commands import ApproveChanges
    from shared.auth import Principal
    from shared.errors import InvalidInput

    n = 2_000
    ids = tuple(_Compared("d" * 35 + str(i % 2)) for i in range(n))  # two ids, each named 1,000 times
    _Compared.calls = 0
    with pytest.raises(InvalidInput) as refused:
        service.approve(formulary_ctx, Principal("mgr-fresh", ("pharmacy_manager",)), ApproveChanges(change_ids=ids))
    assert "change_ids" in refused.value.fields
    assert _Compared.calls < 10 * n, _Compared.calls


# --- dispatch: locked routes and vehicles out, named without bound ------------------------------------------

@pytest.mark.parametrize(("path", "field"), [
    ("/api/v1/solve", "locked_routes"),
    ("/api/v1/plans/P-unknown/replan", "locked_routes"),
    ("/api/v1/plans/P-unknown/replan", "vehicles_out"),
])  # fmt: skip
def test_locked_routes_and_vehicles_out_are_bounded_by_the_fleet(tmp_path: Any, path: str, field: str) -> None:
    """A fleet has at most 300 vehicles (SolveIn.vehicles), but these lists had no bound: one vehicle named
    30,000 times took 2.3 s on /solve (each name compared with a copy of every earlier one: quadratic;
    ~350,000 fit in the 2 MiB body) and a re-plan stored a request naming it 100,000 times (7 s)."""
    from services.dispatch.app import SPEC as DISPATCH
    from tests.e2e.dispatch_support import small_problem
    from tests.support.backends import Backend
    from tests.support.web import bearer, table_dump

    made = Backend("sqlite", tmp_path)
    try:
        ctx = made.context(DISPATCH)
        client = DISPATCH.create_app(ctx).test_client()
        body: dict[str, Any] = small_problem() if path == "/api/v1/solve" else {}
        body[field] = ["V1"] * 301
        before = table_dump(ctx)
        r = client.post(path, json=body, headers=bearer("dispatcher", name="fresh-dispatcher"))
        problem = _problem(r)
        assert [e["field"] for e in problem["errors"]] == [field], problem
        assert table_dump(ctx) == before
    finally:
        made.close()


def test_a_vehicle_locked_twice_on_solve_is_named_once_per_repeat() -> None:
    """One message per repeat, at the repeat's index (as a re-plan names them)."""
    from services.dispatch.schemas import SolveIn
    from tests.e2e.dispatch_support import small_problem

    body = small_problem()
    body["locked_routes"] = ["V1", "V2", "V1", "V1"]
    errors = SolveIn().validate(body)
    assert errors.get("locked_routes") == {2: ["vehicle V1 is already at locked_routes[0]"],
                                           3: ["vehicle V1 is already at locked_routes[0]"]}, errors


@pytest.mark.parametrize("site", ["T01\x00", "T01\ud800", "\x1bT01"])
def test_a_token_site_claim_with_a_control_character_is_a_401_not_a_500(tmp_path: Any, site: str) -> None:
    """A storekeeper's token whose signed `site` held U+0000 or a lone surrogate: listing requisitions
    (filtered by that site) was a 500 on PostgreSQL."""
    import base64
    import hashlib
    import hmac
    import json

    import tests.e2e.test_hostile_input as hostile
    from shared.auth import Keyring, issue_token
    from tests.support.backends import Backend
    from tests.support.web import SECRET

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    head, body, _ = issue_token(SECRET, "storekeeper", site="T01", subject="sk-fresh").split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["site"] = site
    signing = f"{head}.{b64(json.dumps(claims).encode())}"
    token = f"{signing}.{b64(hmac.new(Keyring.single(SECRET).signing_secret.encode(), signing.encode(), hashlib.sha256).digest())}"
    made = Backend("postgresql", tmp_path)
    try:
        _, client = hostile._client(made, "procurement")
        r = client.get("/api/v1/requisitions", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, (r.status_code, r.get_data()[:300])
        assert r.content_type == "application/problem+json" and "site" in r.get_json()["detail"]
    finally:
        made.close()


def test_a_prescriber_csv_naming_a_column_twice_is_a_422_naming_it(client: FlaskClient, review_ctx: Any) -> None:
    """`id,id,name,sites` read the second id (D2) and dropped the first (D1) without a word."""
    from tests.support.web import table_dump

    before = table_dump(review_ctx)
    problem = _problem(client.post("/api/v1/prescribers", json={"csv": "id,id,name,sites\nD1,D2,张三,CW-H01\n"}, headers=MGR))
    assert problem["errors"][0]["field"] == "csv" and "id appears twice" in problem["errors"][0]["message"], problem
    assert table_dump(review_ctx) == before


def test_dlq_on_a_data_directory_that_does_not_exist_says_so_and_creates_nothing(tmp_path: Path) -> None:
    """A mistyped HUB_DATA_DIR read as "no dead letters" (and made a jwt_secret there)."""
    import subprocess
    import sys

    missing = tmp_path / "no-such-hub"
    env = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL") and k != "BROKER_URL"}
    env["HUB_DATA_DIR"] = str(missing)
    done = subprocess.run([sys.executable, "-m", "hub.cli", "dlq", "list"], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).resolve().parents[2], timeout=120)  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no hub data directory" in done.stderr and not missing.exists()


def test_a_drivers_confirmation_notes_a_few_exceptions_not_thousands() -> None:
    from marshmallow import ValidationError

    from services.dispatch.schemas import CompleteIn

    assert CompleteIn().load({"exceptions": ["破损一箱"] * 50}).exceptions == ("破损一箱",) * 50
    with pytest.raises(ValidationError) as refused:
        CompleteIn().load({"exceptions": ["破损一箱"] * 51})
    assert "exceptions" in refused.value.messages
