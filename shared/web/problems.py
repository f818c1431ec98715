"""RFC 9457 problem details, with field-level messages for bad input."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, g, json, request

PROBLEM_TYPE_BASE = "https://countyhub.local/problems/"


def flatten_messages(messages: Any, prefix: str = "") -> list[dict[str, str]]:
    """Turn marshmallow/webargs nested messages into [{'field': 'a.b', 'message': ...}]."""
    out: list[dict[str, str]] = []
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            if isinstance(key, int):  # list positions read as stops[3].window
                out.extend(flatten_messages(value, f"{prefix}[{key}]"))
                continue
            if key in ("key", "value") and prefix and isinstance(value, list):
                # a Dict field's key/value error belongs to the entry itself: deliver.cold, not deliver.cold.value
                out.extend(flatten_messages(value, prefix))
                continue
            name = "" if key == "_schema" else str(key)
            path = f"{prefix}.{name}" if prefix and name else (prefix or name)
            out.extend(flatten_messages(value, path))
    elif isinstance(messages, (list, tuple)):
        if all(isinstance(m, str) for m in messages):
            for message in messages:
                out.append({"field": prefix or "body", "message": message})
        else:
            for item in messages:
                out.extend(flatten_messages(item, prefix))
    else:
        out.append({"field": prefix or "body", "message": str(messages)})
    return out


def problem(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    errors: list[dict[str, str]] | None = None,
    slug: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An application/problem+json response."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + (slug or str(status)),
        "title": title,
        "status": status,
        "instance": request.path,
    }
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    request_id = getattr(g, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    # backslashreplace: a lone surrogate echoed from the request (a field name, a path) cannot be UTF-8
    text = json.dumps(body, ensure_ascii=False).encode("utf-8", "backslashreplace")
    response = Response(text, status=status, mimetype="application/problem+json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def strip_location(errors: list[dict[str, str]]) -> list[dict[str, str]]:
    """Drop webargs' location prefix ('json.', 'query.') so a field reads as the client sent it."""
    out = []
    for err in errors:
        field = err["field"]
        for loc in ("json.", "query.", "form.", "headers.", "files."):
            if field.startswith(loc):
                field = field[len(loc):]
                break
        else:
            if field in ("json", "query", "form", "files"):
                field = "body" if field != "query" else "query"
        out.append({"field": field, "message": err["message"]})
    return out
