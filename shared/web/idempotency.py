"""Idempotency-Key on creating POSTs: a retried request gets the first answer again."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, g, make_response, request
from sqlalchemy.exc import IntegrityError

from shared.clock import utcnow
from shared.text import first_invisible
from shared.web.idempotency_store import add_idempotency_table as add_idempotency_table
from shared.web.idempotency_store import remember_response, remembered_response
from shared.web.problems import problem


def _caller(principal: Any) -> str:
    """Whose keys these are: the subject and, for a site-confined token, its site (the same person
    signed in for another site never gets the first site's answer); hashed when too long to store."""
    if principal is None:
        return "anonymous"
    scope = principal.site_scope()
    who = str(principal.subject) if scope is None else f"{principal.subject}@{scope}"
    return who if len(who) <= 120 else "sha256:" + hashlib.sha256(who.encode()).hexdigest()


def key_problem(key: str) -> str | None:
    """What is wrong with an Idempotency-Key, or None: at most 200 characters, and no character of a
    Unicode "other" category (shared.text.first_invisible: every Cc control, tab and U+0080–U+009F
    included, and Cf/Cs/Co/Cn such as U+202E, U+200B). RFC 9110 §5.5 allows no controls in a field
    value (U+0000 was a 500 on PostgreSQL); an invisible character made a key that looked like another
    and was stored as sent."""
    if len(key) > 200:
        return "at most 200 characters"
    try:  # a header arrives as latin-1: the characters a client meant, when it sent UTF-8 (U+FEFF is "ï»¿")
        meant = key.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        meant = key
    odd = first_invisible(key) or first_invisible(meant)
    if odd is not None:
        return f"含有控制或不可见字符 U+{ord(odd):04X} (contains the control or invisible character U+{ord(odd):04X})"
    return None


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Replay the stored response when a POST comes again with the same Idempotency-Key."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get("Idempotency-Key")
        if not key:
            return view(*args, **kwargs)
        bad = key_problem(key)
        if bad is not None:
            return problem(400, "Invalid header", errors=[{"field": "Idempotency-Key", "message": bad}])
        ctx = current_app.extensions["countyhub"]
        table = ctx.metadata.tables["idempotency_keys"]
        principal = getattr(g, "principal", None)
        who = _caller(principal)
        fingerprint = hashlib.sha256(
            request.method.encode() + request.full_path.encode() + (request.get_data() or b"")
        ).hexdigest()
        with ctx.factory() as session:
            row = remembered_response(session, table, who, key)
        if row is not None:
            if row.fingerprint != fingerprint:
                return problem(
                    422,
                    "Idempotency-Key reused",
                    "this key was used for a different request",
                    errors=[{"field": "Idempotency-Key", "message": "already used with another request body"}],
                )
            replay = Response(row.body, status=row.status, mimetype="application/json")
            replay.headers["Idempotent-Replayed"] = "true"
            if row.location:
                replay.headers["Location"] = row.location
            if row.etag:
                replay.headers["ETag"] = row.etag
            return replay
        response = make_response(view(*args, **kwargs))
        if 200 <= response.status_code < 300:
            try:
                with ctx.factory.begin() as session:
                    remember_response(
                        session,
                        table,
                        principal=who,
                        key=key,
                        fingerprint=fingerprint,
                        status=response.status_code,
                        body=response.get_data(as_text=True),
                        location=response.headers.get("Location"),
                        etag=response.headers.get("ETag"),
                        created_at=utcnow(),
                    )
            except IntegrityError:
                pass  # a concurrent twin stored it first; both answers are the same change's
        return response

    return wrapper
