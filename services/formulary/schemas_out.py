"""marshmallow schemas of what the formulary API answers (read-only shapes for the OpenAPI document)."""

from __future__ import annotations

from marshmallow import Schema, fields

# --- output ------------------------------------------------------------------------------------

_TEXT_FIELDS = (
    "kind", "generic_name", "generic_name_en", "trade_name", "dosage_form", "strength", "unit",
    "package_unit", "manufacturer", "approval_no", "nhsa_code", "atc_code", "reimbursement",
    "vbp_batch", "storage", "controlled", "antibiotic_tier", "category", "code", "status",
)  # fmt: skip
ItemOut = Schema.from_dict(
    {name: fields.String(allow_none=True) for name in _TEXT_FIELDS}
    | {
        "version": fields.Integer(), "catalogue_version": fields.Integer(), "package_size": fields.Integer(),
        "essential": fields.Boolean(), "vbp": fields.Boolean(), "high_alert": fields.Boolean(),
        "volume_cm3": fields.Float(), "weight_g": fields.Float(),
    },
    name="ItemOut",
)  # fmt: skip


class ItemPage(Schema):
    """One page of search results."""

    items = fields.List(fields.Nested(ItemOut))
    next_cursor = fields.String(allow_none=True)


class VersionOut(Schema):
    """One approved version of an item: who proposed it and why, who approved it, at which meeting."""

    version = fields.Integer()
    catalogue_version = fields.Integer()
    status = fields.String()
    snapshot = fields.Dict()
    change_id = fields.String()
    approved_by = fields.String()
    approved_at = fields.AwareDateTime()
    proposed_by = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    meeting_ref = fields.String(allow_none=True)


class SiteOut(Schema):
    """A site as the API shows it."""

    code = fields.String()
    version = fields.Integer()
    catalogue_version = fields.Integer()
    name = fields.String()
    tax_id = fields.String()
    level = fields.String()
    parent_code = fields.String(allow_none=True)
    is_hub = fields.Boolean()
    lat = fields.Float()
    lon = fields.Float()
    receiving_hours = fields.List(fields.Dict())
    active = fields.Boolean()
    address = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)


class StocklistOut(Schema):
    """A stocking list: the codes it names, its categories, and every member."""

    scope = fields.String()
    value = fields.String()
    version = fields.Integer()
    catalogue_version = fields.Integer(allow_none=True)
    item_codes = fields.List(fields.String())
    categories = fields.List(fields.String())
    members = fields.List(fields.String())


class ChangeOut(Schema):
    """A proposed change and its fate, with the diff against the current state (not the base)."""

    id = fields.String()
    kind = fields.String()
    target = fields.String()
    payload = fields.Dict()
    status = fields.String()
    note = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    meeting_ref = fields.String(allow_none=True)
    base_version = fields.Integer(allow_none=True)
    current_version = fields.Integer()
    stale = fields.Boolean()
    diff = fields.List(fields.Dict())
    flags = fields.List(fields.Dict())
    batch_id = fields.String(allow_none=True)
    proposed_by = fields.String()
    proposed_at = fields.AwareDateTime()
    decided_by = fields.String(allow_none=True)
    decided_at = fields.AwareDateTime(allow_none=True)
    decision_note = fields.String(allow_none=True)
    catalogue_version = fields.Integer(allow_none=True)


class ApproveOut(Schema):
    """The new catalogue version."""

    catalogue_version = fields.Integer()
    approved = fields.Integer()


class BatchOut(Schema):
    """An import batch waiting for the committee: totals and flagged rows."""

    batch_id = fields.String()
    proposed_by = fields.String()
    proposed_at = fields.AwareDateTime()
    reason = fields.String(allow_none=True)
    meeting_ref = fields.String(allow_none=True)
    total = fields.Integer()
    creates = fields.Integer()
    updates = fields.Integer()
    flagged = fields.Integer()
    flagged_rows = fields.List(fields.Dict())


class ImportRowOut(Schema):
    """One row's outcome, numbered as in the sheet."""

    row = fields.Integer()
    code = fields.String(allow_none=True)
    status = fields.String()
    action = fields.String()
    fields_given = fields.List(fields.String())
    errors = fields.List(fields.Dict())
    flags = fields.List(fields.Dict())


class ImportOut(Schema):
    """The per-row report, with what was read (encoding, sheet, header row) and what was written."""

    rows = fields.List(fields.Nested(ImportRowOut))
    total = fields.Integer()
    invalid = fields.Integer()
    flagged = fields.Integer()
    written = fields.Integer()
    confirmed = fields.Boolean()
    batch_id = fields.String(allow_none=True)
    encoding = fields.String(allow_none=True)
    sheet = fields.String(allow_none=True)
    header_row = fields.Integer()
    columns = fields.List(fields.String())


class CatalogueVersionOut(Schema):
    """An approved catalogue version."""

    version = fields.Integer()
    approved_by = fields.String()
    approved_at = fields.AwareDateTime()
    note = fields.String(allow_none=True)
    meeting_ref = fields.String(allow_none=True)
    change_count = fields.Integer()

