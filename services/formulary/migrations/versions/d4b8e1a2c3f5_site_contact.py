"""sites: optional address and phone (printed on drivers' manifests)

Revision ID: d4b8e1a2c3f5
Revises: c7a1e2f40b19
Create Date: 2026-11-30 05:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "d4b8e1a2c3f5"
down_revision = "c7a1e2f40b19"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("address", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("phone", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("phone")
        batch.drop_column("address")
