"""The procurement service's tables and statements: its own, the formulary read model and the bus tables.

Statements are grouped by what they touch: `reference` (read model facts), `stock` (lots and
movements), `requisitions`, `purchasing` (distributors, manufacturers, prices, contracts,
receipts, purchase orders, transfers).
"""

from __future__ import annotations

from services.procurement.store.tables import add_procurement_tables
from shared.bus.tables import add_bus_tables
from shared.db import new_metadata
from shared.reference import add_reference_tables
from shared.web.idempotency import add_idempotency_table

metadata = new_metadata()
add_bus_tables(metadata)
add_idempotency_table(metadata)
add_reference_tables(metadata)
add_procurement_tables(metadata)
T = metadata.tables
