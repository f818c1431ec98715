"""The use-case layer: use cases called directly (no HTTP), each test on SQLite and on PostgreSQL.

Use it from tests/service/<name>/:

    @pytest.fixture
    def service_ctx(backend: Backend) -> ServiceContext:
        return backend.context(SPEC)        # a fresh database, migrated with the service's Alembic revisions

PostgreSQL is the real server on 127.0.0.1:5432 (user postgres); each context gets a random
database, dropped after the test.
"""

from __future__ import annotations

from tests.support.backends import Backend, backend

__all__ = ["Backend", "backend"]  # the fixture, for every test under tests/service


