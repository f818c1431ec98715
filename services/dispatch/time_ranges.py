"""Time ranges given as HH:MM (receiving windows, shifts, break windows): what makes one unusable."""

from __future__ import annotations

from services.dispatch.model import minutes


def out_of_order(start: str, end: str, what: str = "window") -> str | None:
    """Why ``end`` cannot close a ``what`` that opens at ``start`` (HH:MM), or None when it can."""
    if minutes(end) == minutes(start):
        return f"the {what} is empty: it opens and closes at {start}; it must end after it starts"
    if minutes(end) < minutes(start):
        return f"the {what} ends ({end}) before it starts ({start})"
    return None
