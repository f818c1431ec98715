"""prescriber registry: doctor ids and site codes as codes (upper-case, no blanks)

Revision ID: 7b3e9d2a4c10
Revises: 1fdc7320970e
Create Date: 2026-12-06 15:20:00

The API now stores registry ids and sites as codes (Text(upper=True)), as the HIS's prescriber id
and every other site code are; rows stored before keep the spelling they were typed in ("d952",
"cw-h01"). They are rewritten with the rule the engine compares by (model.registry.registry_key).
Two rows one id apart only in spelling ("d952" and "D952"): the one updated last is kept, as a
later import replaces an earlier one.
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "7b3e9d2a4c10"
down_revision = "1fdc7320970e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from services.prescription_review.model.registry import registry_key

    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, sites, updated_at FROM prescribers ORDER BY updated_at, id")).mappings().all()
    keep: dict[str, str] = {}  # key -> the stored id kept (the last updated)
    for row in rows:
        keep[registry_key(row["id"])] = row["id"]
    for row in rows:
        key = registry_key(row["id"])
        if keep[key] != row["id"]:
            bind.execute(sa.text("DELETE FROM prescribers WHERE id = :i"), {"i": row["id"]})
            continue
        sites = row["sites"] if isinstance(row["sites"], list) else json.loads(row["sites"] or "[]")
        codes = list(dict.fromkeys(registry_key(s) for s in sites))
        if key != row["id"] or codes != sites:
            update = sa.text("UPDATE prescribers SET id = :k, sites = :s WHERE id = :i").bindparams(
                sa.bindparam("s", type_=sa.JSON)
            )
            bind.execute(update, {"k": key, "s": codes, "i": row["id"]})


def downgrade() -> None:
    pass  # the codes are the same doctors and sites; older code compares them as stored
