"""Alembic environment of the prescription_review service."""

from shared.migrate import run_env
from services.prescription_review.store import metadata

run_env(metadata)
