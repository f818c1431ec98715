"""append-only audit trails: the shared trigger function on audit events and screenings (TRUNCATE
refused too) and knowledge versions

Revision ID: 1fdc7320970e
Revises: 61b480b9adba
Create Date: 2026-12-06 11:00:00

Issue 13: see shared/append_only.py for the triggers (PostgreSQL and SQLite) and the
application role's privileges (PostgreSQL, granted by `countyhub migrate`, which reads the
protected tables from their hub_append_only triggers). The first revision's review_append_only
triggers are replaced on PostgreSQL; SQLite's <table>_no_update/_no_delete triggers are the same.
"""

from alembic import op

from shared.append_only import protect, unprotect

revision = "1fdc7320970e"
down_revision = "61b480b9adba"
branch_labels = None
depends_on = None

APPEND_ONLY = ("audit_events", "screenings", "knowledge_versions")


def upgrade() -> None:
    for table in APPEND_ONLY:
        protect(op, table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS review_append_only()")


def downgrade() -> None:
    unprotect(op, "knowledge_versions")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION review_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
        )
        for table in ("audit_events", "screenings"):
            unprotect(op, table)
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION review_append_only()")
