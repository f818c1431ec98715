"""Alembic migrations per service, run programmatically by `countyhub migrate`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, MetaData


def alembic_config(migrations: Path, url: str) -> Config:
    """An Alembic config pointing at one service's migrations folder and database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(migrations: Path, engine: Engine) -> None:
    """Bring a service database to the newest revision."""
    cfg = alembic_config(migrations, engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def revision(migrations: Path, engine: Engine, message: str) -> None:
    """Autogenerate a new revision from the difference between the models and the database."""
    cfg = alembic_config(migrations, engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.revision(cfg, message=message, autogenerate=True)


def run_env(metadata: MetaData) -> None:
    """The body of every service's migrations/env.py (online mode only: we always have a database)."""
    from alembic import context
    from sqlalchemy import create_engine

    cfg = context.config
    connection = cfg.attributes.get("connection")
    if connection is None:
        engine = create_engine(cfg.get_main_option("sqlalchemy.url") or "")
        with engine.begin() as conn:
            _configure_and_run(context, conn, metadata)
        return
    _configure_and_run(context, connection, metadata)


def _configure_and_run(context: object, connection: object, metadata: MetaData) -> None:
    ctx = context  # alembic's proxy module
    ctx.configure(  # type: ignore[attr-defined]
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode rebuilds the table
        compare_type=True,
    )
    with ctx.begin_transaction():  # type: ignore[attr-defined]
        ctx.run_migrations()  # type: ignore[attr-defined]
