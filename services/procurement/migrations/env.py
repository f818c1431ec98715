"""Alembic environment of the procurement service."""

from services.procurement.store import metadata
from shared.migrate import run_env

run_env(metadata)
