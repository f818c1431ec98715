"""gunicorn entry: `gunicorn services.procurement.wsgi:app`."""

from services.procurement.app import SPEC
from shared.wsgi import build_wsgi_app

app = build_wsgi_app(SPEC)
