"""Who may call each formulary route (read by shared/web/app.py before any view, walked by
tests/e2e/test_access_matrix.py; see shared/access.py for the rule language).

Source of the roles: the county's formulary procedure — the catalogue administrator (目录管理员)
and the pharmacy manager propose, the pharmacy & therapeutics committee, represented by the
pharmacy manager (中心药房主任), approves; every role reads the approved catalogue.
"""

from __future__ import annotations

from shared.access import ANY_ROLE, Rule, Site, public, roles

PROPOSERS = ("formulary_admin", "pharmacy_manager")
COMMITTEE = ("pharmacy_manager",)
# Proposals in progress may name a site's stocking list, so site-confined tokens do not read them.
CHANGE_READERS = ("formulary_admin", "pharmacy_manager", "pharmacist")
SITE_LIST = Site.path("value", when={"scope": "site"})

ACCESS: dict[str, Rule] = {
    "GET /api/v1/items": roles(*ANY_ROLE, site=Site.query("site"), note="search; ?site= is that site's list"),
    "POST /api/v1/items": roles(*PROPOSERS),
    "GET /api/v1/items/<code>": roles(*ANY_ROLE),
    "GET /api/v1/items/export": roles(*ANY_ROLE, note="the catalogue as CSV/xlsx (export.py)"),
    "PATCH /api/v1/items/<code>": roles(*PROPOSERS),
    "POST /api/v1/items/<code>/retire": roles(*PROPOSERS),
    "GET /api/v1/items/<code>/history": roles(*ANY_ROLE),
    "POST /api/v1/imports/items": roles(*PROPOSERS),
    "GET /api/v1/sites": roles(*ANY_ROLE, note="the site directory is county master data"),
    "POST /api/v1/sites": roles(*PROPOSERS, site=Site.body("code")),
    "GET /api/v1/sites/<code>": roles(*ANY_ROLE),
    "GET /api/v1/stocklists/<scope>/<value>": roles(*ANY_ROLE, site=SITE_LIST),
    "PUT /api/v1/stocklists/<scope>/<value>": roles(*PROPOSERS, site=SITE_LIST),
    "GET /api/v1/changes": roles(*CHANGE_READERS, site=Site.COUNTY),
    "GET /api/v1/changes/<change_id>": roles(*CHANGE_READERS, site=Site.COUNTY),
    "GET /api/v1/changes/batches": roles(*CHANGE_READERS, site=Site.COUNTY, note="import batches for the committee"),
    "POST /api/v1/changes/approve": roles(*COMMITTEE, site=Site.COUNTY),
    "POST /api/v1/changes/<change_id>/reject": roles(*COMMITTEE, site=Site.COUNTY),
    "GET /api/v1/versions": roles(*ANY_ROLE),
    # Pages: HTML shells; what they show comes through the API above.
    "GET /ui/items/new": public(),
    "GET /ui/items/<code>": public(),
    "GET /ui/changes": public(),
    "GET /ui/import": public(),
}
