"""The bus integration tests' helpers: a RabbitMQ vhost seen through pika, a small service on the
real bus (a notes table, the outbox and inbox, the dispatch queue), PostgreSQL databases."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pika
from pika.adapters.blocking_connection import BlockingChannel
from sqlalchemy import Engine, MetaData, Table, create_engine, insert, select, text
from sqlalchemy.orm import Session

from shared.bus.consumer import EventConsumer
from shared.bus.topology import DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE, ServiceQueues, topology
from shared.db import unit_of_work
from shared.events.envelope import CloudEvent
from shared.runtime import ServiceContext, ServiceSpec, handle_each, handle_event
from tests.support.waiting import wait_until

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["wait_until"]

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
RABBIT_HOST = "127.0.0.1:5672"
SERVICE = "dispatch"  # a real consumer in the topology: bound to the formulary.* events and procurement.shipment.ready
RETIRED = "formulary.item.retired"
HERE = Path(__file__).parent


def create_database(prefix: str = "countyhub_it") -> str:
    """A fresh, empty PostgreSQL database on 127.0.0.1:5432; returns its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_database(url: str) -> None:
    """Drop a database made by create_database, closing anyone still connected."""
    name = url.rsplit("/", 1)[1]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def rabbitmqctl(*args: str, check: bool = True, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """Run a rabbitmqctl command and return its result."""
    return subprocess.run(
        ["rabbitmqctl", *args], capture_output=True, text=True, check=check, timeout=timeout
    )


def retired(code: str, version: int = 1, reason: str | None = "withdrawn") -> dict[str, Any]:
    """A formulary.item.retired payload that satisfies its contract."""
    return {"code": code, "version": version, "catalogue_version": version, "reason": reason}


# --- RabbitMQ -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivered:
    """One message read off a queue with pika."""

    body: bytes
    headers: dict[str, Any]
    message_id: str | None
    redelivered: bool

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


@dataclass
class Broker:
    """The session's RabbitMQ vhost and pika helpers to look at it from outside the bus code."""

    vhost: str

    @property
    def url(self) -> str:
        """The broker URL the bus code is given."""
        return f"amqp://guest:guest@{RABBIT_HOST}/{self.vhost}"

    @contextmanager
    def channel(self) -> Iterator[BlockingChannel]:
        """A pika channel on a fresh connection to the vhost."""
        params = pika.URLParameters(self.url)
        params.socket_timeout = 5
        connection = pika.BlockingConnection(params)
        try:
            yield connection.channel()
        finally:
            if connection.is_open:
                connection.close()

    def depth(self, queue: str) -> int:
        """Ready messages in a queue."""
        with self.channel() as ch:
            return int(ch.queue_declare(queue, passive=True).method.message_count)

    def take_all(self, queue: str) -> list[Delivered]:
        """Remove and return every ready message of a queue, in order."""
        out: list[Delivered] = []
        with self.channel() as ch:
            while True:
                method, props, body = ch.basic_get(queue, auto_ack=True)
                if method is None:
                    return out
                out.append(Delivered(body, dict(props.headers or {}), props.message_id, method.redelivered))

    def publish_raw(
        self, routing_key: str, body: bytes, *, exchange: str = EVENTS_EXCHANGE, message_id: str | None = None
    ) -> None:
        """Publish bytes with confirms, as a foreign producer would."""
        with self.channel() as ch:
            ch.confirm_delivery()
            ch.basic_publish(
                exchange,
                routing_key,
                body,
                pika.BasicProperties(content_type="application/json", delivery_mode=2, message_id=message_id),
                mandatory=True,
            )

    def reset(self) -> None:
        """Delete every queue and exchange the bus declares, so each test starts from nothing."""
        with self.channel() as ch:
            for spec in topology().values():
                for name in (spec.queue, spec.retry_queue, spec.dead_letter_queue):
                    ch.queue_delete(name)
            ch.exchange_delete(EVENTS_EXCHANGE)
            ch.exchange_delete(DEAD_LETTER_EXCHANGE)

    def list_queues(self) -> dict[str, dict[str, Any]]:
        """rabbitmqctl's view of the vhost's queues: name -> {type, arguments: {name: value}}."""
        out = rabbitmqctl(
            "list_queues", "-q", "--formatter", "json", "-p", self.vhost, "name", "type", "arguments"
        ).stdout
        return {
            q["name"]: {
                "type": q["type"],
                "arguments": {name: value for name, _type, value in q["arguments"]},
            }
            for q in json.loads(out)
        }

    def list_bindings(self) -> set[tuple[str, str, str]]:
        """rabbitmqctl's view of the vhost's bindings: (source, destination, routing key)."""
        out = rabbitmqctl(
            "list_bindings",
            "-q",
            "--formatter",
            "json",
            "-p",
            self.vhost,
            "source_name",
            "destination_name",
            "routing_key",
        ).stdout
        return {(b["source_name"], b["destination_name"], b["routing_key"]) for b in json.loads(out)}


def broker_app_running() -> bool:
    return rabbitmqctl("await_startup", "--timeout", "5", check=False, timeout=30).returncode == 0


def start_broker_app() -> None:
    """Start the RabbitMQ app (after stop_app) and wait until it accepts connections."""
    rabbitmqctl("start_app", check=False)
    rabbitmqctl("await_startup", "--timeout", "60")


class BrokerApp:
    """Stops and starts the RabbitMQ app (the whole node, not only the test vhost)."""

    def stop(self) -> None:
        """rabbitmqctl stop_app: every connection drops, the port closes."""
        rabbitmqctl("stop_app")

    def start(self) -> None:
        """rabbitmqctl start_app, then wait until the node accepts connections again."""
        start_broker_app()


# --- the test service ---------------------------------------------------------------------


@dataclass
class BusService:
    """A small service on the real bus: a notes table, the outbox and inbox, and the dispatch queue.

    Its handler for formulary.item.retired inserts a note with the item code; codes listed in
    fail_codes make it raise after the insert (a count, or -1 for always), so a failure has
    something to roll back; codes in delays make it sleep after the insert (to overlap two
    consumers).
    """

    ctx: ServiceContext
    metadata: MetaData
    notes: Table
    outbox: Table
    inbox: Table
    broker: Broker
    calls: Counter[str] = field(default_factory=Counter)
    fail_codes: dict[str, int] = field(default_factory=dict)
    delays: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def engine(self) -> Engine:
        """The service's PostgreSQL engine."""
        return self.ctx.engine

    @property
    def queues(self) -> ServiceQueues:
        """The service's queues in the real topology."""
        return topology()[SERVICE]

    @property
    def spec(self) -> ServiceSpec:
        """The ServiceSpec the runtime loops are given."""
        return ServiceSpec(
            name=SERVICE,
            port=0,
            metadata=self.metadata,
            create_app=_no_app,
            handlers={RETIRED: self.apply_note},
            migrations=HERE,
        )

    def apply_note(self, session: Session, payload: dict[str, Any], event: CloudEvent) -> None:
        """The domain handler: one note per applied event."""
        code = payload["code"]
        with self._lock:
            self.calls[code] += 1
            remaining = self.fail_codes.get(code, 0)
            if remaining > 0:
                self.fail_codes[code] = remaining - 1
        session.execute(insert(self.notes).values(text=code))
        if code in self.delays:
            time.sleep(self.delays[code])
        if remaining:
            raise RuntimeError(f"handler refuses {code}")

    def record(self, *codes: str) -> list[CloudEvent]:
        """Write one note and one retired event per code in a single committed transaction."""
        with unit_of_work(self.ctx.factory) as session:
            events = []
            for code in codes:
                session.execute(insert(self.notes).values(text=f"local:{code}"))
                events.append(self.ctx.record(session, RETIRED, retired(code)))
        return events

    def note_texts(self) -> list[str]:
        """Note texts in insertion order."""
        with self.engine.connect() as conn:
            return list(conn.execute(select(self.notes.c.text).order_by(self.notes.c.id)).scalars())

    def outbox_rows(self) -> list[Any]:
        """All outbox rows in id order."""
        with self.engine.connect() as conn:
            return list(conn.execute(select(self.outbox).order_by(self.outbox.c.id)))

    def inbox_rows(self) -> list[Any]:
        """All inbox rows."""
        with self.engine.connect() as conn:
            return list(conn.execute(select(self.inbox)))

    def handle(self, event: CloudEvent) -> bool:
        """What the runtime does with one event: the handler at most once, through the inbox."""
        return handle_event(self.spec, self.ctx, event)

    def consumer(self, handle: Callable[[CloudEvent], Any] | None = None, **kwargs: Any) -> EventConsumer:
        """An EventConsumer on the service queue, small retries and back-off unless told otherwise."""
        options: dict[str, Any] = {"prefetch": 10, "max_retries": 2, "backoff_base": 0.05, **kwargs}
        return EventConsumer(self.broker.url, self.queues, handle or self.handle, **options)

    def handle_many(self, events: list[CloudEvent]) -> list[BaseException | None]:
        """What the runtime's consumer does with a batch (shared.runtime.handle_each)."""
        return handle_each(self.spec, self.ctx, events)

    def batch_consumer(self, handle_many: Callable[..., Any] | None = None, **kwargs: Any) -> EventConsumer:
        """An EventConsumer applying batches the way the runtime's consumer loop does."""
        options: dict[str, Any] = {"prefetch": 20, "max_retries": 2, "backoff_base": 0.05, **kwargs}
        return EventConsumer(self.broker.url, self.queues, handle_many=handle_many or self.handle_many, **options)


def _no_app(ctx: ServiceContext) -> Flask:
    raise NotImplementedError("the bus tests run no web app")


@contextmanager
def running(consumer: EventConsumer) -> Iterator[EventConsumer]:
    """Run an EventConsumer in a thread for the duration of the block, then stop it."""
    thread = threading.Thread(target=consumer.run, name="it-consumer", daemon=True)
    thread.start()
    try:
        yield consumer
    finally:
        consumer.should_stop = True
        thread.join(10)
        consumer.close()
        assert not thread.is_alive(), "consumer thread did not stop"


