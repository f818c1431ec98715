"""Which database errors mean "the database is down or restarting" (a 503, shared/db.is_database_unavailable).

Each error is produced for real: a refused connection (nothing listens on the port), a backend
terminated by the server (SQLSTATE 57P01, what `pg_ctl stop -m fast` does to every session), a
statement the server rejects, a lock timeout, and SQLite's own errors; only the first two are
"unavailable". test_server_faults.py checks the APIs' 503 answers while the private PostgreSQL is
really down.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from shared.db import is_database_unavailable, is_lock_timeout
from tests.support.servers import PrivateServers, free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def error_of(url: str, *statements: str) -> DBAPIError:
    """The DBAPIError the last statement raises."""
    engine = create_engine(url)
    try:
        with pytest.raises(DBAPIError) as caught, engine.connect() as conn:
            for sql in statements:
                conn.execute(text(sql))
        return caught.value
    finally:
        engine.dispose()


def test_a_refused_connection_is_unavailable() -> None:
    exc = error_of(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres?connect_timeout=5", "SELECT 1")
    assert is_database_unavailable(exc)
    assert not is_lock_timeout(exc)


def test_a_backend_terminated_by_the_server_is_unavailable(private: PrivateServers) -> None:
    engine = create_engine(private.postgres.url(), pool_pre_ping=False)
    admin = create_engine(private.postgres.url(), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with admin.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            with pytest.raises(DBAPIError) as caught:
                conn.execute(text("SELECT 1"))
        assert is_database_unavailable(caught.value)
        assert getattr(caught.value.orig, "sqlstate", None) == "57P01" or caught.value.connection_invalidated
    finally:
        engine.dispose()
        admin.dispose()


def test_errors_of_a_working_database_are_not_unavailable(private: PrivateServers, tmp_path: Path) -> None:
    url = private.postgres.url()
    rejected = error_of(url, "SELECT * FROM no_such_table")
    assert not is_database_unavailable(rejected)
    timed_out = error_of(url, "SET lock_timeout = '10ms'", "CREATE TEMP TABLE t (i int)", "SELECT pg_sleep(0)",
                         "DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '55P03'; END $$")
    assert is_lock_timeout(timed_out) and not is_database_unavailable(timed_out)
    sqlite = error_of(f"sqlite:///{tmp_path / 'x.sqlite3'}", "SELECT * FROM no_such_table")
    assert not is_database_unavailable(sqlite)
    assert not is_database_unavailable(ValueError("not a database error"))
