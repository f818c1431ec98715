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
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, Response, render_template, request
from werkzeug.exceptions import NotFound

from shared.web.problems import problem

if TYPE_CHECKING:
    from shared.runtime import ServiceContext

HERE = Path(__file__).parent


def service_label(name: str) -> tuple[str, str]:
    """What the header calls a service when its own pages do not say, (zh, en): its registry
    ServiceSpec.label ("审方中心 Prescription review": Chinese first, English after the first space);
    the bare name for a service the registry does not know or that declares no label."""
    from hub.registry import spec  # lazily: the registry imports every service's app, which imports this

    try:
        label = spec(name).label.strip()
    except (KeyError, ImportError, AttributeError):
        label = ""
    zh, _, en = label.partition(" ")
    return (zh, en.strip() or zh) if zh else (name, name)


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


def install_shell(app: Flask, ctx: ServiceContext, pages: Blueprint | None) -> None:
    """The shell's assets, the service's pages (or a Chinese "no pages yet" page), Chinese 404 pages under /ui/.

    Templates get `hub_dev_login` (is the demonstration sign-in offered here) and `hub_service`.
    """
    app.register_blueprint(common_ui_blueprint())
    if pages is not None:
        app.register_blueprint(pages)
    else:
        placeholder = Blueprint("shell_placeholder", __name__, url_prefix="/ui", template_folder=str(HERE / "templates"))

        @placeholder.get("/")
        def no_pages() -> str:
            return render_template("shell/no_pages.html")

        app.register_blueprint(placeholder)
    zh, en = service_label(ctx.name)

    @app.context_processor
    def _shell_context() -> dict[str, Any]:
        return {
            "hub_dev_login": ctx.settings.dev_login,
            "hub_service": ctx.name,
            "hub_service_zh": zh,
            "hub_service_en": en,
        }

    @app.errorhandler(404)
    def _not_found(exc: NotFound) -> Response | tuple[str, int]:
        # A person who mistypes a page address gets a page in their language; the API keeps problem+json.
        if request.method == "GET" and request.path.startswith("/ui") and not request.path.startswith("/ui/common/"):
            return render_template("shell/not_found.html"), 404
        return problem(404, exc.name, exc.description)
