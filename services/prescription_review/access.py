"""Who may call each prescription_review route (read by shared/web/app.py before any view, walked
by tests/e2e/test_access_matrix.py; see shared/access.py).

HIS integrations (`his`) and pharmacists send prescriptions for screening; pharmacists work the
queue; the pharmacy manager configures knowledge, severities, the registry and the waiting limit.
Prescription data belongs to the prescribing site: a site-confined token (storekeeper) reads only
its own site's reviews (the views narrow lists with `Principal.site_scope`).
"""

from __future__ import annotations

from shared.access import Rule, Site, public, roles

SCREENERS = ("his", "pharmacist")
READERS = ("pharmacist", "pharmacy_manager", "his", "storekeeper")
STAFF = ("pharmacist", "pharmacy_manager")
MANAGER = ("pharmacy_manager",)

ACCESS: dict[str, Rule] = {
    "POST /api/v1/screenings": roles(*SCREENERS, site=Site.body("site_code")),
    "GET /api/v1/reviews": roles(*READERS, site=Site.FILTERED, note="?site= checked; a storekeeper gets its own site's"),
    "GET /api/v1/reviews/<review_id>": roles(*READERS, site=Site.FILTERED, note="the view checks the review's site"),
    "GET /api/v1/queue": roles(*STAFF, site=Site.query("site")),
    "POST /api/v1/queue/claim-next": roles("pharmacist", site=Site.body("site")),
    "POST /api/v1/reviews/<review_id>/claim": roles("pharmacist", site=Site.FILTERED, note="the use case checks the site"),
    "POST /api/v1/reviews/<review_id>/release": roles("pharmacist"),
    "POST /api/v1/reviews/<review_id>/decision": roles("pharmacist"),
    "POST /api/v1/reviews/<review_id>/double-sign": roles("his", site=Site.FILTERED, note="the use case checks the site"),
    "POST /api/v1/queue/release-overdue": roles(*MANAGER, site=Site.COUNTY),
    "GET /api/v1/knowledge": roles(*STAFF),
    "POST /api/v1/knowledge": roles(*MANAGER, site=Site.COUNTY),
    "GET /api/v1/rules": roles(*STAFF),
    "PUT /api/v1/rules/severity": roles(*MANAGER, site=Site.COUNTY),
    "GET /api/v1/prescribers": roles(*STAFF, "his"),
    "POST /api/v1/prescribers": roles(*MANAGER, site=Site.COUNTY),
    "GET /api/v1/settings/wait-limit": roles(*STAFF),
    "PUT /api/v1/settings/wait-limit": roles(*MANAGER, site=Site.COUNTY),
    "GET /api/v1/quality": roles(*STAFF, site=Site.query("site")),
    "GET /api/v1/cds-services": roles(*SCREENERS, note="CDS Hooks discovery (base URL <host>/api/v1)"),
    "POST /api/v1/cds-services/county-prescription-review": roles(*SCREENERS, site=Site.FILTERED,
                                                                  note="the use case checks extension.site_code"),
    # CDS Hooks at the root path (the spec's {baseUrl}/cds-services with the bare host as base URL):
    # discovery holds no data and is open, as EHRs call it unauthenticated; the hook needs the JWT.
    "GET /cds-services": public(),
    "POST /cds-services/county-prescription-review": roles(*SCREENERS, site=Site.FILTERED,
                                                         note="the use case checks extension.site_code"),
    # Pages: HTML shells; what they show comes through the API above.
    "GET /ui/queue": public(),
    "GET /ui/reviews/<review_id>": public(),
    "GET /ui/quality": public(),
}
