"""The pages' common shell: layout template, styles, script (i18n, sign-in, API calls), served locally.

A service's page extends it::

    {% extends "base.html" %}
    {% block title %}审方队列{% endblock %}{% block title_en %}Review queue{% endblock %}
    {% block service_name %}审方中心{% endblock %}{% block service_name_en %}Prescription review{% endblock %}
    {% block nav %}<ul><li><a href="/ui/" aria-current="page" data-en="Queue">待审处方</a></li></ul>{% endblock %}
    {% block scripts %}<script src="{{ url_for('<service>_ui.static', filename='queue.js') }}" defer></script>{% endblock %}
    {% block content %}<h1 data-en="Review queue">审方队列</h1>…{% endblock %}

and its script uses ``window.hub`` (static/hub.js, hub-api.js, hub-session.js):
``hub.onSession(load)``, ``await hub.api("GET", "/api/v1/...")`` (throws ``hub.ApiError`` carrying
the problem's field errors), ``hub.reportError(err, form)`` (messages beside the fields they name),
``hub.toast(...)``, ``hub.tr(zh, en)`` for text built in JS. Chinese goes in the markup, English
beside it in ``data-en`` (leaf elements) or ``data-en-placeholder`` / ``data-en-title`` /
``data-en-aria-label``. Styles (static/hub.css) include cards, toolbars, forms (``.field``,
``.form-grid``), data tables, badges, notices, a timeline, diffs and a print layout.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint

HERE = Path(__file__).parent


def common_ui_blueprint() -> Blueprint:
    """Static assets under /ui/common/ and the base templates every service's pages extend."""
    return Blueprint(
        "common_ui",
        __name__,
        url_prefix="/ui/common",
        template_folder=str(HERE / "templates"),
        static_folder=str(HERE / "static"),
        static_url_path="/static",
    )


def service_ui_blueprint(name: str, folder: Path) -> Blueprint:
    """A service's pages under /ui/, with templates/ and static/ from its own ui folder."""
    return Blueprint(
        name,
        __name__,
        url_prefix="/ui",
        template_folder=str(folder / "templates"),
        static_folder=str(folder / "static"),
        static_url_path="/static",
    )
