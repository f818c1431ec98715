"""A writer that waits out SQLite's busy timeout is a 503 with Retry-After, never a 500, and writes
nothing; reads go on answering while another writer holds the lock."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from shared import db
from shared.migrate import upgrade
from shared.runtime import ServiceContext, build_context
from tests.support.formulary import sample_item
from tests.support.web import bearer, make_settings, table_dump


@pytest.fixture
def busy_ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServiceContext]:
    from services.formulary.app import SPEC

    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 300)  # give up after 0.3 s instead of 15 s
    ctx = build_context(SPEC, make_settings("formulary", f"sqlite:///{tmp_path}/formulary.sqlite3"))
    upgrade(SPEC.migrations, ctx.engine)
    yield ctx
    ctx.engine.dispose()


def test_a_write_that_cannot_get_the_lock_is_a_503_and_reads_still_answer(busy_ctx: ServiceContext, tmp_path: Path) -> None:
    from services.formulary.app import SPEC

    client: FlaskClient = SPEC.create_app(busy_ctx).test_client()
    before = table_dump(busy_ctx)
    holder = sqlite3.connect(tmp_path / "formulary.sqlite3", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the database's write lock
    try:
        reply = client.post("/api/v1/items", json=sample_item("YP990001"), headers=bearer("formulary_admin"))
        assert reply.status_code == 503, reply.get_json()
        assert reply.mimetype == "application/problem+json" and reply.headers["Retry-After"] == "2"
        assert reply.get_json()["status"] == 503
        search = client.get("/api/v1/items?q=amxl", headers=bearer("pharmacist"))
        assert search.status_code == 200, search.get_json()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert table_dump(busy_ctx) == before
    again = client.post("/api/v1/items", json=sample_item("YP990001"), headers=bearer("formulary_admin"))
    assert again.status_code == 201, again.get_json()


def test_lock_timeouts_are_told_apart_from_other_database_errors() -> None:
    from sqlalchemy.exc import IntegrityError, OperationalError

    assert db.is_lock_timeout(OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked")))
    assert not db.is_lock_timeout(OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x")))
    assert not db.is_lock_timeout(IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed")))
    assert not db.is_lock_timeout(ValueError("database is locked"))
