"""Fixtures for the deployment tests: a random PostgreSQL database and a random RabbitMQ vhost.

The helpers that run services as production does live in tests/support/processes.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.support.bus import (
    Broker,
    broker_app_running,
    create_database,
    drop_database,
    rabbitmqctl,
    start_broker_app,
)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database (random name), dropped afterwards."""
    url = create_database("countyhub_deploy")
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture
def vhost() -> Iterator[Broker]:
    """A fresh RabbitMQ vhost (random name), deleted afterwards."""
    if not broker_app_running():
        start_broker_app()
    name = f"countyhub_deploy_{uuid.uuid4().hex[:10]}"
    rabbitmqctl("add_vhost", name)
    try:
        rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield Broker(name)
    finally:
        rabbitmqctl("delete_vhost", name, check=False)
