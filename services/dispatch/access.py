"""Who may call each dispatch route (read by shared/web/app.py before any view, walked by
tests/e2e/test_access_matrix.py; see shared/access.py for the rule language).

The dispatcher (调度员) plans and publishes the county's routes and records drivers'
confirmations; the pharmacy manager and the HIS integration read them. A township storekeeper
sees only what is bound for their own site (shipments, a day's stops) and no county-wide plan.
"""

from __future__ import annotations

from shared.access import Rule, Site, public, roles

DISPATCH = ("dispatcher",)
READERS = ("dispatcher", "pharmacy_manager", "his")

ACCESS: dict[str, Rule] = {
    "POST /api/v1/solve": roles("dispatcher", "his", note="a self-contained problem; no stored data"),
    "GET /api/v1/shipments": roles(*READERS, "storekeeper", site=Site.FILTERED),
    "POST /api/v1/shipments": roles(*DISPATCH, site=Site.body("site_code")),
    "GET /api/v1/vehicles": roles(*READERS),
    "PUT /api/v1/vehicles": roles(*DISPATCH),
    "GET /api/v1/plans": roles(*READERS, site=Site.COUNTY),
    "POST /api/v1/plans": roles(*DISPATCH, site=Site.COUNTY),
    "GET /api/v1/plans/<plan_id>": roles(*READERS, site=Site.COUNTY),
    "POST /api/v1/plans/<plan_id>/replan": roles(*DISPATCH, site=Site.COUNTY),
    "POST /api/v1/plans/<plan_id>/publish": roles(*DISPATCH, site=Site.COUNTY),
    "POST /api/v1/plans/<plan_id>/stops/<stop_id>/complete": roles(*DISPATCH, site=Site.COUNTY),
    "GET /api/v1/plans/<plan_id>/completions": roles(*READERS, site=Site.COUNTY),
    "GET /api/v1/plans/<plan_id>/geojson": roles(*READERS, site=Site.COUNTY),
    "GET /api/v1/days/<day>/stops": roles(*READERS, "storekeeper", site=Site.FILTERED),
    # Pages: HTML shells; what they show comes through the API above.
    "GET /ui/plans/<plan_id>/manifest/<vehicle_id>": public(),
}
