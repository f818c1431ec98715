"""Who may call which procurement route (shared/access.py): the first line; use cases check again.

Storekeepers work on their own site's data (requisitions, stock, receipts, transfers they give);
the pharmacy manager works county-wide (approvals, central stock, purchasing, quality).
"""

from __future__ import annotations

from shared.access import Rule, Site, public, roles

SITE_STAFF = ("storekeeper", "pharmacy_manager")
CENTRAL = ("pharmacy_manager",)

ACCESS: dict[str, Rule] = {
    "GET /api/v1/requisitions": roles(*SITE_STAFF, site=Site.FILTERED, note="a storekeeper's list holds their site only"),
    "POST /api/v1/requisitions": roles(*SITE_STAFF, site=Site.body("site_code")),
    "GET /api/v1/requisitions/<req_id>": roles(*SITE_STAFF, site=Site.FILTERED, note="the use case checks the row's site"),
    "POST /api/v1/requisitions/<req_id>/submit": roles(*SITE_STAFF, site=Site.FILTERED, note="the use case checks the row's site"),
    "POST /api/v1/requisitions/<req_id>/approve": roles(*CENTRAL, site=Site.FILTERED, note="the row's site is checked"),
    "POST /api/v1/requisitions/<req_id>/reject": roles(*CENTRAL, site=Site.FILTERED, note="the row's site is checked"),
    "POST /api/v1/requisitions/<req_id>/pick": roles(*CENTRAL, site=Site.FILTERED, note="the row's site is checked"),
    "POST /api/v1/requisitions/<req_id>/ship": roles(*CENTRAL, site=Site.FILTERED, note="the row's site is checked"),
    "POST /api/v1/requisitions/<req_id>/receive": roles(*SITE_STAFF, site=Site.FILTERED, note="the row's site is checked"),
    "GET /api/v1/stock": roles(*SITE_STAFF, site=Site.query("site")),
    "GET /api/v1/stock/history": roles(*SITE_STAFF, site=Site.query("site")),
    "POST /api/v1/sites/<site_code>/stock/adjustments": roles(*SITE_STAFF, site=Site.path("site_code")),
    "GET /api/v1/central/lots": roles(*CENTRAL, site=Site.COUNTY),
    "GET /api/v1/transfers": roles(*SITE_STAFF, site=Site.FILTERED),
    "POST /api/v1/transfers": roles(*SITE_STAFF, site=Site.body("from_site"), note="the giving site books it"),
    "GET /api/v1/settlements": roles(*SITE_STAFF, site=Site.FILTERED),
    "GET /api/v1/recall": roles(*CENTRAL, site=Site.COUNTY),
    "GET /api/v1/alerts/near-expiry": roles(*SITE_STAFF, site=Site.FILTERED),
    "GET /api/v1/distributors": roles(*CENTRAL, site=Site.COUNTY),
    "POST /api/v1/distributors": roles(*CENTRAL, site=Site.COUNTY),
    "GET /api/v1/manufacturers": roles(*CENTRAL, site=Site.COUNTY),
    "POST /api/v1/manufacturers": roles(*CENTRAL, site=Site.COUNTY),
    "GET /api/v1/vbp/contracts": roles(*CENTRAL, site=Site.COUNTY),
    "POST /api/v1/vbp/contracts": roles(*CENTRAL, site=Site.COUNTY),
    "POST /api/v1/prices/listed": roles(*CENTRAL, site=Site.COUNTY),
    "POST /api/v1/prices/negotiated": roles(*CENTRAL, site=Site.COUNTY),
    "GET /api/v1/prices/<item_code>": roles(*CENTRAL, site=Site.COUNTY),
    "POST /api/v1/receipts/check": roles(*SITE_STAFF, site=Site.body("site_code")),
    "GET /api/v1/receipts": roles(*SITE_STAFF, site=Site.FILTERED),
    "POST /api/v1/receipts": roles(*SITE_STAFF, site=Site.body("site_code")),
    "GET /api/v1/receipts/<receipt_id>": roles(*SITE_STAFF, site=Site.FILTERED, note="the row's site is checked"),
    "POST /api/v1/receipts/<receipt_id>/payment": roles(*CENTRAL, site=Site.COUNTY),
    "GET /api/v1/purchase-orders": roles(*CENTRAL, site=Site.COUNTY),
    "POST /api/v1/purchase-orders": roles(*CENTRAL, site=Site.COUNTY),
    "POST /api/v1/purchase-orders/<po_id>/approve": roles(*CENTRAL, site=Site.COUNTY),
    "GET /ui/requisitions/new": public("page shell; data comes through the API"),
    "GET /ui/requisitions": public("page shell; data comes through the API"),
    "GET /ui/requisitions/<req_id>": public("page shell; data comes through the API"),
    "GET /ui/receipts": public("page shell; data comes through the API"),
    "GET /ui/vbp": public("page shell; data comes through the API"),
    "GET /ui/transfers": public("page shell; data comes through the API"),
}
