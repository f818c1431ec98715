"""flask-smorest Blueprint whose argument parser rejects unknown query parameters too."""

from __future__ import annotations

import flask_smorest
from marshmallow import RAISE
from webargs.flaskparser import FlaskParser


class StrictParser(FlaskParser):
    """webargs ignores unknown query parameters by default; a misspelt filter must not pass silently."""

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": RAISE}


class Blueprint(flask_smorest.Blueprint):
    """The project's API blueprint."""

    ARGUMENTS_PARSER = StrictParser()
