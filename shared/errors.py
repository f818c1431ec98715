"""Domain errors that the HTTP layer turns into RFC 9457 problem details."""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses; `fields` names what is wrong where it is a field."""

    status = 422
    title = "Unprocessable request"

    def __init__(self, detail: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fields = fields or {}


class InvalidInput(DomainError):
    """Input that parses but breaks a rule (a bad code, a window ending before it starts)."""

    status = 422
    title = "Invalid input"


class NotFound(DomainError):
    """The thing asked for does not exist."""

    status = 404
    title = "Not found"


class Conflict(DomainError):
    """The request clashes with the current state (duplicate code, wrong status)."""

    status = 409
    title = "Conflict"


class PreconditionFailed(DomainError):
    """If-Match did not match: someone else changed it first."""

    status = 412
    title = "Precondition failed"


class PreconditionRequired(DomainError):
    """An edit came without If-Match."""

    status = 428
    title = "Precondition required"


class Forbidden(DomainError):
    """The caller's role or site does not allow this."""

    status = 403
    title = "Forbidden"
