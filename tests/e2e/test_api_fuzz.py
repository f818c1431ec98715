"""Schemathesis fuzzes every operation of every service from its own OpenAPI document, on seeded data.

The hub is started, seeded with the sample county and taken through a short working day
(tests/e2e/fuzz_support.py), so ids named in paths exist: for about half of the generated cases
each path parameter is an id the hub holds (a requisition, a review, a plan, one of its stops…),
the other half are generated. Each operation is called in-process (WSGI) with a token of a role
its access rule allows, with positive and negative inputs, at least MAX_EXAMPLES examples each,
and every answer is checked:

- never a server error (no 5xx);
- its status is one the operation declares (shared/web/responses.py gives every operation its
  success and problem responses);
- its content type is the declared one (application/json, or application/problem+json for errors);
- its body matches the declared schema.

Hypothesis runs derandomized (the same cases on every run, in CI too); the run time of the whole
module is reported by pytest (`--durations`), not asserted.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation.modes import GenerationMode
from schemathesis.generation.value import GeneratedValue

from hub.registry import specs
from shared.runtime import build_context
from tests.e2e.fuzz_support import FuzzHub, seeded_hub
from tests.support.web import make_settings

MAX_EXAMPLES = 50
FUZZ = settings(
    max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck),
)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
METHODS = ("get", "post", "put", "patch", "delete")
SOLVE_TIME_LIMIT_S = 0.3  # a synchronous solve's time limit in the fuzz (the API allows up to 60 s)


@pytest.fixture(scope="module")
def fuzz_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzHub]:
    """A hub of this module's own, seeded and taken through a working day."""
    with seeded_hub(tmp_path_factory.mktemp("fuzz-hub")) as hub:
        yield hub


def service_schema(fuzz: FuzzHub, service: str) -> Any:
    """The service's OpenAPI document, loaded from its app, with seeded ids offered for path parameters."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", fuzz.hub.services[service].app)
    ids = fuzz.ids[service]

    @schema.hook  # type: ignore[misc]
    def before_generate_path_parameters(context: Any, strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        names = [p.name for p in context.operation.path_parameters]
        known = {name: st.sampled_from(ids[name]) for name in names if ids.get(name)}
        if not known:
            return strategy
        def with_ids(generated: Any) -> st.SearchStrategy[Any]:
            return st.fixed_dictionaries(known).map(lambda chosen: _merge(generated, chosen))

        return st.one_of(strategy, strategy.flatmap(with_ids))

    @schema.hook  # type: ignore[misc]
    def map_body(context: Any, body: Any) -> Any:
        # POST /solve solves synchronously for as long as it is told (default 10 s): keep it short here.
        if context.operation.path.endswith("/solve") and isinstance(body, dict):
            options = body.get("options")
            if options is None or isinstance(options, dict):
                limited = dict(options or {})
                value = limited.get("time_limit_s")
                if not isinstance(value, (int, float)) or isinstance(value, bool) or value > SOLVE_TIME_LIMIT_S:
                    limited["time_limit_s"] = SOLVE_TIME_LIMIT_S
                return {**body, "options": limited}
        return body

    return schema


def _merge(generated: Any, chosen: dict[str, str]) -> Any:
    """Generated path parameters with some replaced by seeded ids (schemathesis wraps them in GeneratedValue)."""
    if isinstance(generated, GeneratedValue):
        return generated.map_value(lambda value: {**(value or {}), **chosen})
    return {**(generated or {}), **chosen}


def check(case: schemathesis.Case, fuzz: FuzzHub, service: str) -> None:
    """Call the operation as a role its rule allows; run every conformance check on the answer."""
    rule = case.operation.path.replace("{", "<").replace("}", ">")
    response = case.call_and_validate(headers=fuzz.bearer(service, case.method.upper(), rule), checks=CHECKS)
    ANSWERS.setdefault((service, case.method.upper(), case.operation.path), Counter())[response.status_code] += 1


def documented_operations() -> list[tuple[str, str, str]]:
    """(service, METHOD, path) of every operation the four services document (read at collection)."""
    found: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="countyhub-fuzz-docs-") as tmp:
        for spec in specs():
            ctx = build_context(spec, make_settings(spec.name, f"sqlite:///{tmp}/{spec.name}.sqlite3"))
            document = spec.create_app(ctx).test_client().get("/openapi.json").get_json()
            ctx.engine.dispose()
            for path, operations in document["paths"].items():
                found.extend((spec.name, method.upper(), path) for method in operations if method in METHODS)
    return found


OPERATIONS = documented_operations()
ANSWERS: dict[tuple[str, str, str], Counter[int]] = {}  # (service, METHOD, path) -> statuses seen


@pytest.fixture(scope="module")
def schemas(fuzz_hub: FuzzHub) -> dict[str, Any]:
    """Each service's document loaded from its running app, hooks attached."""
    return {name: service_schema(fuzz_hub, name) for name in fuzz_hub.hub.services}


@pytest.mark.parametrize(("service", "method", "path"), OPERATIONS, ids=[f"{s} {m} {p}" for s, m, p in OPERATIONS])
def test_operation_answers_as_declared(
    service: str, method: str, path: str, schemas: dict[str, Any], fuzz_hub: FuzzHub
) -> None:
    operation = schemas[service][path][method]
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @FUZZ
    @given(case=cases)
    def fuzz(case: schemathesis.Case) -> None:
        check(case, fuzz_hub, service)

    fuzz()


def test_every_operation_of_every_service_is_fuzzed(fuzz_hub: FuzzHub) -> None:
    """The four documents above hold every /api/ route of the four services (none left out)."""
    for name, running in fuzz_hub.hub.services.items():
        document = running.app.test_client().get("/openapi.json").get_json()
        documented = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops if m in METHODS}
        assert {(m, p) for s, m, p in OPERATIONS if s == name} == documented
        routes = {
            (method, rule.rule.replace("<", "{").replace(">", "}"))
            for rule in running.app.url_map.iter_rules()
            if rule.rule.startswith("/api/")
            for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
        }
        assert routes <= documented, f"{name}: {sorted(routes - documented)}"


def test_seeded_ids_exist(fuzz_hub: FuzzHub) -> None:
    """The seeding gave every id-taking path something that exists (a plan with stops and vehicles…)."""
    for service, params in fuzz_hub.ids.items():
        empty = [name for name, values in params.items() if not values and name != "po_id"]
        assert not empty, f"{service}: no seeded {empty}"




def test_seeded_ids_reach_the_use_cases() -> None:
    """Every read of something by id that was fuzzed above found it at least once (a 2xx answer):
    the seeded ids reach the use cases, not only the 404 path. Runs after the fuzz (file order)."""
    reads = [(s, m, p) for (s, m, p) in ANSWERS if m == "GET" and "{" in p]
    missed = {f"{s} {m} {p}": dict(ANSWERS[(s, m, p)]) for s, m, p in reads if not any(200 <= c < 300 for c in ANSWERS[(s, m, p)])}
    assert not missed, missed
