"""The dispatch service's tables: fleet, shipments, plans and their progress, stop confirmations."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Float, Index, Integer, String, Table, Text

from shared.bus.tables import add_bus_tables
from shared.db import UtcDateTime, new_metadata
from shared.reference import add_reference_tables
from shared.web.idempotency import add_idempotency_table

metadata = new_metadata()
add_bus_tables(metadata)
add_idempotency_table(metadata)
add_reference_tables(metadata)

vehicles = Table(
    "vehicles",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("compartments_l", JSON, nullable=False),
    Column("shift_start", String(5), nullable=False),
    Column("shift_end", String(5), nullable=False),
    Column("break_start", String(5), nullable=True),
    Column("break_end", String(5), nullable=True),
    Column("break_min", Integer, nullable=True),
    Column("max_route_min", Integer, nullable=True),
    Column("max_km", Float, nullable=True),
    Column("fixed_cost", Float, nullable=False),
    Column("cost_per_km", Float, nullable=False),
    Column("active", Boolean, nullable=False),
)

shipments = Table(
    "shipments",
    metadata,
    Column("id", String(60), primary_key=True),
    Column("site_code", String(40), nullable=False),
    Column("source", String(10), nullable=False),  # event | manual
    Column("status", String(12), nullable=False),  # pending | planned | delivered | cancelled
    Column("deliver_l", JSON, nullable=False),
    Column("pickup_l", JSON, nullable=False),
    Column("lines", JSON, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("note", Text, nullable=True),
    Column("deliver_by", String(10), nullable=True),
    Column("plan_id", String(36), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("created_by", String(120), nullable=False),
)
Index("ix_shipments_status", shipments.c.status, shipments.c.site_code)

plans = Table(
    "plans",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("date", String(10), nullable=False),
    # queued -> solving -> solved | failed; solved -> published; any -> superseded
    Column("status", String(12), nullable=False),
    Column("request", JSON, nullable=False),  # the solve problem, as POST /solve takes it
    Column("stop_refs", JSON, nullable=False),  # stop id -> shipment ids and rounds
    Column("result", JSON, nullable=True),  # the plan, as POST /solve returns it
    Column("progress", JSON, nullable=False),  # [[seconds, objective], ...]
    Column("error", Text, nullable=True),
    Column("base_plan_id", String(36), nullable=True),
    Column("created_by", String(120), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("heartbeat_at", UtcDateTime(), nullable=True),
    Column("finished_at", UtcDateTime(), nullable=True),
    Column("published_at", UtcDateTime(), nullable=True),
)
Index("ix_plans_status", plans.c.status, plans.c.created_at)

stop_completions = Table(
    "stop_completions",
    metadata,
    Column("plan_id", String(36), primary_key=True),
    Column("stop_id", String(60), primary_key=True),
    Column("completed_at", UtcDateTime(), nullable=False),
    Column("received_by", String(120), nullable=True),
    Column("exceptions", JSON, nullable=False),
    Column("confirmed_by", String(120), nullable=False),
)
