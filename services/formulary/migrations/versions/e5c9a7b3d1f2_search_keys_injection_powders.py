"""search keys again: powders for injection found by their NMPA product name (注射用<name>)

Revision ID: e5c9a7b3d1f2
Revises: d4b8e1a2c3f5
Create Date: 2026-11-30 05:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "e5c9a7b3d1f2"
down_revision = "d4b8e1a2c3f5"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Computed by the same function the service uses (shared.search.item_keys).
    from shared.search import item_keys

    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT code, generic_name, generic_name_en, trade_name, dosage_form, strength, approval_no FROM items"
    )).mappings().all()
    for row in rows:
        keys = item_keys(dict(row))
        bind.execute(
            sa.text("UPDATE items SET search_text = :t, pinyin_initials = :p WHERE code = :c"),
            {"t": keys.text, "p": "|".join(keys.prefixes), "c": row["code"]},
        )


def downgrade() -> None:
    pass  # the keys are derived data; older code recomputes its own on the next approval
