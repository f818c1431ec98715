"""The compiled engine a process screens with, rebuilt when its inputs change (no restart).

Inputs: the newest knowledge version (or the bundled sample when none was imported), the
formulary read model and the severity overrides. A cheap stamp query (max updated_at and counts)
is run at most once per RELOAD_CHECK_S per process; when the stamp moves, the knowledge is
recompiled (~50 ms for the sample county) and swapped in atomically. Every gunicorn worker does
the same, so a new version is live everywhere within a second of its import.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from services.prescription_review import store
from services.prescription_review.knowledge.importer import load_sample, parse_tables
from services.prescription_review.model.compiled import CompiledKnowledge, compile_knowledge
from services.prescription_review.model.findings import SeverityPolicy
from services.prescription_review.model.formulary_view import FormularyView
from services.prescription_review.model.registry import PrescriberRecord, registry_key
from shared.runtime import ServiceContext

RELOAD_CHECK_S = 1.0
_KEY = "prescription_review.engine"


@dataclass(frozen=True)
class Engine:
    """What screening reads: compiled knowledge, the severity policy and the prescriber registry,
    with the stamp they match."""

    knowledge: CompiledKnowledge
    policy: SeverityPolicy
    stamp: tuple[Any, ...]
    registry: dict[str, PrescriberRecord]


class EngineHolder:
    """One per service context: the current Engine and when its stamp was last checked."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.checked = 0.0
        self.lock = threading.Lock()


def build_engine(session: Session, stamp: tuple[Any, ...]) -> Engine:
    """Compile the knowledge against the read model (reads only)."""
    items, sites, lists = store.reference_rows(session)
    formulary = FormularyView.build(items, sites, lists, store.catalogue_version(session))
    names = {f.generic_name for f in formulary.items.values()}
    row = store.active_knowledge(session)
    if row is None:
        kb = load_sample(names)
    else:
        parsed, report = parse_tables(row["version"], row["content"], names)
        if parsed is None:  # stored versions were validated on import; this would be a bug
            raise RuntimeError(f"stored knowledge {row['version']} no longer validates: {report.errors[:3]}")
        kb = parsed
    policy = SeverityPolicy({(r["site_level"], r["code"]): r["severity"] for r in store.severity_rows(session)})
    registry = {
        registry_key(r["id"]): PrescriberRecord(r["id"], r["name"], tuple(r["sites"]), r["title"], frozenset(r["privileges"]), r["active"])
        for r in store.all_prescribers(session)
    }
    return Engine(compile_knowledge(kb, formulary), policy, stamp, registry)


def current_engine(ctx: ServiceContext, session: Session, force: bool = False) -> Engine:
    """The engine for this process, reloaded if the knowledge, read model or severities changed."""
    holder: EngineHolder = ctx.extras.setdefault(_KEY, EngineHolder())
    now = time.monotonic()
    engine = holder.engine
    if engine is not None and not force and now - holder.checked < RELOAD_CHECK_S:
        return engine
    stamp = store.config_stamp(session)
    holder.checked = now
    if engine is not None and engine.stamp == stamp and not force:
        return engine
    with holder.lock:
        if holder.engine is None or holder.engine.stamp != stamp or force:
            holder.engine = build_engine(session, stamp)
        return holder.engine


def invalidate(ctx: ServiceContext) -> None:
    """Make this process re-check its inputs on the next screening (after an import or a severity change)."""
    holder: EngineHolder | None = ctx.extras.get(_KEY)
    if holder is not None:
        holder.checked = 0.0
