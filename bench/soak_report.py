"""bench.soak's report: events and effects, requests by class, req/s and p99 per operation, per window.

Percentiles are nearest-rank over the requests that ended in the window; req/s counts every
request that got an HTTP answer (any status) per second of the window.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bench.soak_audit import Books, Event, Ledger
from bench.soak_load import Recorder, Sample

CLASSES = ("2xx", "4xx", "503", "5xx", "timeout", "conn")


@dataclass
class Window:
    """A stretch of the load: the baseline or one fault's window."""

    name: str
    started: float
    started_utc: datetime
    ended: float = 0.0
    ended_utc: datetime | None = None
    restored: float = 0.0
    restored_utc: datetime | None = None
    recovered_s: float | None = None
    detail: str = ""
    injected: dict[str, int] = field(default_factory=dict)
    dead_lettered: dict[str, int] = field(default_factory=dict)
    extra: Callable[[], bool] = lambda: True  # a fault's own condition for "recovered"


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of values; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def _classes(samples: list[Sample]) -> Counter[str]:
    return Counter(s.cls for s in samples)


def _answered(samples: list[Sample]) -> list[Sample]:
    return [s for s in samples if s.cls not in ("timeout", "conn")]


def op_table(samples: list[Sample], seconds: float) -> list[str]:
    """One line per operation: n, req/s, p50, p99 (answered requests) and the classes."""
    lines = [f"  {'operation':<13}{'n':>6}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}   " + " ".join(f"{c:>7}" for c in CLASSES)]
    for op in sorted({s.op for s in samples}):
        mine = [s for s in samples if s.op == op]
        took = [s.seconds * 1000 for s in _answered(mine)]
        cls = _classes(mine)
        lines.append(f"  {op:<13}{len(mine):>6}{len(took) / seconds:>8.1f}{percentile(took, 50):>9.1f}"
                     f"{percentile(took, 99):>9.1f}   " + " ".join(f"{cls[c]:>7}" for c in CLASSES))
    return lines


def window_books(ledger: Ledger, events: list[Event], inboxes: dict[str, set[str]], effects: dict[str, Any],
                 w: Window) -> Books:
    """The books of the events created during a window."""
    mine = [e for e in events if w.started_utc <= e.created_at and (w.ended_utc is None or e.created_at < w.ended_utc)]
    return ledger.books(mine, inboxes, effects)


def report(args: argparse.Namespace, windows: list[Window], recorder: Recorder, ledger: Ledger, events: list[Event],
           inboxes: dict[str, set[str]], effects: dict[str, Any], dlq: dict[str, int], hits: int,
           restarts: dict[str, int], codes: dict[str, int | None], plan_day: str = "tomorrow") -> int:
    """Print everything; 1 when an event was lost or applied twice, else 0."""
    out: list[str] = []
    total = ledger.books(events, inboxes, effects)
    load_s = windows[-1].ended - windows[0].started if windows else 1.0
    samples = recorder.between(windows[0].started, windows[-1].ended + 60) if windows else []
    out.append(f"bench.soak — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} CPUs, "
               f"1-min load average {os.getloadavg()[0]:.1f} at the end")
    out.append(f"  {args.clients} clients + 1 dispatcher on loopback; gunicorn {args.api_workers} worker(s) per API; "
               f"private PostgreSQL and RabbitMQ; load {load_s:.0f} s")
    out.append(f"  the dispatcher plans {plan_day}" + ("" if plan_day == "today" else
               " (the hub has closed for today, so no stop can be confirmed: no dispatch.stop.completed)"))
    out.append("")
    out.append(f"events (whole run, the seed's reference events included): sent {total.sent}, delivered {total.delivered}, "
               f"lost {total.lost}, duplicated effects {total.duplicated}, left unsent in an outbox {total.unsent}")
    for event_type, n in sorted(total.by_type.items()):
        out.append(f"  {event_type:<34}{n:>7}  -> {', '.join(ledger.consumers(event_type))}")
    out.append(f"duplicates suppressed (inbox hits, from the consumers' logs): {hits}")
    out.append("dead-lettered (messages in each dead-letter queue at the end): "
               + ", ".join(f"{q} {n}" for q, n in sorted(dlq.items())))
    out.append("loop processes restarted by the supervisor: "
               + (", ".join(f"{n} x{k}" for n, k in sorted(restarts.items())) or "none"))
    bad_exits = {n: c for n, c in codes.items() if c not in (0, None)}
    out.append("exit codes at the end (SIGTERM): " + ("all 0" if not bad_exits else str(bad_exits)))
    if total.lost_ids:
        out.append("LOST: " + "; ".join(total.lost_ids[:20]))
    out.append("")
    out.append(f"requests per operation, whole load ({load_s:.0f} s):")
    out += op_table(samples, load_s)
    out.append("  what the servers said, first answer of each failed (operation, status); 0 = no answer:")
    out += [f"    {op} {status}: {detail}" for (op, status), detail in sorted(recorder.examples.items())]
    out.append("")
    out.append("per window (requests that ended in it; events created in it):")
    out.append(f"  {'window':<15}{'s':>5}{'req/s':>8}{'p99 ms':>9}   " + " ".join(f"{c:>7}" for c in CLASSES)
               + "   events sent/delivered  recovered")
    books: dict[str, Books] = {}
    for w in windows:
        mine = recorder.between(w.started, w.ended)
        seconds = max(0.001, w.ended - w.started)
        took = [s.seconds * 1000 for s in _answered(mine)]
        cls = _classes(mine)
        books[w.name] = b = window_books(ledger, events, inboxes, effects, w)
        rec = "-" if w.name == "baseline" else ("NOT" if w.recovered_s is None else f"{w.recovered_s:.1f} s")
        out.append(f"  {w.name:<15}{seconds:>5.0f}{len(took) / seconds:>8.1f}{percentile(took, 99):>9.1f}   "
                   + " ".join(f"{cls[c]:>7}" for c in CLASSES) + f"   {b.sent:>6}/{b.delivered:<6}         {rec}")
        if w.detail:
            out.append(f"  {'':<15}{w.detail}")
        if w.injected:
            out.append(f"  {'':<15}poison published {w.injected}; dead-lettered during the window {w.dead_lettered}")
    out.append("")
    out.append("p99 ms per operation and window:")
    ops = sorted({s.op for s in samples})
    out.append(f"  {'operation':<13}" + "".join(f"{w.name[:13]:>14}" for w in windows))
    for op in ops:
        row = []
        for w in windows:
            took = [s.seconds * 1000 for s in _answered(recorder.between(w.started, w.ended)) if s.op == op]
            row.append(f"{percentile(took, 99):>14.1f}" if took else f"{'-':>14}")
        out.append(f"  {op:<13}" + "".join(row))
    out.append("")
    failed = total.lost > 0 or total.duplicated > 0
    for w in windows:
        if w.name == "baseline":
            continue
        b = books[w.name]
        rec = f"{w.recovered_s:.1f}" if w.recovered_s is not None else "never (timed out)"
        out.append(f"FAULT {w.name}: sent {b.sent}, delivered {b.delivered}, lost {b.lost}, "
                   f"duplicated effects {b.duplicated}, recovered in {rec} s")
        failed = failed or w.recovered_s is None
    print("\n".join(out), flush=True)
    return 1 if failed else 0
