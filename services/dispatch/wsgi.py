"""gunicorn entry: `gunicorn services.dispatch.wsgi:app`."""

from services.dispatch.app import SPEC
from shared.wsgi import build_wsgi_app

app = build_wsgi_app(SPEC)
