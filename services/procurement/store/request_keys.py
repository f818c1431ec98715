"""Idempotency-Key claims of stock changes (transfers, adjustments), written in the change's own transaction.

The HTTP layer remembers a response only after the use case committed, so two identical requests
with the same key at the same moment both ran the change (two transfers for one click). A stock
change with a key therefore claims it first, as a row of the service's `idempotency_keys` table
(under a `procurement.<kind>:` caller, apart from the HTTP layer's own rows), and writes its answer
into that row before commit. On PostgreSQL the twin's insert of the same primary key waits for the
first transaction and then fails (IntegrityError); on SQLite the twin waits for the write lock and
then finds the row. Either way the twin answers from the claim, and the change happens once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from services.procurement.store import T
from shared.clock import utcnow

KEYS = T["idempotency_keys"]


@dataclass(frozen=True)
class Claim:
    """Who asks (`caller`: kind, subject and site scope, ≤ 120 characters), their key and the command's fingerprint."""

    caller: str
    key: str
    fingerprint: str


def claim_for(kind: str, who: str, key: str, command: Any) -> Claim:
    """The claim of `who` (subject, `@site` when site-confined) for a `kind` command with `key`.

    The fingerprint is a SHA-256 of the command's repr: the same key with another command is refused.
    """
    caller = f"procurement.{kind}:{who}"
    if len(caller) > 120:
        caller = "sha256:" + hashlib.sha256(caller.encode()).hexdigest()
    return Claim(caller, key, hashlib.sha256(repr(command).encode()).hexdigest())


def claimed(session: Session, claim: Claim) -> tuple[str, Any] | None:
    """(fingerprint, stored answer as JSON data) of a committed claim of this caller and key, or None."""
    row = session.execute(select(KEYS.c.fingerprint, KEYS.c.body).where(KEYS.c.principal == claim.caller, KEYS.c.key == claim.key)).first()
    return (row.fingerprint, json.loads(row.body)) if row else None


def take(session: Session, claim: Claim) -> None:
    """Insert the claim (no answer yet); raises IntegrityError when a twin holds or held it."""
    session.execute(insert(KEYS).values(principal=claim.caller, key=claim.key, fingerprint=claim.fingerprint, status=0,
                                        body="null", location=None, etag=None, created_at=utcnow()))  # fmt: skip


def answer(session: Session, claim: Claim, status: int, data: Any) -> None:
    """Store the change's answer (JSON data) in the claim, before commit."""
    session.execute(
        update(KEYS).where(KEYS.c.principal == claim.caller, KEYS.c.key == claim.key)
        .values(status=status, body=json.dumps(data, ensure_ascii=False, sort_keys=True))
    )  # fmt: skip
