"""SQLAlchemy engines and the unit of work: one database per service."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, DateTime, Engine, MetaData, Select, TypeDecorator, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from shared.clock import as_utc

_T = TypeVar("_T", bound=Any)

# Stable constraint names so Alembic migrations work the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp that comes back aware on SQLite too (it stores no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Store UTC."""
        return as_utc(value) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Read back as aware UTC."""
        return as_utc(value) if value is not None else None


def new_metadata() -> MetaData:
    """A MetaData with the project's naming convention."""
    return MetaData(naming_convention=NAMING)


WRITE_OPTION = "countyhub_write"  # execution option marking a connection's transaction as a write


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers never wait on the writer and the writer never waits on readers.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # A writer waits this long for the write lock before SQLite gives up ("database is locked").
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    # FULL: a commit is on disk before it returns, so a power cut loses no committed event or inbox row.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


SQLITE_BUSY_TIMEOUT_MS = 15000


def _sqlite_begin(conn: Connection) -> None:
    # Writes take the write lock up front (BEGIN IMMEDIATE), so writers queue on the busy timeout
    # instead of failing mid-transaction when a deferred transaction cannot upgrade its snapshot.
    # Reads begin DEFERRED: in WAL mode they never take, or wait for, the write lock.
    write = bool(conn.get_execution_options().get(WRITE_OPTION))
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for a service database; SQLite gets WAL and foreign keys, PostgreSQL a pre-ping pool."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("sqlite"):
        timeout_s = SQLITE_BUSY_TIMEOUT_MS / 1000
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": timeout_s}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; take control so the BEGIN is ours.
        event.listen(engine, "begin", _sqlite_begin)

        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 5)
    return create_engine(url, **kwargs)


class HubSession(Session):
    """A Session whose explicit ``begin()`` opens a write transaction.

    ``with factory.begin()`` / ``with session.begin()`` (and so ``unit_of_work``) is a unit of
    work: on SQLite it starts with BEGIN IMMEDIATE. A session that only reads (autobegin, as in
    ``with factory() as session: session.execute(select(...))``) starts a deferred transaction that
    never takes or waits for the write lock.
    """

    def begin(self, nested: bool = False) -> SessionTransaction:
        """Begin a write transaction (or a savepoint when nested)."""
        transaction = super().begin(nested=nested)
        if not nested:
            self.connection(execution_options={WRITE_OPTION: True})
        return transaction


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (handlers return them)."""
    return sessionmaker(bind=engine, class_=HubSession, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One write transaction: the domain change and its outbox rows commit together or not at all."""
    session = factory()
    try:
        with session.begin():
            yield session
    finally:
        session.close()


@contextmanager
def read_only(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A read-only session: never takes SQLite's write lock (WAL snapshot), rolled back at the end."""
    session = factory()
    try:
        yield session
    finally:
        session.close()


def is_postgres(bind: Engine | Connection | Session) -> bool:
    """True when the engine, connection or session talks to PostgreSQL (row locks, SKIP LOCKED)."""
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    return engine.dialect.name == "postgresql"


class NotAWriteTransaction(RuntimeError):
    """lock_for_update was called outside a write transaction on SQLite (a programming error)."""


def lock_for_update(query: Select[_T], bind: Session | Connection, *, skip_locked: bool = False) -> Select[_T]:
    """The query, locking the rows it selects until the transaction ends.

    PostgreSQL: ``SELECT ... FOR UPDATE`` (``SKIP LOCKED`` when asked: rows another transaction
    holds are passed over instead of waited for, so several workers each claim a different row).
    SQLite has no row locks; its equivalent is the whole-database write lock, which every write
    transaction (``unit_of_work``, ``session.begin()``) takes at BEGIN IMMEDIATE. Rows read inside
    such a transaction cannot change until it ends, and a second claimant waits and then sees the
    first one's commit, which is what SKIP LOCKED guarantees too. Raises NotAWriteTransaction on
    SQLite when called in a read-only (deferred) transaction, where that promise would not hold.
    """
    connection = bind.connection() if isinstance(bind, Session) else bind
    if connection.dialect.name == "postgresql":
        return query.with_for_update(skip_locked=skip_locked)
    if connection.dialect.name == "sqlite" and not connection.get_execution_options().get(WRITE_OPTION):
        raise NotAWriteTransaction("lock_for_update needs a write transaction (unit_of_work / session.begin())")
    return query


def is_lock_timeout(exc: BaseException) -> bool:
    """True for a database error that means "the lock stayed busy": retrying later will work.

    SQLite: "database is locked" / "database table is locked" after the busy timeout.
    PostgreSQL: lock_timeout (55P03), deadlock (40P01) or serialization failure (40001).
    """
    if not isinstance(exc, DBAPIError):
        return False
    message = str(exc.orig).lower()
    if "database is locked" in message or "database table is locked" in message:
        return True
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code in {"55P03", "40P01", "40001"}


# PostgreSQL SQLSTATEs that mean "the server cannot serve this connection now" (class 08:
# connection exception; 57P01-57P03: admin shutdown, crash shutdown, cannot connect now), from
# https://www.postgresql.org/docs/current/errcodes-appendix.html
_UNAVAILABLE_STATES = ("08", "57P01", "57P02", "57P03")


def is_database_unavailable(exc: BaseException) -> bool:
    """True for a database error that means "the server is down or restarting": retrying later will work.

    A connection the pool found dead (SQLAlchemy's `connection_invalidated`), a PostgreSQL
    connection failure or shutdown (SQLSTATE class 08, 57P01-57P03), or a psycopg
    OperationalError without a SQLSTATE (connection refused while the server is down).
    """
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    code = getattr(exc.orig, "sqlstate", None)
    if code:
        return str(code).startswith(_UNAVAILABLE_STATES)
    return type(exc.orig).__module__.startswith("psycopg") and type(exc.orig).__name__ == "OperationalError"
