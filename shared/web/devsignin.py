"""The demonstration sign-in: a role chosen on the page, for the embedded default on this machine only.

`POST /ui/dev-token` ``{"role": "storekeeper", "site": "CW-T01", "name": "王芳"}`` →
``{"token", "role", "site", "name", "subject", "demo": true}``.

It exists only when `Settings.dev_login` is true, which `shared.config.load_settings` grants only
to the embedded default (no database URL) listening on a loopback address (127.0.0.1, ::1,
localhost), unless HUB_DEV_LOGIN=0; anywhere else the route is not registered (404). Even then a
caller that is not on loopback gets 404. Its tokens:

- have the subject ``demo-<role>-<8 hex>``, never a name a person or the system signs with, so an
  approval made through it reads ``approved_by: demo-pharmacy_manager-…``;
- carry ``"demo": true`` and the display name only as ``name``, after refusing the system's own
  names (`RESERVED_NAMES`: the seed loader is ``seed``) and anything starting ``demo-``;
- live as long as any token of this hub (`Settings.token_ttl`, one shift).

Errors: 422 problem+json naming `role`, `site` or `name`.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import unicodedata
from typing import Any

from flask import Flask, Response, abort, jsonify, request

from shared.auth import ROLES, issue_token
from shared.runtime import ServiceContext
from shared.web.problems import problem

PATH = "/ui/dev-token"
# The seed loader signs as `seed` and `seed-committee`; anything named like them is the system's.
RESERVED_PREFIXES = ("seed-", "system-", "countyhub-")
SUBJECT_PREFIX = "demo-"
NAME_MAX = 40
SITE_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,31}$")
# Names the system itself signs with or that read as an authority; compared case-folded, spaces removed.
RESERVED_NAMES = frozenset(
    {"seed", "system", "admin", "administrator", "root", "countyhub", "hub", "relay", "worker", "consumer",
     "scheduler", "migration", "import", "bulkimport", "his", "系统", "系统初始化", "管理员", "超级管理员"}
)


# After NFKC (full-width letters become ASCII): Han, ASCII letters and digits, spaces and the
# punctuation of names (· - ' .). Cyrillic/Greek look-alikes (sеed with a Cyrillic е) and
# zero-width or other invisible characters are refused, so no name can pass for a reserved one.
NAME_CHARS = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fffA-Za-z0-9 ·.'-]+$")


def display_name(name: str) -> str:
    """The name as shown and signed: NFKC-normalised (ｓｅｅｄ -> seed), outer blanks removed."""
    return unicodedata.normalize("NFKC", name).strip()


def name_problem(name: str) -> str | None:
    """Why a display name may not be used for a demonstration sign-in, or None."""
    if len(name) > NAME_MAX:
        return f"at most {NAME_MAX} characters"
    if any(not ch.isprintable() for ch in name):
        return "no control characters"
    name = display_name(name)
    if not name:
        return "a name"
    if not NAME_CHARS.match(name):
        return "Chinese characters or Latin letters, digits, spaces and · - ' . only"
    folded = "".join(ch for ch in name.casefold() if ch.isalnum() or ch == "-")
    bare = folded.replace("-", "")  # "S e-e.d" is seed
    if bare in RESERVED_NAMES or bare in {r.casefold().replace("_", "") for r in ROLES}:
        return "reserved for the system; choose a person's name"
    if folded.startswith(SUBJECT_PREFIX):
        return f"may not start with {SUBJECT_PREFIX}"
    if folded.startswith(RESERVED_PREFIXES):
        return "reserved for the system; choose a person's name"
    return None


# A request relayed by a proxy carries one of these; through a proxy the caller is not on this machine.
FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP", "Via", "X-Client-IP")


def _loopback_host(host: str) -> bool:
    """True for `127.0.0.1`, `127.0.0.1:8501`, `[::1]:8501`, `localhost`, `localhost:8501`."""
    host = host.strip().lower()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else ""
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _from_loopback() -> bool:
    """The caller is on this machine: loopback peer, a loopback Host (no DNS rebinding), a loopback
    Origin when a browser sends one, and no proxy's forwarding headers."""
    try:
        peer = ipaddress.ip_address((request.remote_addr or "").split("%")[0]).is_loopback
    except ValueError:
        return False
    if not peer or any(h in request.headers for h in FORWARDING_HEADERS):
        return False
    if not _loopback_host(request.host or ""):
        return False
    origin = request.headers.get("Origin")
    if origin is not None:
        netloc = origin.split("://", 1)[1] if "://" in origin else ""
        return _loopback_host(netloc.split("/", 1)[0])
    return True


def install_dev_signin(app: Flask, ctx: ServiceContext) -> None:
    """Register the demonstration sign-in route if, and only if, the settings allow it."""
    if not ctx.settings.dev_login:
        return

    @app.post(PATH)
    def dev_token() -> Response:
        if not _from_loopback():
            abort(404)
        body: Any = request.get_json(silent=True)
        if not isinstance(body, dict):
            return problem(422, "Invalid input", errors=[{"field": "body", "message": "a JSON object"}])
        role, site, name = body.get("role"), body.get("site") or None, body.get("name") or None
        errors = []
        if role not in ROLES:
            errors.append({"field": "role", "message": f"one of {', '.join(ROLES)}"})
        if site is not None and (not isinstance(site, str) or not SITE_CODE.match(site)):
            errors.append({"field": "site", "message": "a site code such as CW-T01"})
        elif role == "storekeeper" and not site:
            errors.append({"field": "site", "message": "a storekeeper works for one site"})
        if name is not None:
            why = name_problem(name) if isinstance(name, str) else "a name"
            if why:
                errors.append({"field": "name", "message": why})
        if errors:
            return problem(422, "Invalid input", errors=errors)
        name = display_name(name) if isinstance(name, str) else None
        subject = f"{SUBJECT_PREFIX}{role}-{secrets.token_hex(4)}"
        token = issue_token(
            ctx.settings.keyring, str(role), site=site if role == "storekeeper" else None, subject=subject,
            name=name, extra={"demo": True},
        )  # fmt: skip
        return jsonify(
            {"token": token, "role": role, "roles": [role], "site": site if role == "storekeeper" else None,
             "name": name, "subject": subject, "demo": True}  # fmt: skip
        )
