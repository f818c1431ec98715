"""Procurement's use cases on a fresh database per test, once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import pytest

from services.procurement.app import SPEC
from shared.runtime import ServiceContext
from tests.service.procurement.procurement_support import load_reference
from tests.support.backends import Backend


@pytest.fixture
def service_ctx(backend: Backend) -> ServiceContext:
    """A procurement database that knows the small county, its items and two distributors."""
    ctx = backend.context(SPEC)
    load_reference(ctx)
    return ctx
