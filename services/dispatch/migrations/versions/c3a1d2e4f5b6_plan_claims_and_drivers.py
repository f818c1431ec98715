"""plan claims (which worker solves a plan) and vehicle drivers

Revision ID: c3a1d2e4f5b6
Revises: be26517b8c1c
Create Date: 2026-11-30 04:50:00
"""

from alembic import op
import sqlalchemy as sa


revision = "c3a1d2e4f5b6"
down_revision = "be26517b8c1c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=60), nullable=True))
    with op.batch_alter_table("vehicles") as batch:
        batch.add_column(sa.Column("driver", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("vehicles") as batch:
        batch.drop_column("driver")
    with op.batch_alter_table("plans") as batch:
        batch.drop_column("claimed_by")
