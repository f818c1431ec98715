"""shared.db.lock_for_update on both backends: concurrent claimants never take the same row."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Column, Integer, String, Table, select, update

from shared.db import NotAWriteTransaction, lock_for_update, new_metadata, read_only, unit_of_work
from shared.runtime import ServiceContext
from tests.support.backends import Backend

metadata = new_metadata()
jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("status", String(12), nullable=False),
    Column("owner", String(20), nullable=True),
)


@pytest.fixture
def ctx(backend: Backend) -> ServiceContext:
    context = backend.tables("locking", metadata)
    with unit_of_work(context.factory) as session:
        session.execute(jobs.insert(), [{"id": i, "status": "queued"} for i in range(1, 41)])
    return context


def claim(ctx: ServiceContext, owner: str, hold_s: float = 0.0) -> int | None:
    """The claim-a-job use case: the oldest queued job becomes ours, or None."""
    with unit_of_work(ctx.factory) as session:
        query = select(jobs.c.id).where(jobs.c.status == "queued").order_by(jobs.c.id).limit(1)
        job_id = session.execute(lock_for_update(query, session, skip_locked=True)).scalar_one_or_none()
        if job_id is None:
            return None
        time.sleep(hold_s)  # widen the window in which a second claimant could see the same row
        session.execute(update(jobs).where(jobs.c.id == job_id).values(status="taken", owner=owner))
        return int(job_id)


def test_concurrent_claimants_each_get_a_different_job_and_every_job_is_taken_once(ctx: ServiceContext) -> None:
    claimed: dict[str, list[int]] = {f"w{i}": [] for i in range(4)}
    errors: list[BaseException] = []

    def work(owner: str) -> None:
        try:
            while (job := claim(ctx, owner, hold_s=0.002)) is not None:
                claimed[owner].append(job)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(owner,)) for owner in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    every = [job for jobs_of in claimed.values() for job in jobs_of]
    assert sorted(every) == list(range(1, 41)), "a job was claimed twice or never"
    with read_only(ctx.factory) as session:
        owners = dict(session.execute(select(jobs.c.id, jobs.c.owner)).tuples().all())
    assert all(owners[job] == owner for owner, taken in claimed.items() for job in taken)


def test_skip_locked_passes_over_a_held_row_on_postgres_and_waits_on_sqlite(ctx: ServiceContext) -> None:
    holding, release = threading.Event(), threading.Event()
    first: list[int | None] = []

    def hold() -> None:
        with unit_of_work(ctx.factory) as session:
            query = select(jobs.c.id).where(jobs.c.status == "queued").order_by(jobs.c.id).limit(1)
            first.append(session.execute(lock_for_update(query, session, skip_locked=True)).scalar_one_or_none())
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    assert holding.wait(10)
    got: list[int | None] = []
    claimant = threading.Thread(target=lambda: got.append(claim(ctx, "other")))
    claimant.start()
    if ctx.engine.dialect.name == "postgresql":
        claimant.join(20)
        assert got == [2]  # job 1 is held: skipped, not waited for
        release.set()
    else:
        claimant.join(0.5)
        assert got == []  # SQLite: the whole database is the lock; the claimant queues behind it
        release.set()
        claimant.join(20)
        assert got == [1]  # the holder changed nothing, so job 1 is still the oldest queued
    thread.join(10)
    assert first == [1]


def test_a_second_writer_waits_for_the_first_and_then_sees_its_commit(ctx: ServiceContext) -> None:
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with unit_of_work(ctx.factory) as session:
            query = select(jobs.c.id).where(jobs.c.id == 1)
            session.execute(lock_for_update(query, session))
            session.execute(update(jobs).where(jobs.c.id == 1).values(status="taken", owner="first"))
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    assert holding.wait(10)
    got: list[str | None] = []

    def second() -> None:
        with unit_of_work(ctx.factory) as session:
            query = select(jobs.c.owner).where(jobs.c.id == 1)
            got.append(session.execute(lock_for_update(query, session)).scalar_one())

    waiter = threading.Thread(target=second)
    waiter.start()
    time.sleep(0.3)
    assert got == [], "the second writer read the row while the first still held it"
    release.set()
    thread.join(10)
    waiter.join(10)
    assert got == ["first"]


def test_reads_do_not_wait_for_a_writer(ctx: ServiceContext) -> None:
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with unit_of_work(ctx.factory) as session:
            session.execute(update(jobs).where(jobs.c.id == 1).values(owner="writer"))
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    assert holding.wait(10)
    try:
        with read_only(ctx.factory) as session:
            owner = session.execute(select(jobs.c.owner).where(jobs.c.id == 1)).scalar_one()
        still_writing = thread.is_alive()  # had the read waited, the writer would have given up by now
    finally:
        release.set()
        thread.join(10)
    assert owner is None  # the uncommitted write is invisible
    assert still_writing, "the read waited until the writer finished"


def test_lock_for_update_refuses_a_read_only_transaction_on_sqlite(ctx: ServiceContext) -> None:
    query = select(jobs.c.id).limit(1)
    with read_only(ctx.factory) as session:
        if ctx.engine.dialect.name == "sqlite":
            with pytest.raises(NotAWriteTransaction):
                lock_for_update(query, session)
        else:
            assert "FOR UPDATE" in str(lock_for_update(query, session).compile(ctx.engine))


def test_a_lock_wait_that_times_out_is_recognised_as_such(ctx: ServiceContext) -> None:
    """is_lock_timeout (the web layer's 503) knows each backend's "the lock stayed busy" error."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from shared.db import is_lock_timeout

    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with unit_of_work(ctx.factory) as session:
            session.execute(lock_for_update(select(jobs.c.id).where(jobs.c.id == 1), session))
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    assert holding.wait(10)
    caught: list[BaseException] = []
    try:
        with ctx.engine.connect() as conn:
            if ctx.engine.dialect.name == "postgresql":
                conn.execute(text("SET lock_timeout = '200ms'"))
                statement = lock_for_update(select(jobs.c.id).where(jobs.c.id == 1), conn)
            else:
                conn.exec_driver_sql("PRAGMA busy_timeout=200")
                statement = update(jobs).where(jobs.c.id == 2).values(owner="late")  # type: ignore[assignment]
            try:
                conn.execute(statement)
                conn.commit()
            except DBAPIError as exc:
                caught.append(exc)
    finally:
        release.set()
        thread.join(10)
    assert caught and is_lock_timeout(caught[0]), caught
