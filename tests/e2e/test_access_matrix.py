"""The route × role matrix: every route of every registered service, against the access tables.

Routes come from each live app's URL map (and the OpenAPI document must not name any route the
map lacks), so a route is covered the day it is added; a route no table names fails the test with
the line to add (services/<name>/access.py, see shared/access.py). Each route is called with no
token, with forged tokens, as each of the six roles, as a storekeeper naming its own and another
site, and with tokens carrying storekeeper beside each other role.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient

from hub.registry import SERVICES, spec
from shared.access import Rule, policy_for, rule_key
from shared.auth import ALGORITHM, ISSUER, ROLES, issue_token
from shared.clock import utcnow
from shared.config import Settings
from shared.migrate import upgrade
from shared.runtime import build_context

SECRET = "matrix-secret-3f9c1a7e5b2d4c6e8a0b1c2d3e4f5a6b"
OWN, OTHER = "CW-T01", "CW-T02"
DENIED = 403


def settings_for(name: str, folder: Path) -> Settings:
    """A service on its own SQLite file, the demonstration sign-in on (so its route is walked too)."""
    return Settings(
        service=name, database_url=f"sqlite:///{folder}/{name}.sqlite3", broker_url="memory://",
        jwt_secret=SECRET, port=0, dev_login=True,
    )  # fmt: skip


@dataclass
class Svc:
    name: str
    app: Flask
    settings: Settings
    policy: dict[str, Rule]

    @property
    def client(self) -> FlaskClient:
        return self.app.test_client()


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Svc]]:
    """Every registered service's app on a fresh migrated database."""
    out: dict[str, Svc] = {}
    contexts = []
    for name in SERVICES:
        service_spec = spec(name)
        settings = settings_for(name, tmp_path_factory.mktemp(name))
        ctx = build_context(service_spec, settings)
        upgrade(service_spec.migrations, ctx.engine)
        contexts.append(ctx)
        out[name] = Svc(name, service_spec.create_app(ctx), settings, policy_for(name))
    yield out
    for ctx in contexts:
        ctx.engine.dispose()


def routes(app: Flask) -> list[tuple[str, str, list[str]]]:
    """(method, rule, argument names) of every route in the live URL map."""
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, rule.rule, sorted(rule.arguments)))
    return found


def openapi_ops(client: FlaskClient) -> set[tuple[str, str]]:
    """(METHOD, /path/{param}) of every operation in the service's OpenAPI document."""
    doc = client.get("/openapi.json").get_json()
    return {(m.upper(), path) for path, ops in doc["paths"].items() for m in ops if m.upper() in {"GET", "POST", "PUT", "PATCH", "DELETE"}}


def as_openapi(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-zA-Z_]+)>", r"{\1}", rule)


def bearer(settings: Settings, roles: str | list[str], site: str | None = None) -> dict[str, str]:
    return {"Authorization": "Bearer " + issue_token(settings.keyring, roles, site=site, subject="matrix-" + "-".join(roles if isinstance(roles, list) else [roles]))}


def forged_tokens(settings: Settings) -> dict[str, str]:
    """Tokens that must all be refused with 401: each breaks one check of shared/auth.verify_token."""
    ring = settings.keyring
    now = int(utcnow().timestamp())
    good = {"iss": ISSUER, "aud": ring.audience, "sub": "forger", "roles": list(ROLES), "iat": now, "exp": now + 600}
    kid = {"kid": ring.signing_kid}

    def sign(claims: dict[str, Any], secret: str = ring.signing_secret, headers: dict[str, str] | None = None) -> str:
        return jwt.encode(claims, secret, algorithm=ALGORITHM, headers=kid if headers is None else headers)

    valid = sign(good)
    head, body, _sig = valid.split(".")
    unsigned = jwt.encode(good, None, algorithm="none", headers=kid)  # type: ignore[arg-type]
    return {
        "other secret": sign(good, "another-secret-that-is-also-long-enough-0123"),
        "alg none": unsigned,
        "alg none, no signature part": f"{head.split('.')[0]}.{body}",
        "stripped signature": f"{head}.{body}.",
        "wrong issuer": sign({**good, "iss": "someone-else"}),
        "no exp": sign({k: v for k, v in good.items() if k != "exp"}),
        "expired": sign({**good, "iat": now - 7200, "exp": now - 3600}),
        "no iat": sign({k: v for k, v in good.items() if k != "iat"}),
        "longer than a shift": sign({**good, "exp": now + int((ring.max_ttl + timedelta(hours=2)).total_seconds())}),
        "wrong aud": sign({**good, "aud": "another-system"}),
        "no aud": sign({k: v for k, v in good.items() if k != "aud"}),
        "unknown kid": sign(good, headers={"kid": "not-a-key-of-ours"}),
        "no kid": sign(good, headers={}),
        "unknown roles only": sign({**good, "roles": ["superuser"]}),
        "garbage": "not.a.token",
    }


def fill(rule: str, args: list[str], r: Rule, site: str) -> str:
    """A concrete path: site parameters get `site`, `when` parameters their value, others a dummy."""
    values: dict[str, str] = {}
    for name in args:
        values[name] = "X1"
    if r.site is not None and r.site.kind == "path":
        values.update(r.site.when)
        values[r.site.name] = site
    if "filename" in values:
        values["filename"] = "hub.css"
    path = rule
    for name, value in values.items():
        path = re.sub(rf"<(?:[a-z]+:)?{name}>", value, path)
    return path


def call(svc: Svc, method: str, rule: str, args: list[str], r: Rule, headers: dict[str, str], site: str = OWN) -> int:
    path = fill(rule, args, r, site)
    query: dict[str, str] = {}
    body: dict[str, Any] = {}
    if r.site is not None and r.site.kind == "query":
        query[r.site.name] = site
    if r.site is not None and r.site.kind == "body":
        body[r.site.name] = site
    kwargs: dict[str, Any] = {"headers": headers, "query_string": query}
    if method in {"POST", "PUT", "PATCH"}:
        kwargs["json"] = body
    response = svc.client.open(path, method=method, **kwargs)
    assert response.status_code < 500, (method, path, response.status_code, response.get_data(as_text=True)[:300])
    return response.status_code


def test_every_route_of_every_service_is_in_an_access_table(services: dict[str, Svc]) -> None:
    missing = [
        f"services/{svc.name}/access.py: {rule_key(method, rule)!r}"
        for svc in services.values()
        for method, rule, _ in routes(svc.app)
        if rule_key(method, rule) not in svc.policy
    ]
    assert not missing, "routes no access table names (add a row; see shared/access.py):\n" + "\n".join(missing)


def test_the_openapi_documents_name_no_route_the_url_maps_lack(services: dict[str, Svc]) -> None:
    for svc in services.values():
        live = {(m, as_openapi(rule)) for m, rule, _ in routes(svc.app)}
        assert openapi_ops(svc.client) <= live, svc.name


def test_no_token_and_forged_tokens_are_refused_on_every_non_public_route(services: dict[str, Svc]) -> None:
    checked = 0
    for svc in services.values():
        forged = forged_tokens(svc.settings)
        for method, rule, args in routes(svc.app):
            # A route the table does not name yet still needs a token (and fails the first test).
            r = svc.policy.get(rule_key(method, rule)) or Rule(roles=frozenset(ROLES))
            if not rule.startswith("/api/") and rule_key(method, rule) not in svc.policy:
                continue
            status = call(svc, method, rule, args, r, {})
            if r.public:
                assert status not in (401, 403), (svc.name, method, rule, status)
                continue
            assert status == 401, (svc.name, method, rule, "no token", status)
            for label, token in forged.items():
                status = call(svc, method, rule, args, r, {"Authorization": "Bearer " + token})
                assert status == 401, (svc.name, method, rule, label, status)
                checked += 1
    assert checked > 100


def test_each_role_gets_exactly_what_the_table_gives_it(services: dict[str, Svc]) -> None:
    for svc in services.values():
        for method, rule, args in routes(svc.app):
            r = svc.policy.get(rule_key(method, rule))
            if r is None or r.public:
                continue
            assert r.roles is not None
            for role in ROLES:
                site = OWN if role == "storekeeper" else None
                status = call(svc, method, rule, args, r, bearer(svc.settings, role, site))
                county_only = r.site is not None and r.site.kind == "county" and role == "storekeeper"
                if role in r.roles and not county_only:
                    assert status not in (401, 403), (svc.name, method, rule, role, status)
                else:
                    assert status == DENIED, (svc.name, method, rule, role, status)


def test_a_storekeeper_acts_for_its_own_site_only_whatever_other_roles_it_carries(services: dict[str, Svc]) -> None:
    combos = [["storekeeper"]] + [["storekeeper", other] for other in ROLES if other != "storekeeper"]
    for svc in services.values():
        for method, rule, args in routes(svc.app):
            r = svc.policy.get(rule_key(method, rule))
            if r is None or r.public:
                continue
            assert r.roles is not None
            for roles in combos:
                if not r.roles & set(roles):
                    continue  # refused by role already (previous test)
                headers = bearer(svc.settings, roles, OWN)
                where = (svc.name, method, rule, roles)
                if r.site is None:
                    assert call(svc, method, rule, args, r, headers) not in (401, 403), where
                elif r.site.kind == "county":
                    assert call(svc, method, rule, args, r, headers) == DENIED, where
                elif r.site.kind in ("filtered", "directory"):
                    # The view narrows the rows (tests/e2e/test_access_site_scope.py); it may also refuse.
                    assert call(svc, method, rule, args, r, headers) != 401, where
                else:
                    assert call(svc, method, rule, args, r, headers, site=OTHER) == DENIED, (*where, OTHER)
                    assert call(svc, method, rule, args, r, headers, site=OWN) not in (401, 403), (*where, OWN)
                    # A confined token without a site claim is confined to no site at all.
                    no_site = bearer(svc.settings, roles)
                    assert call(svc, method, rule, args, r, no_site, site=OWN) == DENIED, (*where, "no site claim")


def test_a_county_wide_role_may_name_any_site(services: dict[str, Svc]) -> None:
    for svc in services.values():
        for method, rule, args in routes(svc.app):
            r = svc.policy.get(rule_key(method, rule))
            if r is None or r.public or r.site is None or r.site.kind not in ("path", "query", "body"):
                continue
            assert r.roles is not None
            for role in sorted(r.roles - {"storekeeper"}):
                status = call(svc, method, rule, args, r, bearer(svc.settings, role), site=OTHER)
                assert status not in (401, 403), (svc.name, method, rule, role, status)


def test_the_pages_are_in_the_tables_and_answer_without_a_token(services: dict[str, Svc]) -> None:
    for svc in services.values():
        pages = [(m, rule, a) for m, rule, a in routes(svc.app) if rule.startswith("/ui")]
        assert any(rule == "/ui/" for _, rule, _ in pages), svc.name
        for method, rule, args in pages:
            r = svc.policy[rule_key(method, rule)]
            assert r.public, (svc.name, rule)
            status = call(svc, method, rule, args, r, {})
            assert status not in (401, 403), (svc.name, method, rule, status)


SITE_NAMES = {"site", "site_code", "site_codes", "sites"}


def site_named_fields(doc: dict[str, Any], path: str, method: str) -> set[str]:
    """Path, query and JSON-body field names of one OpenAPI operation that name a site."""
    op = doc["paths"][path][method.lower()]
    names = {p["name"] for p in op.get("parameters", []) + doc["paths"][path].get("parameters", [])}
    schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    if "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    names |= set(schema.get("properties", {}))
    return names & SITE_NAMES


def test_the_tables_keep_the_ground_rules(services: dict[str, Svc]) -> None:
    """Independent of the tables' contents: the API is never public, a write names its roles,
    and an operation that names a site (path, query or body, read from OpenAPI) declares its site rule."""
    assert set(SERVICES) >= {"formulary", "procurement", "prescription_review", "dispatch"}
    for svc in services.values():
        doc = svc.client.get("/openapi.json").get_json()
        ops = {(m, p) for m, p in openapi_ops(svc.client)}
        for method, rule, args in routes(svc.app):
            r = svc.policy.get(rule_key(method, rule))
            if r is None:
                continue  # reported by test_every_route_of_every_service_is_in_an_access_table
            where = (svc.name, method, rule)
            if rule.startswith(("/api/", "/cds-services/")):  # CDS Hooks at the root: the hook is API, discovery a public GET
                assert not r.public, where
                assert r.roles is not None
                if method != "GET":
                    assert r.roles != frozenset(ROLES), (*where, "a write must name the roles that may make it")
                named = set(args) & SITE_NAMES
                if (method, as_openapi(rule)) in ops:
                    named |= site_named_fields(doc, as_openapi(rule), method)
                if named or "stocklists/<scope>/<value>" in rule:
                    assert r.site is not None, (*where, f"names a site ({sorted(named)}) but declares no site rule")
            else:
                assert r.public and (method == "GET" or rule == "/ui/dev-token"), where
