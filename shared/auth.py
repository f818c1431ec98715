"""Bearer JWTs with roles and a site claim."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt

from shared.clock import utcnow
from shared.errors import Forbidden

ROLES = ("pharmacist", "storekeeper", "pharmacy_manager", "formulary_admin", "dispatcher", "his")
ISSUER = "countyhub"
ALGORITHM = "HS256"


class Unauthorized(Exception):
    """No token, or one that does not verify."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a person or an integration, with roles and (for site staff) a site."""

    subject: str
    roles: tuple[str, ...]
    site: str | None = None
    name: str | None = None

    def has(self, *roles: str) -> bool:
        """True if the principal holds any of the roles."""
        return any(r in self.roles for r in roles)

    def require(self, *roles: str) -> None:
        """Raise Forbidden unless the principal holds one of the roles."""
        if not self.has(*roles):
            raise Forbidden(f"requires role {' or '.join(roles)}")

    def site_scope(self) -> str | None:
        """The one site this caller is confined to, or None when county-wide.

        A token that carries `storekeeper` is confined to its site whatever other roles it holds.
        """
        if "storekeeper" in self.roles:
            return self.site or ""
        return None

    def require_site(self, site_code: str) -> None:
        """Raise Forbidden unless the caller may act on site_code's data (see site_scope)."""
        scope = self.site_scope()
        if scope is not None and scope != site_code:
            raise Forbidden(f"a storekeeper of {self.site} cannot act for site {site_code}", {"site_code": "not your site"})


def issue_token(
    secret: str,
    role: str,
    *,
    site: str | None = None,
    subject: str | None = None,
    name: str | None = None,
    ttl: timedelta = timedelta(hours=12),
) -> str:
    """A signed token for one role (and optional site)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    now = utcnow()
    claims = {
        "iss": ISSUER,
        "sub": subject or f"{role}-{uuid.uuid4().hex[:8]}",
        "roles": [role],
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    if site:
        claims["site"] = site
    if name:
        claims["name"] = name
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(token: str, secret: str) -> Principal:
    """Check signature, issuer and expiry; raise Unauthorized otherwise."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER, options={"require": ["exp", "sub"]})
    except jwt.PyJWTError as exc:
        raise Unauthorized(str(exc)) from exc
    roles = tuple(r for r in claims.get("roles", []) if r in ROLES)
    if not roles:
        raise Unauthorized("token carries no known role")
    return Principal(subject=str(claims["sub"]), roles=roles, site=claims.get("site"), name=claims.get("name"))
