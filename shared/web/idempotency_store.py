"""The remembered Idempotency-Key responses: their table and every statement on it (idempotency.py's store)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Integer, MetaData, Row, String, Table, Text, insert, select
from sqlalchemy.orm import Session

from shared.db import UtcDateTime


def add_idempotency_table(metadata: MetaData) -> Table:
    """The remembered responses, keyed by the caller and their key."""
    return Table(
        "idempotency_keys",
        metadata,
        Column("principal", String(120), primary_key=True),
        Column("key", String(200), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("status", Integer, nullable=False),
        Column("body", Text, nullable=False),
        Column("location", String(500), nullable=True),
        Column("etag", String(200), nullable=True),
        Column("created_at", UtcDateTime(), nullable=False),
    )


def remembered_response(session: Session, table: Table, caller: str, key: str) -> Row[Any] | None:
    """The response stored for (`caller`, `key`), or None: fingerprint, status, body, location, etag."""
    return session.execute(select(table).where(table.c.principal == caller, table.c.key == key)).first()


def remember_response(session: Session, table: Table, **values: Any) -> None:
    """Store a first answer (principal, key, fingerprint, status, body, location, etag, created_at);
    raises IntegrityError when a concurrent twin stored it first."""
    session.execute(insert(table).values(**values))
