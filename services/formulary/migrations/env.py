"""Alembic environment of the formulary service."""

from services.formulary.store import metadata
from shared.migrate import run_env

run_env(metadata)
