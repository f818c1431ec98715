"""append-only audit trails: stop completions (proof of delivery) refuse UPDATE, DELETE, TRUNCATE

Revision ID: 8c97dcc602ea
Revises: c3a1d2e4f5b6
Create Date: 2026-12-06 11:00:00

Issue 13: see shared/append_only.py for the triggers (PostgreSQL and SQLite) and the
application role's privileges (PostgreSQL, granted by `countyhub migrate`).
"""

from alembic import op

from shared.append_only import protect, unprotect

revision = "8c97dcc602ea"
down_revision = "c3a1d2e4f5b6"
branch_labels = None
depends_on = None

APPEND_ONLY = ("stop_completions",)


def upgrade() -> None:
    for table in APPEND_ONLY:
        protect(op, table)


def downgrade() -> None:
    for table in APPEND_ONLY:
        unprotect(op, table)
