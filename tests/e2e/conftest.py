"""A formulary app on a fresh SQLite database, driven through Flask's test client.

Plain helpers (settings, tokens, sample bodies) live in tests/support/ so any folder can import them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from shared.migrate import upgrade
from shared.runtime import ServiceContext, build_context
from tests.support.hubprocess import HubProcess
from tests.support.web import make_settings


@pytest.fixture
def hub_process(tmp_path: Path) -> Iterator[HubProcess]:
    """`countyhub run --no-seed` as a real process (not started yet), killed at the end if still running."""
    process = HubProcess(tmp_path)
    try:
        yield process
    finally:
        if process.proc is not None and process.proc.poll() is None:
            process.kill()


@pytest.fixture()
def formulary_ctx(tmp_path: Path) -> Iterator[ServiceContext]:
    """A migrated formulary database of its own."""
    from services.formulary.app import SPEC

    ctx = build_context(SPEC, make_settings("formulary", f"sqlite:///{tmp_path}/formulary.sqlite3"))
    upgrade(SPEC.migrations, ctx.engine)
    yield ctx
    ctx.engine.dispose()


@pytest.fixture()
def client(formulary_ctx: ServiceContext) -> FlaskClient:
    """A test client of the formulary app."""
    from services.formulary.app import SPEC

    return SPEC.create_app(formulary_ctx).test_client()
