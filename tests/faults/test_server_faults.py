"""Server faults in the middle of a flow across all four services (issue 13, "Faults").

Every part runs as in production, as its own process (tests/faults/server_faults_support.py): the
four APIs under gunicorn, a relay per service, the three consumers, on a private PostgreSQL
cluster and a private RabbitMQ node (tests/support/servers.py) that these tests stop and start;
the machine's shared servers are never touched. A flow is 3 waves of catalogue approvals (fanned
out to three consumers), screenings (stock taken in procurement) and requisitions (shipments in
dispatch): 675 events, 1,875 deliveries. After each fault every event ever written must be
delivered, each effect must have happened exactly once (Hub.check_exactly_once: inbox rows, read
model rows, ledger rows and units, shipments), every outbox must be empty and no message may be
left on the broker, dead-lettered or not.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from shared.runtime import RELAY_PAUSE_ENV
from tests.faults.server_faults_parts import Proc, call, prescription, wait
from tests.faults.server_faults_support import CONSUMERS, SERVICES, Flow, Hub
from tests.support.servers import port_open

# Each test is bounded: its own waits time out well within this (the module's hub starts in the first).
pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def test_rabbitmq_stopped_and_started_mid_flow(hub_alive: Hub, record_property: Callable[[str, object], None]) -> None:
    hub, rabbit = hub_alive, hub_alive.servers.rabbit
    before = hub.inbox_count("dispatch")
    flow = Flow(hub, "A", held=True)
    flow.start()
    try:
        flow.wait_approved()
        wait(lambda: hub.inbox_count("dispatch") > before, 30, "the first events of the flow to arrive", interval=0.05)
        with rabbit.stopped():
            # The APIs keep accepting work with the broker away: the flow goes on into the outboxes.
            flow.release()
            flow.wait_waves(2)
            waiting = hub.unsent()
            assert all(waiting[s] > 0 for s in ("formulary", "procurement", "prescription_review")), waiting
            assert not rabbit.running
            assert port_open(5672), "the machine's shared RabbitMQ must stay up"
        started = time.monotonic()
    finally:
        flow.release()
        flow.finish()
    record_property("flow_done_after_start_s", round(time.monotonic() - started, 2))
    hub.wait_drained()
    record_property("drained_after_start_s", round(time.monotonic() - started, 2))
    record_property("flow_timeline", flow.timeline)
    record_property("checked", hub.check_exactly_once())


def test_consumers_killed_mid_handling(hub_alive: Hub, record_property: Callable[[str, object], None]) -> None:
    hub = hub_alive
    last = {c: hub.inbox_count(c) for c in CONSUMERS}
    flow = Flow(hub, "B", held=True)

    def handling() -> bool:
        """The consumers are applying events right now and have more waiting."""
        counts = {c: hub.inbox_count(c) for c in CONSUMERS}
        growing = any(counts[c] > last[c] for c in CONSUMERS)
        last.update(counts)
        if not growing and flow.approved.is_set() and hub.drained():
            flow.release()  # this backlog was gone before we looked: catch the next wave's
        return growing and not hub.drained()

    began = time.monotonic()
    flow.start()
    try:
        flow.wait_approved()
        wait(handling, 60, "the consumers to be in the middle of a backlog", interval=0.02)
        record_property("killed_at_s", round(time.monotonic() - began, 2))
        for name in CONSUMERS:
            hub.loops[f"{name}-consume"].kill()  # SIGKILL: no clean-up, no acks for what it held
        flow.release()  # the rest of the flow runs while the consumers are down and coming back
        time.sleep(0.5)
    finally:
        for name in CONSUMERS:
            hub.loops[f"{name}-consume"].start()
        restarted = time.monotonic()
        flow.release()
        flow.finish()
    record_property("flow_done_after_restart_s", round(time.monotonic() - restarted, 2))
    hub.wait_drained()
    record_property("drained_after_restart_s", round(time.monotonic() - restarted, 2))
    record_property("flow_timeline", flow.timeline)
    record_property("checked", hub.check_exactly_once())


def test_relays_killed_between_publishing_and_marking_sent(hub_alive: Hub, tmp_path: Path) -> None:
    """The relay publishes a batch, the broker confirms it, and the relay dies before marking it sent.

    The hook RELAY_PAUSE_ENV (shared/runtime.py) makes the relay process stop right after its first
    confirmed publish; the test SIGKILLs it there. The batch is then on the broker and in the
    consumers' inboxes but still unsent in the outbox; the restarted relay publishes it again and
    the inboxes must turn the second copies into no-ops.
    """
    hub = hub_alive
    markers = {name: tmp_path / f"{name}.published" for name in ("formulary", "prescription_review")}
    types = {"formulary": "formulary.item.published", "prescription_review": "review.prescription.approved"}
    applied = {(c, t): _inbox_of_type(hub, c, t) for c in CONSUMERS for t in types.values()}
    for name, marker in markers.items():
        relay = hub.loops[f"{name}-relay"]
        relay.kill()
        relay.start(**{RELAY_PAUSE_ENV: str(marker)})
    try:
        _publish_then_die(hub, markers, types, applied)
    finally:
        for name in markers:
            relay = hub.loops[f"{name}-relay"]
            relay.kill()
            relay.start()  # the normal relay publishes the batch again, then the rest
    hub.wait_drained()
    hub.check_exactly_once()


def _publish_then_die(hub: Hub, markers: dict[str, Path], types: dict[str, str], applied: dict[tuple[str, str], int]) -> None:
    """A wave; each hooked relay publishes its first batch and waits; that batch is applied but unsent."""
    hub.wave("C0")
    published = {}
    for name, marker in markers.items():
        relay = hub.loops[f"{name}-relay"]

        def published_or_dead(m: Path = marker, r: Proc = relay) -> bool:
            assert r.alive, f"{r.name} exited:\n{r.tail()}"
            return m.exists() and bool(m.read_text())

        wait(published_or_dead, 30, f"the {name} relay to publish")
        published[name] = int(markers[name].read_text())
        assert published[name] > 0
    # Delivered, but not marked sent: the relay sleeps between the confirms and its UPDATE.
    for name, count in published.items():
        unsent = hub.scalar(name, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        assert unsent >= count, (name, unsent, count)
        consumers = [c for c in CONSUMERS if types[name] in _handled(c)]
        wait(lambda n=count, cs=consumers, t=types[name]: all(  # type: ignore[misc]
            _inbox_of_type(hub, c, t) >= applied[c, t] + n for c in cs), 30, f"{name}'s published batch to be applied")
        assert hub.scalar(name, "SELECT count(*) FROM outbox WHERE sent_at IS NULL") >= count  # still unsent


def test_postgresql_restarted_under_load(hub_alive: Hub, record_property: Callable[[str, object], None]) -> None:
    """With the database down the APIs answer 503 problem+json at once, readiness goes false, and
    everything (APIs, relays, consumers) recovers without a process restart."""
    hub, pg = hub_alive, hub_alive.servers.postgres
    pids = {name: proc.pid for name, proc in [*hub.apis.items(), *hub.loops.items()]}
    his = hub.token("his", "his-1")
    reader = hub.token("pharmacy_manager", "mgr-9")
    outcomes: Counter[str] = Counter()
    bad: list[str] = []
    slowest = [0.0]
    stop = threading.Event()
    lock = threading.Lock()
    requests = [
        ("formulary", "GET", "/api/v1/items?limit=5", reader, None),
        ("procurement", "GET", "/api/v1/reference/items?q=YP&limit=5", reader, None),
        ("dispatch", "GET", "/api/v1/reference/items?q=YP&limit=5", hub.token("dispatcher", "disp-1"), None),
        ("prescription_review", "POST", "/api/v1/screenings", his, None),
    ]

    def client(n: int) -> None:
        i = 0
        while not stop.is_set():
            service, method, path, token, _ = requests[(n + i) % len(requests)]
            body = prescription(f"RX-D-{n}-{i:05d}") if method == "POST" else None
            i += 1
            began = time.monotonic()
            try:
                reply = call(hub.ports[service], method, path, token, body, timeout=10)
                key = f"{service} {reply.status}"
                if reply.status == 503 and not reply.content_type.startswith("application/problem+json"):
                    bad.append(f"{key}: 503 as {reply.content_type}")
                elif reply.status == 503 and reply.json().get("status") != 503:
                    bad.append(f"{key}: {reply.body[:200]!r}")
                elif reply.status not in (200, 503):
                    bad.append(f"{key}: {reply.body[:300]!r}")
            except Exception as exc:  # noqa: BLE001 - a hang (timeout) or a dropped connection is a failure
                key = f"{service} {type(exc).__name__}"
                bad.append(key)
            with lock:
                outcomes[key] += 1
                slowest[0] = max(slowest[0], time.monotonic() - began)

    def ready(service: str) -> int:
        try:
            return call(hub.ports[service], "GET", "/readyz", timeout=10).status
        except OSError:
            return 0

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)
        with pg.stopped():
            for service in SERVICES:
                reply = call(hub.ports[service], "GET", "/readyz", timeout=10)
                assert reply.status == 503 and reply.json()["status"] == "not ready", (service, reply.body)
            assert port_open(5432), "the machine's shared PostgreSQL must stay up"
            time.sleep(2.0)  # the load goes on against a missing database
            with lock:
                during = Counter(outcomes)
        restarted = time.monotonic()
        wait(lambda: all(ready(s) == 200 for s in SERVICES), 30, "every API to be ready again")
        recovered_s = time.monotonic() - restarted
        record_property("ready_again_s", round(recovered_s, 2))

        def served_again() -> bool:
            with lock:
                after = outcomes - during
            return all(after[f"{s} 200"] > 0 for s in SERVICES)

        wait(served_again, 30, "every API to serve the load again")
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    record_property("answers", dict(outcomes))
    assert not bad, f"{len(bad)} bad answers, e.g. {bad[:5]}; all: {dict(outcomes)}"
    assert slowest[0] < 10, f"a request took {slowest[0]:.1f} s"
    assert sum(n for k, n in during.items() if k.endswith(" 503")) > 0, f"no 503 while down: {dict(during)}"
    assert recovered_s < 30
    # Nothing was restarted, and the event loops work again: a wave arrives exactly once.
    assert {name: proc.pid for name, proc in [*hub.apis.items(), *hub.loops.items()]} == pids
    assert all(proc.alive for proc in [*hub.apis.values(), *hub.loops.values()])
    hub.wave("D0")  # (the load's screenings were approved too: their events are among those checked)
    hub.wait_drained()
    hub.check_exactly_once()


def _handled(service: str) -> set[str]:
    from hub.registry import spec

    return set(spec(service).handlers)


def _inbox_of_type(hub: Hub, service: str, event_type: str) -> int:
    return int(hub.scalar(service, "SELECT count(*) FROM inbox WHERE event_type = :t", t=event_type))
