"""The server fault tests' hub: all four services as real processes on a private PostgreSQL and RabbitMQ.

`Hub` (started once per test module by tests/faults/conftest.py) gives every service its own
database on the private PostgreSQL cluster (tests/support/servers.py), migrates them and declares
the topology with the functions `countyhub migrate` and `countyhub topology` run (in this process),
and runs the services as production does:
each API under gunicorn (shared/gunicorn_conf.py, one worker) and `countyhub relay` for every
service, `countyhub consume` for procurement, prescription_review and dispatch.

`Flow(hub, tag)` is a thread that sends CHUNKS waves across all four services, one after the
other, so a fault injected while it runs hits events before, during and after it. A wave
(`Hub.wave`) is:
- formulary: an import of ITEMS_PER_WAVE items over HTTP, approved by a second manager, fanning
  out as formulary.item.published to the three consumers' read models;
- prescription_review: SCREENINGS_PER_WAVE clean prescriptions screened over HTTP; each passes and
  writes review.prescription.approved, which takes stock at the site in procurement (a ledger row);
- procurement: REQUISITIONS_PER_WAVE requisitions created, approved and picked through its use
  cases; each writes procurement.shipment.ready, which becomes a shipment in dispatch.
A flow of 3 waves writes 675 events and makes 1,875 deliveries.

`Hub.check_exactly_once()` then proves that every event ever written to an outbox was sent, that
each consumer's inbox holds every event it subscribes to, that each effect happened once (one ref
item per code, one shipment per requisition, one consumed-prescription row and exactly the
prescribed quantity off the site's stock), and that no queue holds a message or a dead letter.
"""

from __future__ import annotations

import functools
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pika
from sqlalchemy import Engine, create_engine, text

from hub.registry import spec
from shared.auth import issue_token
from shared.bus.rabbit_admin import declare_topology
from shared.bus.topology import topology
from shared.migrate import upgrade
from shared.runtime import RELAY_PAUSE_ENV
from tests.faults.server_faults_parts import BIN, RX_QTY, Proc, call, items_csv, multipart, prescription, wait
from tests.support.processes import manifest_env
from tests.support.servers import PrivateServers, free_port

SERVICES = ("formulary", "procurement", "prescription_review", "dispatch")
CONSUMERS = ("procurement", "prescription_review", "dispatch")
SECRET = "fault-tests-Xq7vR2mK9pL4wN8sT3yB6hJ1cF5gD0zA"  # random-looking: production mode checks it
CHUNKS = 3
ITEMS_PER_WAVE = 200
SCREENINGS_PER_WAVE = 20
REQUISITIONS_PER_WAVE = 5


@dataclass
class Wave:
    """What one flow wrote: item codes, prescription numbers, requisition ids."""

    tag: str
    codes: list[str] = field(default_factory=list)
    prescriptions: list[str] = field(default_factory=list)
    requisitions: list[str] = field(default_factory=list)


@dataclass
class Hub:
    """Four services on a private PostgreSQL and RabbitMQ, every part a real process."""

    servers: PrivateServers
    tmp: Path
    urls: dict[str, str] = field(default_factory=dict)
    engines: dict[str, Engine] = field(default_factory=dict)
    apis: dict[str, Proc] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    loops: dict[str, Proc] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    waves: list[Wave] = field(default_factory=list)
    seeded: dict[str, int] = field(default_factory=dict)  # inbox rows the seeding wrote (events in no outbox)

    # --- start and stop -----------------------------------------------------------------------

    def start(self) -> Hub:
        """Databases, migrations, topology, read models, then every process; returns when all answer."""
        pg = self.servers.postgres
        self.urls = {name: pg.create_database(f"faults_{name[:6]}") for name in SERVICES}
        keep = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL") and k not in
                {"BROKER_URL", "PROMETHEUS_MULTIPROC_DIR", "HEARTBEAT_FILE", "JWT_SECRET_FILE", RELAY_PAUSE_ENV}}
        self.env = {**keep, **{f"{n.upper()}_DATABASE_URL": u for n, u in self.urls.items()},
                    "BROKER_URL": self.servers.rabbit.url, "JWT_SECRET": SECRET, "HUB_DEV_LOGIN": "0",
                    "HUB_DATA_DIR": str(self.tmp / "data"), "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1",
                    "PATH": f"{BIN}:{keep.get('PATH', '')}"}
        self.engines = {name: create_engine(url, pool_pre_ping=True) for name, url in self.urls.items()}
        # What `countyhub migrate` and `countyhub topology` run, in this process (saves two interpreters).
        # The APIs boot while the read models are seeded and the RabbitMQ node boots; the loops need the broker.
        for name in SERVICES:
            upgrade(spec(name).migrations, self.engines[name])
        for name in SERVICES:
            self.ports[name] = port = free_port()
            settings = {**manifest_env(name, "api"), "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "1",
                        "GUNICORN_THREADS": "4", "PROMETHEUS_MULTIPROC_DIR": str(self.tmp / f"metrics-{name}")}
            argv = [str(BIN / "gunicorn"), "--config", "python:shared.gunicorn_conf", f"services.{name}.wsgi:app"]
            self.apis[name] = Proc(f"{name}-api", argv, {**self.env, **settings}, self.tmp / f"{name}-api.log").start()
        self._seed()
        self.servers.rabbit.wait_started()
        declare_topology(self.servers.rabbit.url, quorum=True)
        for name in SERVICES:
            self.loops[f"{name}-relay"] = self._loop(name, "relay").start()
        for name in CONSUMERS:
            self.loops[f"{name}-consume"] = self._loop(name, "consume").start()
        for name in SERVICES:
            wait(functools.partial(self._healthy, name), 120, f"{name} to answer /healthz")
        return self

    def revive(self) -> None:
        """Start again any loop process that is not running (left dead by a failed test); the servers too."""
        if not self.servers.postgres.running:
            self.servers.postgres.start()
        if not self.servers.rabbit.running:
            self.servers.rabbit.start()
        for proc in self.loops.values():
            if not proc.alive:
                proc.start()

    def _healthy(self, name: str) -> bool:
        api = self.apis[name]
        if not api.alive:
            raise AssertionError(f"{name} API exited:\n{api.tail()}")
        try:
            return call(self.ports[name], "GET", "/healthz", timeout=2).status == 200
        except OSError:
            return False

    def _loop(self, name: str, role: str) -> Proc:
        component = "consumer" if role == "consume" else role
        env = {**self.env, **manifest_env(name, component),
               "HEARTBEAT_FILE": str(self.tmp / f"{name}-{role}.heartbeat")}
        return Proc(f"{name}-{role}", [str(BIN / "countyhub"), role, "--service", name], env,
                    self.tmp / f"{name}-{role}.log")

    def stop(self) -> None:
        """Every process killed (SIGKILL to each process group: nothing of theirs is kept), every engine closed."""
        procs = [p for p in [*self.loops.values(), *self.apis.values()] if p.alive]
        for proc in procs:
            proc.signal_group(signal.SIGKILL)
        for proc in procs:
            assert proc.proc is not None
            proc.proc.wait(10)
        for engine in self.engines.values():
            engine.dispose()

    @contextmanager
    def contexts(self) -> Iterator[dict[str, Any]]:
        """ServiceContexts on the private databases, for the use cases this process drives."""
        from shared.config import Settings
        from shared.runtime import build_context

        made = {}
        for name in ("procurement", "prescription_review"):
            settings = Settings(service=name, database_url=self.urls[name], broker_url=self.servers.rabbit.url,
                                jwt_secret=SECRET, port=0, embedded=False)
            made[name] = build_context(spec(name), settings)
        try:
            yield made
        finally:
            for ctx in made.values():
                ctx.engine.dispose()

    def _seed(self) -> None:
        """Read models the flows need that formulary events in this test do not carry, and central stock."""
        from tests.service.prescription_review.review_support import load_reference as review_reference
        from tests.service.procurement.procurement_support import line, stock_central
        from tests.service.procurement.procurement_support import load_reference as procurement_reference

        with self.contexts() as ctx:
            review_reference(ctx["prescription_review"])
            procurement_reference(ctx["procurement"])
            stock_central(ctx["procurement"], line(batch="FAULTS-A", qty=240_000))
        self.seeded = {c: self.inbox_count(c) for c in CONSUMERS}

    def token(self, role: str, subject: str, site: str | None = None) -> str:
        """A bearer token the services accept."""
        return issue_token(SECRET, role, site=site, subject=subject, name=subject)

    # --- flows ----------------------------------------------------------------------------------

    def wave(self, tag: str) -> Wave:
        """Send one wave across the four services (see the module docstring); what it wrote."""
        wave = Wave(tag)
        self.waves.append(wave)
        self.approve_items(wave)
        self.screen(wave)
        self.requisitions(wave)
        return wave

    def approve_items(self, wave: Wave) -> None:
        """Import ITEMS_PER_WAVE items over HTTP and approve the batch (a second manager)."""
        codes = [f"YP{wave.tag}{i:04d}" for i in range(ITEMS_PER_WAVE)]
        body, ctype = multipart(items_csv(codes))
        port = self.ports["formulary"]
        imported = call(port, "POST", "/api/v1/imports/items?confirm=true", self.token("formulary_admin", "admin-1"),
                        raw=body, content_type=ctype, timeout=120)
        assert imported.status == 200, imported.body[:2000]
        batch = imported.json()["batch_id"]
        approved = call(port, "POST", "/api/v1/changes/approve", self.token("pharmacy_manager", "mgr-2"),
                        {"batch_id": batch}, timeout=120)
        assert approved.status == 200, approved.body[:2000]
        wave.codes = codes

    def screen(self, wave: Wave, clients: int = 2) -> None:
        """SCREENINGS_PER_WAVE passing prescriptions over HTTP from a few clients."""
        numbers = [f"RX-{wave.tag}-{i:05d}" for i in range(SCREENINGS_PER_WAVE)]
        token = self.token("his", "his-1")
        failures: list[str] = []

        def client(part: list[str]) -> None:
            for number in part:
                reply = call(self.ports["prescription_review"], "POST", "/api/v1/screenings", token,
                             prescription(number))
                if reply.status != 200 or reply.json()["outcome"] != "pass":
                    failures.append(f"{number}: {reply.status} {reply.body[:300]!r}")

        threads = [threading.Thread(target=client, args=(numbers[i::clients],)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not failures, failures[:3]
        wave.prescriptions = numbers

    def requisitions(self, wave: Wave) -> None:
        """REQUISITIONS_PER_WAVE requisitions of T01, created, approved and picked through the use cases."""
        from services.procurement.model import commands as c
        from services.procurement.model.requisition import OrderLine
        from services.procurement.service import requisitions as rq
        from tests.service.procurement.procurement_support import AMOX, KEEPER_T01, MANAGER

        with self.contexts() as ctx:
            proc = ctx["procurement"]
            for _ in range(REQUISITIONS_PER_WAVE):
                made = rq.create_requisition(proc, KEEPER_T01, c.CreateRequisition("T01", (OrderLine(AMOX, 24),),
                                                                                     submit=True))
                rq.approve_requisition(proc, MANAGER, c.ApproveRequisition(made["id"]))
                rq.pick_requisition(proc, MANAGER, c.PickRequisition(made["id"]))
                wave.requisitions.append(made["id"])

    # --- what arrived ---------------------------------------------------------------------------

    def scalar(self, service: str, sql: str, **params: Any) -> Any:
        """One value from a service's database."""
        with self.engines[service].connect() as conn:
            return conn.execute(text(sql), params).scalar_one()

    def inbox_count(self, service: str) -> int:
        """Events a consumer has applied (its inbox rows)."""
        return int(self.scalar(service, "SELECT count(*) FROM inbox"))

    def unsent(self) -> dict[str, int]:
        """Outbox rows not yet marked sent, per service."""
        return {n: int(self.scalar(n, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")) for n in SERVICES}

    def expected_inbox(self) -> dict[str, set[str]]:
        """Per consumer: the ids of every outbox event (of any service) of a type it handles."""
        rows: list[tuple[str, str]] = []
        for name in SERVICES:
            with self.engines[name].connect() as conn:
                rows += [(r.event_id, r.event_type) for r in conn.execute(text("SELECT event_id, event_type FROM outbox"))]
        return {c: {e for e, t in rows if t in spec(c).handlers} for c in CONSUMERS}

    def inbox_ids(self, service: str) -> set[str]:
        """Event ids in a consumer's inbox."""
        with self.engines[service].connect() as conn:
            return set(conn.execute(text("SELECT event_id FROM inbox")).scalars())

    def expected_counts(self) -> dict[str, int]:
        """Per consumer: how many outbox events (of any service) are of a type it handles."""
        counts = dict.fromkeys(CONSUMERS, 0)
        for name in SERVICES:
            with self.engines[name].connect() as conn:
                rows = conn.execute(text("SELECT event_type, count(*) FROM outbox GROUP BY event_type")).all()
            per_type: dict[str, int] = {str(t): int(n) for t, n in rows}
            for consumer in CONSUMERS:
                counts[consumer] += sum(n for t, n in per_type.items() if t in spec(consumer).handlers)
        return counts

    def drained(self) -> bool:
        """Every outbox sent and each consumer's inbox as long as the events it subscribes to (cheap:
        counts only; the inbox's key makes a row per event; check_exactly_once compares the ids)."""
        if any(self.unsent().values()):
            return False
        expected = self.expected_counts()
        return all(self.inbox_count(c) - self.seeded.get(c, 0) >= expected[c] for c in CONSUMERS)

    def wait_drained(self, timeout: float = 90.0) -> None:
        """Until drained(); the loops' logs on failure."""
        try:
            wait(self.drained, timeout, "every event to be delivered", interval=0.5)
        except AssertionError as exc:
            missing = {c: len(self.expected_inbox()[c] - self.inbox_ids(c)) for c in CONSUMERS}
            logs = "\n".join(f"--- {n}\n{p.tail()[-1500:]}" for n, p in self.loops.items())
            raise AssertionError(f"{exc}; unsent {self.unsent()}, missing per consumer {missing}\n{logs}") from None

    def queue_depths(self) -> dict[str, int]:
        """Ready + unacked messages of every service queue, retry queue and dead-letter queue."""
        params = pika.URLParameters(self.servers.rabbit.url)
        params.socket_timeout = 5
        connection = pika.BlockingConnection(params)
        try:
            channel = connection.channel()
            depths = {}
            for queues in topology().values():
                for name in (queues.queue, queues.retry_queue, queues.dead_letter_queue):
                    depths[name] = int(channel.queue_declare(name, passive=True).method.message_count)
            return depths
        finally:
            connection.close()

    def check_exactly_once(self) -> dict[str, int]:
        """Assert every event delivered once and every effect happened once; the counts checked."""
        assert self.unsent() == dict.fromkeys(SERVICES, 0)
        expected = self.expected_inbox()
        for consumer in CONSUMERS:
            got = self.inbox_ids(consumer)
            assert expected[consumer] <= got, f"{consumer} misses {len(expected[consumer] - got)} events"
        codes = [c for w in self.waves for c in w.codes]
        for consumer in CONSUMERS:
            with self.engines[consumer].connect() as conn:
                known = conn.execute(text("SELECT code, count(*) FROM ref_items WHERE code = ANY(:c) GROUP BY code"),
                                     {"c": codes}).all()
            assert len(known) == len(codes) and all(n == 1 for _, n in known), f"{consumer}: ref items {len(known)}"
        prescriptions = [p for w in self.waves for p in w.prescriptions]
        with self.engines["prescription_review"].connect() as conn:
            review_ids = list(conn.execute(text(
                "SELECT id FROM reviews WHERE prescription_no = ANY(:n) AND status = 'passed'"), {"n": prescriptions}).scalars())
        assert len(review_ids) == len(prescriptions)
        consumed = self.scalar("procurement", "SELECT count(*) FROM consumed_prescriptions WHERE prescription_id = ANY(:i)",
                               i=review_ids)
        with self.engines["procurement"].connect() as conn:
            rows, units = conn.execute(text(
                "SELECT count(*), coalesce(sum(-quantity), 0) FROM site_movements WHERE ref = ANY(:i) AND kind = 'prescription'"),
                {"i": review_ids}).one()
        assert consumed == len(review_ids), f"consumed prescriptions {consumed} != {len(review_ids)}"
        assert (rows, units) == (len(review_ids), RX_QTY * len(review_ids)), f"stock moves {rows}, units {units}"
        requisitions = [r for w in self.waves for r in w.requisitions]
        with self.engines["procurement"].connect() as conn:
            shipment_ids = list(conn.execute(text(
                "SELECT shipment_id FROM requisitions WHERE id = ANY(:r)"), {"r": requisitions}).scalars())
        with self.engines["dispatch"].connect() as conn:
            shipments = conn.execute(text("SELECT count(*) FROM shipments WHERE id = ANY(:s)"),
                                     {"s": shipment_ids}).scalar_one()
        assert shipments == len(requisitions), f"dispatch shipments {shipments} != {len(requisitions)}"
        depths = self.queue_depths()
        assert not any(depths.values()), f"messages left on the broker: {depths}"
        return {"items": len(codes), "prescriptions": len(review_ids), "requisitions": len(requisitions),
                **{f"inbox_{c}": len(expected[c]) for c in CONSUMERS}}


class Flow(threading.Thread):
    """CHUNKS waves sent one after the other in the background; `waves_done` counts the finished ones.

    held=True: after the first wave's approval the flow waits for release() (at most 120 s), so a
    test can inject its fault while that approval's events are on their way and let the rest of the
    flow run into it, however fast the machine.
    """

    def __init__(self, hub: Hub, tag: str, chunks: int = CHUNKS, held: bool = False) -> None:
        super().__init__(name=f"flow-{tag}", daemon=True)
        self.hub, self.tag, self.chunks = hub, tag, chunks
        self.gate = threading.Event()
        if not held:
            self.gate.set()
        self.waves_done = 0
        self.approved = threading.Event()  # set when the first wave's catalogue approval has committed
        self.error: BaseException | None = None
        self.began = time.monotonic()
        self.timeline: list[tuple[str, float]] = []  # (step, seconds since the flow began)

    def run(self) -> None:
        """Send the waves; an error stops the flow and is raised by finish()."""
        self.began = time.monotonic()
        try:
            for k in range(self.chunks):
                wave = Wave(f"{self.tag}{k}")
                self.hub.waves.append(wave)
                self.hub.approve_items(wave)
                self._mark(f"{k}:approved")
                self.approved.set()
                if not self.gate.wait(120):
                    raise AssertionError(f"{self.name} was never released")
                self.hub.screen(wave)
                self._mark(f"{k}:screened")
                self.hub.requisitions(wave)
                self._mark(f"{k}:picked")
                self.waves_done = k + 1
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread by finish()
            self.error = exc

    def release(self) -> None:
        """Let a held flow go on."""
        self.gate.set()

    def _mark(self, step: str) -> None:
        self.timeline.append((step, round(time.monotonic() - self.began, 2)))

    def wait_approved(self, timeout: float = 60.0) -> None:
        """Until the first wave's approval has committed (hundreds of events are on their way)."""
        wait(lambda: self.approved.is_set() or self.error or not self.is_alive(), timeout, f"{self.name}'s approval")
        if self.error:
            raise self.error

    def wait_waves(self, n: int, timeout: float = 60.0) -> None:
        """Until n waves are sent."""
        wait(lambda: self.waves_done >= n or self.error or not self.is_alive(), timeout, f"{n} waves of {self.name}")
        if self.error:
            raise self.error

    def finish(self, timeout: float = 120.0) -> None:
        """Wait for the last wave; raise what stopped the flow, if anything."""
        self.join(timeout)
        assert not self.is_alive(), f"{self.name} still sending after {timeout} s"
        if self.error:
            raise self.error
