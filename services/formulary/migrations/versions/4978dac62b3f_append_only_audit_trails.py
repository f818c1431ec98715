"""append-only audit trails: catalogue versions (approvals), item versions (history) and changes
(proposals; one decision each)

Revision ID: 4978dac62b3f
Revises: e5c9a7b3d1f2
Create Date: 2026-12-06 11:00:00

Issue 13: see shared/append_only.py for the triggers (PostgreSQL and SQLite) and the
application role's privileges (PostgreSQL, granted by `countyhub migrate`). A change (draft) is
written once and decided once: the committee's decision fills decided_at with decided_by, status,
decision_note and catalogue_version (store_changes.mark_decided); nothing else ever changes and
no change is ever deleted.
"""

from alembic import op

from shared.append_only import protect, unprotect

revision = "4978dac62b3f"
down_revision = "e5c9a7b3d1f2"
branch_labels = None
depends_on = None

APPEND_ONLY = ("catalogue_versions", "item_versions")
DECIDED_ONCE = ("decided_at", "decided_by", "status", "decision_note", "catalogue_version")


def upgrade() -> None:
    for table in APPEND_ONLY:
        protect(op, table)
    protect(op, "changes", closes=DECIDED_ONCE)


def downgrade() -> None:
    for table in (*APPEND_ONLY, "changes"):
        unprotect(op, table)
