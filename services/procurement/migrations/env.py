"""Alembic environment of the procurement service."""

from shared.migrate import run_env
from services.procurement.store import metadata

run_env(metadata)
