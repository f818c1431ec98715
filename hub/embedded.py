"""The whole hub in one process: four services, SQLite files, the in-process transport.

One process is the embedded default on purpose: kombu's memory transport lives inside a
process, and a single machine in a township needs no broker to install. Production runs the
same apps under gunicorn with the relay, consumers and workers as their own processes.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from dataclasses import dataclass, field

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from hub.registry import specs
from shared.config import load_settings
from shared.migrate import upgrade
from shared.runtime import Background, ServiceContext, ServiceSpec, build_context
from shared.web.logging import configure_logging

log = logging.getLogger("countyhub.hub")


@dataclass
class RunningService:
    """One service of a running hub."""

    spec: ServiceSpec
    ctx: ServiceContext
    app: Flask
    background: Background
    server: BaseWSGIServer | None = None

    @property
    def url(self) -> str:
        """Where it listens."""
        assert self.server is not None
        return f"http://{self.server.host}:{self.server.port}"


@dataclass
class Hub:
    """All services of a running hub, for the CLI, the demo and end-to-end tests."""

    services: dict[str, RunningService] = field(default_factory=dict)
    threads: list[threading.Thread] = field(default_factory=list)

    def url(self, name: str) -> str:
        """Base URL of a service."""
        return self.services[name].url

    def peers(self) -> dict[str, tuple[ServiceSpec, ServiceContext]]:
        """Every running service's spec and context: where the local relays deliver events."""
        return {name: (svc.spec, svc.ctx) for name, svc in self.services.items()}

    def stop(self) -> None:
        """Shut servers and background loops down."""
        for svc in self.services.values():
            if svc.server is not None:
                svc.server.shutdown()
            svc.background.shutdown()
        for svc in self.services.values():
            svc.ctx.engine.dispose()


def start_hub(
    *, host: str = "127.0.0.1", ports: dict[str, int] | None = None, seed: bool = True, profile: str = "chengwu"
) -> Hub:
    """Migrate, start background loops and HTTP servers, and seed the sample county if empty.

    Everything comes from the registry's specs: ports, handlers, workers and each service's seeder.
    """
    hub = Hub()
    for service_spec in specs():
        settings = load_settings(service_spec.name, bind_host=host)
        ctx = build_context(service_spec, settings)
        upgrade(service_spec.migrations, ctx.engine)
        app = service_spec.create_app(ctx)
        background = Background(service_spec, ctx, peers=hub.peers)
        hub.services[service_spec.name] = RunningService(service_spec, ctx, app, background)
    for svc in hub.services.values():
        svc.background.start()
    for name, svc in hub.services.items():
        port = (ports or {}).get(name, svc.ctx.settings.port)
        svc.server = make_server(host, port, svc.app, threaded=True)
        thread = threading.Thread(target=svc.server.serve_forever, name=f"{name}-http", daemon=True)
        thread.start()
        hub.threads.append(thread)
    if seed:
        for name, svc in hub.services.items():
            if svc.spec.seed is not None:
                seeded = svc.spec.seed(svc.ctx, profile)
                if seeded:
                    log.info("seeded the sample county", extra={"service": name, "profile": profile, "seeded": seeded})
    return hub


def run_embedded(*, seed: bool = True, host: str = "127.0.0.1", profile: str = "chengwu") -> None:
    """Run until interrupted, printing where the pages are."""
    configure_logging("hub", os.environ.get("LOG_LEVEL", "WARNING"))
    hub = start_hub(host=host, seed=seed, profile=profile)
    print("County Pharmacy & Logistics Hub is running (embedded: SQLite + in-process bus)", flush=True)
    for name, svc in hub.services.items():
        print(f"  {svc.spec.label or name:<36} {svc.url}/ui/   API docs {svc.url}/docs")
    print("Sign in on any page by choosing a role; `countyhub token --role ROLE` prints a token for the API.")
    print("Press Ctrl+C to stop.", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    hub.stop()
