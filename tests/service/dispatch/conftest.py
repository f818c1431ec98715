"""Dispatch's use cases on a fresh database per test, once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import pytest

from services.dispatch.app import SPEC
from shared.runtime import ServiceContext
from tests.service.dispatch.dispatch_support import load_county
from tests.support.backends import Backend


@pytest.fixture
def service_ctx(backend: Backend) -> ServiceContext:
    """A dispatch database that has heard of the Chengwu sites, with the default fleet."""
    ctx = backend.context(SPEC)
    load_county(ctx)
    return ctx
