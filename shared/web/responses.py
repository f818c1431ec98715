"""What every API operation declares it may answer: its success schema and its problem responses.

Every error the services send is RFC 9457 `application/problem+json` (shared/web/problems.py).
The OpenAPI document says so for every operation, so a client (and the schema-driven fuzz test,
tests/e2e/test_api_fuzz.py) can check each answer against the declared status, content type and
body:

- `ProblemSchema`: the body of every problem (`type`, `title`, `status`, `instance`, optional
  `detail`, `errors` naming fields, `request_id`; extension members such as a receipt's
  `violations` are allowed, RFC 9457 §3.2).
- `StandardProblems`: an apispec plugin that adds the problems the app factory itself can send
  to every documented operation, derived from the service's access table (shared/access.py) and the
  request checks (shared/web/request_parsing.py):
  401 and 403 when the route needs a token; 400, 413 and 415 when the method carries a body;
  400 and 422 when it reads query parameters (a cursor it did not give out is 400; flask-smorest
  adds 422); 422 when it reads a body; 503 (database busy, with
  Retry-After) on every operation.
- `problems(blp, *codes)`: the operation's own problems (404 for an id that does not exist, 409
  for a state clash, 412/428 for If-Match), as references to the shared problem responses.

tests/unit/test_openapi_responses.py walks every service's document and fails on an operation
without a success schema or without its problems.
"""

from __future__ import annotations

import http
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from apispec import BasePlugin
from marshmallow import INCLUDE, Schema, fields, post_dump

from shared.access import Rule, rule_key

PROBLEM_CONTENT_TYPE = "application/problem+json"
BODY_METHODS = ("post", "put", "patch")
_F = TypeVar("_F", bound=Callable[..., Any])


class FieldProblemSchema(Schema):
    """One field's problem: which field (a dotted path, `body` or `query`) and what is wrong."""

    field = fields.String(required=True)
    message = fields.String(required=True)


class ProblemSchema(Schema):
    """An RFC 9457 problem details object as shared/web/problems.problem() writes it."""

    class Meta:
        unknown = INCLUDE  # extension members (RFC 9457 §3.2) are allowed

    type = fields.String(required=True, metadata={"description": "a URI naming the kind of problem"})
    title = fields.String(required=True)
    status = fields.Integer(required=True, metadata={"description": "the HTTP status code"})
    instance = fields.String(metadata={"description": "the request path"})
    detail = fields.String()
    errors = fields.List(fields.Nested(FieldProblemSchema), metadata={"description": "per-field problems"})
    request_id = fields.String()


class OpenSchema(Schema):
    """An answer whose documented members are typed, and which may carry more (additionalProperties).

    Dumping keeps every member of the original mapping, so declaring a schema on a view that
    answered a plain dict changes nothing a client sees; the declared members are converted
    (dates to ISO strings) and documented.
    """

    class Meta:
        unknown = INCLUDE

    @post_dump(pass_original=True)
    def _keep_undeclared(self, data: dict[str, Any], original: Any, **_: Any) -> dict[str, Any]:
        if isinstance(original, Mapping):
            for key, value in original.items():
                if key not in self.fields:
                    data[key] = value
        return data


def decimal_strings(converter: Any, field: fields.Field, **_: Any) -> dict[str, Any]:
    """apispec attribute function: a Decimal dumped as a string ("0.3000") is documented as one."""
    if isinstance(field, fields.Decimal) and field.as_string:
        return {"type": "string", "format": "decimal"}
    return {}


def response_name(status: int) -> str:
    """The name of the shared response component for a status ("NOT_FOUND" for 404)."""
    return http.HTTPStatus(status).name


def standard_codes(method: str, rule: Rule | None, operation: Mapping[str, Any]) -> set[int]:
    """The problem statuses the app factory can send for one operation (see the module docstring)."""
    codes = {503}
    if rule is not None and not rule.public:
        codes |= {401, 403}
    if method in BODY_METHODS:
        codes |= {400, 413, 415}
    if operation.get("parameters"):
        codes |= {400, 422}  # 400: a paging cursor this API did not give out (shared/search.BadCursor)
    if operation.get("requestBody"):
        codes.add(422)
    return codes


class StandardProblems(BasePlugin):
    """apispec plugin: every documented operation of the service declares the app factory's problems.

    `policy` is the service's access table (shared.access.policy_for), keyed "METHOD <Flask rule>".
    An operation keeps a response it declares itself for the same status.
    """

    def __init__(self, policy: Mapping[str, Rule]) -> None:
        self.policy = policy

    def operation_helper(self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Add the standard problem responses (by reference) to each operation of an API path."""
        flask_rule = kwargs.get("rule")
        if not operations or flask_rule is None:
            return
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            rule = self.policy.get(rule_key(method.upper(), flask_rule.rule))
            responses = operation.setdefault("responses", {})
            for code in sorted(standard_codes(method, rule, operation)):
                if code not in responses and str(code) not in responses:
                    responses[code] = response_name(code)


def problems(blp: Any, *codes: int) -> Callable[[_F], _F]:
    """Declare an operation's own problem responses (404, 409, 412, 428…) on flask-smorest blueprint `blp`."""

    def decorate(view: _F) -> _F:
        for code in codes:
            view = blp.alt_response(code, response=response_name(code))(view)
        return view

    return decorate
