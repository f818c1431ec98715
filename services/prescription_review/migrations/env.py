"""Alembic environment of the prescription_review service."""

from services.prescription_review.store import metadata
from shared.migrate import run_env

run_env(metadata)
