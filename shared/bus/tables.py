"""The outbox and inbox tables, added to every service's own metadata."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    text,
)

from shared.db import UtcDateTime

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a bigint identity.
_ID = BigInteger().with_variant(Integer(), "sqlite")


def add_bus_tables(metadata: MetaData) -> tuple[Table, Table]:
    """Define outbox and inbox in a service's metadata and return them."""
    outbox = Table(
        "outbox",
        metadata,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("event_id", String(64), nullable=False, unique=True),
        Column("event_type", String(120), nullable=False),
        Column("envelope", Text, nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("sent_at", UtcDateTime(), nullable=True),
        Column("attempts", Integer, nullable=False, server_default=text("0")),
        Column("last_error", Text, nullable=True),
    )
    # The relay's only query: unsent rows in order. A partial index keeps it small on PostgreSQL.
    Index(
        "ix_outbox_unsent",
        outbox.c.id,
        postgresql_where=outbox.c.sent_at.is_(None),
        sqlite_where=outbox.c.sent_at.is_(None),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer", String(80), nullable=False),
        Column("event_id", String(64), nullable=False),
        Column("event_type", String(120), nullable=False),
        Column("received_at", UtcDateTime(), nullable=False),
        PrimaryKeyConstraint("consumer", "event_id"),
    )
    return outbox, inbox


def bus_tables(metadata: MetaData) -> tuple[Table, Table]:
    """The outbox and inbox tables of a metadata that already has them."""
    return metadata.tables["outbox"], metadata.tables["inbox"]
