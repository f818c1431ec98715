"""marshmallow schemas of the formulary API (and of its bulk import rows)."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate, validates_schema

from shared.events.contracts import ANTIBIOTIC_TIERS, CONTROLLED, KINDS, REIMBURSEMENT, SITE_LEVELS, STORAGE

_YES = ("true", "1", "yes", "y", "t", "on")
_NO = ("false", "0", "no", "n", "f", "off")
# Spreadsheets write TRUE, True or 是; accept every spelling a county office will produce.
TRUTHY = {*_YES, *(w.upper() for w in _YES), *(w.title() for w in _YES), "是", "√", True}
FALSY = {*_NO, *(w.upper() for w in _NO), *(w.title() for w in _NO), "否", "", False}
CODE = validate.Regexp(r"^[A-Z0-9][A-Z0-9_-]{1,39}$", error="upper-case letters, digits, - and _, 2–40 characters")


class Strict(Schema):
    """Unknown fields are an error, so a typo never passes silently."""

    class Meta:
        unknown = RAISE


class ItemFields(Strict):
    """Every editable field of a catalogue item."""

    code = fields.String(required=True, validate=CODE)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    generic_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    generic_name_en = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    trade_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    dosage_form = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=60))
    strength = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=120))
    unit = fields.String(required=True, validate=validate.Length(min=1, max=20))
    package_size = fields.Integer(required=True, strict=False, validate=validate.Range(min=1, max=100000))
    package_unit = fields.String(required=True, validate=validate.Length(min=1, max=20))
    manufacturer = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    approval_no = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=60))
    nhsa_code = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    atc_code = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=7))
    essential = fields.Boolean(load_default=False, truthy=TRUTHY, falsy=FALSY)
    reimbursement = fields.String(load_default="none", validate=validate.OneOf(REIMBURSEMENT))
    vbp = fields.Boolean(load_default=False, truthy=TRUTHY, falsy=FALSY)
    vbp_batch = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    storage = fields.String(load_default="ambient", validate=validate.OneOf(STORAGE))
    controlled = fields.String(load_default="none", validate=validate.OneOf(CONTROLLED))
    antibiotic_tier = fields.String(load_default="none", validate=validate.OneOf(ANTIBIOTIC_TIERS))
    high_alert = fields.Boolean(load_default=False, truthy=TRUTHY, falsy=FALSY)
    volume_cm3 = fields.Float(required=True, validate=validate.Range(min=0, min_inclusive=False, max=1_000_000))
    weight_g = fields.Float(required=True, validate=validate.Range(min=0, min_inclusive=False, max=1_000_000))
    category = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=120))


class ItemPatch(ItemFields):
    """A partial update: any subset of fields except the code."""

    class Meta:
        exclude = ("code",)


class ImportRow(ItemFields):
    """A CSV/Excel row: empty cells mean 'not given'."""

    @pre_load
    def _blank_to_none(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {k: (None if isinstance(v, str) and v.strip() == "" else v) for k, v in data.items() if k}


_TEXT_FIELDS = (
    "kind", "generic_name", "generic_name_en", "trade_name", "dosage_form", "strength", "unit",
    "package_unit", "manufacturer", "approval_no", "nhsa_code", "atc_code", "reimbursement",
    "vbp_batch", "storage", "controlled", "antibiotic_tier", "category", "code", "status",
)  # fmt: skip
# An item as the API shows it: every stored field, read-only.
ItemOut = Schema.from_dict(
    {name: fields.String(allow_none=True) for name in _TEXT_FIELDS}
    | {
        "version": fields.Integer(),
        "catalogue_version": fields.Integer(),
        "package_size": fields.Integer(),
        "essential": fields.Boolean(),
        "vbp": fields.Boolean(),
        "high_alert": fields.Boolean(),
        "volume_cm3": fields.Float(),
        "weight_g": fields.Float(),
    },
    name="ItemOut",
)


class ItemPage(Schema):
    """One page of search results."""

    items = fields.List(fields.Nested(ItemOut))
    next_cursor = fields.String(allow_none=True)


class ItemQuery(Strict):
    """Search parameters."""

    q = fields.String(load_default=None, validate=validate.Length(max=100))
    kind = fields.String(load_default=None, validate=validate.OneOf(KINDS))
    status = fields.String(load_default="active", validate=validate.OneOf(("active", "retired", "all")))
    level = fields.String(load_default=None, validate=validate.OneOf(SITE_LEVELS))
    site = fields.String(load_default=None, validate=validate.Length(max=40))
    essential = fields.Boolean(load_default=None, allow_none=True)
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=200))


class VersionOut(Schema):
    """One approved version of an item."""

    version = fields.Integer()
    catalogue_version = fields.Integer()
    status = fields.String()
    snapshot = fields.Dict()
    change_id = fields.String()
    approved_by = fields.String()
    approved_at = fields.AwareDateTime()


class ReceivingWindow(Strict):
    """Receiving hours, local time."""

    start = fields.String(required=True, validate=validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="HH:MM"))
    end = fields.String(required=True, validate=validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="HH:MM"))


class SiteFields(Strict):
    """A site (institution) as proposed."""

    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    tax_id = fields.String(required=True, validate=validate.Length(equal=18, error="18 characters"))
    level = fields.String(required=True, validate=validate.OneOf(SITE_LEVELS))
    parent_code = fields.String(load_default=None, allow_none=True)
    is_hub = fields.Boolean(load_default=False)
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    lon = fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    receiving_hours = fields.List(fields.Nested(ReceivingWindow), required=True, validate=validate.Length(min=1, max=4))
    active = fields.Boolean(load_default=True)


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


class SiteQuery(Strict):
    """Site list filters."""

    level = fields.String(load_default=None, validate=validate.OneOf(SITE_LEVELS))
    parent = fields.String(load_default=None)


class StocklistIn(Strict):
    """The whole list of items a level or a site may stock."""

    item_codes = fields.List(fields.String(validate=CODE), required=True, validate=validate.Length(max=20000))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class StocklistOut(Schema):
    """A stocking list."""

    scope = fields.String()
    value = fields.String()
    item_codes = fields.List(fields.String())


class RetireIn(Strict):
    """Why an item leaves the catalogue."""

    reason = fields.String(required=True, validate=validate.Length(min=2, max=500))


class ChangeOut(Schema):
    """A proposed change and its fate."""

    id = fields.String()
    kind = fields.String()
    target = fields.String()
    payload = fields.Dict()
    status = fields.String()
    note = fields.String(allow_none=True)
    base_version = fields.Integer(allow_none=True)
    proposed_by = fields.String()
    proposed_at = fields.AwareDateTime()
    decided_by = fields.String(allow_none=True)
    decided_at = fields.AwareDateTime(allow_none=True)
    decision_note = fields.String(allow_none=True)
    catalogue_version = fields.Integer(allow_none=True)


class ChangeQuery(Strict):
    """Change list filters."""

    status = fields.String(load_default="draft", validate=validate.OneOf(("draft", "approved", "rejected", "all")))
    target = fields.String(load_default=None, validate=validate.Length(max=60))
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=5000))


class ProposeNote(Strict):
    """An optional note with a proposal."""

    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class ItemCreateIn(ItemFields):
    """A new item, with the proposer's note."""

    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class ItemPatchIn(ItemPatch):
    """A partial update, with the proposer's note."""

    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))

    @validates_schema
    def _not_empty(self, data: dict[str, Any], **_: Any) -> None:
        if not {k for k in data if k != "note"}:
            raise ValidationError("name at least one field to change", "_schema")


class SiteIn(SiteFields):
    """A site proposal with a note."""

    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class ApproveIn(Strict):
    """The committee's decision on a batch of drafts."""

    change_ids = fields.List(fields.String(), required=True, validate=validate.Length(min=1, max=5000))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class RejectIn(Strict):
    """Why a draft was turned down."""

    reason = fields.String(required=True, validate=validate.Length(min=2, max=1000))


class ApproveOut(Schema):
    """The new catalogue version."""

    catalogue_version = fields.Integer()
    approved = fields.Integer()


class ImportQuery(Strict):
    """How to treat a file with some bad rows."""

    valid_only = fields.Boolean(load_default=False)


class ImportRowOut(Schema):
    """One row's outcome."""

    row = fields.Integer()
    code = fields.String(allow_none=True)
    status = fields.String()
    action = fields.String()
    errors = fields.List(fields.Dict())


class ImportOut(Schema):
    """The per-row validation report."""

    rows = fields.List(fields.Nested(ImportRowOut))
    invalid = fields.Integer()
    written = fields.Integer()


class CatalogueVersionOut(Schema):
    """An approved catalogue version."""

    version = fields.Integer()
    approved_by = fields.String()
    approved_at = fields.AwareDateTime()
    note = fields.String(allow_none=True)
    change_count = fields.Integer()
