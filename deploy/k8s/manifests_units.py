"""The services to generate, read from the service registry, and each one's process sizes.

Split out of deploy/k8s/generate.py (whose docstring explains every generated choice): a Unit
is what Kubernetes needs to know about one service (hub/registry.py's ServiceSpec: its name,
port, whether it has event handlers, whether it declares background workers), and Tuning holds
its processes' sizes and timeouts.

Units: seconds for every *_s figure; CPU and memory as Kubernetes quantity strings ("250m",
"256Mi"). Sources of the figures: gunicorn's --timeout / --graceful-timeout reach the pods as
GUNICORN_* variables (shared/gunicorn_conf.py); SHUTDOWN_GRACE_S and the heartbeat ages are
read by shared/heartbeat.py; the worker heartbeat age is the longest solve allowed by the
dispatch schemas (300 s) plus a minute; the per-service departures give their reasons inline.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Tuning:
    """Sizes and timeouts of one service's processes (seconds, CPU cores as Kubernetes strings)."""

    gunicorn_workers: int = 2
    gunicorn_threads: int = 4
    request_timeout_s: int = 30  # gunicorn --timeout: a worker silent this long is killed
    graceful_timeout_s: int = 25  # SIGTERM: in-flight requests get this long to finish
    api_requests: tuple[str, str] = ("250m", "256Mi")
    api_limits: tuple[str, str] = ("1", "512Mi")
    consumer_requests: tuple[str, str] = ("100m", "192Mi")
    consumer_limits: tuple[str, str] = ("500m", "384Mi")
    relay_requests: tuple[str, str] = ("50m", "128Mi")
    relay_limits: tuple[str, str] = ("250m", "256Mi")
    worker_requests: tuple[str, str] = ("1", "1Gi")
    worker_limits: tuple[str, str] = ("2", "2Gi")
    shutdown_grace_s: int = 20  # background loops: time to finish the message/plan in hand
    worker_shutdown_grace_s: int = 45  # the solver: time to hand its plan back
    worker_heartbeat_max_age_s: int = 360  # longest solve (300 s, dispatch schemas) + a minute
    loop_heartbeat_max_age_s: int = 90  # relay/consumer loops beat every second; reconnects ≤ 30 s
    worker_needs_broker: bool = False  # the workers talk to RabbitMQ themselves (readiness checks it)


# Per-service departures from the defaults, with the reason. A new service needs no entry.
TUNING: dict[str, Tuning] = {
    # The Excel import of catalogue changes parses and validates thousands of rows in one request.
    "formulary": Tuning(request_timeout_s=120, graceful_timeout_s=60),
    # Prescription screening is on the prescriber's critical path: short timeouts, more threads.
    # Its workers (HIS inbox, waiting-time limits) are light polling loops, not a solver.
    "prescription_review": Tuning(
        gunicorn_threads=8,
        request_timeout_s=15,
        graceful_timeout_s=15,
        worker_requests=("100m", "192Mi"),
        worker_limits=("500m", "384Mi"),
        worker_shutdown_grace_s=20,
        worker_heartbeat_max_age_s=120,
        worker_needs_broker=True,  # the HIS inbox is a RabbitMQ queue
    ),
    # Day previews and re-plans wait on the database for whole plans: a longer timeout.
    "dispatch": Tuning(request_timeout_s=60, graceful_timeout_s=30),
}


@dataclass(frozen=True)
class Unit:
    """What Kubernetes needs to know about one service."""

    name: str  # the registry's name, e.g. prescription_review
    port: int
    consumes: bool  # has event handlers -> consumer Deployment + ScaledObject
    workers: bool  # declares background workers -> worker Deployment
    tuning: Tuning = field(default_factory=Tuning)

    @property
    def k8s(self) -> str:
        """The name as Kubernetes objects spell it (DNS labels take no underscore)."""
        return self.name.replace("_", "-")

    @property
    def env_prefix(self) -> str:
        """Prefix of the service's own settings (shared/config.py)."""
        return self.name.upper()


def units_from_registry() -> list[Unit]:
    """One Unit per registered service, from its ServiceSpec."""
    sys.path.insert(0, str(ROOT))
    from hub.registry import specs

    return [unit_for(s.name, int(s.port), bool(s.handlers), bool(s.workers)) for s in specs()]


def unit_for(name: str, port: int, consumes: bool, workers: bool) -> Unit:
    """A Unit with the service's tuning (defaults for a service without an entry)."""
    return Unit(name, port, consumes, workers, TUNING.get(name, Tuning()))
