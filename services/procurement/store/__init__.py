"""The procurement service's tables and statements: its own, the formulary read model and the bus tables.

Statements are grouped by what they touch: `reference` (read model facts), `stock` (lots and
movements), `requisitions`, `purchasing` (distributors, manufacturers, prices, contracts),
`receiving` (receipts, purchase orders, transfers). Tables are defined in `tables`.
"""

from __future__ import annotations

from services.procurement.store.tables import add_procurement_tables
from shared.db import new_metadata
from shared.migrate import add_common_tables

metadata = add_common_tables(new_metadata())
add_procurement_tables(metadata)
T = metadata.tables
