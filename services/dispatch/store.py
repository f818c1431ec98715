"""The dispatch service's tables: its own, plus the formulary read model and the bus tables."""

from __future__ import annotations

from shared.bus.tables import add_bus_tables
from shared.db import new_metadata
from shared.reference import add_reference_tables
from shared.web.idempotency import add_idempotency_table

metadata = new_metadata()
add_bus_tables(metadata)
add_idempotency_table(metadata)
add_reference_tables(metadata)
