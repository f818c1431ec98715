"""marshmallow schemas of the formulary API and of its import rows; post_load builds the typed commands.

Every text field goes through `shared.text` (NFKC, trimmed incl. U+3000, control characters
refused; codes upper-cased), the pack size is a whole number on every path (`WholeNumber`),
and choice fields take the code or the label the pages show (药品, 常温, 甲类, 非医保, 是/否).
"""

from __future__ import annotations

from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates_schema,
)

from services.formulary.commands import (
    ApproveChanges,
    ProposeItem,
    ProposeItemEdit,
    ProposeRetire,
    ProposeSite,
    ProposeStocklist,
    RejectChange,
    Why,
)
from services.formulary.importing import header_key
from services.formulary.ui import fields as labels
from shared.events.contracts import SITE_LEVELS
from shared.text import BadText, Text, WholeNumber, normalise

_YES = ("true", "1", "yes", "y", "t", "on", "是", "√", "✓", "有")
_NO = ("false", "0", "no", "n", "f", "off", "否", "×", "✗", "无")  # blank is not "no" (imports drop blank cells first)
CODE = validate.Regexp(r"^[A-Z0-9][A-Z0-9_-]{1,39}$", error="upper-case letters, digits, - and _, 2–40 characters")
NOTE: dict[str, Any] = {"load_default": None, "allow_none": True, "multiline": True, "validate": validate.Length(max=1000)}


class YesNo(fields.Boolean):
    """是/否, true/false, 1/0 and the other spellings spreadsheets write; normalised first."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            try:
                text = normalise(value).lower()
            except BadText as exc:
                raise ValidationError(str(exc)) from exc
            if text in _YES:
                return True
            if text in _NO:
                return False
            raise ValidationError("是 or 否 (yes or no)")
        return super()._deserialize(value, attr, data, **kwargs)


class Choice(Text):
    """A choice given by its code or by the label the pages show (常温（10–30℃）, 常温, Ambient)."""

    def __init__(self, choices: tuple[labels.Choice, ...], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lookup: dict[str, str] = {}
        for value, zh, en in choices:
            for label in (value, zh, zh.split("（")[0].split("(")[0], en):
                self.lookup[header_key(label)] = value
        self.shown = ", ".join(f"{zh.split('（')[0]} ({value})" for value, zh, _en in choices)
        if any(value == "none" for value, _zh, _en in choices):
            for word in ("无", "-", "—", "自费"):  # how offices write "none" (自费: not covered by insurance)
                self.lookup.setdefault(header_key(word), "none")

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        if text is None:
            if self.allow_none:
                return None
            # Blank is not a choice: leaving the field out keeps the value (a blank never resets it).
            raise ValidationError(f"不能为空，不修改请省略此字段 (may not be blank: leave the field out to keep it); one of: {self.shown}")
        found = self.lookup.get(header_key(text))
        if found is None:
            raise ValidationError(f"one of: {self.shown}")
        return found


class Strict(Schema):
    """Unknown fields are an error, so a typo never passes silently."""

    class Meta:
        unknown = RAISE


def _opt(max_len: int, **kw: Any) -> Text:
    return Text(load_default=None, allow_none=True, validate=validate.Length(max=max_len), **kw)


class ItemFields(Strict):
    """Every editable field of a catalogue item."""

    code = Text(required=True, upper=True, validate=CODE)
    kind = Choice(labels.KIND, required=True)
    generic_name = Text(required=True, validate=validate.Length(min=1, max=200))
    generic_name_en = _opt(200)
    trade_name = _opt(200)
    dosage_form = _opt(60)
    strength = _opt(120)
    unit = Text(required=True, validate=validate.Length(min=1, max=20))
    package_size = WholeNumber(required=True, validate=validate.Range(min=1, max=100000))
    package_unit = Text(required=True, validate=validate.Length(min=1, max=20))
    manufacturer = _opt(200)
    approval_no = _opt(60, upper=True)
    nhsa_code = _opt(40, upper=True)
    atc_code = _opt(7, upper=True)
    essential = YesNo(load_default=False)
    reimbursement = Choice(labels.REIMBURSEMENT, load_default="none")
    vbp = YesNo(load_default=False)
    vbp_batch = _opt(40)
    storage = Choice(labels.STORAGE, load_default="ambient")
    controlled = Choice(labels.CONTROLLED, load_default="none")
    antibiotic_tier = Choice(labels.ANTIBIOTIC_TIER, load_default="none")
    high_alert = YesNo(load_default=False)
    volume_cm3 = fields.Float(required=True, validate=validate.Range(min=0, min_inclusive=False, max=1_000_000))
    weight_g = fields.Float(required=True, validate=validate.Range(min=0, min_inclusive=False, max=1_000_000))
    category = _opt(120)


class WhyFields(Strict):
    """Who-and-why for the committee: note, reason, meeting reference."""

    note = Text(**NOTE)
    reason = Text(load_default=None, allow_none=True, multiline=True, validate=validate.Length(max=1000))
    meeting_ref = _opt(120)


def _why(data: dict[str, Any]) -> Why:
    return Why(note=data.pop("note", None), reason=data.pop("reason", None), meeting_ref=data.pop("meeting_ref", None))


class ItemCreateIn(ItemFields, WhyFields):
    """A new item, with the proposer's note, reason and meeting reference."""

    @post_load
    def _command(self, data: dict[str, Any], **_: Any) -> ProposeItem:
        why = _why(data)
        return ProposeItem(code=data["code"], fields=data, why=why)


class ItemPatchIn(ItemFields, WhyFields):
    """A partial update: any subset of fields except the code; null is refused for required fields."""

    class Meta:
        exclude = ("code",)

    @validates_schema
    def _not_empty(self, data: dict[str, Any], **_: Any) -> None:
        if not {k for k in data if k not in ("note", "reason", "meeting_ref")}:
            raise ValidationError("name at least one field to change", "_schema")

    @post_load
    def _command(self, data: dict[str, Any], **_: Any) -> ProposeItemEdit:
        why = _why(data)
        return ProposeItemEdit(code="", changes=data, why=why)


class ImportRow(ItemFields):
    """One file row: only the cells given (absent column or blank cell: not given); labels accepted."""

    @pre_load
    def _given_only(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if "_extra" in data:
            raise ValidationError({"row": [data["_extra"]]})
        return {k: v for k, v in data.items() if v is not None and not (isinstance(v, str) and v.strip() == "")}


class RetireIn(WhyFields):
    """Why an item leaves the catalogue."""

    reason = Text(required=True, multiline=True, validate=validate.Length(min=2, max=500))

    @post_load
    def _command(self, data: dict[str, Any], **_: Any) -> ProposeRetire:
        return ProposeRetire(code="", reason=data["reason"], why=Why(data.get("note"), data["reason"], data.get("meeting_ref")))


class ReceivingWindow(Strict):
    """Receiving hours, local time."""

    start = Text(required=True, validate=validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="HH:MM"))
    end = Text(required=True, validate=validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="HH:MM"))


class SiteIn(WhyFields):
    """A site proposal (new, or new details for an existing one)."""

    code = Text(required=True, upper=True, validate=CODE)
    name = Text(required=True, validate=validate.Length(min=2, max=200))
    tax_id = Text(required=True, upper=True, validate=validate.Length(equal=18, error="18 characters"))
    level = Choice(labels.LEVEL, required=True)
    # Absent optional fields keep an existing site's values (new sites: no parent, not a hub, active).
    parent_code = Text(allow_none=True, upper=True, validate=CODE)
    is_hub = YesNo()
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    lon = fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    receiving_hours = fields.List(fields.Nested(ReceivingWindow), required=True, validate=validate.Length(min=1, max=4))
    active = YesNo()
    # Contact details printed on drivers' manifests (地址, 联系电话); absent keeps the site's values.
    address = Text(allow_none=True, validate=validate.Length(min=2, max=200))
    phone = Text(allow_none=True, validate=validate.Regexp(r"^\+?[0-9][0-9 ()-]{4,30}[0-9]$", error="a phone number: digits, spaces, - ( ) +"))
    base_version = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(min=0))

    @post_load
    def _command(self, data: dict[str, Any], **_: Any) -> ProposeSite:
        why = _why(data)
        base = data.pop("base_version", None)
        return ProposeSite(code=data["code"], site=data, base_version=base, why=why)


class StocklistIn(WhyFields):
    """The whole list a level or a site may stock: item codes and/or categories (essential, atc:J01, …)."""

    item_codes = fields.List(Text(upper=True, validate=CODE), required=True, validate=validate.Length(max=20000))
    # Absent: the list keeps its categories; [] removes them.
    categories = fields.List(Text(validate=validate.Length(min=1, max=130)), load_default=None, validate=validate.Length(max=100))
    base_version = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(min=0))

    @post_load
    def _command(self, data: dict[str, Any], **_: Any) -> ProposeStocklist:
        why = _why(data)
        return ProposeStocklist(
            scope="", value="", item_codes=tuple(data["item_codes"]),
            categories=None if data["categories"] is None else tuple(data["categories"]),
            base_version=data.get("base_version"), why=why,
        )  # fmt: skip


class ApproveIn(Strict):
    """The committee's decision on drafts: named ids and/or a whole import batch."""

    change_ids = fields.List(Text(required=True, validate=validate.Length(max=36)), load_default=list, validate=validate.Length(max=20000))
    batch_id = _opt(36)
    note = Text(**NOTE)
    meeting_ref = _opt(120)

    @validates_schema
    def _something(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("change_ids") and not data.get("batch_id"):
            raise ValidationError("name at least one change or a batch", "change_ids")

    @post_load
    def _command(self, data: dict[str, Any], **_: Any) -> ApproveChanges:
        # Ids are UUIDs, case-insensitive on input (RFC 9562 §4), as in URLs.
        batch = data.get("batch_id")
        ids = tuple(c.lower() for c in data["change_ids"])
        return ApproveChanges(ids, batch.lower() if batch else None, data.get("note"), data.get("meeting_ref"))


class RejectIn(Strict):
    """Why a draft was turned down."""

    reason = Text(required=True, multiline=True, validate=validate.Length(min=2, max=1000))

    @post_load
    def _command(self, data: dict[str, Any], **_: Any) -> RejectChange:
        return RejectChange(change_id="", reason=data["reason"])


class Paging(Strict):
    """The paging every list takes: `limit` and the opaque `cursor` of the previous page."""

    cursor = Text(load_default=None, validate=validate.Length(max=400))  # opaque, but sent back by hand: the text rule too
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class ItemQuery(Paging):
    """Search parameters."""

    q = Text(load_default=None, validate=validate.Length(max=100))  # NFKC, trimmed, control characters refused
    kind = Choice(labels.KIND, load_default=None)
    status = fields.String(load_default="active", validate=validate.OneOf(("active", "retired", "all")))
    level = fields.String(load_default=None, validate=validate.OneOf(SITE_LEVELS))
    site = Text(load_default=None, upper=True, validate=validate.Length(max=40))
    essential = fields.Boolean(load_default=None, allow_none=True)
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=200))


class SiteQuery(Paging):
    """Site list filters."""

    level = fields.String(load_default=None, validate=validate.OneOf(SITE_LEVELS))
    parent = Text(load_default=None, upper=True, validate=validate.Length(max=40))
    limit = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=5000))


class ChangeQuery(Paging):
    """Change list filters."""

    status = fields.String(load_default="draft", validate=validate.OneOf(("draft", "approved", "rejected", "all")))
    target = Text(load_default=None, validate=validate.Length(max=60))
    batch = Text(load_default=None, validate=validate.Length(max=36))
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=5000))


class ImportQuery(WhyFields):
    """Check (default: nothing is written) or confirm an import; valid_only skips bad rows on confirm."""

    confirm = fields.Boolean(load_default=False)
    valid_only = fields.Boolean(load_default=False)
