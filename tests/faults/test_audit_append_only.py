"""Audit trails are append-only (issue 13, "Data that must not change or leak").

The audit and history tables of the four services (review decisions, formulary approvals and
change history, procurement receipts, price records, stock movements, proofs of delivery) are
written once:

- no statement in the services' code updates or deletes them (a walk of every module's UPDATE /
  DELETE constructs and SQL text), but for the one closing update some rows get (a receipt's
  payment day, a purchase order's approval, a draft's decision);
- the database refuses it anyway: triggers on SQLite and PostgreSQL, for every role;
- on the real PostgreSQL, set up as in production (the database owned by an owner role that runs
  the migrations, the service connected as `<owner>_app`), the application role has no UPDATE,
  DELETE or TRUNCATE privilege on them, only SELECT and INSERT — while the services' own use-case
  tests (reused here as the normal flows) pass on a connection as that role.
"""

from __future__ import annotations

import ast
import inspect
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from services.dispatch.app import SPEC as DISPATCH
from services.formulary.app import SPEC as FORMULARY
from services.prescription_review.app import SPEC as REVIEW
from services.procurement.app import SPEC as PROCUREMENT
from shared.append_only import protected_tables
from shared.db import make_engine
from shared.migrate import upgrade
from shared.runtime import ServiceContext, ServiceSpec, build_context
from tests.support.bus import PG_ADMIN_URL, drop_database
from tests.support.web import make_settings

ROOT = Path(__file__).resolve().parents[2]

# Every audit/history table, and the columns of its one closing update (empty: never updated).
PROTECTED: dict[str, dict[str, tuple[str, ...]]] = {
    "formulary": {
        "catalogue_versions": (), "item_versions": (),
        "changes": ("decided_at", "decided_by", "status", "decision_note", "catalogue_version"),
    },
    "procurement": {
        "receipts": ("paid_on",), "receipt_lines": (), "listed_prices": (), "negotiated_prices": (),
        "vbp_contracts": (), "central_movements": (), "site_movements": (), "transfers": (),
        "purchase_orders": ("approved_at", "approved_by", "status"),
    },
    "prescription_review": {"audit_events": (), "screenings": (), "knowledge_versions": ()},
    "dispatch": {"stop_completions": ()},
}  # fmt: skip
SPECS = {"formulary": FORMULARY, "procurement": PROCUREMENT, "prescription_review": REVIEW, "dispatch": DISPATCH}


# --- the code: no UPDATE / DELETE on an audit table ---------------------------------------------


def _table_names(module: Any) -> dict[str, str]:
    """Module-level names bound to a Table -> the table's name (T["x"] subscripts are read from source)."""
    from sqlalchemy import Table

    return {name: value.name for name, value in vars(module).items() if isinstance(value, Table)}


def _target(node: ast.expr, module_tables: dict[str, str], local: dict[str, ast.expr]) -> str | None:
    """The table an expression denotes: a module-level Table, T["x"] / tables["x"], or a local bound to one."""
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
        return node.slice.value
    if isinstance(node, ast.Name):
        if node.id in local:
            return _target(local[node.id], module_tables, {})
        return module_tables.get(node.id)
    if isinstance(node, ast.Attribute) and node.attr in ("table",):
        return None
    return None


def _locals(func: ast.AST) -> dict[str, ast.expr]:
    """name -> expression for simple (and tuple) assignments inside a function."""
    out: dict[str, ast.expr] = {}
    for node in ast.walk(func):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                out[target.id] = node.value
            elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                for t, v in zip(target.elts, node.value.elts, strict=False):
                    if isinstance(t, ast.Name):
                        out[t.id] = v
    return out


@dataclass(frozen=True)
class Write:
    """An UPDATE or DELETE construct in the code."""

    where: str
    verb: str
    table: str | None  # None: the table is a parameter (a generic helper)
    columns: tuple[str, ...]  # the .values(...) keywords of an update, when written inline


def _writes(path: Path) -> list[Write]:
    import importlib

    rel = path.relative_to(ROOT)
    module = importlib.import_module(".".join(rel.with_suffix("").parts))
    module_tables = _table_names(module)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[Write] = []
    for func in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Module))]:
        local = _locals(func) if not isinstance(func, ast.Module) else {}
        for node in ast.walk(func):
            if not isinstance(node, ast.Call):
                continue
            verb, target = None, None
            if isinstance(node.func, ast.Name) and node.func.id in ("update", "delete") and node.args:
                verb, target = node.func.id, node.args[0]
            elif isinstance(node.func, ast.Attribute) and node.func.attr in ("update", "delete") and not node.args \
                    and not node.keywords and isinstance(node.func.value, (ast.Name, ast.Subscript)):
                verb, target = node.func.attr, node.func.value
            if verb is None or target is None:
                continue
            table = _target(target, module_tables, local)
            parameters = [a.arg for a in func.args.args] if not isinstance(func, ast.Module) else []
            if table is None and isinstance(target, ast.Name) and target.id not in local \
                    and target.id not in module_tables and target.id not in parameters:
                continue  # a dict's .update() / a set's .update(): not a statement
            found.append(Write(f"{rel}:{node.lineno}", verb, table, _values_of(node, tree)))
    return found


def _values_of(call: ast.Call, tree: ast.Module) -> tuple[str, ...]:
    """The keyword names of the .values(...) chained on an update(...) call, when inline."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "values":
            inner = node.func.value
            while isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute):
                if inner is call:
                    break
                inner = inner.func.value
            if inner is call:
                return tuple(sorted(k.arg for k in node.keywords if k.arg))
    return ()


def _code_files() -> list[Path]:
    files = sorted((ROOT / "services").rglob("*.py")) + sorted((ROOT / "shared").rglob("*.py"))
    return [f for f in files if "migrations" not in f.parts and "/ui/" not in str(f)]


# Generic helpers that take their table as a parameter, and the tables they are ever given.
GENERIC_WRITES = {
    "shared/reference_store.py": "ref_items / ref_sites / ref_stocklists (the formulary read model)",
}
# The closing updates (the database allows each row exactly one, see shared/append_only.py).
CLOSING = {
    ("receipts", "services/procurement/store/receiving.py"),
    ("purchase_orders", "services/procurement/store/receiving.py"),
    ("changes", "services/formulary/store_changes.py"),
}


def test_no_code_updates_or_deletes_an_audit_table() -> None:
    every = {t for tables in PROTECTED.values() for t in tables}
    writes = [w for f in _code_files() for w in _writes(f)]
    assert len(writes) > 20, "the walk found the services' UPDATE/DELETE statements"
    for w in writes:
        if w.table is None:
            assert w.where.split(":")[0] in GENERIC_WRITES, f"{w.where}: {w.verb} on a table this walk cannot name"
            continue
        if w.table not in every:
            continue
        assert w.verb == "update", f"{w.where}: DELETE on the audit table {w.table}"
        assert (w.table, w.where.split(":")[0]) in CLOSING, f"{w.where}: UPDATE of the audit table {w.table}"
        allowed = next(cols for tables in PROTECTED.values() for t, cols in tables.items() if t == w.table)
        assert set(w.columns) <= set(allowed), f"{w.where}: sets {w.columns}, only {allowed} may be set (once)"
    # ... and no SQL text does it either.
    pattern = re.compile(r"\b(UPDATE|DELETE\s+FROM|TRUNCATE(\s+TABLE)?)\s+\"?(" + "|".join(sorted(every)) + r")\b", re.I)
    for path in _code_files():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert not pattern.search(line), f"{path.relative_to(ROOT)}:{n}: {line.strip()}"


def test_the_walk_sees_a_write_on_an_audit_table() -> None:
    """The walk is not blind: it finds the closing updates it allows."""
    writes = [w for f in _code_files() for w in _writes(f)]
    closing = {(w.table, w.where.split(":")[0]) for w in writes if w.table in ("receipts", "purchase_orders", "changes")}
    assert closing == CLOSING


# --- SQLite: the triggers ------------------------------------------------------------------------


@pytest.mark.parametrize("service", sorted(SPECS))
def test_sqlite_refuses_update_and_delete_of_every_audit_table(service: str, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/{service}.sqlite3")
    upgrade(SPECS[service].migrations, engine)
    with engine.connect() as conn:
        triggers = set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
    for table in PROTECTED[service]:
        assert {f"{table}_no_update", f"{table}_no_delete"} <= triggers, table
        # A row, written as the service would (raw, every column filled with something valid enough).
        _insert_any_row(engine, table)
        for statement in (f"UPDATE {table} SET rowid = rowid", f"DELETE FROM {table}"):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(text(statement))
    engine.dispose()


def _insert_any_row(engine: Engine, table: str) -> None:
    """One row in a SQLite table with a value in every column (foreign keys not enforced)."""
    from sqlalchemy import inspect as sa_inspect

    columns = sa_inspect(engine).get_columns(table)
    values: dict[str, Any] = {}
    for c in columns:
        kind = str(c["type"]).upper()
        if "INT" in kind or "NUMERIC" in kind or "FLOAT" in kind or "BOOL" in kind:
            values[c["name"]] = 1
        elif "JSON" in kind:
            values[c["name"]] = "{}"
        elif "DATE" in kind or "TIME" in kind:
            values[c["name"]] = "2026-12-01"
        else:
            values[c["name"]] = "x"
    names = ", ".join(f'"{n}"' for n in values)
    raw = sqlite3.connect(str(engine.url.database))  # a plain connection: foreign keys off, as by default
    try:
        with raw:
            raw.execute(f'INSERT INTO "{table}" ({names}) VALUES ({", ".join(":" + n for n in values)})', values)
    finally:
        raw.close()


# --- PostgreSQL: an owner runs the migrations, the service connects as <owner>_app ----------------


@dataclass
class Roles:
    """An owner role and its application role on the real PostgreSQL, for this module."""

    owner: str
    app: str
    made: list[str]

    def database(self, service: str) -> tuple[str, str]:
        """A new database owned by the owner role: (owner url, app url)."""
        name = f"countyhub_audit_{service[:10]}_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}" OWNER "{self.owner}"'))
        finally:
            admin.dispose()
        self.made.append(name)
        return (f"postgresql+psycopg://{self.owner}@127.0.0.1:5432/{name}",
                f"postgresql+psycopg://{self.app}@127.0.0.1:5432/{name}")  # fmt: skip


@pytest.fixture(scope="module")
def roles() -> Iterator[Roles]:
    owner = f"ch_owner_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{owner}" LOGIN'))
        conn.execute(text(f'CREATE ROLE "{owner}_app" LOGIN'))
    made = Roles(owner, f"{owner}_app", [])
    try:
        yield made
    finally:
        for name in made.made:
            drop_database(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
        with admin.connect() as conn:
            conn.execute(text(f'DROP ROLE IF EXISTS "{owner}_app"'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{owner}"'))
        admin.dispose()


@dataclass
class Deployed:
    """One service database as in production: migrated by the owner, used by the app role."""

    service: str
    owner: Engine
    ctx: ServiceContext  # connected as the application role

    def close(self) -> None:
        self.ctx.engine.dispose()
        self.owner.dispose()


def deploy(roles: Roles, spec: ServiceSpec) -> Deployed:
    """Migrate a fresh database as the owner (countyhub migrate's upgrade, which grants the app role)."""
    owner_url, app_url = roles.database(spec.name)
    owner = make_engine(owner_url)
    upgrade(spec.migrations, owner)
    ctx = build_context(spec, make_settings(spec.name, app_url))
    return Deployed(spec.name, owner, ctx)


def _refused(engine: Engine, statement: str) -> str:
    """Run a statement in its own transaction; the database's refusal (a test failure if it ran)."""
    with pytest.raises(DBAPIError) as caught, engine.begin() as conn:
        conn.execute(text(statement))
    return str(caught.value.orig)


@pytest.mark.parametrize("service", sorted(SPECS))
def test_app_role_may_only_read_and_append_audit_tables(roles: Roles, service: str) -> None:
    d = deploy(roles, SPECS[service])
    try:
        with d.owner.connect() as conn:
            assert protected_tables(conn) == PROTECTED[service]
            tables = set(conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars())
        with d.ctx.engine.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar_one() == roles.app
            for table in tables:
                privileges = {p: conn.execute(text("SELECT has_table_privilege(current_user, :t, :p)"),
                                              {"t": table, "p": p}).scalar_one()
                              for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")}  # fmt: skip
                if table in PROTECTED[service]:
                    assert privileges == {"SELECT": True, "INSERT": True, "UPDATE": False, "DELETE": False,
                                          "TRUNCATE": False}, table  # fmt: skip
                elif table == "alembic_version":
                    assert [p for p, ok in privileges.items() if ok] == ["SELECT"]
                else:
                    assert privileges == {"SELECT": True, "INSERT": True, "UPDATE": True, "DELETE": True,
                                          "TRUNCATE": False}, table  # fmt: skip
        for table, closes in PROTECTED[service].items():
            assert "permission denied" in _refused(d.ctx.engine, f"DELETE FROM {table}")
            assert "permission denied" in _refused(d.ctx.engine, f"TRUNCATE {table}")
            other = next(c for c in _columns(d.owner, table) if c not in closes)
            assert "permission denied" in _refused(d.ctx.engine, f"UPDATE {table} SET {other} = {other}")
        # The owner has every privilege, and the triggers still refuse it (TRUNCATE fires even on no rows).
        for table in PROTECTED[service]:
            assert "append-only" in _refused(d.owner, f"TRUNCATE {table} CASCADE")
    finally:
        d.close()


def _columns(engine: Engine, table: str) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT column_name FROM information_schema.columns WHERE table_name = :t ORDER BY ordinal_position"
        ), {"t": table}).scalars())  # fmt: skip


# The services' own use-case tests, run as the application role: the normal flows still work.
def _flows() -> list[Any]:
    import importlib

    modules = {
        "procurement": ["test_receipts", "test_purchasing_and_quality", "test_requisition_flow"],
        "prescription_review": ["test_review_use_cases", "test_review_resubmission"],
        "formulary": ["test_formulary_use_cases"],
        "dispatch": ["test_dispatch_use_cases"],
    }
    out = []
    for service, names in modules.items():
        found = []
        for name in names:
            module = importlib.import_module(f"tests.service.{service}.{name}")
            for fname, fn in sorted(vars(module).items()):
                if fname.startswith("test_") and callable(fn) and list(inspect.signature(fn).parameters) == ["service_ctx"]:
                    found.append(pytest.param(service, fn, id=f"{service}-{fname}"))
        # Every third flow of each service (at least one per module's share): each needs a freshly
        # migrated database, and all 64 took ~6 min; the full set runs in tests/service as the owner.
        out.extend(found[::3])
    return out


def _prepare(service: str) -> Callable[[ServiceContext], None]:
    """What each service's conftest does to a fresh context before its tests."""
    if service == "procurement":
        from tests.service.procurement.procurement_support import load_reference

        return load_reference
    if service == "prescription_review":
        from tests.service.prescription_review.review_support import load_reference as review_reference

        return review_reference
    if service == "dispatch":
        from tests.service.dispatch.dispatch_support import load_county

        return load_county
    return lambda ctx: None


@pytest.mark.parametrize(("service", "flow"), _flows())
def test_normal_flows_work_as_the_app_role_and_leave_rows_nobody_can_change(
    roles: Roles, service: str, flow: Callable[[ServiceContext], None]
) -> None:
    d = deploy(roles, SPECS[service])
    try:
        _prepare(service)(d.ctx)
        flow(d.ctx)
        for table, closes in PROTECTED[service].items():
            with d.owner.connect() as conn:
                rows = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            if not rows:
                continue
            # Not even the owner (who has every privilege) can change or remove what the flow wrote.
            other = next(c for c in _columns(d.owner, table) if c not in closes)
            assert "append-only" in _refused(d.owner, f"UPDATE {table} SET {other} = {other}")
            assert "append-only" in _refused(d.owner, f"DELETE FROM {table}")
    finally:
        d.close()


def test_a_receipt_is_paid_once_a_draft_decided_once(roles: Roles) -> None:
    from services.procurement.model import commands as c
    from services.procurement.service import receiving
    from shared.errors import Conflict
    from tests.service.procurement.procurement_support import MANAGER, load_reference, stock_central, today

    d = deploy(roles, PROCUREMENT)
    try:
        load_reference(d.ctx)
        rid = stock_central(d.ctx)
        assert receiving.record_payment(d.ctx, MANAGER, c.RecordPayment(rid, today()))["paid_on"] == today()
        with pytest.raises(Conflict):  # the API answers 409; the recorded day stays
            receiving.record_payment(d.ctx, MANAGER, c.RecordPayment(rid, today()))
        # The app role holds UPDATE (paid_on) for that one closing update; a second one is refused.
        assert "append-only" in _refused(d.ctx.engine, f"UPDATE receipts SET paid_on = paid_on - 1 WHERE id = '{rid}'")
        assert "permission denied" in _refused(d.ctx.engine, f"UPDATE receipts SET total = 0 WHERE id = '{rid}'")
    finally:
        d.close()


def test_the_app_role_named_by_the_environment_is_granted_and_a_missing_one_fails_the_migration(
    roles: Roles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kubernetes names the role (<SERVICE>_DATABASE_APP_ROLE): the migration Job fails, and is
    retried, while the role does not exist yet, rather than leave the service without grants."""
    monkeypatch.setenv("DISPATCH_DATABASE_APP_ROLE", f"{roles.owner}_nobody")
    owner_url, _ = roles.database("dispatch")
    owner = make_engine(owner_url)
    try:
        with pytest.raises(ValueError, match=f"no database role '{roles.owner}_nobody'"):
            upgrade(DISPATCH.migrations, owner)
        monkeypatch.setenv("DISPATCH_DATABASE_APP_ROLE", roles.app)
        upgrade(DISPATCH.migrations, owner)
        with owner.connect() as conn:
            granted = conn.execute(text(
                "SELECT privilege_type FROM information_schema.role_table_grants "
                "WHERE grantee = :r AND table_name = 'stop_completions' ORDER BY 1"), {"r": roles.app}).scalars()
            assert list(granted) == ["INSERT", "SELECT"]
    finally:
        owner.dispose()


# --- the API: every mutating route, on a hub that has run a working day ---------------------------

_UPDATE = re.compile(r"^\s*UPDATE\s+\"?(\w+)\"?\s+SET\s+(.*?)(?:\s+WHERE\s|\s+RETURNING\s|$)", re.I | re.S)
_DELETE = re.compile(r"^\s*(?:DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)\s+\"?(\w+)", re.I)


def _snapshot(ctx: ServiceContext, service: str) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    with ctx.engine.connect() as conn:
        out = {}
        for table in PROTECTED[service]:
            result = conn.execute(text(f'SELECT * FROM "{table}"'))
            out[table] = (list(result.keys()), [tuple(r) for r in result])
        return out


def test_no_api_route_changes_or_removes_an_audit_row(tmp_path: Path) -> None:
    """Every POST/PUT/PATCH/DELETE route of the four services, called on ids that exist (with an
    empty body, and the closing ones twice with a valid one): no 5xx, no UPDATE/DELETE statement
    on an audit table but a closing update, and every audit row written before is still there,
    unchanged but for a closing update's columns."""
    from sqlalchemy import event

    from shared.clock import LOCAL_TZ, utcnow
    from tests.e2e.fuzz_support import seeded_hub

    with seeded_hub(tmp_path) as fh:
        running = fh.hub.services
        before = {name: _snapshot(svc.ctx, name) for name, svc in running.items()}
        assert before["procurement"]["receipts"][1] and before["prescription_review"]["audit_events"][1]
        assert before["formulary"]["catalogue_versions"][1]  # (a stop is confirmed only while today's routes last)
        statements: list[tuple[str, str]] = []

        def recorder(name: str) -> Callable[..., None]:
            def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
                statements.append((name, statement))
            return record

        listeners = [(svc.ctx.engine, recorder(name)) for name, svc in running.items()]
        for engine, fn in listeners:
            event.listen(engine, "before_cursor_execute", fn)
        answers: list[tuple[str, str, int]] = []
        try:
            for name, svc in running.items():
                client = svc.app.test_client()
                for rule in svc.app.url_map.iter_rules():
                    for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}):
                        ids = {arg: (fh.ids[name].get(arg) or ["x"])[0] for arg in rule.arguments}
                        path = rule.rule
                        for arg, value in ids.items():
                            path = re.sub(rf"<(?:\w+:)?{arg}>", str(value), path)
                        reply = client.open(path, method=method, json={}, headers=fh.bearer(name, method, rule.rule))
                        answers.append((name, f"{method} {path}", reply.status_code))
            # The closing updates, each twice: the second is refused (409) and changes nothing.
            today = utcnow().astimezone(LOCAL_TZ).date().isoformat()
            procurement = running["procurement"].app.test_client()
            receipt = fh.ids["procurement"]["receipt_id"][0]
            pay = f"/api/v1/receipts/{receipt}/payment"
            headers = fh.bearer("procurement", "POST", "/api/v1/receipts/<receipt_id>/payment")
            first = procurement.post(pay, json={"paid_on": today}, headers=headers).status_code
            assert procurement.post(pay, json={"paid_on": today}, headers=headers).status_code == 409
            assert first in (200, 409)  # 409: the working day had paid it already
            review = running["prescription_review"].app.test_client()
            decided = next(r for r in fh.ids["prescription_review"]["review_id"]
                           if review.get(f"/api/v1/reviews/{r}", headers=fh.bearer("prescription_review", "GET",
                                         "/api/v1/reviews/<review_id>")).get_json()["status"] in ("approved", "passed"))  # fmt: skip
            again = review.post(f"/api/v1/reviews/{decided}/decision", json={"decision": "reject", "reason_code": "DOSE"},
                                headers=fh.bearer("prescription_review", "POST", "/api/v1/reviews/<review_id>/decision"))
            assert again.status_code == 409, again.get_json()
        finally:
            for engine, fn in listeners:
                event.remove(engine, "before_cursor_execute", fn)
        after = {name: _snapshot(svc.ctx, name) for name, svc in running.items()}

    assert not [a for a in answers if a[2] >= 500], [a for a in answers if a[2] >= 500]
    assert len(answers) > 40, "every mutating route was called"
    assert any(_UPDATE.match(s) for _, s in statements), "the recorder saw the routes' statements"
    for name, statement in statements:
        if (m := _DELETE.match(statement)) and m.group(1) in PROTECTED[name]:
            raise AssertionError(f"{name}: {statement}")
        if (m := _UPDATE.match(statement)) and m.group(1) in PROTECTED[name]:
            assigned = set(re.findall(r"\"?(\w+)\"?\s*=", m.group(2)))
            assert assigned <= set(PROTECTED[name][m.group(1)]), f"{name}: {statement}"
    for name in PROTECTED:
        for table, closes in PROTECTED[name].items():
            columns, old = before[name][table]
            _, new = after[name][table]
            keep = [i for i, c in enumerate(columns) if c not in closes]
            guard = columns.index(closes[0]) if closes else None
            closed_then = [r for r in old if guard is not None and r[guard] is not None]
            assert all(r in new for r in closed_then), f"{name}.{table}: a closed row changed"
            project = [tuple(r[i] for i in keep) for r in new]
            assert all(tuple(r[i] for i in keep) in project for r in old), f"{name}.{table}: a row changed or went"
