"""The procurement domain, free of Flask and SQLAlchemy.

Modules: `money` (Decimal yuan), `requisition` (请领单 state machine), `ledger` (central stock by
lot, FEFO), `invoices` (两票制 receipt check), `pricing` (中选价 / 二次议价 / 挂网价), `vbp`
(带量采购 progress), `transfers` (调剂 and monthly settlement), `stocking` (replenishment and
近效期 alerts), `commands` (the typed commands the use cases take).
"""
