"""Event envelope (CloudEvents 1.0) and the payload contracts between services."""

from shared.events.contracts import CONTRACTS, validate_payload
from shared.events.envelope import CloudEvent, EnvelopeError, new_event

__all__ = ["CONTRACTS", "CloudEvent", "EnvelopeError", "new_event", "validate_payload"]
