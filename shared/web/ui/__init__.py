"""The pages' common shell: layout template, styles, script (i18n, sign-in, API calls), served locally."""

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
