"""Event handlers: the formulary read model (formulary.* events) keeps items, site levels and
stocking lists current; the engine notices the change and recompiles (engine_cache.py).

Prescriptions that HIS systems send by message do not travel on the domain event bus (they carry
patient facts, which never go on the bus): they arrive on the service's own HIS queue, see worker.py.
"""

from __future__ import annotations

from services.prescription_review.store import metadata
from shared.bus.inbox import Handler
from shared.reference import reference_handlers

HANDLERS: dict[str, Handler] = {**reference_handlers(metadata)}
