"""What the formulary read model's views answer (shared/reference_api.py), as OpenAPI schemas.

The snapshots are the formulary's events as each service stored them (shared/reference.py); the
members documented here are typed, and a snapshot may carry more (OpenSchema).
"""

from __future__ import annotations

from marshmallow import fields

from shared.web.responses import OpenSchema


class RefItemOut(OpenSchema):
    """An item of the catalogue as this service knows it (volumes in cm³, weights in grams)."""

    code = fields.String(required=True)
    version = fields.Integer(required=True)
    catalogue_version = fields.Integer(allow_none=True)
    kind = fields.String(required=True, metadata={"description": "drug | consumable | linen …"})
    status = fields.String(required=True, metadata={"description": "active | retired"})
    generic_name = fields.String(required=True)
    generic_name_en = fields.String(allow_none=True)
    trade_name = fields.String(allow_none=True)
    dosage_form = fields.String(allow_none=True)
    strength = fields.String(allow_none=True)
    unit = fields.String(allow_none=True)
    package_size = fields.Integer(allow_none=True)
    package_unit = fields.String(allow_none=True)
    manufacturer = fields.String(allow_none=True)
    storage = fields.String(allow_none=True)
    volume_cm3 = fields.Float(allow_none=True)
    weight_g = fields.Float(allow_none=True)
    essential = fields.Boolean(allow_none=True)
    vbp = fields.Boolean(allow_none=True)


class RefSiteOut(OpenSchema):
    """A site of the county's directory as this service knows it (lat/lon in WGS-84 degrees)."""

    code = fields.String(required=True)
    version = fields.Integer(required=True)
    catalogue_version = fields.Integer(allow_none=True)
    name = fields.String(required=True)
    level = fields.String(required=True, metadata={"description": "county_hospital | township | village"})
    parent_code = fields.String(allow_none=True)
    is_hub = fields.Boolean(allow_none=True)
    active = fields.Boolean(allow_none=True)
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    address = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    receiving_hours = fields.List(fields.Dict(), allow_none=True)


class RefStocklistOut(OpenSchema):
    """A stocking list (scope site, level or county) and the catalogue version it was last changed in."""

    scope = fields.String(required=True)
    value = fields.String(required=True)
    catalogue_version = fields.Integer(allow_none=True)
    item_codes = fields.List(fields.String(), required=True)
