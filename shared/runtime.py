"""What a running service is made of, and the background loops that move its events."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, MetaData
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker

from shared import correlation
from shared.bus.consumer import EventConsumer, backoff_seconds
from shared.bus.inbox import Delivery, Handler, PoisonMessage, consume_batch, consume_once, prepare
from shared.bus.local import LocalConsumer, relay_local
from shared.bus.outbox import record_event, record_events, relay_batch
from shared.bus.publisher import EventPublisher
from shared.bus.topology import topology
from shared.config import Settings, load_settings
from shared.db import make_engine, session_factory
from shared.events.envelope import CloudEvent

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)


@dataclass
class ServiceContext:
    """The composition root's hand-out to a service: settings, database, and event recording."""

    settings: Settings
    metadata: MetaData
    engine: Engine
    factory: sessionmaker[Session]
    extras: dict[str, Any] = field(default_factory=dict)
    # Set after a transaction that wrote the outbox commits: the relay wakes instead of polling.
    outbox_signal: threading.Event = field(default_factory=threading.Event)

    @property
    def name(self) -> str:
        """The service's name."""
        return self.settings.service

    def record(self, session: Session, event_type: str, data: dict[str, Any], subject: str | None = None) -> CloudEvent:
        """Write an event to this service's outbox in the caller's transaction."""
        if not session.info.get("countyhub_signals_outbox"):
            session.info["countyhub_signals_outbox"] = True
            sa_event.listen(session, "after_commit", self._outbox_committed, once=True)
        return record_event(
            session,
            self.metadata,
            event_type,
            data,
            source=f"/countyhub/{self.name}",
            subject=subject,
            correlation_id=correlation.current(),
        )

    def record_many(self, session: Session, events: Sequence[tuple[str, dict[str, Any], str | None]]) -> list[CloudEvent]:
        """Write many (event_type, data, subject) to this service's outbox in the caller's transaction, in bulk."""
        if not events:
            return []
        if not session.info.get("countyhub_signals_outbox"):
            session.info["countyhub_signals_outbox"] = True
            sa_event.listen(session, "after_commit", self._outbox_committed, once=True)
        return record_events(
            session, self.metadata, events, source=f"/countyhub/{self.name}", correlation_id=correlation.current()
        )

    def _outbox_committed(self, session: Session) -> None:
        session.info.pop("countyhub_signals_outbox", None)
        self.outbox_signal.set()


Worker = Callable[[ServiceContext, threading.Event], None]


Seeder = Callable[[ServiceContext, str], Any]
"""seed(ctx, profile): fill an empty database with the sample county (embedded hub); returns a summary."""


@dataclass(frozen=True, kw_only=True)
class ServiceSpec:
    """Everything the hub needs to run one service, declared once in services/<name>/app.py.

    The ports table (shared.config.SERVICE_PORTS), the broker topology (one queue bound to
    exactly the keys of `handlers`), the embedded hub, the CLI and the deployment manifests are
    all derived from the specs in hub/registry.py.

    - port: the HTTP port of the embedded default and of the container (<NAME>_PORT overrides).
    - handlers: event type -> handler(session, payload, event), payload loaded through the contract.
    - workers: background loops worker(ctx, stop_event).
    - label: what the hub's banner calls the service (zh-CN first).
    - seed: the embedded hub's sample-data loader, if the service has one.
    """

    name: str
    port: int
    metadata: MetaData
    create_app: Callable[[ServiceContext], Flask]
    migrations: Path
    handlers: Mapping[str, Handler] = field(default_factory=dict)
    workers: Sequence[Worker] = ()
    label: str = ""
    seed: Seeder | None = None


def build_context(spec: ServiceSpec, settings: Settings) -> ServiceContext:
    """Open the service's database and hand back its context."""
    engine = make_engine(settings.database_url)
    return ServiceContext(settings=settings, metadata=spec.metadata, engine=engine, factory=session_factory(engine))


def _correlated(handler: Handler) -> Handler:
    def run(session: Session, payload: dict[str, Any], event: CloudEvent) -> None:
        correlation.set_current(event.correlationid or event.id)
        try:
            handler(session, payload, event)
        finally:
            correlation.set_current(None)

    return run


def handle_event(spec: ServiceSpec, ctx: ServiceContext, event: CloudEvent) -> bool:
    """Run the service's handler for one event, at most once; False if it was a duplicate or unhandled.

    The payload is loaded through the event type's contract before the handler runs; a payload
    the contract rejects raises PoisonMessage (the consumer dead-letters it with the reason).
    """
    handler = spec.handlers.get(event.type)
    if handler is None:
        return False
    delivery = prepare(event, handler)
    return consume_once(ctx.factory, ctx.metadata, spec.name, event, _correlated(delivery.handler), delivery.payload)


def handle_batch(spec: ServiceSpec, ctx: ServiceContext, events: Sequence[CloudEvent]) -> tuple[int, BaseException | None]:
    """Apply events in order, several per transaction; (how many leading events are done, what stopped it).

    All of them run in one transaction (inbox rows + effects). If that fails, they are run again
    one by one, each in its own transaction, so the others still apply exactly once; the first
    that fails stops the run and is returned with its exception. A payload its contract rejects
    stops the run with PoisonMessage before its handler is called. Events of types the service
    does not handle count as done.
    """
    deliveries: list[Delivery] = []
    stopped: BaseException | None = None
    for event in events:
        handler = spec.handlers.get(event.type)
        if handler is None:
            deliveries.append(Delivery(event, {}, _ignore))
            continue
        try:
            ready = prepare(event, handler)
        except PoisonMessage as exc:
            stopped = exc
            break
        deliveries.append(Delivery(event, ready.payload, _correlated(ready.handler)))
    if not deliveries:
        return 0, stopped
    if len(deliveries) > 1:
        try:
            consume_batch(ctx.factory, ctx.metadata, spec.name, [d for d in deliveries if d.handler is not _ignore])
            return len(deliveries), stopped
        except Exception:  # noqa: BLE001 - isolate the failing message: one by one
            log.info("batch failed; applying its events one by one", extra={"service": spec.name, "size": len(deliveries)})
    for done, delivery in enumerate(deliveries):
        if delivery.handler is _ignore:
            continue
        try:
            consume_once(ctx.factory, ctx.metadata, spec.name, delivery.event, delivery.handler, delivery.payload)
        except Exception as exc:  # noqa: BLE001 - reported to the caller, which retries or dead-letters
            return done, exc
    return len(deliveries), stopped


def handle_each(spec: ServiceSpec, ctx: ServiceContext, events: Sequence[CloudEvent]) -> list[BaseException | None]:
    """Apply a batch from the broker; per event None (applied, or already had) or what went wrong.

    One transaction for the whole batch (inbox rows + effects, fewer commits); if it fails, each
    event runs alone in its own transaction, so the others apply exactly once and only the
    failing one is reported (the consumer retries or dead-letters it). A payload its contract
    rejects is reported as PoisonMessage without running anything.
    """
    outcomes: list[BaseException | None] = [None] * len(events)
    deliveries: list[tuple[int, Delivery]] = []
    for i, event in enumerate(events):
        handler = spec.handlers.get(event.type)
        if handler is None:
            continue  # not ours (a binding the spec no longer has): nothing to do, ack it
        try:
            ready = prepare(event, handler)
        except PoisonMessage as exc:
            outcomes[i] = exc
            continue
        deliveries.append((i, Delivery(event, ready.payload, _correlated(ready.handler))))
    if not deliveries:
        return outcomes
    if len(deliveries) > 1:
        try:
            consume_batch(ctx.factory, ctx.metadata, spec.name, [d for _, d in deliveries])
            return outcomes
        except Exception:  # noqa: BLE001 - isolate the failing message: one by one
            log.info("batch failed; applying its events one by one", extra={"service": spec.name, "size": len(deliveries)})
    for i, delivery in deliveries:
        try:
            consume_once(ctx.factory, ctx.metadata, spec.name, delivery.event, delivery.handler, delivery.payload)
        except Exception as exc:  # noqa: BLE001 - settled per message by the consumer
            outcomes[i] = exc
    return outcomes


def _ignore(session: Session, payload: dict[str, Any], event: CloudEvent) -> None:
    """Stands for an event type the service does not handle."""


RELAY_PAUSE_ENV = "COUNTYHUB_TEST_RELAY_PAUSE_FILE"
"""Fault-test hook (tests/faults/): when set to a path, the relay process writes how many events the
broker confirmed to that file right after its first publish and then sleeps instead of marking
them sent, so a test can SIGKILL it in exactly that window. Never set in production."""


def _pause_after_publish(send_many: Callable[[list[dict[str, Any]]], int], marker: str) -> Callable[[list[dict[str, Any]]], int]:
    def send_then_pause(envelopes: list[dict[str, Any]]) -> int:
        taken = send_many(envelopes)
        Path(marker).write_text(str(taken), encoding="utf-8")
        threading.Event().wait()  # published, never marked sent: the test kills the process here
        return taken

    return send_then_pause


def relay_loop(ctx: ServiceContext, stop: threading.Event, poll_s: float = 0.2) -> None:
    """Publish the outbox to RabbitMQ until stopped; back off while the broker is away."""
    publisher = EventPublisher(ctx.settings.broker_url)
    send_many: Callable[[list[dict[str, Any]]], int] = publisher.send_many
    if marker := os.environ.get(RELAY_PAUSE_ENV):
        send_many = _pause_after_publish(send_many, marker)
    idle = poll_s
    try:
        while not stop.is_set():
            try:
                sent = relay_batch(ctx.factory, ctx.metadata, publisher.send, send_many=send_many)
                idle = poll_s if sent else min(idle * 1.5, 2.0) if idle > poll_s else poll_s
                if sent:
                    continue
            except Exception:  # noqa: BLE001 - the loop must outlive database hiccups
                log.exception("outbox relay failed")
                idle = 2.0
            _idle(ctx, stop, idle)
    finally:
        publisher.close()


Peers = Mapping[str, tuple[ServiceSpec, ServiceContext]]


def local_consumers(peers: Peers) -> dict[str, LocalConsumer]:
    """The local relay's view of the services that consume events: name -> LocalConsumer."""
    return {
        name: LocalConsumer(
            name,
            handles=lambda event_type, spec=spec: event_type in spec.handlers,  # type: ignore[misc]
            deliver=lambda events, spec=spec, ctx=ctx: handle_batch(spec, ctx, events),  # type: ignore[misc]
        )
        for name, (spec, ctx) in peers.items()
        if spec.handlers
    }


def registry_peers() -> Peers:
    """Every registered consuming service, opened from its own settings (a relay run on its own)."""
    from hub.registry import specs

    return {s.name: (s, build_context(s, load_settings(s.name))) for s in specs() if s.handlers}


def local_relay_loop(
    ctx: ServiceContext, stop: threading.Event, peers: Callable[[], Peers], poll_s: float = 0.2
) -> None:
    """The embedded default's relay: deliver the outbox to the consuming services in this process.

    An outbox row is marked sent only after every subscribed service has committed it
    (shared/bus/local.py), so killing the process at any moment loses nothing.
    """
    consumers: dict[str, LocalConsumer] | None = None
    while not stop.is_set():
        try:
            if consumers is None:
                consumers = local_consumers(peers())
            result = relay_local(ctx.factory, ctx.metadata, consumers, max_retries=ctx.settings.max_retries)
        except Exception:  # noqa: BLE001 - the loop must outlive database hiccups
            log.exception("local relay failed")
            stop.wait(2.0)
            continue
        if result.blocked is not None:
            stop.wait(backoff_seconds(result.attempts, 0.2, 30.0))  # a consumer failed: back off
        elif not result.sent:
            _idle(ctx, stop, poll_s)


def _idle(ctx: ServiceContext, stop: threading.Event, seconds: float) -> None:
    # Wait for new outbox rows (or stop): record() sets the signal when its transaction commits.
    if not stop.is_set() and ctx.outbox_signal.wait(seconds):
        ctx.outbox_signal.clear()


def consumer_loop(spec: ServiceSpec, ctx: ServiceContext, stop: threading.Event) -> None:
    """Consume the service's queue until stopped."""
    queues = topology().get(spec.name)
    if queues is None:
        return
    consumer = EventConsumer(
        ctx.settings.broker_url,
        queues,
        handle_many=lambda events: handle_each(spec, ctx, events),
        prefetch=ctx.settings.prefetch,
        max_retries=ctx.settings.max_retries,
    )
    def watch() -> None:
        stop.wait()
        consumer.should_stop = True

    threading.Thread(target=watch, daemon=True).start()
    try:
        consumer.run()
    finally:
        consumer.close()


class Background:
    """The threads of one service: outbox relay, consumer, and the service's own workers.

    On RabbitMQ (settings.on_rabbitmq) the relay publishes with kombu and the consumer reads the
    service's queue. On the embedded default the relay delivers straight to the consuming
    services (`peers`, default: every registered service opened from its settings) and there is
    no queue to consume.
    """

    def __init__(self, spec: ServiceSpec, ctx: ServiceContext, peers: Callable[[], Peers] | None = None) -> None:
        self.spec, self.ctx = spec, ctx
        self.peers = peers or registry_peers
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self, relay: bool = True, consume: bool = True, workers: bool = True) -> Background:
        """Start the chosen loops as daemon threads."""
        jobs: list[tuple[str, Callable[[], None]]] = []
        local = not self.ctx.settings.on_rabbitmq
        if relay and local:
            jobs.append(("relay", lambda: local_relay_loop(self.ctx, self.stop, self.peers)))
        elif relay:
            jobs.append(("relay", lambda: relay_loop(self.ctx, self.stop)))
        if consume and not local:
            jobs.append(("consumer", lambda: consumer_loop(self.spec, self.ctx, self.stop)))
        if workers:
            for i, worker in enumerate(self.spec.workers):
                jobs.append((f"worker{i}", lambda w=worker: w(self.ctx, self.stop)))  # type: ignore[misc]
        for label, target in jobs:
            thread = threading.Thread(target=target, name=f"{self.spec.name}-{label}", daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def shutdown(self, timeout: float = 5.0) -> None:
        """Ask every loop to stop and wait for them briefly."""
        self.stop.set()
        self.ctx.outbox_signal.set()
        for thread in self.threads:
            thread.join(timeout)
