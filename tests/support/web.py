"""Settings, tokens and table dumps for tests that drive one service."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from shared.auth import issue_token
from shared.config import Settings
from shared.runtime import ServiceContext

SECRET = "test-secret-not-for-production-use-only"


def make_settings(service: str, url: str, **overrides: Any) -> Settings:
    """Settings for a service under test: embedded broker, a fixed secret."""
    values: dict[str, Any] = {
        "service": service, "database_url": url, "broker_url": "memory://", "jwt_secret": SECRET, "port": 0,
    }
    values.update(overrides)
    return Settings(**values)


def bearer(role: str, site: str | None = None, name: str | None = None) -> dict[str, str]:
    """An Authorization header for a role."""
    return {"Authorization": "Bearer " + issue_token(SECRET, role, site=site, subject=name or role)}


def table_dump(ctx: ServiceContext) -> dict[str, list[Any]]:
    """Every row of every table, to prove a failed request wrote nothing."""
    out: dict[str, list[Any]] = {}
    with ctx.factory() as session:
        for name, table in ctx.metadata.tables.items():
            out[name] = [tuple(r) for r in session.execute(select(table))]
    return out
