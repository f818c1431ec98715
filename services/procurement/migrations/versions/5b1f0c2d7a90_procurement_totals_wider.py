"""procurement totals wider: receipts.total, purchase_orders.total, transfers.value as Numeric(20, 4)

Revision ID: 5b1f0c2d7a90
Revises: cd6d46e4a395
Create Date: 2026-11-30 04:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "5b1f0c2d7a90"
down_revision = "cd6d46e4a395"
branch_labels = None
depends_on = None

COLUMNS = (("receipts", "total"), ("purchase_orders", "total"), ("transfers", "value"))


def upgrade() -> None:
    for table, column in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, existing_type=sa.Numeric(14, 4), type_=sa.Numeric(20, 4), existing_nullable=False)


def downgrade() -> None:
    for table, column in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, existing_type=sa.Numeric(20, 4), type_=sa.Numeric(14, 4), existing_nullable=False)
