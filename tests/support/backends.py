"""One suite, two backends: a fresh, migrated service database on SQLite or the real PostgreSQL.

The use-case tests under tests/service/ run every test on both, as eventsourcing runs its
persistence suite once per backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData

from shared.db import make_engine, session_factory
from shared.migrate import upgrade
from shared.runtime import ServiceContext, ServiceSpec, build_context
from tests.support.bus import create_database, drop_database
from tests.support.web import make_settings

BACKENDS = ("sqlite", "postgresql")


@dataclass
class Backend:
    """Makes service contexts on one kind of database and removes them at teardown."""

    kind: str
    tmp_path: Path
    _made: list[tuple[ServiceContext, str | None]] = field(default_factory=list)

    def url(self, name: str) -> tuple[str, str | None]:
        """A new empty database for a service; (url, the PostgreSQL url to drop later or None)."""
        if self.kind == "sqlite":
            path = self.tmp_path / f"{name}-{len(self._made)}.sqlite3"
            return f"sqlite:///{path}", None
        url = create_database(f"countyhub_svc_{name[:10]}")
        return url, url

    def context(self, spec: ServiceSpec, *, migrate: bool = True, **settings: Any) -> ServiceContext:
        """A fresh ServiceContext for spec on this backend, migrated to head unless told not to."""
        url, to_drop = self.url(spec.name)
        ctx = build_context(spec, make_settings(spec.name, url, embedded=self.kind == "sqlite", **settings))
        self._made.append((ctx, to_drop))
        if migrate:
            upgrade(spec.migrations, ctx.engine)
        return ctx

    def tables(self, name: str, metadata: MetaData) -> ServiceContext:
        """A fresh context whose database has metadata's tables (create_all, no Alembic)."""
        url, to_drop = self.url(name)
        engine = make_engine(url)
        metadata.create_all(engine)
        ctx = ServiceContext(
            settings=make_settings(name, url), metadata=metadata, engine=engine, factory=session_factory(engine)
        )
        self._made.append((ctx, to_drop))
        return ctx

    def close(self) -> None:
        """Dispose every engine and drop every PostgreSQL database made."""
        for ctx, to_drop in self._made:
            ctx.engine.dispose()
            if to_drop:
                drop_database(to_drop)
        self._made.clear()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Makes fresh migrated ServiceContexts on SQLite, then (second run) on PostgreSQL; import it
    into a test module or conftest to use it."""
    made = Backend(str(request.param), tmp_path)
    try:
        yield made
    finally:
        made.close()
