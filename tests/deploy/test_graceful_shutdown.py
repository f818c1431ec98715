"""SIGTERM during a rolling update drops no request and loses no message.

Everything runs as production runs it, against the real PostgreSQL (own random databases) and
RabbitMQ (own random vhost): the formulary API under gunicorn with shared/gunicorn_conf.py and the
settings of its generated Deployment, `countyhub relay --service formulary` and
`countyhub consume --service procurement` as processes with their heartbeat files.

1. API: twelve clients propose catalogue items as fast as the API answers; mid-load the master
   gets SIGTERM. As in Kubernetes (the preStop sleep lets the Service drop the pod first), no new
   request is started after the signal; every request started before it must complete with 201
   and be in the database, and gunicorn must exit 0 within its graceful timeout.
2. The committee approves them all (API restarted); the relay publishes the outbox to RabbitMQ.
3. Consumer: SIGTERM as soon as it has handled the first events. It must exit 0 within
   SHUTDOWN_GRACE_S; every event must be either handled (in the inbox) or back in the queue,
   none dead-lettered; a restarted consumer then handles the rest, each event exactly once.
"""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.support.bus import Broker, create_database, drop_database
from tests.support.formulary import sample_item
from tests.support.processes import BIN, ROOT, base_env, countyhub, manifest_env, start_gunicorn, wait_for

pytestmark = pytest.mark.integration

CLIENTS = 12
LOAD_S = 3.0


@dataclass
class Outcome:
    """One client request: when it started and ended, and its status or the exception's name."""

    code: str
    started: float
    ended: float
    result: str


def scalar(url: str, sql: str) -> int:
    """One number from a database."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar_one())
    finally:
        engine.dispose()


def probe(*args: str, env: dict[str, str]) -> int:
    """Exit code of `python -m shared.heartbeat ...` (what the kubelet's exec probe runs)."""
    return subprocess.run([str(BIN / "python"), "-m", "shared.heartbeat", *args], cwd=ROOT, env=env,
                          capture_output=True, timeout=60).returncode


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A countyhub process in the background."""
    return subprocess.Popen([str(BIN / "countyhub"), *args], cwd=ROOT, env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes], within_s: float, log: Path) -> float:
    """SIGTERM; the exit must be 0 and within `within_s` seconds; returns how long it took."""
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(within_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"not stopped {within_s} s after SIGTERM:\n{log.read_text()[-3000:]}")
    assert code == 0, log.read_text()[-3000:]
    return time.monotonic() - began


@pytest.fixture
def databases() -> Iterator[dict[str, str]]:
    """Fresh formulary and procurement databases."""
    urls = {name: create_database(f"countyhub_deploy_{name[:4]}") for name in ("formulary", "procurement")}
    try:
        yield urls
    finally:
        for url in urls.values():
            drop_database(url)


def test_sigterm_mid_load_drops_no_request_and_loses_no_message(
    tmp_path: Path, databases: dict[str, str], vhost: Broker
) -> None:
    formulary_db, procurement_db = databases["formulary"], databases["procurement"]
    env = base_env(tmp_path, FORMULARY_DATABASE_URL=formulary_db, PROCUREMENT_DATABASE_URL=procurement_db,
                   BROKER_URL=vhost.url)
    countyhub("migrate", "--service", "formulary", "--service", "procurement", env=env)
    countyhub("topology", env=env)
    admin = countyhub("token", "--role", "formulary_admin", "--subject", "admin1", env=env).stdout.strip()
    manager = countyhub("token", "--role", "pharmacy_manager", "--subject", "pm1", env=env).stdout.strip()

    # 1. the API under load, SIGTERM mid-load -------------------------------------------------
    api = start_gunicorn("formulary", env, tmp_path)
    graceful_s = int(api.env["GUNICORN_GRACEFUL_TIMEOUT"])
    terminating = threading.Event()
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        i = 0
        while not terminating.is_set():
            code = f"YP{n:02d}{i:04d}"
            i += 1
            started = time.monotonic()
            conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=120)
            try:
                conn.request("POST", "/api/v1/items", body=json.dumps(sample_item(code)),
                             headers={"Authorization": f"Bearer {admin}", "Content-Type": "application/json",
                                      "Connection": "close"})
                response = conn.getresponse()
                response.read()
                result = str(response.status)
            except Exception as exc:  # noqa: BLE001 - every failure is recorded and judged below
                result = type(exc).__name__
            finally:
                conn.close()
            with lock:
                outcomes.append(Outcome(code, started, time.monotonic(), result))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(LOAD_S)
    terminating.set()  # the Service stops routing here (preStop) ...
    sigterm_at = time.monotonic()
    api.proc.send_signal(signal.SIGTERM)  # ... and the kubelet signals gunicorn
    for thread in threads:
        thread.join(graceful_s + 30)
    exit_code = api.proc.wait(graceful_s + 30)
    stopped_after = time.monotonic() - sigterm_at
    log = api.log.read_text()
    assert exit_code == 0, log[-3000:]
    assert stopped_after < graceful_s, f"gunicorn took {stopped_after:.1f} s"

    results = {o.result for o in outcomes}
    assert results == {"201"}, f"dropped or failed requests: { {r: sum(o.result == r for o in outcomes) for r in results} }"
    in_flight = [o for o in outcomes if o.started < sigterm_at < o.ended]
    assert in_flight, "no request was in flight at SIGTERM: the test proved nothing"
    created = {o.code for o in outcomes}
    assert len(created) >= 20
    drafts = scalar(formulary_db, "SELECT count(*) FROM changes WHERE status = 'draft'")
    assert drafts == len(created), "every acknowledged request is in the database, nothing else"

    # 2. approve everything; the relay publishes ------------------------------------------------
    api = start_gunicorn("formulary", env, tmp_path)
    try:
        status, body = api.request("GET", "/api/v1/changes?status=draft&limit=5000",
                                   headers={"Authorization": f"Bearer {manager}"})
        assert status == 200, body
        ids = [c["id"] for c in json.loads(body)]
        status, body = api.request("POST", "/api/v1/changes/approve", {"change_ids": ids, "note": "批准 deploy test"},
                                   headers={"Authorization": f"Bearer {manager}"})
        assert status == 200, body
    finally:
        assert api.terminate() == 0
    events = scalar(formulary_db, "SELECT count(*) FROM outbox")
    assert events >= len(created)

    relay_env = {**env, "HEARTBEAT_FILE": str(tmp_path / "relay.heartbeat"),
                 "SHUTDOWN_GRACE_S": manifest_env("formulary", "relay")["SHUTDOWN_GRACE_S"]}
    relay_log = tmp_path / "relay.log"
    relay = start(["relay", "--service", "formulary"], relay_env, relay_log)
    wait_for(lambda: scalar(formulary_db, "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0,
             timeout=120, what="the relay to publish the outbox")
    assert probe("check", "--max-age", "10", env=relay_env) == 0, "the relay's heartbeat is fresh"
    assert probe("ready", "--broker", "--service", "formulary", env=relay_env) == 0
    stop(relay, float(relay_env["SHUTDOWN_GRACE_S"]) + 5, relay_log)

    # 3. the consumer, SIGTERM mid-stream --------------------------------------------------------
    expected = wait_for(lambda: vhost.depth("procurement.events") or None, timeout=30,
                        what="events in procurement's queue")
    time.sleep(1)
    expected = vhost.depth("procurement.events")
    assert expected >= len(created)
    consumer_env = {**env, "HEARTBEAT_FILE": str(tmp_path / "consumer.heartbeat"),
                    "SHUTDOWN_GRACE_S": manifest_env("procurement", "consumer")["SHUTDOWN_GRACE_S"]}
    grace = float(consumer_env["SHUTDOWN_GRACE_S"]) + 5
    consumer_log = tmp_path / "consumer.log"
    consumer = start(["consume", "--service", "procurement"], consumer_env, consumer_log)
    inbox = "SELECT count(*) FROM inbox"
    wait_for(lambda: scalar(procurement_db, inbox) > 0, timeout=120, what="the consumer to handle events")
    stop(consumer, grace, consumer_log)
    handled = scalar(procurement_db, inbox)
    assert handled < expected, "the consumer had finished before SIGTERM: the test proved nothing"
    # unacked (prefetched) messages go back to the queue when the connection closes
    wait_for(lambda: handled + vhost.depth("procurement.events") == expected, timeout=30,
             what=f"handled ({handled}) + queued to equal {expected}")
    assert vhost.depth("procurement.dlq") == 0

    consumer = start(["consume", "--service", "procurement"], consumer_env, consumer_log)
    wait_for(lambda: scalar(procurement_db, inbox) == expected, timeout=180, what="the rest to be handled")
    assert probe("check", "--max-age", "10", env=consumer_env) == 0, "the consumer's heartbeat is fresh"
    assert probe("ready", "--broker", "--service", "procurement", env=consumer_env) == 0
    stop(consumer, grace, consumer_log)
    assert vhost.depth("procurement.events") == 0
    assert vhost.depth("procurement.dlq") == 0
    assert scalar(procurement_db, "SELECT count(DISTINCT event_id) FROM inbox") == expected  # exactly once
