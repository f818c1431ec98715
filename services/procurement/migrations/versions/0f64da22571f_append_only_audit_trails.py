"""append-only audit trails: receipts (paid once), receipt lines, prices, VBP contracts, stock
movements, transfers and purchase orders (approved once)

Revision ID: 0f64da22571f
Revises: 9c3e5a1b2d47
Create Date: 2026-12-06 11:00:00

Issue 13: see shared/append_only.py for the triggers (PostgreSQL and SQLite) and the
application role's privileges (PostgreSQL, granted by `countyhub migrate`). A price change is a
new row in listed_prices / negotiated_prices (the history the price look-up reads); a stock
change is a new movement. Two rows change exactly once: a receipt when its payment day is
recorded (receiving.set_paid) and a purchase order when it is approved
(receiving.approve_purchase_order).
"""

from alembic import op

from shared.append_only import protect, unprotect

revision = "0f64da22571f"
down_revision = "9c3e5a1b2d47"
branch_labels = None
depends_on = None

APPEND_ONLY = (
    "receipt_lines", "listed_prices", "negotiated_prices", "vbp_contracts",
    "central_movements", "site_movements", "transfers",
)
CLOSED_ONCE = {
    "receipts": ("paid_on",),
    "purchase_orders": ("approved_at", "approved_by", "status"),
}


def upgrade() -> None:
    for table in APPEND_ONLY:
        protect(op, table)
    for table, closes in CLOSED_ONCE.items():
        protect(op, table, closes=closes)


def downgrade() -> None:
    for table in (*APPEND_ONLY, *CLOSED_ONCE):
        unprotect(op, table)
