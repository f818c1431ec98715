"""gunicorn entry: `gunicorn services.prescription_review.wsgi:app`."""

from services.prescription_review.app import SPEC
from shared.wsgi import build_wsgi_app

app = build_wsgi_app(SPEC)
