"""The correlation id of the work in hand: set per request and per consumed event."""

from __future__ import annotations

import uuid
from contextvars import ContextVar

_current: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def current() -> str | None:
    """The correlation id in force, if any."""
    return _current.get()


def set_current(value: str | None) -> None:
    """Set the correlation id for this thread of work."""
    _current.set(value)


def new_id() -> str:
    """A fresh id for a request that came without one."""
    return uuid.uuid4().hex
