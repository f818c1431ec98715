"""Alembic environment of the dispatch service."""

from services.dispatch.store import metadata
from shared.migrate import run_env

run_env(metadata)
