"""gunicorn entry: `gunicorn services.prescription_review.wsgi:app`."""

from shared.wsgi import build_wsgi_app
from services.prescription_review.app import SPEC

app = build_wsgi_app(SPEC)
