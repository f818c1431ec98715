"""CloudEvents 1.0 structured-mode JSON envelope, plus a correlation id extension."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from shared.clock import isoformat, utcnow

SPEC_VERSION = "1.0"


class EnvelopeError(ValueError):
    """A message that is not a valid CloudEvent: it can never succeed, so it is dead-lettered."""


class EnvelopeSchema(Schema):
    """The structured-mode JSON form; extension attributes are lower-case alphanumerics."""

    specversion = fields.String(required=True, validate=validate.Equal(SPEC_VERSION))
    id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    source = fields.String(required=True, validate=validate.Length(min=1, max=200))
    type = fields.String(required=True, validate=validate.Length(min=1, max=120))
    time = fields.AwareDateTime(required=True)
    datacontenttype = fields.String(load_default="application/json")
    subject = fields.String(load_default=None, allow_none=True)
    correlationid = fields.String(load_default=None, allow_none=True)
    data = fields.Dict(required=True)

    class Meta:
        # Unknown extension attributes are allowed by the spec; keep them out of the way.
        unknown = "exclude"


# Schema instances are built once: building one deep-copies every field (about a millisecond),
# and loading with a shared instance is safe (no per-load state is kept on it).
_ENVELOPE = EnvelopeSchema()


@dataclass(frozen=True)
class CloudEvent:
    """One domain fact, as it travels on the bus."""

    type: str
    source: str
    data: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=utcnow)
    subject: str | None = None
    correlationid: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The structured-mode JSON object."""
        out: dict[str, Any] = {
            "specversion": SPEC_VERSION,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "time": isoformat(self.time),
            "datacontenttype": "application/json",
            "data": self.data,
        }
        if self.subject is not None:
            out["subject"] = self.subject
        if self.correlationid is not None:
            out["correlationid"] = self.correlationid
        return out

    def to_json(self) -> str:
        """Serialised for the wire and the outbox."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, raw: Any) -> CloudEvent:
        """Parse and validate an envelope; raises EnvelopeError naming what is wrong."""
        if isinstance(raw, (bytes, str)):
            try:
                raw = json.loads(raw)
            except ValueError as exc:
                raise EnvelopeError(f"not JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise EnvelopeError("envelope must be a JSON object")
        try:
            parsed = _ENVELOPE.load(raw)
        except ValidationError as exc:
            raise EnvelopeError(f"invalid envelope: {exc.messages}") from exc
        return cls(
            type=parsed["type"],
            source=parsed["source"],
            data=parsed["data"],
            id=parsed["id"],
            time=parsed["time"],
            subject=parsed.get("subject"),
            correlationid=parsed.get("correlationid"),
        )


def new_event(
    event_type: str,
    data: dict[str, Any],
    *,
    source: str,
    subject: str | None = None,
    correlation_id: str | None = None,
) -> CloudEvent:
    """A new event whose payload has been checked against its contract."""
    from shared.events.contracts import validate_payload

    return CloudEvent(
        type=event_type,
        source=source,
        data=validate_payload(event_type, data),
        subject=subject,
        correlationid=correlation_id,
    )


def load_payload(event: CloudEvent) -> dict[str, Any]:
    """event.data loaded through its type's contract (dates parsed, defaults filled).

    Raises shared.events.contracts.ContractError when the type has no contract or the data does
    not satisfy it: such a message can never succeed and is dead-lettered by the consumer.
    """
    from shared.events.contracts import ContractError, contract_schema

    schema = contract_schema(event.type)
    try:
        loaded = schema.load(event.data)
    except ValidationError as exc:
        raise ContractError(event.type, exc.messages) from exc
    return dict(loaded)
