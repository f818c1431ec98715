"""Settings from the environment (12-factor), with embedded defaults for a single machine."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

EMBEDDED_BROKER_URL = "memory://localhost/"


def service_ports() -> dict[str, int]:
    """Service name -> HTTP port, derived from the ServiceSpecs in hub/registry.py."""
    from hub.registry import ports  # late: the registry imports every service, which import this module

    return ports()


def __getattr__(name: str) -> object:
    # SERVICE_PORTS stays importable; it is derived from the registry on access.
    if name == "SERVICE_PORTS":
        return service_ports()
    raise AttributeError(name)


def data_dir() -> Path:
    """Folder for the embedded default's SQLite files and secrets (HUB_DATA_DIR, default ./var)."""
    path = Path(os.environ.get("HUB_DATA_DIR", "var")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _jwt_secret() -> str:
    # The embedded hub and `countyhub token` must agree on a secret without anyone setting one,
    # so it is generated once and kept beside the SQLite files.
    env = os.environ.get("JWT_SECRET")
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
    max_body_bytes: int = 2 * 1024 * 1024
    prefetch: int = 20
    max_retries: int = 5
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def on_rabbitmq(self) -> bool:
        """True when the broker is a real AMQP server rather than an embedded transport."""
        return self.broker_url.startswith(("amqp://", "amqps://", "pyamqp://"))


def _default_port(service: str) -> int:
    return service_ports().get(service, 8000)


def load_settings(service: str) -> Settings:
    """Read one service's settings: <SERVICE>_DATABASE_URL, then DATABASE_URL, then a SQLite file."""
    upper = service.upper()
    db = os.environ.get(f"{upper}_DATABASE_URL") or os.environ.get("DATABASE_URL")
    embedded = db is None
    if db is None:
        db = f"sqlite:///{data_dir() / (service + '.sqlite3')}"
    broker = os.environ.get("BROKER_URL", EMBEDDED_BROKER_URL)
    return Settings(
        service=service,
        database_url=db,
        broker_url=broker,
        jwt_secret=_jwt_secret(),
        port=int(os.environ.get(f"{upper}_PORT") or _default_port(service)),
        embedded=embedded,
        dev_login=os.environ.get("HUB_DEV_LOGIN", "1" if embedded else "0") == "1",
        max_body_bytes=int(os.environ.get("MAX_BODY_BYTES", 2 * 1024 * 1024)),
        prefetch=int(os.environ.get("BUS_PREFETCH", 20)),
        max_retries=int(os.environ.get("BUS_MAX_RETRIES", 5)),
    )
