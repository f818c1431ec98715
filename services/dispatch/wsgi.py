"""gunicorn entry: `gunicorn services.dispatch.wsgi:app`."""

from shared.wsgi import build_wsgi_app
from services.dispatch.app import SPEC

app = build_wsgi_app(SPEC)
