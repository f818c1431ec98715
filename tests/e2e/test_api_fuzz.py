"""Schemathesis fuzzes every formulary and dispatch operation from its own OpenAPI document: never a 500."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from services.dispatch.app import SPEC as DISPATCH
from services.formulary.app import SPEC as FORMULARY
from shared.migrate import upgrade
from shared.runtime import ServiceSpec, build_context
from tests.support.web import bearer, make_settings

_TMP = Path(tempfile.mkdtemp(prefix="countyhub-fuzz-"))


def _app(spec: ServiceSpec):  # type: ignore[no-untyped-def]
    ctx = build_context(spec, make_settings(spec.name, f"sqlite:///{_TMP / spec.name}.sqlite3"))
    upgrade(spec.migrations, ctx.engine)
    return spec.create_app(ctx)


formulary_app = _app(FORMULARY)
dispatch_app = _app(DISPATCH)
formulary_schema = schemathesis.openapi.from_wsgi("/openapi.json", formulary_app)
# The solve endpoint would spend its whole time budget on generated problems; its bad input is
# covered case by case in test_dispatch_api.
dispatch_schema = schemathesis.openapi.from_wsgi("/openapi.json", dispatch_app).exclude(path="/api/v1/solve")
FUZZ = settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))


@formulary_schema.parametrize()
@FUZZ
def test_formulary_never_fails_with_a_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=bearer("pharmacy_manager"), checks=[not_a_server_error])


@dispatch_schema.parametrize()
@FUZZ
def test_dispatch_never_fails_with_a_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=bearer("dispatcher"), checks=[not_a_server_error])
