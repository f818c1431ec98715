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
    ctx = build_context(spec, load_settings(spec.name))
    return spec.create_app(ctx)
