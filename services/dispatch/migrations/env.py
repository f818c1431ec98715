"""Alembic environment of the dispatch service."""

from shared.migrate import run_env
from services.dispatch.store import metadata

run_env(metadata)
