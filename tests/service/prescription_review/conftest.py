"""The review centre's use cases on a fresh database per test, once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import pytest

from services.prescription_review.app import SPEC
from shared.runtime import ServiceContext
from tests.service.prescription_review.review_support import load_reference
from tests.support.backends import Backend


@pytest.fixture
def service_ctx(backend: Backend) -> ServiceContext:
    """A review database that has heard of the sample county's catalogue, sites and stocking lists."""
    ctx = backend.context(SPEC)
    load_reference(ctx)
    return ctx
