"""Liveness and readiness of the processes without HTTP (shared/heartbeat.py).

The liveness probe must fail when the loop stops refreshing its heartbeat (a loop wedged on a
dead connection or a native call), not merely when the process dies; readiness must fail when
what the process needs (broker, database) does not answer.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import pytest

from shared.bus.consumer import EventConsumer
from shared.bus.topology import topology
from shared.heartbeat import BeatingEvent, Heartbeat, age_seconds, check
from tests.support.bus import Broker
from tests.support.processes import BIN, ROOT, base_env, countyhub
from tests.support.waiting import free_port, wait_until


def probe(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m shared.heartbeat ...` as the kubelet runs it."""
    return subprocess.run([str(BIN / "python"), "-m", "shared.heartbeat", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_a_fresh_heartbeat_passes_a_stale_or_missing_one_fails(tmp_path: Path) -> None:
    path = tmp_path / "hb"
    assert probe("check", "--file", str(path), "--max-age", "5").returncode == 1  # missing
    Heartbeat(path, "relay").beat()
    body = json.loads(path.read_text())
    assert body["role"] == "relay" and abs(body["at"] - time.time()) < 5
    assert probe("check", "--file", str(path), "--max-age", "5").returncode == 0
    path.write_text(json.dumps({"at": time.time() - 120, "pid": 1, "role": "relay"}))
    stale = probe("check", "--file", str(path), "--max-age", "90")
    assert stale.returncode == 1 and "old" in stale.stderr
    path.write_text("not json")
    assert probe("check", "--file", str(path), "--max-age", "90").returncode == 1


def test_the_loop_beats_through_its_stop_event_and_a_wedged_loop_goes_stale(tmp_path: Path) -> None:
    path = tmp_path / "hb"
    stop = BeatingEvent(Heartbeat(path, "worker", every_s=0.05))
    wedge = threading.Event()

    def loop() -> None:
        for _ in range(20):  # a healthy loop: checks its stop event between steps
            if stop.is_set():
                return
            stop.wait(0.05)
        wedge.wait(30)  # then stuck (as in a native call): it no longer checks anything

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    time.sleep(0.5)
    assert check(path, max_age_s=0.5)[0], "a running loop keeps its heartbeat fresh"
    wait_until(lambda: not check(path, max_age_s=0.5)[0], timeout=5, what="the wedged loop's heartbeat to go stale")
    assert (age_seconds(path) or 0) > 0.5
    wedge.set()
    stop.set()
    thread.join(5)


def test_no_heartbeat_file_means_no_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEARTBEAT_FILE", raising=False)
    beat = Heartbeat.from_env()
    beat.beat(force=True)
    assert beat.path is None


def test_the_consumer_beats_on_every_consume_iteration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """kombu's consume loop calls on_iteration about once a second, even with no messages."""
    path = tmp_path / "consumer.hb"
    monkeypatch.setenv("HEARTBEAT_FILE", str(path))
    queues = next(iter(topology().values()))
    consumer = EventConsumer("memory://deploy-heartbeat/", queues, lambda event: None, prefetch=1)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: path.exists(), timeout=10, what="the consumer's first heartbeat")
        first = json.loads(path.read_text())["at"]
        wait_until(lambda: json.loads(path.read_text())["at"] > first, timeout=10, what="a later heartbeat")
    finally:
        consumer.should_stop = True
        thread.join(10)
        consumer.close()


def test_broker_readiness_follows_the_broker(vhost: Broker, tmp_path: Path) -> None:
    env = base_env(tmp_path, BROKER_URL=vhost.url)
    assert probe("ready", "--broker", "--service", "procurement", env=env).returncode == 0
    closed = base_env(tmp_path, BROKER_URL=f"amqp://guest:guest@127.0.0.1:{free_port()}/{vhost.vhost}")
    failed = probe("ready", "--broker", "--service", "procurement", "--timeout", "2", env=closed)
    assert failed.returncode == 1 and "unreachable" in failed.stderr
    unset = {k: v for k, v in env.items() if k != "BROKER_URL"}
    assert probe("ready", "--broker", "--service", "procurement", env=unset).returncode == 1


def test_database_readiness_follows_the_database(pg_url: str, tmp_path: Path) -> None:
    env = base_env(tmp_path, DISPATCH_DATABASE_URL=pg_url)
    assert probe("ready", "--database", "--service", "dispatch", env=env).returncode == 0
    gone = base_env(tmp_path, DISPATCH_DATABASE_URL=pg_url.rsplit("/", 1)[0] + "/no_such_database_here")
    assert probe("ready", "--database", "--service", "dispatch", "--timeout", "2", env=gone).returncode == 1


@pytest.mark.integration
def test_the_worker_process_beats_and_stops_on_sigterm(pg_url: str, vhost: Broker, tmp_path: Path) -> None:
    """`countyhub worker --service dispatch` as its Deployment runs it: heartbeat fresh, SIGTERM -> exit 0."""
    env = base_env(tmp_path, DISPATCH_DATABASE_URL=pg_url, BROKER_URL=vhost.url,
                   HEARTBEAT_FILE=str(tmp_path / "worker.hb"), SHUTDOWN_GRACE_S="20")
    countyhub("migrate", "--service", "dispatch", env=env)
    log = tmp_path / "worker.log"
    proc = subprocess.Popen([str(BIN / "countyhub"), "worker", "--service", "dispatch"], cwd=ROOT, env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: (tmp_path / "worker.hb").exists(), timeout=60, what="the worker's heartbeat")
        time.sleep(2)
        assert probe("check", "--max-age", "5", env=env).returncode == 0, log.read_text()
        began = time.monotonic()
        proc.send_signal(15)
        assert proc.wait(25) == 0, log.read_text()
        assert time.monotonic() - began < 20
    finally:
        if proc.poll() is None:
            proc.kill()


def test_one_wedged_loop_of_two_makes_the_heartbeat_stale(tmp_path: Path) -> None:
    """Two loops share the stop event (a worker process with two workers): either one stuck is caught."""
    path = tmp_path / "hb"
    stop = BeatingEvent(Heartbeat(path, "worker", every_s=0.05))
    wedge = threading.Event()

    def healthy() -> None:
        while not stop.is_set():
            stop.wait(0.05)

    def wedging() -> None:
        for _ in range(10):
            stop.wait(0.05)
        wedge.wait(30)  # stuck, while the healthy loop keeps checking the stop event

    def watcher() -> None:
        stop.wait()  # parked: waits only for the stop, is not a loop

    threads = [threading.Thread(target=f, daemon=True) for f in (healthy, wedging, watcher)]
    for thread in threads:
        thread.start()
    time.sleep(0.4)
    assert check(path, max_age_s=0.5)[0]
    wait_until(lambda: not check(path, max_age_s=0.5)[0], timeout=5, what="the stale heartbeat of the wedged loop")
    wedge.set()
    wait_until(lambda: check(path, max_age_s=0.5)[0], timeout=5, what="a fresh heartbeat once it ended")
    stop.set()
    for thread in threads:
        thread.join(5)


def test_probe_usage_errors_say_what_is_missing(tmp_path: Path) -> None:
    env = {k: v for k, v in base_env(tmp_path).items() if k != "HEARTBEAT_FILE"}
    no_file = probe("check", "--max-age", "5", env=env)
    assert no_file.returncode == 2 and "HEARTBEAT_FILE" in no_file.stderr
    nothing = probe("ready", "--service", "dispatch", env=env)
    assert nothing.returncode == 2 and "--broker" in nothing.stderr
    no_db = probe("ready", "--database", "--service", "dispatch",
                  env={k: v for k, v in env.items() if not k.endswith("DATABASE_URL")})
    assert no_db.returncode == 1 and "no database URL" in no_db.stderr
