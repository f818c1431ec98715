"""vbp contracts by generic + form + strength: item_code nullable, generic_name / dosage_form / strength

Revision ID: 9c3e5a1b2d47
Revises: 5b1f0c2d7a90
Create Date: 2026-11-30 05:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "9c3e5a1b2d47"
down_revision = "5b1f0c2d7a90"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("vbp_contracts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("generic_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("dosage_form", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("strength", sa.String(length=60), nullable=True))
        batch_op.alter_column("item_code", existing_type=sa.String(length=40), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("vbp_contracts", schema=None) as batch_op:
        batch_op.alter_column("item_code", existing_type=sa.String(length=40), nullable=False)
        batch_op.drop_column("strength")
        batch_op.drop_column("dosage_form")
        batch_op.drop_column("generic_name")
