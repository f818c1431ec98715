"""Fixtures for the bus integration tests: a real PostgreSQL database and a real RabbitMQ vhost.

The session gets its own database and vhost (random names), so a hub running on this machine is
never touched, except by the broker outage tests, which stop and restart the RabbitMQ app itself.
Every test starts from empty tables and no queues or exchanges in the vhost. The helpers the
fixtures hand out (Broker, BusService, running, wait_until ...) live in tests/support/bus.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, Text, text

from shared.bus.consumer import EventConsumer
from shared.bus.publisher import EventPublisher
from shared.bus.rabbit_admin import declare_topology
from shared.bus.tables import add_bus_tables
from shared.config import Settings
from shared.db import make_engine, new_metadata, session_factory
from shared.runtime import ServiceContext
from tests.support.bus import (
    SERVICE,
    Broker,
    BrokerApp,
    BusService,
    broker_app_running,
    create_database,
    drop_database,
    rabbitmqctl,
    running,
    start_broker_app,
)
from tests.support.waiting import wait_until

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test in this folder needs the real services: mark it integration."""
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def broker_vhost() -> Iterator[Broker]:
    """An isolated vhost for the session, deleted at the end."""
    if not broker_app_running():
        start_broker_app()
    vhost = f"countyhub_it_{uuid.uuid4().hex[:10]}"
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield Broker(vhost)
    finally:
        if not broker_app_running():
            start_broker_app()
        rabbitmqctl("delete_vhost", vhost, check=False)


@pytest.fixture
def broker(broker_vhost: Broker) -> Broker:
    """The session vhost, emptied of the bus's queues and exchanges."""
    broker_vhost.reset()
    return broker_vhost


@pytest.fixture
def topology(broker: Broker) -> Broker:
    """The emptied vhost with the topology declared as the deployment Job does (pika, quorum queues)."""
    declare_topology(broker.url, quorum=True)
    return broker


@pytest.fixture
def broker_app(broker: Broker) -> Iterator[BrokerApp]:
    """Lets a test stop the RabbitMQ app; the app is always started again afterwards."""
    try:
        yield BrokerApp()
    finally:
        if not broker_app_running():
            start_broker_app()


@pytest.fixture
def publisher(broker: Broker) -> Iterator[EventPublisher]:
    """The outbox relay's real send()."""
    pub = EventPublisher(broker.url)
    try:
        yield pub
    finally:
        pub.close()


# --- PostgreSQL -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for the session, dropped at the end."""
    url = create_database()
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture(scope="session")
def service_schema(database_url: str) -> Iterator[tuple[MetaData, Table, Engine]]:
    """The test service's tables, created once on the session database."""
    metadata = new_metadata()
    add_bus_tables(metadata)
    notes = Table(
        "notes",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("text", Text, nullable=False),
    )
    engine = make_engine(database_url)
    metadata.create_all(engine)
    try:
        yield metadata, notes, engine
    finally:
        engine.dispose()


@pytest.fixture
def service(
    service_schema: tuple[MetaData, Table, Engine], topology: Broker, database_url: str
) -> BusService:
    """The test service with empty tables, wired to the session's database and declared vhost."""
    broker = topology
    metadata, notes, engine = service_schema
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE notes, outbox, inbox RESTART IDENTITY"))
    settings = Settings(
        service=SERVICE,
        database_url=database_url,
        broker_url=broker.url,
        jwt_secret="integration-tests",
        port=0,
        embedded=False,
        prefetch=10,
        max_retries=2,
    )
    ctx = ServiceContext(settings=settings, metadata=metadata, engine=engine, factory=session_factory(engine))
    outbox, inbox = metadata.tables["outbox"], metadata.tables["inbox"]
    return BusService(ctx=ctx, metadata=metadata, notes=notes, outbox=outbox, inbox=inbox, broker=broker)


@pytest.fixture
def run_consumer() -> Callable[[EventConsumer], Any]:
    """The running() context manager, as a fixture for the test modules."""
    return running


@pytest.fixture
def wait() -> Callable[..., Any]:
    """The wait_until() polling helper, as a fixture for the test modules."""
    return wait_until
