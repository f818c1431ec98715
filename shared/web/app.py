"""The Flask app factory every service shares: auth, problems, OpenAPI, health, metrics, logs."""

from __future__ import annotations

import http
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import swagger_ui_bundle
from flask import Blueprint, Flask, Response, g, request, send_from_directory
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from werkzeug.exceptions import HTTPException

from shared import correlation
from shared.access import policy_for, rule_key
from shared.auth import Principal, Unauthorized, verify_token_cached
from shared.db import is_database_unavailable, is_lock_timeout
from shared.errors import DomainError, Forbidden
from shared.runtime import ServiceContext
from shared.web.devsignin import install_dev_signin
from shared.web.health import install_health
from shared.web.metrics import bus_gauges, install_metrics
from shared.web.problems import flatten_messages, problem, strip_location
from shared.web.request_parsing import install_request_checks, json_body_or_none
from shared.web.responses import PROBLEM_CONTENT_TYPE, ProblemSchema, StandardProblems, decimal_strings
from shared.web.ui import install_shell

log = logging.getLogger("countyhub.http")

OPEN_PREFIXES = ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/swagger-ui/", "/ui", "/favicon")


class ProblemApi(Api):
    """flask-smorest's Api, answering every HTTP error as problem+json, and documenting it so.

    The shared response components (NOT_FOUND, UNPROCESSABLE_ENTITY, …) are problem+json with
    ProblemSchema; there is no catch-all `default` response, so an operation declares each status
    it can answer (shared/web/responses.py).
    """

    ERROR_SCHEMA = ProblemSchema
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = ProblemSchema
            prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)

    def handle_http_exception(self, error: HTTPException) -> Response:  # type: ignore[override]
        """Render an HTTP error (including webargs' 422) as RFC 9457."""
        data: dict[str, Any] = getattr(error, "data", None) or {}
        messages = data.get("messages")
        errors = strip_location(flatten_messages(messages)) if messages else None
        status = error.code or 500
        if status == 413:
            hint = g.get("upload_hint") or f"at most {request.max_content_length} bytes"
            errors = [{"field": "body", "message": f"larger than {request.max_content_length} bytes: {hint}"}]
            length, limit = request.content_length, request.max_content_length
            if length is not None and limit is not None and length <= limit:  # Werkzeug's form limits, not the size
                errors = [{"field": "body", "message": f"a form field over {request.max_form_memory_size} bytes or more than "
                                                      f"{request.max_form_parts} parts: send the file as the one multipart field 'file'"}]
        if status == 400 and errors and any(e["message"] == "Invalid JSON body." for e in errors):
            errors = [{"field": "body", "message": "not valid JSON"}]
        title = error.name if status != 422 else "Invalid input"
        return problem(status, title, error.description if not errors else None, errors=errors)


def current_principal() -> Principal:
    """The authenticated caller of this request."""
    return g.principal  # type: ignore[no-any-return]


def create_service_app(
    ctx: ServiceContext,
    *,
    title: str,
    blueprints: Iterable[Any],
    ui: Blueprint | None = None,
    description: str = "",
    gauges: dict[str, tuple[str, str, Callable[[], dict[str, float]]]] | None = None,
) -> Flask:
    """Build a service's app; blueprints are flask-smorest Blueprints registered on the Api."""
    # root and instance paths given: Flask would otherwise look for a module named like the service, and find a
    # test folder (tests/unit/dispatch) when a test run puts one on sys.path.
    here = Path(__file__).parent
    app = Flask(ctx.name, root_path=str(here), instance_path=str(here / "instance"))
    app.extensions["countyhub"] = ctx
    app.config.update(
        API_TITLE=title,
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL="/swagger-ui/",
        MAX_CONTENT_LENGTH=ctx.settings.max_body_bytes,
        JSON_AS_ASCII=False,
        SECRET_KEY=ctx.settings.jwt_secret,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    access = policy_for(ctx.name)
    api = ProblemApi(
        app,
        spec_kwargs={
            "info": {"description": description},
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
            "security": [{"bearer": []}],
            "extra_plugins": [StandardProblems(access)],
        },
    )
    api.ma_plugin.converter.add_attribute_function(decimal_strings)  # type: ignore[union-attr]
    for blp in blueprints:
        api.register_blueprint(blp)
    install_shell(app, ctx, ui)

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return send_from_directory(Path(__file__).parent / "ui" / "static", "favicon.svg", mimetype="image/svg+xml")

    @app.get("/swagger-ui/<path:filename>")
    def swagger_assets(filename: str) -> Response:
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)

    @app.before_request
    def _identify() -> Response | None:
        g.request_started = time.perf_counter()
        g.request_id = request.headers.get("X-Request-ID") or correlation.new_id()
        correlation.set_current(request.headers.get("X-Correlation-ID") or g.request_id)
        # Access (shared/access.py): the route's rule decides whether a token is needed and whose.
        rule = access.get(rule_key(request.method, request.url_rule.rule)) if request.url_rule else None
        if request.method == "OPTIONS" or (rule is not None and rule.public):
            return None
        if rule is None and (request.path == "/" or request.path.startswith(OPEN_PREFIXES)):
            return None
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return problem(401, "Unauthorized", "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        try:
            g.principal = verify_token_cached(header[7:].strip(), ctx.settings.keyring)
        except Unauthorized as exc:
            return problem(401, "Unauthorized", f"invalid token: {exc}", headers={"WWW-Authenticate": "Bearer"})
        if rule is not None:
            body = json_body_or_none()
            try:
                rule.check(g.principal, request.view_args or {}, request.args, body)
            except Forbidden as exc:
                errors = [{"field": k, "message": v} for k, v in exc.fields.items()] or None
                return problem(403, exc.title, exc.detail, errors=errors)
        return None

    @app.after_request
    def _tag(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        cid = correlation.current()
        if cid:
            response.headers["X-Correlation-ID"] = cid
        elapsed_ms = (time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "ms": round(elapsed_ms, 1),
                "request_id": g.get("request_id"),
            },
        )
        return response

    @app.teardown_request
    def _forget(_exc: BaseException | None) -> None:
        correlation.set_current(None)

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError) -> Response:
        errors = [{"field": k, "message": v} for k, v in exc.fields.items()] or None
        return problem(exc.status, exc.title, exc.detail, errors=errors)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            return api.handle_http_exception(exc)
        if is_lock_timeout(exc):
            # A writer that waited out the busy timeout: nothing was written; the client retries.
            log.warning("database busy", extra={"request_id": g.get("request_id"), "error": str(exc)[:200]})
            return problem(
                503, "Database busy", "the change was not made; try again in a moment",
                slug="database-busy", headers={"Retry-After": "2"},
            )
        if is_database_unavailable(exc):
            # The database is down or restarting (readiness says so too): nothing was written; retry later.
            log.warning("database unavailable", extra={"request_id": g.get("request_id"), "error": str(exc)[:200]})
            return problem(
                503, "Database unavailable", "the service's database cannot be reached; try again in a moment",
                slug="database-unavailable", headers={"Retry-After": "5"},
            )
        log.exception("unhandled error", extra={"request_id": g.get("request_id")})
        return problem(500, "Internal error", "the error was logged with this request's id")

    install_request_checks(app)
    install_dev_signin(app, ctx)
    install_health(app, ctx)
    install_metrics(app, ctx.name, {**bus_gauges(ctx), **(gauges or {})})  # the service's own win on a name clash
    return app

