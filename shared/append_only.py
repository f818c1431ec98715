"""Append-only audit trails, enforced by the database itself (issue 13, "Data that must not change").

Two layers, both kept by Alembic migrations and `countyhub migrate`:

1. Triggers (PostgreSQL and SQLite), created by `protect(op, table)` in a service's migration:
   every DELETE, every TRUNCATE (PostgreSQL) and every UPDATE of a protected row is refused with
   an error naming the table. `protect(op, table, closes=("paid_on",))` allows exactly one
   UPDATE per row: the one that fills the first named column (NULL before, not NULL after) and
   changes nothing but the named columns — a receipt's payment day, a draft's committee decision.
   Triggers bind every role, the table's owner and superusers included (only the owner can
   disable them, by an explicit ALTER TABLE ... DISABLE TRIGGER).
   PostgreSQL: one function, `hub_append_only()`, with the allowed columns as trigger arguments;
   the row trigger is `<table>_append_only`, the statement trigger `<table>_no_truncate`.
   SQLite: `<table>_no_update` and `<table>_no_delete` with RAISE(ABORT, ...). Note: an Alembic
   batch operation on SQLite rebuilds a table without its triggers; a migration that alters a
   protected table with batch_alter_table must call `protect` again afterwards.

2. Privileges (PostgreSQL only), applied by `grant_app_role(connection, role)` after every
   upgrade: migrations run as the database owner, the service connects as an application role
   that may SELECT/INSERT/UPDATE/DELETE the ordinary tables, only SELECT the Alembic version
   table, and on every protected table only SELECT and INSERT (plus UPDATE of the columns named
   in `closes`); no TRUNCATE anywhere. The protected tables are read from the triggers
   themselves (pg_trigger), so the policy lives in one place: the migrations.

Which role: `<SERVICE>_DATABASE_APP_ROLE`, else `DATABASE_APP_ROLE`, else `<owner>_app` when a
role of that name exists (the owner being the role the migration connects as); none of these:
no grants are made (the embedded default, tests that connect as the owner).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, text

FUNCTION = "hub_append_only"

_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND TG_NARGS > 0 THEN
    IF (to_jsonb(OLD) ->> TG_ARGV[0]) IS NULL AND (to_jsonb(NEW) ->> TG_ARGV[0]) IS NOT NULL
       AND (to_jsonb(NEW) - TG_ARGV) = (to_jsonb(OLD) - TG_ARGV) THEN
      RETURN NEW;
    END IF;
  END IF;
  RAISE EXCEPTION '% on %: an append-only audit trail', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$
"""


def _quote(op: Any, name: str) -> str:
    return str(op.get_bind().dialect.identifier_preparer.quote(name))


def protect(op: Any, table: str, *, closes: Sequence[str] = ()) -> None:
    """Refuse UPDATE (but for the one closing update of `closes`), DELETE and TRUNCATE on `table`.

    op: alembic.op inside a migration. closes: (guard column, other columns the closing update may
    set); the guard is NULL until that update and never again after it.
    """
    bind = op.get_bind()
    q = _quote(op, table)
    if bind.dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        args = ", ".join("'" + c.replace("'", "''") + "'" for c in closes)
        op.execute(f"DROP TRIGGER IF EXISTS {_quote(op, table + '_append_only')} ON {q}")
        op.execute(f"DROP TRIGGER IF EXISTS {_quote(op, table + '_no_truncate')} ON {q}")
        op.execute(f"CREATE TRIGGER {_quote(op, table + '_append_only')} BEFORE UPDATE OR DELETE ON {q} "
                   f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}({args})")
        op.execute(f"CREATE TRIGGER {_quote(op, table + '_no_truncate')} BEFORE TRUNCATE ON {q} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()")
        return
    message = f"{table} is an append-only audit trail".replace("'", "''")
    when = ""
    if closes:
        from sqlalchemy import inspect

        columns = [c["name"] for c in inspect(bind).get_columns(table)]
        guard = _quote(op, closes[0])
        same = [f"NEW.{_quote(op, c)} IS OLD.{_quote(op, c)}" for c in columns if c not in closes]
        allowed = " AND ".join([f"OLD.{guard} IS NULL", f"NEW.{guard} IS NOT NULL", *same])
        when = f" WHEN NOT ({allowed})"
    for verb, extra in (("update", when), ("delete", "")):
        op.execute(f"DROP TRIGGER IF EXISTS {_quote(op, f'{table}_no_{verb}')}")
        op.execute(f"CREATE TRIGGER {_quote(op, f'{table}_no_{verb}')} BEFORE {verb.upper()} ON {q}{extra} "
                   f"BEGIN SELECT RAISE(ABORT, '{message}'); END")


def unprotect(op: Any, table: str) -> None:
    """The downgrade of protect (the shared function stays; it is harmless and others use it)."""
    q = _quote(op, table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {_quote(op, table + '_append_only')} ON {q}")
        op.execute(f"DROP TRIGGER IF EXISTS {_quote(op, table + '_no_truncate')} ON {q}")
        return
    for verb in ("update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {_quote(op, f'{table}_no_{verb}')}")


def protected_tables(connection: Connection) -> dict[str, tuple[str, ...]]:
    """PostgreSQL: protected table -> the columns its closing update may set (from pg_trigger)."""
    rows = connection.execute(text(
        "SELECT c.relname, t.tgnargs, t.tgargs FROM pg_trigger t "
        "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE p.proname = :fn AND n.nspname = current_schema() AND NOT t.tgisinternal "
        "AND (t.tgtype & 1) = 1"  # row-level: the UPDATE/DELETE trigger carries the arguments
    ), {"fn": FUNCTION})  # fmt: skip
    out: dict[str, tuple[str, ...]] = {}
    for name, nargs, raw in rows:
        data = bytes(raw) if raw is not None else b""
        args = tuple(a.decode() for a in data.split(b"\x00")[: int(nargs)])
        out[str(name)] = args
    return out


def app_role(connection: Connection, service: str) -> str | None:
    """The application role to grant to, or None (see the module docstring for the rules)."""
    named = os.environ.get(f"{service.upper()}_DATABASE_APP_ROLE") or os.environ.get("DATABASE_APP_ROLE")
    if named:
        return named.strip()
    guess = f"{connection.execute(text('SELECT current_user')).scalar_one()}_app"
    found = connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": guess}).first()
    return guess if found else None


def grant_app_role(connection: Connection, role: str) -> list[str]:
    """PostgreSQL: make `role`'s privileges on the current schema match the policy; returns the
    statements run. Idempotent: run after every upgrade, it also covers tables added since."""
    prep = connection.dialect.identifier_preparer
    r = prep.quote(role)
    if connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first() is None:
        raise ValueError(f"no database role {role!r}: create it (LOGIN, no other rights) before migrating")
    schema = prep.quote(str(connection.execute(text("SELECT current_schema()")).scalar_one()))
    tables = [str(t) for t in connection.execute(text(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")).scalars()]
    protected = protected_tables(connection)
    statements = [f"GRANT USAGE ON SCHEMA {schema} TO {r}"]
    for table in tables:
        q = prep.quote(table)
        statements.append(f"REVOKE ALL ON {q} FROM {r}")
        if table == "alembic_version":
            statements.append(f"GRANT SELECT ON {q} TO {r}")
        elif table in protected:
            statements.append(f"GRANT SELECT, INSERT ON {q} TO {r}")
            if protected[table]:
                columns = ", ".join(prep.quote(c) for c in protected[table])
                statements.append(f"GRANT UPDATE ({columns}) ON {q} TO {r}")
        else:
            statements.append(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {q} TO {r}")
    statements.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {r}")
    for statement in statements:
        connection.execute(text(statement))
    return statements
