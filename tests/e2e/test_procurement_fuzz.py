"""Schemathesis fuzzes every procurement operation from its OpenAPI document: never a server error.

The database knows the small county (sites, items, stocking list, distributors), so generated
requests reach the use cases, not only the schemas; each operation is called as the pharmacy
manager and as a township storekeeper.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from services.procurement.app import SPEC
from shared.migrate import upgrade
from shared.runtime import build_context
from tests.service.procurement.procurement_support import load_reference
from tests.support.web import bearer, make_settings

_TMP = Path(tempfile.mkdtemp(prefix="countyhub-fuzz-procurement-"))


def _app():  # type: ignore[no-untyped-def]
    ctx = build_context(SPEC, make_settings(SPEC.name, f"sqlite:///{_TMP / SPEC.name}.sqlite3"))
    upgrade(SPEC.migrations, ctx.engine)
    load_reference(ctx)
    return SPEC.create_app(ctx)


schema = schemathesis.openapi.from_wsgi("/openapi.json", _app())
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


@schema.parametrize()
@FUZZ
def test_procurement_never_fails_with_a_server_error_as_manager(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=bearer("pharmacy_manager", name="fuzz-mgr"), checks=[not_a_server_error])


@schema.parametrize()
@FUZZ
def test_procurement_never_fails_with_a_server_error_as_storekeeper(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=bearer("storekeeper", site="T01", name="fuzz-sk"), checks=[not_a_server_error])
