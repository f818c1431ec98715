"""The use-case layer: use cases called directly (no HTTP), each test on SQLite and on PostgreSQL.

Use it from tests/service/<name>/:

    @pytest.fixture
    def service_ctx(backend: Backend) -> ServiceContext:
        return backend.context(SPEC)        # a fresh database, migrated with the service's Alembic revisions

PostgreSQL is the real server on 127.0.0.1:5432 (user postgres); each context gets a random
database, dropped after the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.backends import BACKENDS, Backend


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Makes fresh migrated ServiceContexts on SQLite, then (second run) on PostgreSQL."""
    made = Backend(str(request.param), tmp_path)
    try:
        yield made
    finally:
        made.close()
