"""Bearer JWTs: roles, a site claim, an audience, a shift-long lifetime, keys named by id.

Token shape (HS256)::

    header  {"alg": "HS256", "typ": "JWT", "kid": "<key id>"}
    claims  {"iss": "countyhub", "aud": "<audience>", "sub": "<subject>", "roles": [...],
             "site": "<site code>"?, "name": "<display name>"?, "iat": <s>, "exp": <s>}

Verification (`verify_token`) accepts a token only when its `kid` names a key of the keyring, the
HMAC verifies with that key, the issuer and audience match, `exp`, `iat` and `sub` are present (`sub`
at most 120 characters without control characters or lone surrogates: the audit columns hold it), it
has not expired, it lives no longer than the configured maximum (a working shift, 10 h by
default) and it carries at least one known role. Key rotation: the keyring holds one signing key
and any number of keys that are still accepted (README, "Security").

Site scope: a token that carries `storekeeper` is confined to its own site for every read and
write of site-owned data, whatever other roles it also holds (`Principal.site_scope`,
`Principal.require_site`).
"""

from __future__ import annotations

import hashlib
import time
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import jwt

from shared.clock import utcnow
from shared.errors import Forbidden

ROLES = ("pharmacist", "storekeeper", "pharmacy_manager", "formulary_admin", "dispatcher", "his")
SITE_CONFINED_ROLES = ("storekeeper",)
ISSUER = "countyhub"
ALGORITHM = "HS256"
DEFAULT_AUDIENCE = "countyhub"
DEFAULT_TTL = timedelta(hours=10)  # one working shift (a township day shift is 8 h plus hand-over)
LEEWAY_S = 60  # clock skew tolerated between pods


class Unauthorized(Exception):
    """No token, or one that does not verify."""


# Subjects the system acts under in-process (the seed loader's `seed`, `seed-committee`; review's
# `system`): no token may carry them, however written, so nobody can sign a record as the system.
SYSTEM_SUBJECTS = frozenset({"seed", "system"})
SYSTEM_SUBJECT_PREFIXES = ("seed-", "system-")


def is_system_subject(subject: str) -> bool:
    """True for `seed`, `ＳＥＥＤ`, ` Seed-committee`, `se\u200bed` …: a subject only the system uses."""
    folded = "".join(ch for ch in unicodedata.normalize("NFKC", subject).casefold()
                     if not ch.isspace() and unicodedata.category(ch) != "Cf")  # fmt: skip
    return folded in SYSTEM_SUBJECTS or folded.startswith(SYSTEM_SUBJECT_PREFIXES)


def site_key(code: str) -> str:
    """A site code as compared for scope: NFKC (full-width to ASCII), blanks and zero-width marks
    removed, upper-cased — `ｃｗ－ｔ０１ `, `cw-t01` and `CW-T01` name the same site."""
    folded = unicodedata.normalize("NFKC", code)
    return "".join(ch for ch in folded if not ch.isspace() and unicodedata.category(ch) != "Cf").upper()


def key_id(secret: str) -> str:
    """The default key id of a secret: 12 hex digits of its SHA-256 (names the key, reveals nothing useful)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Keyring:
    """The keys a service signs and verifies with.

    `signing_kid` names the one key new tokens are signed with; `keys` maps every accepted key id
    to its secret (the signing key included). During a change-over both the new and the old key
    are in `keys`; once every token signed with the old one has expired, it is dropped.
    """

    signing_kid: str
    keys: Mapping[str, str]
    audience: str = DEFAULT_AUDIENCE
    max_ttl: timedelta = DEFAULT_TTL

    @classmethod
    def single(cls, secret: str, *, audience: str = DEFAULT_AUDIENCE, max_ttl: timedelta = DEFAULT_TTL) -> Keyring:
        """A keyring of one key, its id derived from the secret."""
        kid = key_id(secret)
        return cls(signing_kid=kid, keys={kid: secret}, audience=audience, max_ttl=max_ttl)

    @property
    def signing_secret(self) -> str:
        """The secret new tokens are signed with."""
        return self.keys[self.signing_kid]


@dataclass(frozen=True)
class Principal:
    """Who is calling: a person or an integration, with roles and (for site staff) a site."""

    subject: str
    roles: tuple[str, ...]
    site: str | None = None
    name: str | None = None
    claims: Mapping[str, object] = field(default_factory=dict, compare=False, repr=False)

    def has(self, *roles: str) -> bool:
        """True if the principal holds any of the roles."""
        return any(r in self.roles for r in roles)

    def require(self, *roles: str) -> None:
        """Raise Forbidden unless the principal holds one of the roles."""
        if not self.has(*roles):
            raise Forbidden(f"requires role {' or '.join(roles)}")

    def site_scope(self) -> str | None:
        """The one site this caller is confined to, or None when county-wide.

        A token that carries `storekeeper` is confined to its site whatever other roles it holds
        (a storekeeper who is also a pharmacist is still a township's storekeeper). A confined
        token without a site claim is confined to "" — no site at all — so it sees nothing
        site-owned rather than everything.
        """
        if self.has(*SITE_CONFINED_ROLES):
            return self.site or ""
        return None

    def require_site(self, site_code: str) -> None:
        """Raise Forbidden unless the caller may act on site_code's data (see site_scope)."""
        scope = self.site_scope()
        if scope is not None and (not scope or site_key(scope) != site_key(str(site_code))):
            raise Forbidden(
                # Never echo the other site: when the site is a stored row's (a requisition, a review),
                # naming it would tell a storekeeper where another site's record belongs.
                f"a storekeeper of {self.site or 'no site'} acts only for their own site's data",
                {"site_code": "not your site"},
            )

    def require_county(self) -> None:
        """Raise Forbidden if the caller is confined to one site (for data that spans every site)."""
        if self.site_scope() is not None:
            raise Forbidden(
                f"a storekeeper of {self.site or 'no site'} sees only their own site's data, not the whole county",
                {"site_code": "county-wide data"},
            )


def issue_token(
    secret: str | Keyring,
    role: str | Sequence[str],
    *,
    site: str | None = None,
    subject: str | None = None,
    name: str | None = None,
    ttl: timedelta | None = None,
    audience: str | None = None,
    extra: Mapping[str, object] | None = None,
) -> str:
    """A signed token for one role or several (and an optional site).

    `secret` is a keyring (sign with its signing key, name it in `kid`) or a bare secret (a
    one-key keyring with the default audience). `ttl` defaults to the keyring's maximum lifetime.
    Raises ValueError for an unknown role or a ttl beyond the keyring's maximum.
    """
    ring = secret if isinstance(secret, Keyring) else Keyring.single(secret)
    roles = [role] if isinstance(role, str) else list(role)
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise ValueError(f"unknown role {unknown or roles!r}; one of {', '.join(ROLES)}")
    if subject is not None and is_system_subject(subject):
        raise ValueError(f"subject {subject!r} is reserved for the system")
    life = ttl if ttl is not None else ring.max_ttl
    if life > ring.max_ttl:
        raise ValueError(f"a token lives at most {ring.max_ttl}; asked for {life}")
    now = utcnow()
    claims: dict[str, object] = {
        **(extra or {}),
        "iss": ISSUER,
        "aud": audience or ring.audience,
        "sub": subject or f"{roles[0]}-{uuid.uuid4().hex[:8]}",
        "roles": roles,
        "iat": int(now.timestamp()),
        "exp": int((now + life).timestamp()),
    }
    if site:
        claims["site"] = site
    if name:
        claims["name"] = name
    return jwt.encode(claims, ring.signing_secret, algorithm=ALGORITHM, headers={"kid": ring.signing_kid})


MAX_SUBJECT = 120  # the audit columns (created_by, approved_by, decided_by …) are String(120)


def _odd_character(text: str) -> str | None:
    """The first control character or lone surrogate in `text` (no database column can hold U+0000 on
    PostgreSQL, nor a surrogate anywhere), or None."""
    return next((ch for ch in text if unicodedata.category(ch) in ("Cc", "Cs")), None)


def verify_token(token: str, secret: str | Keyring) -> Principal:
    """Check key id, signature, issuer, audience, expiry and lifetime; raise Unauthorized otherwise."""
    ring = secret if isinstance(secret, Keyring) else Keyring.single(secret)
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise Unauthorized(str(exc)) from exc
    kid = header.get("kid")
    if not isinstance(kid, str) or kid not in ring.keys:
        raise Unauthorized("the token names no key this service accepts (kid)")
    try:
        claims = jwt.decode(
            token,
            ring.keys[kid],
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            audience=ring.audience,
            leeway=LEEWAY_S,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized(str(exc)) from exc
    if any(not isinstance(claims[k], int) or isinstance(claims[k], bool) for k in ("exp", "iat")):
        raise Unauthorized("exp and iat must be whole seconds")
    if not isinstance(claims["sub"], str) or not claims["sub"].strip():
        raise Unauthorized("the token names no subject (sub)")
    odd = _odd_character(claims["sub"])
    if len(claims["sub"]) > MAX_SUBJECT or odd is not None:  # it is written to every *_by column (String(120))
        why = f"U+{ord(odd):04X}" if odd is not None else f"more than {MAX_SUBJECT} characters"
        raise Unauthorized(f"the token's subject (sub) has {why}: the audit trail cannot record it")
    if is_system_subject(claims["sub"]):
        raise Unauthorized("the token's subject is one the system reserves for itself")
    if claims["exp"] - claims["iat"] > ring.max_ttl.total_seconds() + LEEWAY_S:
        raise Unauthorized(f"the token lives longer than {ring.max_ttl}")
    raw_roles = claims.get("roles")
    if not isinstance(raw_roles, list) or not raw_roles:
        raise Unauthorized("token carries no known role (roles must be a list)")
    unknown = [r for r in raw_roles if r not in ROLES]
    if unknown:  # fail closed: "Storekeeper" must not be dropped to leave a county-wide pharmacist
        raise Unauthorized(f"token carries an unknown role {unknown[0]!r}")
    roles = tuple(dict.fromkeys(raw_roles))
    site = claims.get("site")
    if site is not None and (not isinstance(site, str) or not site_key(site) or _odd_character(site) is not None):
        raise Unauthorized("the site claim must be one site code")  # U+0000 in it was a 500 on PostgreSQL
    name = claims.get("name")
    return Principal(
        subject=claims["sub"],
        roles=roles,
        site=site_key(site) if isinstance(site, str) else None,
        name=name if isinstance(name, str) else None,
        claims=claims,
    )


VERIFIED_CACHE_S = 30.0  # how long a token that passed every check is trusted without re-checking
_VERIFIED_MAX = 4096
_verified: dict[tuple[object, ...], tuple[float, Principal]] = {}


def verify_token_cached(token: str, ring: Keyring) -> Principal:
    """`verify_token`, remembering a token that passed for up to VERIFIED_CACHE_S seconds and never
    past its expiry (exp + LEEWAY_S, where PyJWT starts refusing it). Refusals are never remembered;
    the key includes the keyring's keys, audience and longest lifetime, so a key change-over refuses
    at once. Raises Unauthorized as `verify_token` does. Issue 11: decoding and checking the JWT on
    every request cost about a tenth of a screening request's CPU."""
    key = (token, ring.audience, ring.max_ttl, tuple(sorted(ring.keys.items())))
    now = time.time()
    hit = _verified.get(key)
    if hit is not None and now < hit[0]:
        return hit[1]
    principal = verify_token(token, ring)
    exp = principal.claims.get("exp")
    if isinstance(exp, int):
        if len(_verified) >= _VERIFIED_MAX:
            _verified.clear()
        _verified[key] = (min(now + VERIFIED_CACHE_S, exp + LEEWAY_S), principal)
    return principal
