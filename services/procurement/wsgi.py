"""gunicorn entry: `gunicorn services.procurement.wsgi:app`."""

from shared.wsgi import build_wsgi_app
from services.procurement.app import SPEC

app = build_wsgi_app(SPEC)
