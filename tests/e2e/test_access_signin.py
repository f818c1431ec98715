"""The demonstration sign-in is not a back door; production refuses weak secrets; rotation and audience over HTTP."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from flask import Flask
from werkzeug.serving import make_server

from shared.auth import Keyring, issue_token, key_id
from shared.config import ConfigError, Settings, load_settings
from shared.migrate import upgrade
from shared.runtime import ServiceContext, build_context
from tests.support.formulary import sample_item
from tests.support.waiting import free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "signin-tests-" + "5e1f0c9a8b7d6e4f3a2b1c0d9e8f7a6b"


def formulary_app(folder: Path, **overrides: Any) -> tuple[Flask, ServiceContext]:
    from services.formulary.app import SPEC

    settings = Settings(service="formulary", database_url=f"sqlite:///{folder}/f.sqlite3", broker_url="memory://",
                        jwt_secret=SECRET, port=0, **overrides)  # fmt: skip
    ctx = build_context(SPEC, settings)
    upgrade(SPEC.migrations, ctx.engine)
    return SPEC.create_app(ctx), ctx


@pytest.fixture
def demo_app(tmp_path: Path) -> Iterator[Flask]:
    app, ctx = formulary_app(tmp_path, dev_login=True)
    yield app
    ctx.engine.dispose()


def demo_token(app: Flask, **body: Any) -> Any:
    return app.test_client().post("/ui/dev-token", json=body)


def test_demo_tokens_have_demo_subjects_and_say_so(demo_app: Flask) -> None:
    r = demo_token(demo_app, role="pharmacy_manager", name="王芳")
    assert r.status_code == 200, r.get_json()
    data = r.get_json()
    claims = jwt.decode(data["token"], options={"verify_signature": False})
    assert data["subject"].startswith("demo-pharmacy_manager-") and claims["sub"] == data["subject"]
    assert claims["demo"] is True and claims["name"] == "王芳" and claims["roles"] == ["pharmacy_manager"]
    assert claims["exp"] - claims["iat"] <= 10 * 3600 and claims["aud"] == "countyhub"
    page = demo_app.test_client().get("/ui/").get_data(as_text=True)
    assert "演示登录" in page and "并非真实身份认证" in page


@pytest.mark.parametrize(
    ("body", "field"),
    [({"role": "pharmacy_manager", "name": "seed"}, "name"), ({"role": "pharmacy_manager", "name": " SEED "}, "name"),
     ({"role": "pharmacy_manager", "name": "系统初始化"}, "name"), ({"role": "pharmacy_manager", "name": "seed-committee"}, "name"), ({"role": "dispatcher", "name": "demo-dispatcher-1a2b3c4d"}, "name"),
     ({"role": "root"}, "role"), ({"role": "storekeeper"}, "site"), ({"role": "storekeeper", "site": "<b>"}, "site"),
     ({"role": "his", "name": "x" * 41}, "name"), ({"role": "pharmacist", "name": 7}, "name")],  # fmt: skip
)
def test_system_names_and_bad_choices_are_refused(demo_app: Flask, body: dict[str, Any], field: str) -> None:
    r = demo_token(demo_app, **body)
    assert r.status_code == 422
    assert field in {e["field"] for e in r.get_json()["errors"]}


def test_an_approval_through_the_demo_sign_in_records_the_demo_subject(demo_app: Flask) -> None:
    client = demo_app.test_client()
    admin = demo_token(demo_app, role="formulary_admin", name="目录员小张").get_json()
    manager = demo_token(demo_app, role="pharmacy_manager", name="李主任").get_json()
    r = client.post("/api/v1/items", json=sample_item("YPDEMO001"), headers={"Authorization": f"Bearer {admin['token']}"})
    assert r.status_code == 201, r.get_json()
    r = client.post("/api/v1/changes/approve", json={"change_ids": [r.get_json()["id"]]},
                    headers={"Authorization": f"Bearer {manager['token']}"})  # fmt: skip
    assert r.status_code == 200, r.get_json()
    versions = client.get("/api/v1/versions", headers={"Authorization": f"Bearer {manager['token']}"}).get_json()
    assert versions[0]["approved_by"] == manager["subject"] and versions[0]["approved_by"].startswith("demo-")


def test_not_from_loopback_the_route_does_not_exist(demo_app: Flask) -> None:
    r = demo_app.test_client().post("/ui/dev-token", json={"role": "his"}, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert r.status_code == 404


def test_without_dev_login_the_route_does_not_exist_and_the_page_asks_for_the_county_s_sign_in(tmp_path: Path) -> None:
    app, ctx = formulary_app(tmp_path, dev_login=False)
    try:
        client = app.test_client()
        assert client.post("/ui/dev-token", json={"role": "pharmacy_manager"}).status_code == 404
        page = client.get("/ui/").get_data(as_text=True)
        assert "演示登录" not in page and "统一身份认证" in page
    finally:
        ctx.engine.dispose()


def post_json(url: str, body: Any) -> int:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.mark.parametrize(("host", "expected"), [("127.0.0.2", 404), ("127.0.0.1", 200)])
def test_over_http_the_bind_host_decides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, host: str, expected: int) -> None:
    """The embedded default listening on another address than loopback has no demonstration sign-in."""
    from services.formulary.app import SPEC

    for key in ("DATABASE_URL", "FORMULARY_DATABASE_URL", "JWT_SECRET", "HUB_DEV_LOGIN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path))
    settings = load_settings("formulary", bind_host=host)
    ctx = build_context(SPEC, settings)
    upgrade(SPEC.migrations, ctx.engine)
    port = free_port()
    server = make_server(host, port, SPEC.create_app(ctx), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert post_json(f"http://{host}:{port}/ui/dev-token", {"role": "pharmacy_manager"}) == expected
    finally:
        server.shutdown()
        ctx.engine.dispose()


def test_the_embedded_hub_passes_its_bind_host_to_every_service(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from hub.embedded import start_hub
    from hub.registry import SERVICES

    for key in ("DATABASE_URL", "JWT_SECRET", "HUB_DEV_LOGIN", "BROKER_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path))
    hub = start_hub(host="127.0.0.2", ports={name: free_port() for name in SERVICES}, seed=False)
    try:
        for name, svc in hub.services.items():
            assert svc.ctx.settings.bind_host == "127.0.0.2" and not svc.ctx.settings.dev_login, name
            assert post_json(f"{svc.url}/ui/dev-token", {"role": "pharmacy_manager", "name": "x"}) == 404, name
    finally:
        hub.stop()


def production_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL") and not k.startswith("JWT_")}
    return {**env, "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test", "PYTHONPATH": str(ROOT), **extra}


@pytest.mark.parametrize(
    ("secret", "says"),
    [(None, "is not set"), ("x", "bytes"), ("CHANGE-ME-at-least-32-random-bytes", "placeholder")],
)
def test_a_production_start_refuses_a_weak_secret_with_a_clear_message(secret: str | None, says: str) -> None:
    env = production_env(**({"JWT_SECRET": secret} if secret is not None else {}))
    done = subprocess.run([sys.executable, "-m", "hub.cli", "token", "--role", "pharmacist"], env=env,
                          capture_output=True, text=True, timeout=60, cwd=ROOT)  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "JWT_SECRET" in done.stderr and says in done.stderr and "Traceback" not in done.stderr
    assert not done.stdout.strip()  # no token printed


def test_gunicorn_s_app_builder_refuses_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.formulary.app import SPEC
    from shared.wsgi import build_wsgi_app

    for key, value in production_env(JWT_SECRET="short").items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match="JWT_SECRET"):
        build_wsgi_app(SPEC)


def test_rotation_and_audience_over_http(tmp_path: Path) -> None:
    old = secrets.token_urlsafe(40)
    app, ctx = formulary_app(tmp_path, jwt_previous={"2026-10": old}, jwt_audience="chengwu")
    try:
        client = app.test_client()
        current = ctx.settings.keyring

        def status(token: str) -> int:
            return client.get("/api/v1/versions", headers={"Authorization": f"Bearer {token}"}).status_code

        assert status(issue_token(current, "pharmacist")) == 200
        assert jwt.get_unverified_header(issue_token(current, "pharmacist"))["kid"] == key_id(SECRET)
        old_ring = Keyring(signing_kid="2026-10", keys={"2026-10": old}, audience="chengwu")
        assert status(issue_token(old_ring, "pharmacist")) == 200  # during the change-over
        stranger = Keyring(signing_kid="2026-10", keys={"2026-10": secrets.token_urlsafe(40)}, audience="chengwu")
        assert status(issue_token(stranger, "pharmacist")) == 401
        assert status(issue_token(Keyring.single(SECRET), "pharmacist")) == 401  # default audience
    finally:
        ctx.engine.dispose()


def test_under_gunicorn_the_embedded_database_alone_does_not_open_the_demonstration_sign_in(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The WSGI builder cannot see gunicorn's bind address, so it assumes a network one."""
    from services.formulary.app import SPEC
    from shared.wsgi import build_wsgi_app

    for key in ("DATABASE_URL", "FORMULARY_DATABASE_URL", "JWT_SECRET", "HUB_DEV_LOGIN", "HUB_BIND_HOST"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path))
    app = build_wsgi_app(SPEC)
    assert app.test_client().post("/ui/dev-token", json={"role": "pharmacy_manager"}).status_code == 404


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-For": "8.8.8.8"},  # a proxy on this machine relaying an outsider
        {"Forwarded": "for=203.0.113.9"},
        {"X-Real-IP": "203.0.113.9"},
        {"Via": "1.1 nginx"},
        {"Host": "evil.example.com"},  # DNS rebinding: a page of another site reaching 127.0.0.1
        {"Host": "countyhub.example.org:8501"},
        {"Origin": "http://evil.example.com"},
        {"Origin": "null"},
    ],
)
def test_a_proxied_or_rebound_request_does_not_reach_the_demo_sign_in(demo_app: Flask, headers: dict[str, str]) -> None:
    r = demo_app.test_client().post("/ui/dev-token", json={"role": "pharmacy_manager"}, headers=headers)
    assert r.status_code == 404


@pytest.mark.parametrize("host", ["localhost:8501", "127.0.0.1:8501", "[::1]:8501", "localhost"])
def test_a_local_browser_still_signs_in(demo_app: Flask, host: str) -> None:
    origin = f"http://{host}"
    r = demo_app.test_client().post("/ui/dev-token", json={"role": "his"}, headers={"Host": host, "Origin": origin})
    assert r.status_code == 200, r.get_json()


@pytest.mark.parametrize("name", ["ｓｅｅｄ", "s\u0435ed", "se\u200bed", "S.E.E.D", "ＳＹＳＴＥＭ"])
def test_disguised_system_names_are_refused_over_http(demo_app: Flask, name: str) -> None:
    r = demo_token(demo_app, role="pharmacy_manager", name=name)
    assert r.status_code == 422 and {e["field"] for e in r.get_json()["errors"]} == {"name"}


def test_a_full_width_name_is_signed_as_normalised(demo_app: Flask) -> None:
    r = demo_token(demo_app, role="his", name="  Ｌｉ Ｗｅｉ ")
    assert r.status_code == 200 and r.get_json()["name"] == "Li Wei"
