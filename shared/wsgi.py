"""Building a service's WSGI app for gunicorn from the environment."""

from __future__ import annotations

import os

from flask import Flask

from shared.config import load_settings
from shared.runtime import ServiceSpec, build_context
from shared.web.logging import configure_logging


def build_wsgi_app(spec: ServiceSpec) -> Flask:
    """Settings from the environment, JSON logs, the service's app; migrations are a separate job."""
    configure_logging(spec.name, os.environ.get("LOG_LEVEL", "INFO"))
    # gunicorn binds wherever its config says; the app cannot see it, so it assumes a network address
    # (no demonstration sign-in) unless HUB_BIND_HOST says loopback.
    ctx = build_context(spec, load_settings(spec.name, bind_host=os.environ.get("HUB_BIND_HOST", "0.0.0.0")))
    return spec.create_app(ctx)
