"""Request bodies and conditional headers, refused with a 4xx before any view runs.

- A body on POST/PUT/PATCH under /api/ must be JSON (`application/json` or `+json`): anything
  else, including a complete JSON body sent as text/plain, as a form or with no content type,
  is 415 naming application/json. Views marked `accepts_upload` take multipart/form-data instead.
- JSON is UTF-8 (RFC 8259 §8.1): another declared charset, or a content coding such as gzip,
  is 415 saying what to send; bytes that are not UTF-8 are 400. JSON that is invalid is 400; JSON nested deeper than MAX_JSON_DEPTH (the parser would recurse
  until RecursionError) is 400 naming the limit.
- Uploads have their own size limit (UPLOAD_MAX_BYTES, streamed to disk by Werkzeug), separate
  from the 2 MiB JSON body limit.
- If-Match follows RFC 9110 §13.1.1: `*` or a list of entity tags; comparison is strong, so a
  weak tag (W/"…") never matches.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request

from shared.web.problems import problem

MAX_JSON_DEPTH = 64
UPLOAD_MAX_BYTES = 32 * 1024 * 1024
BODY_METHODS = ("POST", "PUT", "PATCH")
_F = TypeVar("_F", bound=Callable[..., Any])
_ETAG = re.compile(r'\s*(W/)?("[^"]*")\s*(,|$)')


def accepts_upload(hint: str = "") -> Callable[[_F], _F]:
    """Mark a view as taking multipart/form-data uploads (larger limit, no JSON check).

    `hint` is added to the 413 answer (e.g. how many rows of a catalogue fit in the limit).
    """

    def mark(view: _F) -> _F:
        view._accepts_upload = True  # type: ignore[attr-defined]
        view._upload_hint = hint  # type: ignore[attr-defined]
        return view

    return mark


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def json_depth(value: Any) -> int:
    """How deeply lists and objects nest (iterative: never recurses)."""
    if not isinstance(value, (list, dict)):
        return 0
    deepest, stack = 0, [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:  # only containers are pushed: scalars add no depth (a hot path on every JSON request)
        node, depth = pop()
        if depth > deepest:
            deepest = depth
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, (list, dict)):
                push((child, depth + 1))
    return deepest


def _check_body() -> Response | None:
    if request.method not in BODY_METHODS or not request.path.startswith("/api/"):
        return None
    view = current_app.view_functions.get(request.endpoint or "")
    if view is not None and getattr(view, "_accepts_upload", False):
        request.max_content_length = UPLOAD_MAX_BYTES
        g.upload_hint = f"uploads may be at most {UPLOAD_MAX_BYTES // (1024 * 1024)} MiB. {getattr(view, '_upload_hint', '')}".strip()
        return None
    length = request.content_length
    has_body = bool(length) or (length is None and request.headers.get("Transfer-Encoding", "").lower() == "chunked")
    if not has_body:
        return None
    if not _is_json(request.mimetype):
        sent = request.mimetype or "no content type"
        return problem(
            415, "Unsupported media type", f"send the body as application/json (this request sent {sent})",
            errors=[{"field": "Content-Type", "message": f"must be application/json, not {sent}"}],
        )
    coding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if coding not in ("", "identity"):
        return problem(
            415, "Unsupported media type", f"send the body without a content coding (this request sent {coding})",
            errors=[{"field": "Content-Encoding", "message": f"{coding} is not accepted: send the JSON as it is"}],
        )
    charset = (request.mimetype_params.get("charset") or "utf-8").strip().lower()
    if charset not in ("utf-8", "utf8"):
        return problem(
            415, "Unsupported media type", f"send JSON in UTF-8 (RFC 8259 §8.1); this request declared charset={charset}",
            errors=[{"field": "Content-Type", "message": "must be application/json; charset=utf-8 (UTF-8)"}],
        )
    raw = request.get_data(cache=True)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return problem(400, "Bad request", "the body is not UTF-8 text (JSON is sent in UTF-8)",
                       errors=[{"field": "body", "message": "not UTF-8"}])  # fmt: skip
    try:
        parsed = json.loads(text)
    except RecursionError:
        return _too_deep()
    except ValueError:
        return problem(400, "Bad request", "the body is not valid JSON", errors=[{"field": "body", "message": "not valid JSON"}])
    if json_depth(parsed) > MAX_JSON_DEPTH:
        return _too_deep()
    return None


def _too_deep() -> Response:
    message = f"nested deeper than {MAX_JSON_DEPTH} levels"
    return problem(400, "Bad request", f"the JSON body is {message}", errors=[{"field": "body", "message": message}])


def install_request_checks(app: Flask) -> None:
    """Run the body checks before every view (after authentication)."""
    app.before_request(_check_body)


def if_match_allows(header: str | None, current_etag: str) -> bool:
    """RFC 9110 If-Match: True for `*` or a list holding the current strong tag; False otherwise.

    Raises ValueError for a header that is not `*` nor a list of entity tags.
    """
    if header is None:
        return False
    value = header.strip()
    if value == "*":
        return True
    tags: list[tuple[bool, str]] = []
    position = 0
    while position < len(value):
        match = _ETAG.match(value, position)
        if match is None or match.end() == position:
            raise ValueError("not a list of entity tags")
        tags.append((bool(match.group(1)), match.group(2)))
        position = match.end()
    if not tags:
        raise ValueError("not a list of entity tags")
    return any(not weak and tag == current_etag for weak, tag in tags)


def json_body_or_none() -> Any:
    """The request's JSON body for access checks, or None when it is absent, not JSON, invalid or too deep."""
    if not request.is_json:
        return None
    try:
        body = json.loads(request.get_data(cache=True).decode("utf-8"))
    except (RecursionError, UnicodeDecodeError, ValueError):
        return None
    return body if json_depth(body) <= MAX_JSON_DEPTH else None
