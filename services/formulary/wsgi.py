"""gunicorn entry: `gunicorn services.formulary.wsgi:app`."""

from services.formulary.app import SPEC
from shared.wsgi import build_wsgi_app

app = build_wsgi_app(SPEC)
