"""Schemathesis fuzzes every review-centre operation from its own OpenAPI document: never a 500,
as a pharmacist (screening, queue, decisions) and as the pharmacy manager (configuration)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from services.prescription_review.app import SPEC
from shared.migrate import upgrade
from shared.runtime import build_context
from tests.service.prescription_review.review_support import load_reference
from tests.support.web import bearer, make_settings

_TMP = Path(tempfile.mkdtemp(prefix="countyhub-review-fuzz-"))
_ctx = build_context(SPEC, make_settings(SPEC.name, f"sqlite:///{_TMP / 'review.sqlite3'}"))
upgrade(SPEC.migrations, _ctx.engine)
load_reference(_ctx)
review_schema = schemathesis.openapi.from_wsgi("/openapi.json", SPEC.create_app(_ctx))
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


@review_schema.parametrize()
@FUZZ
def test_review_never_fails_with_a_server_error_for_a_pharmacist(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=bearer("pharmacist"), checks=[not_a_server_error])


@review_schema.parametrize()
@FUZZ
def test_review_never_fails_with_a_server_error_for_the_manager(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=bearer("pharmacy_manager"), checks=[not_a_server_error])
