"""Session 16 fixes, as properties: knowledge cells take the text rule at any depth and must be text;
doctor ids and registry sites are codes on both sides; 追溯码 are codes; an Idempotency-Key with any
control or invisible character is a 400 naming the header, on every endpoint that takes it."""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.prescription_review.app import SPEC as REVIEW
from services.prescription_review.knowledge.importer import load_directory, parse_tables
from services.prescription_review.model.registry import registry_key
from shared.db import make_engine
from shared.migrate import alembic_config
from shared.runtime import ServiceContext
from shared.text import first_invisible
from tests.e2e.test_fresh_eyes_session16_trace_codes import CODE, body_with
from tests.e2e.test_procurement_api import AMOX, MGR, T01, client, ctx
from tests.e2e.test_text_fields_api import HEADERS, app_of
from tests.service.prescription_review.review_support import body
from tests.support.web import table_dump

__all__ = ["client", "ctx"]  # fixtures

FIXTURES = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
# Characters the text rule refuses: C0/C1 controls (not tab/CR/LF), format characters (not ZWJ),
# a private-use one and an unassigned one.
HIDDEN = st.sampled_from(["\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9f", "\u200b", "\u202e", "\u2066", "\ufeff",
                          "\ue000", "\U000e0001", "\u0378"])  # fmt: skip
PLAIN = st.text(alphabet="华法林ab 1", min_size=0, max_size=4)
_numbers = itertools.count(1)


def _hidden_text() -> st.SearchStrategy[str]:
    return st.builds(lambda a, h, b: a + h + b, PLAIN, HIDDEN, PLAIN)


def _nest(text: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """A JSON cell holding `text` somewhere: as the cell, in a list, in a list in a list, in an object."""
    return st.recursive(
        text,
        lambda inner: st.one_of(st.lists(inner, min_size=1, max_size=2), st.dictionaries(st.sampled_from(["k", "v"]), inner, min_size=1)),
        max_leaves=3,
    )  # fmt: skip


def _post_knowledge(version: str, rows: list[dict[str, Any]]) -> Any:
    _, app = app_of("prescription_review")
    return app.test_client().post("/api/v1/knowledge", json={"version": version, "tables": {"pregnancy": rows}},
                                  headers=HEADERS["pharmacy_manager"])  # fmt: skip


# --- 1. knowledge cells --------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURES)
@given(column=st.sampled_from(["drug", "message", "source"]), cell=_nest(_hidden_text()))
def test_a_hidden_character_at_any_depth_of_a_json_cell_is_a_422_naming_row_and_column(column: str, cell: Any) -> None:
    ctx, _ = app_of("prescription_review")
    before = table_dump(ctx)
    response = _post_knowledge(f"s16p-{next(_numbers)}", [{"drug": "华法林", "message": "m", "source": "s", column: cell}])
    assert response.status_code == 422 and response.mimetype == "application/problem+json", response.get_json()
    [error] = response.get_json()["errors"]
    # named by the cell rule ("line 1, column drug") or, for NUL, by the request parser (tables.pregnancy[0].drug)
    named = error["field"] + " " + error["message"]
    assert named.startswith("tables.pregnancy") and (f"column {column}" in named and "line 1" in named
                                                     or f"[0].{column}" in named), error  # fmt: skip
    assert table_dump(ctx) == before


@settings(max_examples=25, deadline=None, suppress_health_check=FIXTURES)
@given(cell=st.one_of(st.dictionaries(st.text(max_size=3), PLAIN, min_size=1, max_size=2),
                      st.lists(st.lists(PLAIN, max_size=2), min_size=1, max_size=2).filter(lambda v: any(isinstance(x, list) for x in v)),
                      st.lists(st.dictionaries(st.just("k"), PLAIN, min_size=1), min_size=1, max_size=2)))  # fmt: skip
def test_a_cell_that_is_not_text_is_a_422_never_its_python_spelling(cell: Any) -> None:
    ctx, _ = app_of("prescription_review")
    before = table_dump(ctx)
    response = _post_knowledge(f"s16n-{next(_numbers)}", [{"drug": "华法林", "message": cell, "source": "s"}])
    assert response.status_code == 422, response.get_json()
    assert table_dump(ctx) == before


def test_text_numbers_and_lists_of_text_still_import() -> None:
    """The shapes kb_to_tables writes (and a spreadsheet's numbers) are unchanged."""
    response = _post_knowledge("s16-ok", [{"drug": "华法林", "message": "致胚胎病", "source": 2020}])
    assert response.status_code == 201, response.get_json()
    kb, report = parse_tables("v", {"allergies": [{"name": "青霉素类", "aliases": ["青霉素", None], "members": ["阿莫西林"],
                                                    "cross": [], "source": "s"}]})  # fmt: skip
    assert kb is not None and report.ok and kb.allergies[0].aliases == ("青霉素",)


@settings(max_examples=30, deadline=None)
@given(table=st.sampled_from(["pregnancy", "allergies"]), hidden=_hidden_text())
def test_every_path_into_the_tables_refuses_a_hidden_character(tmp_path_factory: pytest.TempPathFactory, table: str,
                                                              hidden: str) -> None:  # fmt: skip
    """parse_tables (the API's JSON rows and CSV, stored versions) and load_directory (the bundled folder):
    the same cell rule, the error naming table, row and column."""
    hidden = hidden.replace("\x00", "\x01")  # the csv module itself refuses NUL ("line contains NUL")
    row = ({"drug": "华法林", "message": hidden, "source": "s"} if table == "pregnancy"
           else {"name": "青霉素类", "aliases": "", "members": f"阿莫西林;{hidden}", "cross": "", "source": "s"})  # fmt: skip
    column = "message" if table == "pregnancy" else "members"
    _, report = parse_tables("v", {table: [row]})
    assert [(e["table"], e["row"], e["field"]) for e in report.errors] == [(table, 1, column)], report.errors
    folder = tmp_path_factory.mktemp("kb")
    with (folder / f"{table}.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
    kb, report = load_directory(folder, "v")
    assert kb is None and [(e["table"], e["row"], e["field"]) for e in report.errors] == [(table, 1, column)], report.errors


# --- 2. the doctor registry: ids and sites are codes -----------------------------------------------


def _spellings(text: str) -> st.SearchStrategy[str]:
    """`text` in any mix of cases, with a blank or two around it and full-width letters now and then."""
    def spell(flags: list[int]) -> str:
        out = []
        for ch, f in zip(text, flags, strict=True):
            ch = ch.lower() if f & 1 else ch.upper()
            out.append(chr(ord(ch) + 0xFEE0) if f & 2 and "!" <= ch <= "~" else ch)
        return "".join(out)

    return st.tuples(st.lists(st.integers(0, 3), min_size=len(text), max_size=len(text)), st.sampled_from(["", " ", "\u3000"])).map(
        lambda t: t[1] + spell(t[0]) + t[1].strip()
    )  # fmt: skip


def _screen(no: str, prescriber_id: str, site: str = "CW-H01") -> list[str]:
    _, app = app_of("prescription_review")
    response = app.test_client().post(
        "/api/v1/screenings", json=body(prescription_no=no, site_code=site, prescriber={"id": prescriber_id, "privileges": []}),
        headers=HEADERS["his"],
    )  # fmt: skip
    assert response.status_code == 200, response.get_json()
    return [f["code"] for f in response.get_json()["findings"]]


@settings(max_examples=20, deadline=None, suppress_health_check=FIXTURES)
@given(data=st.data())
def test_the_registry_and_the_his_agree_whatever_case_either_uses(data: st.DataObject) -> None:
    n = next(_numbers)
    doctor = f"DX{n}A"
    registered = data.draw(_spellings(doctor), "registry id")
    sent = data.draw(_spellings(doctor), "HIS id")
    site = data.draw(_spellings("CW-H01"), "registry site")
    _, app = app_of("prescription_review")
    entry = {"id": registered, "name": "李四", "sites": [site], "title": "attending", "privileges": [], "active": True}
    response = app.test_client().post("/api/v1/prescribers", json={"entries": [entry]}, headers=HEADERS["pharmacy_manager"])
    assert response.status_code == 200, response.get_json()
    assert "PRESCRIBER_NOT_AUTHORIZED" not in _screen(f"R-S16-A{n}", sent)  # registered at CW-H01: no false finding
    assert "PRESCRIBER_NOT_AUTHORIZED" in _screen(f"R-S16-B{n}", sent, "CW-T01")  # not registered there: the finding holds
    entry["active"] = False
    assert app.test_client().post("/api/v1/prescribers", json={"entries": [entry]}, headers=HEADERS["pharmacy_manager"]).status_code == 200
    assert "PRESCRIBER_NOT_AUTHORIZED" in _screen(f"R-S16-C{n}", sent)  # 停用 holds whatever the case
    listed = app.test_client().get("/api/v1/prescribers", headers=HEADERS["pharmacy_manager"]).get_json()
    stored = [e for e in json.dumps(listed, ensure_ascii=False).split('"') if registry_key(e) == doctor]
    assert stored and set(stored) == {doctor}  # one row, stored as the code


def test_one_doctor_twice_in_two_spellings_in_one_import_is_a_422() -> None:
    _, app = app_of("prescription_review")
    entries = [{"id": i, "name": "王五", "sites": [], "privileges": [], "active": True} for i in ("d960", "D960")]
    response = app.test_client().post("/api/v1/prescribers", json={"entries": entries}, headers=HEADERS["pharmacy_manager"])
    assert response.status_code == 422 and "entries[1].id" in [e["field"] for e in response.get_json()["errors"]]


@pytest.fixture(params=["sqlite", "postgresql"])
def review_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """An empty review database: SQLite, or a fresh database on the machine's PostgreSQL (dropped after)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path}/review.sqlite3")
        yield engine
        engine.dispose()
        return
    from tests.support.bus import create_database, drop_database

    url = create_database("countyhub_s16reg")  # PostgreSQL is on the machine: never skipped
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
        drop_database(url)


def test_the_migration_stores_existing_registry_ids_and_sites_as_codes(review_db: sa.Engine) -> None:
    """Rows stored before the API upper-cased them: rewritten as codes; two spellings of one id keep the
    one updated last."""
    from alembic import command

    engine = review_db
    cfg = alembic_config(REVIEW.migrations, engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "1fdc7320970e")
    insert = sa.text("INSERT INTO prescribers (id, name, sites, title, privileges, active, updated_at) "
                     "VALUES (:i, 'n', :s, NULL, :p, :a, :u)").bindparams(
        sa.bindparam("s", type_=sa.JSON), sa.bindparam("p", type_=sa.JSON), sa.bindparam("u", type_=sa.DateTime(timezone=True)))  # fmt: skip
    with engine.begin() as conn:
        for i, sites, active, day in (("d952", ["cw-h01", "CW-H01"], False, 20), ("D952", ["cw-t01"], True, 10),
                                      ("D001", ["CW-H01"], True, 10), ("ｄ０７", [], True, 10)):  # fmt: skip
            conn.execute(insert, {"i": i, "s": sites, "p": [], "a": active, "u": datetime(2026, 11, day, tzinfo=UTC)})
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    with engine.connect() as conn:
        found = conn.execute(sa.text("SELECT id, sites, active FROM prescribers"))
        rows = {r.id: (r.sites if isinstance(r.sites, list) else json.loads(r.sites), bool(r.active)) for r in found}
    assert rows == {"D952": (["CW-H01"], False), "D001": (["CW-H01"], True), "D07": ([], True)}


# --- 3a. trace codes are codes -----------------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=FIXTURES)
@given(cuts=st.lists(st.integers(1, 19), max_size=5, unique=True), blank=st.sampled_from([" ", "  ", "\u3000", "\u00a0"]),
       other_line=st.booleans())  # fmt: skip
def test_a_code_in_any_grouping_is_the_same_package(client: FlaskClient, ctx: ServiceContext, cuts: list[int], blank: str,
                                                    other_line: bool) -> None:  # fmt: skip
    grouped = "".join(blank + ch if i in cuts else ch for i, ch in enumerate(CODE))
    codes = body_with([CODE], [grouped]) if other_line else body_with([CODE, grouped])
    response = client.post("/api/v1/receipts/check", json=codes, headers=MGR)
    assert response.status_code == 422, (grouped, response.get_json())
    assert [e["field"] for e in response.get_json()["errors"]] == ["lines[1].trace_codes[0]" if other_line else "lines[0].trace_codes[1]"]


def test_a_grouped_code_is_stored_as_the_code_and_found_by_recall_in_any_grouping(client: FlaskClient, ctx: ServiceContext) -> None:
    grouped = " ".join(CODE[i : i + 4] for i in range(0, 20, 4))
    assert client.post("/api/v1/receipts", json=body_with([grouped]), headers=MGR).status_code == 201
    dump = json.dumps(table_dump(ctx), default=str, ensure_ascii=False)
    assert CODE in dump and grouped not in dump
    for asked in (CODE, grouped, CODE[:10] + " " + CODE[10:]):
        found = client.get("/api/v1/recall", query_string={"trace_code": asked}, headers=MGR)
        assert found.status_code == 200 and found.get_json()["batches"], asked
    again = client.post("/api/v1/receipts/check", json=body_with(["81901234567890120000", CODE]), headers=MGR)
    assert again.status_code == 409


def test_a_code_stored_before_with_blanks_is_still_recognised(client: FlaskClient, ctx: ServiceContext) -> None:
    """Rows written before trace codes were codes may hold "8190 1234 …": lookups compare code forms."""
    assert client.post("/api/v1/receipts", json=body_with([CODE]), headers=MGR).status_code == 201
    grouped = " ".join(CODE[i : i + 4] for i in range(0, 20, 4))
    table = ctx.metadata.tables["receipt_lines"]
    with ctx.factory.begin() as session:  # receipt lines are append-only: this private database's trigger goes
        session.execute(sa.text("DROP TRIGGER receipt_lines_no_update"))
        session.execute(sa.update(table).values(trace_codes=[grouped]))
    assert client.post("/api/v1/receipts/check", json=body_with([CODE]), headers=MGR).status_code == 409
    found = client.get("/api/v1/recall", query_string={"trace_code": CODE}, headers=MGR)
    assert found.status_code == 200 and found.get_json()["batches"]


# --- 3b. Idempotency-Key ----------------------------------------------------------------------------


KEY_HIDDEN = st.one_of(HIDDEN, st.sampled_from(["\t", "\u200d", "\u0080", "\u008f", "\u2028"]).filter(lambda c: first_invisible(c) is not None))


@settings(max_examples=25, deadline=None, suppress_health_check=FIXTURES)
@given(before_=st.text(alphabet="abc-1", max_size=5), hidden=KEY_HIDDEN, after=st.text(alphabet="abc-1", max_size=5),
       endpoint=st.sampled_from(["requisition", "adjustment", "transfer", "receipt"]))  # fmt: skip
def test_an_idempotency_key_with_any_control_or_invisible_character_is_a_400_naming_the_header(
    client: FlaskClient, ctx: ServiceContext, before_: str, hidden: str, after: str, endpoint: str
) -> None:
    key = before_ + hidden + after
    try:
        key.encode("latin-1")
    except UnicodeEncodeError:  # a header carries latin-1: what the server sees of U+202E sent as UTF-8
        key = key.encode("utf-8").decode("latin-1")
    if "\n" in key or "\r" in key:
        return  # the client library itself refuses a header with a line break
    url, payload, headers = {
        "requisition": ("/api/v1/requisitions", {"site_code": "T01", "lines": [{"item_code": AMOX, "quantity": 48}]}, T01),
        "adjustment": ("/api/v1/sites/T01/stock/adjustments", {"item_code": AMOX, "kind": "dispense", "quantity": 1, "reason": "r"}, T01),
        "transfer": ("/api/v1/transfers", {"from_site": "T01", "to_site": "T02", "lines": [{"item_code": AMOX, "quantity": 1}]}, MGR),
        "receipt": ("/api/v1/receipts", body_with([]), MGR),
    }[endpoint]  # fmt: skip
    before = table_dump(ctx)
    response = client.post(url, json=payload, headers={**headers, "Idempotency-Key": key})
    assert response.status_code == 400 and response.mimetype == "application/problem+json", (repr(key), response.get_json())
    assert [e["field"] for e in response.get_json()["errors"]] == ["Idempotency-Key"]
    assert table_dump(ctx) == before


def test_a_plain_key_still_replays(client: FlaskClient, ctx: ServiceContext) -> None:
    payload = {"site_code": "T01", "lines": [{"item_code": AMOX, "quantity": 48}]}
    first = client.post("/api/v1/requisitions", json=payload, headers={**T01, "Idempotency-Key": "s16-plain-1"})
    again = client.post("/api/v1/requisitions", json=payload, headers={**T01, "Idempotency-Key": "s16-plain-1"})
    assert first.status_code == 201 and again.status_code == 201 and first.get_json()["id"] == again.get_json()["id"]


def test_the_review_service_refuses_the_same_keys() -> None:
    """The shared decorator: a screening (prescription_review) with U+202E in its key is a 400 too."""
    _, app = app_of("prescription_review")
    response = app.test_client().post("/api/v1/screenings", json=body(prescription_no="R-S16-K1"),
                                      headers={**HEADERS["his"], "Idempotency-Key": "k\u00e2\u0080\u00aex"})  # fmt: skip
    assert response.status_code == 400 and response.get_json()["errors"][0]["field"] == "Idempotency-Key"
