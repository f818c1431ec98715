"""The formulary's use cases on a fresh database per test, once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import pytest

from services.formulary.app import SPEC
from shared.runtime import ServiceContext
from tests.support.backends import Backend


@pytest.fixture
def service_ctx(backend: Backend) -> ServiceContext:
    """An empty, migrated formulary database."""
    return backend.context(SPEC)
