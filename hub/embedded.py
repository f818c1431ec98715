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

from hub.registry import SERVICES, spec
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
    """Migrate, start background loops and HTTP servers, and seed the sample county if empty."""
    hub = Hub()
    for name in SERVICES:
        service_spec = spec(name)
        settings = load_settings(name, bind_host=host)
        ctx = build_context(service_spec, settings)
        upgrade(service_spec.migrations, ctx.engine)
        app = service_spec.create_app(ctx)
        background = Background(service_spec, ctx).start()
        hub.services[name] = RunningService(service_spec, ctx, app, background)
    for name, svc in hub.services.items():
        port = (ports or {}).get(name, svc.ctx.settings.port)
        svc.server = make_server(host, port, svc.app, threaded=True)
        thread = threading.Thread(target=svc.server.serve_forever, name=f"{name}-http", daemon=True)
        thread.start()
        hub.threads.append(thread)
    if seed:
        from services.dispatch.fleet import seed_fleet_if_empty
        from services.formulary.seed.loader import seed_if_empty
        from shared.db import unit_of_work

        with unit_of_work(hub.services["dispatch"].ctx.factory) as session:
            seed_fleet_if_empty(session)

        seeded = seed_if_empty(hub.services["formulary"].ctx, profile=profile)
        if seeded:
            log.info("seeded the sample county", extra={"profile": profile, **seeded})
    return hub


def run_embedded(*, seed: bool = True, host: str = "127.0.0.1", profile: str = "chengwu") -> None:
    """Run until interrupted, printing where the pages are."""
    configure_logging("hub", os.environ.get("LOG_LEVEL", "WARNING"))
    hub = start_hub(host=host, seed=seed, profile=profile)
    print("County Pharmacy & Logistics Hub is running (embedded: SQLite + in-process bus)", flush=True)
    labels = {
        "formulary": "统一药品耗材目录 catalogue",
        "procurement": "采购与库存 procurement",
        "prescription_review": "审方中心 prescription review",
        "dispatch": "物流调度 dispatch",
    }
    for name, svc in hub.services.items():
        print(f"  {labels[name]:<36} {svc.url}/ui/   API docs {svc.url}/docs")
    print("Sign in on any page by choosing a role; `countyhub token --role ROLE` prints a token for the API.")
    print("Press Ctrl+C to stop.", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    hub.stop()
