"""The shared migration helper: a new service's first revision creates the common tables."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from shared.db import new_metadata
from shared.migrate import add_common_tables, upgrade
from shared.runtime import ServiceSpec
from tests.support.backends import Backend

ENV = '''
from shared.db import new_metadata
from shared.migrate import add_common_tables, run_env

run_env(add_common_tables(new_metadata()))
'''

FIRST = '''
"""initial"""
from alembic import op
from shared.migrate import create_common_tables, drop_common_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_common_tables(op)


def downgrade() -> None:
    drop_common_tables(op)
'''


def _no_app(ctx: object) -> object:
    raise NotImplementedError


def test_first_revision_creates_exactly_the_common_tables(backend: Backend, tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    (migrations / "versions").mkdir(parents=True)
    (migrations / "env.py").write_text(ENV)
    (migrations / "versions" / "0001_initial.py").write_text(FIRST)
    spec = ServiceSpec(name="throwaway", port=0, metadata=new_metadata(), create_app=_no_app, migrations=migrations)  # type: ignore[arg-type]
    ctx = backend.context(spec, migrate=False)
    upgrade(migrations, ctx.engine)
    names = set(inspect(ctx.engine).get_table_names()) - {"alembic_version"}
    assert names == {"outbox", "inbox", "idempotency_keys", "ref_items", "ref_sites", "ref_stocklists"}
    with ctx.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), add_common_tables(new_metadata()))
    assert diff == [], f"the migrated schema differs from the store's definitions: {diff}"
