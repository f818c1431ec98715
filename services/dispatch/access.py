"""Who may call each dispatch route (read by shared/web/app.py before any view, walked by
tests/e2e/test_access_matrix.py; see shared/access.py for the rule language).

The dispatcher (调度员) plans and publishes the county's routes and records drivers'
confirmations; the pharmacy manager and the HIS integration read them. A township storekeeper
sees only what is bound for their own site — shipments, a day's stops, a plan's stops at that
site (the views narrow them with `Principal.site_scope`) — and nothing county-wide.
"""

from __future__ import annotations

from shared.access import Rule, Site, public, roles

DISPATCH = ("dispatcher",)
READERS = ("dispatcher", "pharmacy_manager", "his")
SITE_READERS = (*READERS, "storekeeper")

ACCESS: dict[str, Rule] = {
    "POST /api/v1/solve": roles("dispatcher", "his", note="a self-contained problem; no stored data"),
    "GET /api/v1/shipments": roles(*SITE_READERS, site=Site.FILTERED, note="?site= checked by the view"),
    "POST /api/v1/shipments": roles(*DISPATCH, site=Site.body("site_code")),
    "GET /api/v1/shipments/<shipment_id>": roles(*SITE_READERS, site=Site.FILTERED, note="the view checks its site"),
    "POST /api/v1/shipments/<shipment_id>/cancel": roles(*DISPATCH),
    "GET /api/v1/vehicles": roles(*READERS),
    "PUT /api/v1/vehicles": roles(*DISPATCH),
    "GET /api/v1/plans": roles(*READERS, site=Site.COUNTY, note="summaries carry every site's routes"),
    "POST /api/v1/plans": roles(*DISPATCH, site=Site.COUNTY),
    "GET /api/v1/plans/<plan_id>": roles(*SITE_READERS, site=Site.FILTERED, note="a storekeeper gets its site's stops"),
    "GET /api/v1/plans/<plan_id>/progress": roles(*READERS, site=Site.COUNTY),
    "POST /api/v1/plans/<plan_id>/replan": roles(*DISPATCH, site=Site.COUNTY),
    "GET /api/v1/plans/<plan_id>/compare": roles(*DISPATCH, site=Site.COUNTY),
    "GET /api/v1/plans/<plan_id>/publish-preview": roles(*DISPATCH, site=Site.COUNTY),
    "POST /api/v1/plans/<plan_id>/publish": roles(*DISPATCH, site=Site.COUNTY),
    "POST /api/v1/plans/<plan_id>/stops/<stop_id>/complete": roles(*DISPATCH, site=Site.COUNTY),
    "GET /api/v1/plans/<plan_id>/manifests/<vehicle_id>": roles(*DISPATCH, site=Site.COUNTY),
    "GET /api/v1/plans/<plan_id>/completions": roles(*READERS, site=Site.COUNTY),
    "GET /api/v1/plans/<plan_id>/geojson": roles(*SITE_READERS, site=Site.FILTERED, note="as GET /plans/<plan_id>"),
    "GET /api/v1/days/<day>/stops": roles(*SITE_READERS, site=Site.FILTERED),
    # Pages: HTML shells; what they show comes through the API above.
    "GET /ui/plans/<plan_id>/manifest/<vehicle_id>": public(),
}
