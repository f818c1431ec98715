"""Request bodies and conditional headers, refused with a 4xx before any view runs.

- A body on POST/PUT/PATCH under /api/ must be JSON (`application/json` or `+json`): anything
  else, including a complete JSON body sent as text/plain, as a form or with no content type,
  is 415 naming application/json. Views marked `accepts_upload` take multipart/form-data instead.
- JSON is UTF-8 (RFC 8259 §8.1): another declared charset, or a content coding such as gzip,
  is 415 saying what to send; bytes that are not UTF-8 are 400. JSON that is invalid is 400; JSON nested deeper than MAX_JSON_DEPTH (the parser would recurse
  until RecursionError) is 400 naming the limit.
- JSON is what RFC 8259 allows and a database can store (issue 13, hostile input): NaN/Infinity
  literals and numbers out of float range (1e999 would read as Infinity) are 400, integers longer
  than MAX_NUMBER_DIGITS digits are 400, an object naming a key twice is 400 naming the key (parsers
  disagree on which value wins), a leading byte-order mark is 400 saying so, and a string holding
  NUL (PostgreSQL text cannot) or a lone surrogate (not Unicode text) is 422 naming the field
  (`items[0].name`). The checks cover /api/, /cds-services/ (the CDS Hooks root mount) and the
  demonstration sign-in (/ui/dev-token): every route that reads a body.
- Bodies are at most MAX_CONTENT_LENGTH bytes (Settings.max_body_bytes, MAX_BODY_BYTES, 2 MiB by
  default), with or without a Content-Length (a chunked body is cut off at the limit): 413
  problem+json. Uploads have their own size limit (UPLOAD_MAX_BYTES, streamed to disk by Werkzeug);
  JSON imports marked `large_body` take up to LARGE_JSON_MAX_BYTES.
- If-Match follows RFC 9110 §13.1.1: `*` or a list of entity tags; comparison is strong, so a
  weak tag (W/"…") never matches.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from shared.web.problems import problem

MAX_JSON_DEPTH = 64
MAX_NUMBER_DIGITS = 400  # far beyond any quantity or price; Python itself refuses 4,300 (CVE-2020-10735)
UPLOAD_MAX_BYTES = 32 * 1024 * 1024
LARGE_JSON_MAX_BYTES = 8 * 1024 * 1024
BODY_METHODS = ("POST", "PUT", "PATCH")
CHECKED_PREFIXES = ("/api/", "/cds-services/", "/ui/dev-token")  # every route that reads a body (devsignin.PATH)
# NUL and UTF-16 surrogates can only reach a str through a \u escape (raw ones are not valid JSON / UTF-8).
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
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


def large_body(view: _F) -> _F:
    """Mark a JSON view as an import: bodies up to LARGE_JSON_MAX_BYTES instead of MAX_CONTENT_LENGTH."""
    view._large_body = True  # type: ignore[attr-defined]
    return view


class BadJson(ValueError):
    """JSON that parses under Python's lenient rules but not under RFC 8259 (or that no database can store)."""

    def __init__(self, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.field = field


def _no_constant(name: str) -> Any:
    raise BadJson(f"{name} is not a JSON number (RFC 8259 §6)")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise BadJson(f"the number {text[:40]} is out of range")
    return value


def _bounded_int(text: str) -> int:
    if len(text) > MAX_NUMBER_DIGITS:
        raise BadJson(f"a number of {len(text)} digits (at most {MAX_NUMBER_DIGITS})")
    return int(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        shown = twice[:60].encode("utf-8", "backslashreplace").decode("utf-8")
        raise BadJson(f"the key {shown!r} appears twice in one object", shown)
    return out


def strict_json(text: str) -> Any:
    """Parse JSON text as RFC 8259 has it; raises BadJson (a ValueError) naming what is wrong, or RecursionError."""
    if text.startswith("\ufeff"):
        raise BadJson("the body starts with a byte-order mark (U+FEFF): send the JSON without it (RFC 8259 §8.1)")
    value = json.loads(
        text, parse_constant=_no_constant, parse_float=_finite, parse_int=_bounded_int, object_pairs_hook=_unique_keys
    )
    if "\\u" in text and _SUSPECT_ESCAPE.search(text):
        _refuse_unstorable(value)
    return value


def _request_json(text: str) -> Any:
    """strict_json of this request's body, parsed once (the access check and the body check both ask)."""
    done = g.get("_strict_json")
    if done is None:
        try:
            done = (True, strict_json(text))
        except (RecursionError, ValueError) as exc:
            done = (False, exc)
        g._strict_json = done
    ok, result = done
    if not ok:
        raise result
    return result


def _refuse_unstorable(value: Any) -> None:
    """Raise BadJson naming the first string (key or value) that holds NUL or a lone surrogate."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            found = _UNSTORABLE.search(node)
            if found:
                ch = ord(found.group())
                what = "the control character U+0000" if ch == 0 else f"a lone surrogate U+{ch:04X} (not Unicode text)"
                raise BadJson(f"含有{'控制字符' if ch == 0 else '无效字符'} U+{ch:04X} (contains {what})", path or "body")
        elif isinstance(node, dict):
            for key, child in node.items():
                shown = key.encode("utf-8", "backslashreplace").decode("utf-8")  # a field name the answer can carry
                name = f"{path}.{shown}" if path else shown
                if _UNSTORABLE.search(key):
                    stack.append((key, name))
                stack.append((child, name))
        elif isinstance(node, list):
            stack.extend((child, f"{path}[{i}]") for i, child in enumerate(node))


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


def _view() -> Any:
    """The function that answers this request (a MethodView's method for class-based views)."""
    view = current_app.view_functions.get(request.endpoint or "")
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        return getattr(view_class, request.method.lower(), view)
    return view


def _check_url() -> Response | None:
    """A path segment or query parameter holding NUL is 422 naming it (PostgreSQL cannot compare text with NUL)."""
    for where, values in (("path", request.view_args or {}), ("query", request.args)):
        for name, value in values.items(multi=True) if where == "query" else values.items():  # type: ignore[call-arg]
            if isinstance(value, str) and "\x00" in value:
                message = "含有控制字符 U+0000 (contains the control character U+0000)"
                return problem(422, "Invalid input", f"the {where} parameter {name} {message}", errors=[{"field": name, "message": message}])
    return None


def _set_limit() -> None:
    """The body limit of this request's view: imports take more than MAX_CONTENT_LENGTH (before anything reads the body)."""
    if request.method not in BODY_METHODS:
        return
    view = _view()
    if getattr(view, "_accepts_upload", False):
        request.max_content_length = UPLOAD_MAX_BYTES  # the multipart parser refuses a longer stream itself
        return
    if getattr(view, "_large_body", False):
        request.max_content_length = LARGE_JSON_MAX_BYTES
    if request.content_length is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        _buffer_chunked(request.max_content_length)


def _buffer_chunked(limit: int | None) -> None:
    """Read a chunked body (no Content-Length) up to `limit`; RequestEntityTooLarge past it.

    Werkzeug's get_data() stops at max_content_length without an error when a stream has no length, so a
    chunked body past the limit would be read cut short (a 400 "not valid JSON", or worse valid JSON)
    instead of a 413.
    """
    environ = request.environ
    if limit is None or not environ.get("wsgi.input_terminated"):
        return  # no limit, or a server that gives no end to a chunked stream (Werkzeug then reads nothing)
    stream, data = environ["wsgi.input"], bytearray()
    while len(data) <= limit:
        part = stream.read(min(64 * 1024, limit + 1 - len(data)))
        if not part:
            break
        data += part
    if len(data) > limit:
        raise RequestEntityTooLarge()
    environ["wsgi.input"] = io.BytesIO(bytes(data))


def _check_body() -> Response | None:
    if request.method not in BODY_METHODS or not request.path.startswith(CHECKED_PREFIXES):
        return None
    view = _view()
    if view is not None and getattr(view, "_accepts_upload", False):
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
        parsed = _request_json(text)
    except RecursionError:
        return _too_deep()
    except BadJson as exc:
        if exc.field != "body" and exc.args[0].startswith("含有"):
            return problem(422, "Invalid input", str(exc), errors=[{"field": exc.field, "message": str(exc)}])
        return problem(400, "Bad request", f"the body is not valid JSON: {exc}", errors=[{"field": exc.field, "message": str(exc)}])
    except ValueError:
        return problem(400, "Bad request", "the body is not valid JSON", errors=[{"field": "body", "message": "not valid JSON"}])
    if json_depth(parsed) > MAX_JSON_DEPTH:
        return _too_deep()
    return None


def _too_deep() -> Response:
    message = f"nested deeper than {MAX_JSON_DEPTH} levels"
    return problem(400, "Bad request", f"the JSON body is {message}", errors=[{"field": "body", "message": message}])


def install_request_checks(app: Flask) -> None:
    """Set the view's body limit before anything else reads the body; run the body checks before every view
    (after authentication)."""
    app.before_request_funcs.setdefault(None, []).insert(0, _set_limit)
    app.before_request_funcs[None].insert(0, _check_url)
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
        body = _request_json(request.get_data(cache=True).decode("utf-8"))
    except (RecursionError, UnicodeDecodeError, ValueError):
        return None
    return body if json_depth(body) <= MAX_JSON_DEPTH else None
