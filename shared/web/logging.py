"""Structured JSON logs carrying the service, request and correlation ids, with patient data masked.

Patient data never reaches a log line (issue 13). The review centre logs no patient fields of its
own (only a keyed hash prefix, services/prescription_review/service.py); what could still carry
them is masked here, in every record the root handler writes (message, `extra=` fields, traceback):

- the bound values of a failed SQL statement: SQLAlchemy's "[parameters: ...]" line and
  PostgreSQL's "Failing row contains (...)" / "Key (...)=(...)" details (a screening row holds the
  patient's clinical facts), and the statement/parameter records of the sqlalchemy.engine loggers
  should someone turn SQL echo on;
- `extra=` fields named after patient data (PATIENT_KEYS), at any depth, and a `patient` field
  that is an object rather than the keyed hash.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any

from shared import correlation

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


MASK = "***"
# extra= field names that only ever hold patient data (any depth); "patient" itself when it is not the keyed hash.
PATIENT_KEYS = frozenset({
    "patient_id", "patient_name", "id_card", "id_number", "diagnoses", "diagnosis", "allergies",
})  # fmt: skip
_BOUND_VALUES = (
    (re.compile(r"\[parameters: [^\n]*"), "[parameters: " + MASK + "]"),  # SQLAlchemy's rendering of the bound values
    (re.compile(r"Failing row contains \([^\n]*"), "Failing row contains (" + MASK + ")"),  # PostgreSQL's DETAIL
    (re.compile(r"Key \((.*?)\)=\([^\n]*"), r"Key (\1)=(" + MASK + ")"),
)


def mask_text(text: str) -> str:
    """The text with the bound values of SQL statements masked."""
    for pattern, replacement in _BOUND_VALUES:
        text = pattern.sub(replacement, text)
    return text


def mask_value(key: str, value: Any) -> Any:
    """An `extra=` field's value with patient data masked (recursively through dicts and lists)."""
    if key in PATIENT_KEYS or (key == "patient" and not isinstance(value, str)):
        return MASK
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_value("", v) for v in value]
    return value


class PatientDataFilter(logging.Filter):
    """Masks patient data in a record before any handler formats it (installed on the root handler)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        if record.name.startswith("sqlalchemy.engine") and record.args:
            record.args = None  # the bound values of an echoed statement
            record.msg = f"{record.msg if isinstance(record.msg, str) else type(record.msg).__name__} [parameters: {MASK}]"
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and not key.startswith("_"):
                setattr(record, key, mask_value(key, value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with any `extra=` fields kept (patient data masked, see mask_text / mask_value)."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as JSON."""
        out: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": getattr(record, "service", self.service),
            "logger": record.name,
            "msg": mask_text(record.getMessage()),
        }
        cid = correlation.current()
        if cid:
            out["correlation_id"] = cid
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = mask_value(key, value)
        if record.exc_info or record.exc_text:
            out["exc"] = mask_text(record.exc_text or self.formatException(record.exc_info))  # type: ignore[arg-type]
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send the root logger's output to stderr as JSON lines."""
    import time

    JsonFormatter.converter = time.gmtime  # type: ignore[assignment]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    handler.addFilter(PatientDataFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("werkzeug", "amqp", "kombu", "pika"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
