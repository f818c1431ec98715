"""`countyhub dlq list` and `countyhub dlq replay` through the real console script (issue 13).

RabbitMQ: `countyhub consume --service procurement` runs as a process on its own vhost and
PostgreSQL database; its read model breaks (the table is renamed away), so an item event fails,
is retried and dead-lettered, next to a message that is not JSON. `dlq list` shows both (consumer,
event id, type, time, reason); the table comes back; `dlq replay` puts them back on the queue: the
item is applied, once, and the junk is dead-lettered again.

Embedded: `countyhub run` as a process on its own data directory; procurement's SQLite table is
renamed away while two items are approved over HTTP, so procurement dead-letters them (after
BUS_MAX_RETRIES) while dispatch and prescription review apply them. `dlq list` shows them for
procurement only; after the fix, `dlq replay` makes the running hub's relay offer them to
procurement again, and to nobody else (the others' rows are untouched).
"""

from __future__ import annotations

import os
import secrets
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from shared.bus.rabbit_admin import declare_topology
from shared.events.envelope import new_event
from shared.runtime import ServiceContext
from tests.faults.bus_faults_support import SOURCE, item_payload, private_vhost, rename_table, site_payload
from tests.support.backends import Backend
from tests.support.bus import Broker
from tests.support.hubprocess import HubProcess, csv_of
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
COUNTYHUB = str(ROOT / ".venv" / "bin" / "countyhub")
PUBLISHED = "formulary.item.published"


def countyhub(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the console script to completion (60 s at most)."""
    return subprocess.run([COUNTYHUB, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def listed(out: str) -> list[dict[str, str]]:
    """`dlq list`'s tab-separated lines under its header, as dicts."""
    header, *rows = out.splitlines()
    assert header.split("\t") == ["consumer", "event_id", "type", "dead_lettered_at", "reason"]
    return [dict(zip(header.split("\t"), row.split("\t"), strict=True)) for row in rows]


def _clean_env(**extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL") and k not in ("BROKER_URL", "HUB_DATA_DIR")}
    return {**keep, "LOG_LEVEL": "WARNING", **extra}


# --- RabbitMQ -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def broker() -> Iterator[Broker]:
    with private_vhost("countyhub_dlqcli") as made:
        declare_topology(made.url, quorum=True)
        yield made


@pytest.fixture(scope="module")
def procurement_db(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceContext]:
    from services.procurement.app import SPEC

    backend = Backend("postgresql", tmp_path_factory.mktemp("dlq-cli"))
    try:
        yield backend.context(SPEC, broker_url=broker.url)
    finally:
        backend.close()


def _consumers_on(broker: Broker, queue: str) -> int:
    with broker.channel() as ch:
        return int(ch.queue_declare(queue, passive=True).method.consumer_count)


def _rows(ctx: ServiceContext, table: str, column: str = "code") -> set[Any]:
    t = ctx.metadata.tables[table]
    with ctx.factory() as session:
        return set(session.execute(select(t.c[column])).scalars())


def test_dlq_list_and_replay_on_rabbitmq(broker: Broker, procurement_db: ServiceContext, tmp_path: Path) -> None:
    env = _clean_env(
        BROKER_URL=broker.url, PROCUREMENT_DATABASE_URL=procurement_db.settings.database_url,
        JWT_SECRET=secrets.token_urlsafe(48), BUS_MAX_RETRIES="1",
    )  # fmt: skip
    log = (tmp_path / "consumer.log").open("wb")
    consumer = subprocess.Popen([COUNTYHUB, "consume", "--service", "procurement"], cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        wait_until(lambda: consumer.poll() is None and _consumers_on(broker, "procurement.events") == 1, timeout=60,
                   what="countyhub consume on procurement.events")  # fmt: skip
        rename_table(procurement_db, "ref_items", "ref_items_away")
        item = new_event(PUBLISHED, item_payload("DQ000001", 1, 1), source=SOURCE)
        site = new_event("formulary.site.upserted", site_payload("VDQ00001", 1), source=SOURCE)
        broker.publish_raw(PUBLISHED, item.to_json().encode(), message_id=item.id)
        broker.publish_raw(PUBLISHED, b"\x00 not json", message_id="junk-1")
        broker.publish_raw(site.type, site.to_json().encode(), message_id=site.id)
        wait_until(lambda: broker.depth("procurement.dlq") == 2, timeout=30, what="the item retried, then dead-lettered")
        wait_until(lambda: "VDQ00001" in _rows(procurement_db, "ref_sites"), timeout=10, what="the consumer going on")

        out = countyhub(env, "dlq", "list", "--service", "procurement")
        assert out.returncode == 0, out.stderr
        letters = {row["event_id"]: row for row in listed(out.stdout)}
        assert set(letters) == {item.id, "-"}
        assert letters[item.id]["consumer"] == "procurement" and letters[item.id]["type"] == PUBLISHED
        assert "ref_items" in letters[item.id]["reason"] and letters[item.id]["dead_lettered_at"].endswith("Z")
        assert letters["-"]["reason"].startswith("invalid envelope: not JSON")
        assert broker.depth("procurement.dlq") == 2  # listing takes nothing away

        rename_table(procurement_db, "ref_items_away", "ref_items")
        out = countyhub(env, "dlq", "replay", "--service", "procurement")
        assert out.returncode == 0 and out.stdout.strip() == "procurement: replayed 2", (out.stdout, out.stderr)
        wait_until(lambda: "DQ000001" in _rows(procurement_db, "ref_items"), timeout=30, what="the replayed item applied")
        wait_until(lambda: broker.depth("procurement.dlq") == 1, timeout=30, what="the junk dead-lettered again")
        assert [e for e in _rows(procurement_db, "inbox", "event_id") if e == item.id] == [item.id]

        everyone = countyhub(env, "dlq", "list")  # no --service: every consuming service's queue
        assert everyone.returncode == 0, everyone.stderr
        assert [(r["consumer"], r["event_id"]) for r in listed(everyone.stdout)] == [("procurement", "-")]
    finally:
        consumer.send_signal(signal.SIGTERM)
        assert consumer.wait(30) == 0, (tmp_path / "consumer.log").read_text()[-3000:]


# --- embedded -------------------------------------------------------------------------------------


def _sqlite(path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path, timeout=15) as conn:
        return list(conn.execute(sql, params))


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubProcess]:
    made = HubProcess(tmp_path / "hub")
    made.data.mkdir()
    made.env.update(BUS_MAX_RETRIES="1", LOG_LEVEL="WARNING")
    try:
        yield made
    finally:
        if made.proc is not None and made.proc.poll() is None:
            made.proc.send_signal(signal.SIGTERM)
            made.proc.wait(30)


def _token(hub: HubProcess, role: str) -> str:
    from shared.auth import issue_token

    secret = (hub.data / "jwt_secret").read_text().strip()
    return issue_token(secret, role, subject=f"{role}-dlq", name=f"{role}-dlq")


def test_dlq_list_and_replay_on_the_embedded_hub(hub: HubProcess) -> None:
    hub.start()
    env = {**hub.env}
    procurement, dispatch = hub.data / "procurement.sqlite3", hub.data / "dispatch.sqlite3"
    _sqlite(procurement, "ALTER TABLE ref_items RENAME TO ref_items_away")
    codes = ["YP880001", "YP880002"]
    admin, manager = _token(hub, "formulary_admin"), _token(hub, "pharmacy_manager")
    status, report = hub.call("POST", f"{hub.url('formulary')}/api/v1/imports/items?confirm=true", admin, files=csv_of(codes))
    assert status == 200 and report["written"] == 2, report
    status, decided = hub.call("POST", f"{hub.url('formulary')}/api/v1/changes/approve", manager, {"batch_id": report["batch_id"]})
    assert status == 200, decided

    formulary = hub.data / "formulary.sqlite3"
    dead = "SELECT event_id FROM outbox WHERE sent_at IS NOT NULL AND last_error LIKE 'dead-lettered%'"
    wait_until(lambda: len(_sqlite(formulary, dead)) == 2, timeout=60, what="both items dead-lettered for procurement")
    in_dispatch = "SELECT code, updated_at FROM ref_items WHERE code IN (?, ?) ORDER BY code"
    applied_elsewhere = _sqlite(dispatch, in_dispatch, *codes)
    assert [c for c, _ in applied_elsewhere] == codes  # dispatch was not held back by procurement

    out = countyhub(env, "dlq", "list")  # every consumer: the two are procurement's, nobody else's
    assert out.returncode == 0, out.stderr
    letters = listed(out.stdout)
    dead_ids = sorted(e for (e,) in _sqlite(formulary, dead))
    assert len(letters) == 2 and {r["consumer"] for r in letters} == {"procurement"}
    assert {r["type"] for r in letters} == {PUBLISHED} and sorted(r["event_id"] for r in letters) == dead_ids
    assert all("no such table: ref_items" in r["reason"] and r["dead_lettered_at"] != "-" for r in letters)

    _sqlite(procurement, "ALTER TABLE ref_items_away RENAME TO ref_items")
    out = countyhub(env, "dlq", "replay", "--service", "procurement")
    assert out.returncode == 0 and out.stdout.splitlines()[0] == "procurement: replayed 2", (out.stdout, out.stderr)
    reader = _token(hub, "pharmacy_manager")

    def in_procurement() -> bool:
        return all(hub.call("GET", f"{hub.url('procurement')}/api/v1/reference/items/{c}", reader)[0] == 200 for c in codes)

    wait_until(in_procurement, timeout=30, what="the running hub's relay re-offering them to procurement")
    unsent = "SELECT count(*) FROM outbox WHERE sent_at IS NULL"
    wait_until(lambda: _sqlite(formulary, unsent) == [(0,)], timeout=30, what="the replayed rows marked sent")
    assert _sqlite(dispatch, in_dispatch, *codes) == applied_elsewhere  # offered to procurement alone
    taken = _sqlite(procurement, "SELECT event_id FROM inbox WHERE event_id IN (?, ?) ORDER BY event_id", *dead_ids)
    assert [e for (e,) in taken] == dead_ids  # applied, once each
    assert _sqlite(formulary, dead) == []  # nothing left to list
    marks = _sqlite(formulary, "SELECT last_error FROM outbox WHERE last_error IS NOT NULL")
    assert sorted(m for (m,) in marks) == ["replay for procurement"] * 2


def test_dlq_names_a_consuming_service(capsys: pytest.CaptureFixture[str]) -> None:
    from hub.cli import main

    assert main(["dlq", "list", "--service", "formulary"]) == 2  # formulary consumes nothing: say so, list nothing
    err = capsys.readouterr().err
    assert "formulary consumes no events" in err and "procurement" in err
