"""Who may call which route: one table per service, enforced before a view runs, walked by a test.

A service declares its table in ``services/<name>/access.py``::

    from shared.access import ANY_ROLE, Rule, Site, public, roles

    ACCESS = {
        "GET /api/v1/items": roles(*ANY_ROLE, site=Site.query("site")),
        "POST /api/v1/items": roles("formulary_admin", "pharmacy_manager"),
        "GET /api/v1/shipments": roles("dispatcher", "storekeeper", site=Site.FILTERED),
        "GET /api/v1/plans": roles("dispatcher", site=Site.COUNTY),
        "GET /ui/": public("the page shell; data comes through the API"),
    }

Keys are ``"METHOD <Flask rule>"`` exactly as the URL map spells the rule (``<code>``, not
``{code}``). `policy_for(service)` adds the rows every service shares (health, metrics, OpenAPI,
the pages' common assets, the formulary read model) to the service's own.

The app factory (shared/web/app.py) looks up every request's rule in the table before any
parsing: a route marked public needs no token; any other needs a valid token whose roles meet the
rule (else 403), and whose site scope covers the site the request names (else 403):

- ``Site.path(name, when={...})`` / ``Site.query(name)`` / ``Site.body(name)``: the request names
  the site in that path parameter, query parameter or JSON field (`Principal.require_site`);
- ``Site.FILTERED``: a list that may hold several sites' rows; the view narrows it to
  `Principal.site_scope()` (the leak test in tests/e2e/test_access_site_scope.py proves it);
- ``Site.COUNTY``: data that spans every site; a site-confined token is refused whatever other
  roles it carries (`Principal.require_county`);
- ``Site.DIRECTORY``: names sites, but only to look them up in the county's site directory
  (names, addresses, hours), which every role may read; nothing is enforced.

Use cases keep their own `actor.require(...)` checks: the table is the first line, not the only one.
tests/e2e/test_access_matrix.py fails on any route of any service that the table does not name.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from shared.auth import ROLES, Principal
from shared.errors import Forbidden

ANY_ROLE: tuple[str, ...] = ROLES


@dataclass(frozen=True)
class Site:
    """Where a request's site-owned data names its site, or how a list is confined."""

    kind: str  # "path" | "query" | "body" | "filtered" | "county" | "directory"
    name: str = ""
    when: Mapping[str, str] = field(default_factory=dict)

    FILTERED: ClassVar[Site]  # assigned below the class
    COUNTY: ClassVar[Site]
    DIRECTORY: ClassVar[Site]

    @classmethod
    def path(cls, name: str, when: Mapping[str, str] | None = None) -> Site:
        """The site code is path parameter `name` (only when the other path parameters equal `when`)."""
        return cls("path", name, dict(when or {}))

    @classmethod
    def query(cls, name: str) -> Site:
        """The site code is query parameter `name`, when given."""
        return cls("query", name)

    @classmethod
    def body(cls, name: str) -> Site:
        """The site code is JSON body field `name`, when given."""
        return cls("body", name)

    def site_named(self, view_args: Mapping[str, Any], query: Mapping[str, str], body: Any) -> str | None:
        """The site code this request names, or None when it names none."""
        if self.kind == "path":
            if all(view_args.get(k) == v for k, v in self.when.items()):
                value = view_args.get(self.name)
                return str(value) if value is not None else None
            return None
        if self.kind == "query":
            return query.get(self.name) or None
        if self.kind == "body" and isinstance(body, Mapping):
            value = body.get(self.name)
            return value if isinstance(value, str) and value else None
        return None


Site.FILTERED = Site("filtered")
Site.COUNTY = Site("county")
Site.DIRECTORY = Site("directory")


@dataclass(frozen=True)
class Rule:
    """Who may call one route: public (no token) or any of `roles`, and how its site is scoped."""

    roles: frozenset[str] | None
    site: Site | None = None
    note: str = ""

    @property
    def public(self) -> bool:
        """True when no token is needed."""
        return self.roles is None

    def check(self, principal: Principal, view_args: Mapping[str, Any], query: Mapping[str, str], body: Any) -> None:
        """Raise Forbidden unless `principal` may make this request."""
        if self.roles is None:
            return
        if not principal.has(*self.roles):
            raise Forbidden(f"requires role {' or '.join(r for r in ROLES if r in self.roles)}")
        if self.site is None or self.site.kind in ("filtered", "directory"):
            return
        if self.site.kind == "county":
            principal.require_county()
            return
        code = self.site.site_named(view_args, query, body)
        if code is not None:
            principal.require_site(code)
        if self.site.kind == "query" and hasattr(query, "getlist"):
            for value in query.getlist(self.site.name):  # ?site=OWN&site=OTHER: every value is checked
                if value:
                    principal.require_site(value)


def public(note: str = "") -> Rule:
    """A route anyone may call without a token (health, pages' HTML and assets, OpenAPI)."""
    return Rule(roles=None, note=note)


def roles(*names: str, site: Site | None = None, note: str = "") -> Rule:
    """A route for callers holding any of `names` (see Site for site-owned data)."""
    unknown = [n for n in names if n not in ROLES]
    if unknown or not names:
        raise ValueError(f"unknown roles {unknown or names}; one of {', '.join(ROLES)}")
    return Rule(roles=frozenset(names), site=site, note=note)


Policy = Mapping[str, Rule]

# Every service's shared routes (shared/web/app.py, health.py, metrics.py, ui/).
COMMON_ACCESS: dict[str, Rule] = {
    "GET /healthz": public("liveness"),
    "GET /readyz": public("readiness: its database"),
    "GET /metrics": public("Prometheus; scraped from inside the cluster"),
    "GET /openapi.json": public("the API's description"),
    "GET /docs": public("Swagger UI"),
    "GET /docs/": public("Swagger UI"),
    "GET /swagger-ui/<path:filename>": public("Swagger UI assets"),
    "GET /favicon.ico": public(),
    "GET /static/<path:filename>": public("Flask's default static folder"),
    "GET /ui/common/static/<path:filename>": public("the page shell's scripts and styles"),
    "GET /ui/static/<path:filename>": public("a service's page scripts and styles"),
    "GET /ui/": public("a service's start page (or the no-pages page); data needs a token"),
    "POST /ui/dev-token": public("demonstration sign-in: embedded default on loopback only"),
}

READ_MODEL_ROLES = ANY_ROLE
# The formulary read model every consuming service serves (shared/reference_api.py).
REFERENCE_ACCESS: dict[str, Rule] = {
    "GET /api/v1/reference/items": roles(
        *READ_MODEL_ROLES, site=Site.query("site"), note="the catalogue as this service knows it; ?site= is that site's list"
    ),
    "GET /api/v1/reference/items/<code>": roles(*READ_MODEL_ROLES),
    "GET /api/v1/reference/sites": roles(
        *READ_MODEL_ROLES, site=Site.DIRECTORY, note="the site directory is county master data"
    ),
    "GET /api/v1/reference/stocklists/<scope>/<value>": roles(
        *READ_MODEL_ROLES, site=Site.path("value", when={"scope": "site"}), note="a site's list is that site's data"
    ),
}


def rule_key(method: str, rule: str) -> str:
    """The table key of one route: "GET /api/v1/items/<code>"."""
    return f"{'GET' if method == 'HEAD' else method} {rule}"


def policy_for(service: str) -> dict[str, Rule]:
    """The shared rows plus the service's own `services/<service>/access.py` ACCESS (if it has one)."""
    own: Policy = {}
    try:
        module = importlib.import_module(f"services.{service}.access")
    except ModuleNotFoundError as exc:
        if exc.name != f"services.{service}.access" and exc.name != f"services.{service}":
            raise
    else:
        own = module.ACCESS
    return {**COMMON_ACCESS, **REFERENCE_ACCESS, **own}
