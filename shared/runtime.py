"""What a running service is made of, and the background loops that move its events."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, MetaData
from sqlalchemy.orm import Session, sessionmaker

from shared import correlation
from shared.bus.consumer import EventConsumer
from shared.bus.inbox import Handler, consume_once, prepare
from shared.bus.outbox import record_event, relay_batch
from shared.bus.publisher import EventPublisher
from shared.bus.topology import topology
from shared.config import Settings
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

    @property
    def name(self) -> str:
        """The service's name."""
        return self.settings.service

    def record(self, session: Session, event_type: str, data: dict[str, Any], subject: str | None = None) -> CloudEvent:
        """Write an event to this service's outbox in the caller's transaction."""
        return record_event(
            session,
            self.metadata,
            event_type,
            data,
            source=f"/countyhub/{self.name}",
            subject=subject,
            correlation_id=correlation.current(),
        )


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


def handle_event(spec: ServiceSpec, ctx: ServiceContext, event: CloudEvent) -> bool:
    """Run the service's handler for one event, at most once; False if it was a duplicate or unhandled.

    The payload is loaded through the event type's contract before the handler runs; a payload
    the contract rejects raises PoisonMessage (the consumer dead-letters it with the reason).
    """
    handler = spec.handlers.get(event.type)
    if handler is None:
        return False
    delivery = prepare(event, handler)
    correlation.set_current(event.correlationid or event.id)
    try:
        return consume_once(ctx.factory, ctx.metadata, spec.name, event, handler, delivery.payload)
    finally:
        correlation.set_current(None)


def relay_loop(ctx: ServiceContext, stop: threading.Event, poll_s: float = 0.2) -> None:
    """Publish the outbox until stopped; back off while the broker is away."""
    publisher = EventPublisher(ctx.settings.broker_url)
    idle = poll_s
    try:
        while not stop.is_set():
            try:
                sent = relay_batch(ctx.factory, ctx.metadata, publisher.send)
                idle = poll_s if sent else min(idle * 1.5, 2.0) if idle > poll_s else poll_s
                if sent:
                    continue
            except Exception:  # noqa: BLE001 - the loop must outlive database hiccups
                log.exception("outbox relay failed")
                idle = 2.0
            stop.wait(idle)
    finally:
        publisher.close()


def consumer_loop(spec: ServiceSpec, ctx: ServiceContext, stop: threading.Event) -> None:
    """Consume the service's queue until stopped."""
    queues = topology().get(spec.name)
    if queues is None:
        return
    consumer = EventConsumer(
        ctx.settings.broker_url,
        queues,
        lambda event: handle_event(spec, ctx, event),
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
    """The threads of one service: outbox relay, consumer, and the service's own workers."""

    def __init__(self, spec: ServiceSpec, ctx: ServiceContext) -> None:
        self.spec, self.ctx = spec, ctx
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self, relay: bool = True, consume: bool = True, workers: bool = True) -> Background:
        """Start the chosen loops as daemon threads."""
        jobs: list[tuple[str, Callable[[], None]]] = []
        if relay:
            jobs.append(("relay", lambda: relay_loop(self.ctx, self.stop)))
        if consume:
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
        for thread in self.threads:
            thread.join(timeout)
