"""committee fields, stocking-list versions and categories, heteronym search keys

Revision ID: c7a1e2f40b19
Revises: eb58f7315df4
Create Date: 2026-11-30 04:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "c7a1e2f40b19"
down_revision = "eb58f7315df4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("changes") as batch:
        batch.add_column(sa.Column("reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("meeting_ref", sa.String(length=120), nullable=True))
        batch.add_column(sa.Column("flags", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("batch_id", sa.String(length=36), nullable=True))
        batch.create_index("ix_changes_batch_id", ["batch_id"])
        batch.create_index("ix_changes_target", ["target"])
    with op.batch_alter_table("catalogue_versions") as batch:
        batch.add_column(sa.Column("meeting_ref", sa.String(length=120), nullable=True))
    with op.batch_alter_table("item_versions") as batch:
        batch.add_column(sa.Column("proposed_by", sa.String(length=120), nullable=True))
        batch.add_column(sa.Column("reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("meeting_ref", sa.String(length=120), nullable=True))
    with op.batch_alter_table("items") as batch:
        batch.alter_column("pinyin_initials", type_=sa.Text(), existing_type=sa.String(length=200), existing_nullable=False)
    op.create_table(
        "stocklists",
        sa.Column("scope_key", sa.String(length=60), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("catalogue_version", sa.Integer(), nullable=False),
        sa.Column("selectors", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("scope_key", name=op.f("pk_stocklists")),
    )
    bind = op.get_bind()
    current = bind.execute(sa.text("SELECT coalesce(max(version), 0) FROM catalogue_versions")).scalar_one()
    keys = [r[0] for r in bind.execute(sa.text("SELECT DISTINCT scope_key FROM stocklist_entries"))]
    for key in keys:
        bind.execute(
            sa.text("INSERT INTO stocklists (scope_key, version, catalogue_version, selectors) VALUES (:k, 1, :v, '[]')"),
            {"k": key, "v": current},
        )
    # Search keys in every reading (shared.search); computed by the same function the service uses.
    from shared.search import item_keys

    rows = bind.execute(sa.text(
        "SELECT code, generic_name, generic_name_en, trade_name, dosage_form, strength, approval_no FROM items"
    )).mappings().all()
    for row in rows:
        keys_ = item_keys(dict(row))
        bind.execute(
            sa.text("UPDATE items SET search_text = :t, pinyin_initials = :p WHERE code = :c"),
            {"t": keys_.text, "p": "|".join(keys_.prefixes), "c": row["code"]},
        )


def downgrade() -> None:
    op.drop_table("stocklists")
    with op.batch_alter_table("item_versions") as batch:
        batch.drop_column("meeting_ref")
        batch.drop_column("reason")
        batch.drop_column("proposed_by")
    with op.batch_alter_table("catalogue_versions") as batch:
        batch.drop_column("meeting_ref")
    with op.batch_alter_table("changes") as batch:
        batch.drop_index("ix_changes_target")
        batch.drop_index("ix_changes_batch_id")
        batch.drop_column("batch_id")
        batch.drop_column("flags")
        batch.drop_column("meeting_ref")
        batch.drop_column("reason")
