"""Fixtures of the fault tests (tests/faults/).

The server fault tests (test_server_faults_*.py) stop and kill servers and processes, so they run
against a private PostgreSQL cluster and a private RabbitMQ node of their own
(tests/support/servers.py), never the machine's shared ones: `private` starts both once per session
and removes them at its end; `fault_hub` runs the four services on them as real processes, once
per test module (tests/faults/server_faults_support.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.servers import PrivateServers, private_servers


@pytest.fixture(scope="session")
def private() -> Iterator[PrivateServers]:
    """A private PostgreSQL and RabbitMQ for the session; both removed at its end.

    The RabbitMQ node may still be booting when this is handed out: use private.rabbit.wait_started().
    """
    with private_servers(wait=False) as servers:
        yield servers


@pytest.fixture(scope="module")
def fault_hub(private: PrivateServers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The four services as real processes on the private servers (a Hub), stopped after the module."""
    from tests.faults.server_faults_support import Hub

    hub = Hub(private, tmp_path_factory.mktemp("faults-hub"))
    try:
        yield hub.start()
    finally:
        hub.stop()
        # Whatever a test did, the servers are up again for the next module.
        if not private.postgres.running:
            private.postgres.start()
        if not private.rabbit.running:
            private.rabbit.start()
            private.rabbit.wait_started()


@pytest.fixture
def hub_alive(fault_hub: object) -> object:
    """The module's hub with every process running (one a failed test left dead is started again)."""
    fault_hub.revive()  # type: ignore[attr-defined]
    return fault_hub
