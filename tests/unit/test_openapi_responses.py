"""Every operation of every service declares its answers: a success schema and its problem responses.

Walks the OpenAPI document each registered service generates (hub/registry.py), so an operation
added later without `@blp.response(code, Schema)` — or without the problems the app factory can
send for it (shared/web/responses.py) — fails here before the fuzz test ever runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from hub.registry import specs
from shared.access import policy_for, rule_key
from shared.runtime import ServiceSpec, build_context
from shared.web.responses import PROBLEM_CONTENT_TYPE
from tests.support.web import make_settings

METHODS = ("get", "post", "put", "patch", "delete")


def _app_and_document(spec: ServiceSpec, tmp: Path) -> tuple[Flask, dict[str, Any]]:
    ctx = build_context(spec, make_settings(spec.name, f"sqlite:///{tmp / spec.name}.sqlite3"))
    try:
        app = spec.create_app(ctx)
        reply = app.test_client().get("/openapi.json")
        assert reply.status_code == 200
        return app, reply.get_json()
    finally:
        ctx.engine.dispose()


def _document(spec: ServiceSpec, tmp: Path) -> dict[str, Any]:
    return _app_and_document(spec, tmp)[1]


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        *_, kind, name = node["$ref"].split("/")
        node = document["components"][kind][name]
    return node


def _flask_rule(path: str) -> str:
    return path.replace("{", "<").replace("}", ">")


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, ops in document["paths"].items() for m, op in ops.items() if m in METHODS]


def _problems(spec: ServiceSpec, document: dict[str, Any]) -> list[str]:
    policy = policy_for(spec.name)
    faults: list[str] = []
    for method, path, op in _operations(document):
        name = f"{spec.name} {method.upper()} {path}"
        responses = op.get("responses", {})
        if "default" in responses:
            faults.append(f"{name}: a catch-all 'default' response hides which statuses it answers")
        successes = {c: _resolve(document, r) for c, r in responses.items() if c.startswith("2")}
        if not successes:
            faults.append(f"{name}: no success response")
        for code, response in successes.items():
            if code == "204":
                continue
            content = response.get("content", {})
            if not content or not all(media.get("schema") for media in content.values()):
                faults.append(f"{name}: {code} declares no schema for its body")
        rule = policy.get(rule_key(method.upper(), _flask_rule(path)))
        expected = {"503"}
        if rule is None or not rule.public:
            expected |= {"401", "403"}
        if method in ("post", "put", "patch"):
            expected |= {"400", "413", "415"}
        if op.get("parameters"):
            expected |= {"400", "422"}
        if op.get("requestBody"):
            expected.add("422")
        if "{" in path and not {"404", "422"} & set(responses):
            faults.append(f"{name}: names something in its path but declares neither 404 nor 422")
        for code in sorted(expected - set(responses)):
            faults.append(f"{name}: does not declare {code}")
        for code, raw in responses.items():
            if code[0] not in "45":
                continue
            content = _resolve(document, raw).get("content", {})
            schema = content.get(PROBLEM_CONTENT_TYPE, {}).get("schema")
            if set(content) != {PROBLEM_CONTENT_TYPE} or schema is None:
                faults.append(f"{name}: {code} is not declared as {PROBLEM_CONTENT_TYPE} with a schema")
            elif set(_resolve(document, schema).get("required", [])) != {"type", "title", "status"}:
                faults.append(f"{name}: {code} is not the problem details schema")
    return faults


@pytest.mark.parametrize("spec", specs(), ids=lambda s: s.name)
def test_every_operation_declares_its_success_schema_and_problems(spec: ServiceSpec, tmp_path: Path) -> None:
    document = _document(spec, tmp_path)
    assert _operations(document), f"{spec.name} documents no operation"
    assert _problems(spec, document) == []


@pytest.mark.parametrize("spec", specs(), ids=lambda s: s.name)
def test_every_api_route_is_in_the_document(spec: ServiceSpec, tmp_path: Path) -> None:
    """A route under /api/ registered outside flask-smorest (a plain Flask view) would escape the walk above."""
    app, document = _app_and_document(spec, tmp_path)
    documented = {(m.upper(), p) for m, p, _ in _operations(document)}
    routes = {
        (method, rule.rule.replace("<", "{").replace(">", "}"))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    assert sorted(routes - documented) == []


def test_the_walk_finds_an_operation_that_declares_nothing(tmp_path: Path) -> None:
    """The check itself fails on an undeclared operation (so the test above can fail)."""
    spec = specs()[0]
    document = _document(spec, tmp_path)
    method, path, op = _operations(document)[0]
    op["responses"] = {"200": {"description": "OK"}, "404": {"description": "Not found"}}
    found = _problems(spec, document)
    name = f"{spec.name} {method.upper()} {path}"
    assert f"{name}: 200 declares no schema for its body" in found
    assert f"{name}: 404 is not declared as {PROBLEM_CONTENT_TYPE} with a schema" in found
    assert f"{name}: does not declare 503" in found
