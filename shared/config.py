"""Settings from the environment (12-factor), with embedded defaults for a single machine.

Secrets and tokens (README, "Security"):

- JWT_SECRET: the key new tokens are signed with. Production (a PostgreSQL database URL) refuses
  to start without one, with one shorter than 32 bytes, or with a placeholder; the embedded
  default generates one per data directory (`<HUB_DATA_DIR>/jwt_secret`).
- JWT_SECRET_FILE: a file holding it instead (a mounted Secret); setting both is refused. Outer
  blanks and the trailing newline of a file are not part of a secret (they are removed before the
  checks, so padding never makes a short secret long enough). An embedded hub listening on a
  network address holds a secret someone set to the production rules too.
- JWT_KEY_ID: the signing key's id (`kid` header); default: derived from the secret.
- JWT_PREVIOUS_SECRETS: keys still accepted during a change-over, comma-separated, each either
  `secret` (id derived) or `kid:secret`.
- JWT_AUDIENCE: the `aud` tokens must carry (default `countyhub`).
- JWT_TTL_HOURS: the longest a token may live (default 10, one working shift; 0.25 to 24).
- HUB_DEV_LOGIN=0 turns the demonstration sign-in off; it is only ever on for the embedded
  default listening on loopback (`bind_host`).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from shared.auth import DEFAULT_AUDIENCE, DEFAULT_TTL, Keyring, key_id

EMBEDDED_BROKER_URL = "memory://localhost/"


def service_ports() -> dict[str, int]:
    """Service name -> HTTP port, derived from the ServiceSpecs in hub/registry.py."""
    from hub.registry import ports  # late: the registry imports every service, which import this module

    return ports()


def __getattr__(name: str) -> Any:
    # SERVICE_PORTS stays importable; it is derived from the registry on access.
    if name == "SERVICE_PORTS":
        return service_ports()
    raise AttributeError(name)


def data_dir() -> Path:
    """Folder for the embedded default's SQLite files and secrets (HUB_DATA_DIR, default ./var)."""
    path = Path(os.environ.get("HUB_DATA_DIR", "var")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


MIN_SECRET_BYTES = 32
# The published placeholder (deploy/k8s/base/secret.example.yaml) and words that mark a value as
# one nobody chose: any secret containing one of them, once lower-cased and stripped of
# punctuation, is refused in production.
PLACEHOLDER_SECRETS = ("CHANGE-ME-at-least-32-random-bytes",)
PLACEHOLDER_WORDS = (
    "changeme", "placeholder", "example", "replaceme", "yoursecret", "notforproduction",
    "secretkey", "jwtsecret", "password", "atleast32", "randombytes", "dummy", "insecure",
)
MIN_DISTINCT_CHARS = 10  # "aaaa…", "abcabc…", "00000…" are not secrets whatever their length
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")  # the standard loopback names only
DEV_LOGIN_OFF = ("0", "false", "no", "off", "")  # HUB_DEV_LOGIN spellings that turn the demo sign-in off


class ConfigError(RuntimeError):
    """Settings a service must not start with; the message says what to set."""


def secret_problem(secret: str | None) -> str | None:
    """Why a secret is unfit for production, or None when it will do."""
    if not secret:
        return "is not set"
    if len(secret.encode()) < MIN_SECRET_BYTES:
        return f"is {len(secret.encode())} bytes; at least {MIN_SECRET_BYTES} random bytes are needed"
    folded = "".join(ch for ch in secret.lower() if ch.isalnum())
    if secret in PLACEHOLDER_SECRETS or any(word in folded for word in PLACEHOLDER_WORDS):
        return "is a placeholder, not a secret"
    if len(set(secret)) < MIN_DISTINCT_CHARS:
        return f"uses fewer than {MIN_DISTINCT_CHARS} different characters; it is not random"
    return None


def _previous_keys(raw: str) -> dict[str, str]:
    keys: dict[str, str] = {}
    for entry in (e.strip() for e in raw.split(",")):
        if not entry:
            continue
        kid, sep, secret = entry.partition(":")
        if sep and not (kid.strip() and secret.strip()):
            raise ConfigError("JWT_PREVIOUS_SECRETS: an entry is `secret` or `kid:secret`, with neither part blank")
        if sep:
            keys[kid.strip()] = secret.strip()
        else:
            keys[key_id(entry)] = entry
    return keys


def _ttl() -> timedelta:
    raw = os.environ.get("JWT_TTL_HOURS")
    if raw is None:
        return DEFAULT_TTL
    try:
        hours = float(raw)
    except ValueError:
        raise ConfigError(f"JWT_TTL_HOURS={raw!r} is not a number of hours") from None
    if not 0.25 <= hours <= 24:
        raise ConfigError(f"JWT_TTL_HOURS={raw} is outside 0.25 to 24 hours (one working shift is about 10)")
    return timedelta(hours=hours)


def _configured_secret(service: str) -> str | None:
    """JWT_SECRET or the contents of JWT_SECRET_FILE, outer blanks removed; None when neither is set."""
    env, path = os.environ.get("JWT_SECRET"), os.environ.get("JWT_SECRET_FILE", "").strip()
    if env is not None and path:
        raise ConfigError(f"{service}: set JWT_SECRET or JWT_SECRET_FILE, not both")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{service}: JWT_SECRET_FILE={path} cannot be read: {exc}") from None
    return env.strip() if env is not None else None


def _production_secrets(service: str) -> tuple[str, dict[str, str]]:
    secret = _configured_secret(service)
    problem = secret_problem(secret)
    if problem:
        raise ConfigError(
            f"{service}: JWT_SECRET {problem}. Production (a PostgreSQL DATABASE_URL) needs one secret "
            f"shared by every pod, at least {MIN_SECRET_BYTES} random bytes, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`, in the countyhub-secrets Secret."
        )
    previous = _previous_keys(os.environ.get("JWT_PREVIOUS_SECRETS", ""))
    for kid, old in previous.items():
        problem = secret_problem(old)
        if problem:
            raise ConfigError(f"{service}: JWT_PREVIOUS_SECRETS key {kid!r} {problem}")
    assert secret is not None
    return secret, previous


def _jwt_secret(service: str) -> str:
    # The embedded hub and `countyhub token` must agree on a secret without anyone setting one,
    # so it is generated once and kept beside the SQLite files.
    env = _configured_secret(service)
    if env:
        return env
    path = data_dir() / "jwt_secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


@dataclass(frozen=True)
class Settings:
    """What one service needs to know about its surroundings."""

    service: str
    database_url: str
    broker_url: str
    jwt_secret: str
    port: int
    embedded: bool = True
    dev_login: bool = False
    jwt_kid: str = ""
    jwt_previous: dict[str, str] = field(default_factory=dict)
    jwt_audience: str = DEFAULT_AUDIENCE
    token_ttl: timedelta = DEFAULT_TTL
    bind_host: str = "127.0.0.1"
    max_body_bytes: int = 2 * 1024 * 1024
    prefetch: int = 20
    max_retries: int = 5
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def on_rabbitmq(self) -> bool:
        """True when the broker is a real AMQP server rather than an embedded transport."""
        return self.broker_url.startswith(("amqp://", "amqps://", "pyamqp://"))

    @cached_property
    def keyring(self) -> Keyring:
        """The signing key and every key still accepted, with the audience and longest lifetime."""
        kid = self.jwt_kid or key_id(self.jwt_secret)
        return Keyring(
            signing_kid=kid,
            keys={**self.jwt_previous, kid: self.jwt_secret},
            audience=self.jwt_audience,
            max_ttl=self.token_ttl,
        )


def dev_login_allowed(embedded: bool, bind_host: str) -> bool:
    """The demonstration sign-in exists only on the embedded default listening on loopback, unless turned off."""
    switch = os.environ.get("HUB_DEV_LOGIN", "1").strip().lower()
    return embedded and bind_host.strip().lower() in LOOPBACK_HOSTS and switch not in DEV_LOGIN_OFF


def _default_port(service: str) -> int:
    return service_ports().get(service, 8000)


def load_settings(service: str, *, bind_host: str | None = None) -> Settings:
    """Read one service's settings: <SERVICE>_DATABASE_URL, then DATABASE_URL, then a SQLite file.

    `bind_host` is the address the HTTP server listens on (HUB_BIND_HOST, default 127.0.0.1).
    Raises ConfigError when a production database is configured without a fit JWT_SECRET.
    """
    upper = service.upper()
    db = os.environ.get(f"{upper}_DATABASE_URL") or os.environ.get("DATABASE_URL")
    embedded = db is None
    if db is None:
        db = f"sqlite:///{data_dir() / (service + '.sqlite3')}"
    host = bind_host or os.environ.get("HUB_BIND_HOST", "127.0.0.1")
    on_network = host.strip().lower() not in LOOPBACK_HOSTS
    if db.startswith("sqlite") and not (on_network and _configured_secret(service) is not None):
        secret, previous = _jwt_secret(service), _previous_keys(os.environ.get("JWT_PREVIOUS_SECRETS", ""))
    else:
        # PostgreSQL, or a SQLite hub serving the network with a secret someone chose: held to the same rules
        secret, previous = _production_secrets(service)
    kid = os.environ.get("JWT_KEY_ID", "").strip() or key_id(secret)
    if previous.get(kid, secret) != secret:
        # the old key would be silently replaced by the new one under the same id: its tokens fail
        raise ConfigError(f"{service}: JWT_PREVIOUS_SECRETS names key id {kid!r}, the signing key's own id; give the new key another JWT_KEY_ID")
    broker = os.environ.get("BROKER_URL", EMBEDDED_BROKER_URL)
    return Settings(
        service=service,
        database_url=db,
        broker_url=broker,
        jwt_secret=secret,
        jwt_kid=os.environ.get("JWT_KEY_ID", "").strip(),
        jwt_previous=previous,
        jwt_audience=os.environ.get("JWT_AUDIENCE", "").strip() or DEFAULT_AUDIENCE,
        token_ttl=_ttl(),
        bind_host=host,
        port=int(os.environ.get(f"{upper}_PORT") or _default_port(service)),
        embedded=embedded,
        dev_login=dev_login_allowed(embedded, host),
        max_body_bytes=int(os.environ.get("MAX_BODY_BYTES", 2 * 1024 * 1024)),
        prefetch=int(os.environ.get("BUS_PREFETCH", 20)),
        max_retries=int(os.environ.get("BUS_MAX_RETRIES", 5)),
    )
