"""marshmallow schemas of the procurement API's input; `post_load` builds the domain's typed commands.

Prices are decimal strings in yuan with at most 4 places ("1.2300"); quantities are integers in
the item's smallest dispensing unit. Unknown fields are errors. Output schemas are in schemas_out.py.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from services.procurement.model import commands as c
from services.procurement.model.money import unit_price
from services.procurement.model.requisition import DISCREPANCIES, OrderLine, ReceivedLine
from shared.repeats import repeats
from shared.text import Text

CODE = validate.Length(min=1, max=40)
TEXT = validate.Length(max=500)
QTY = validate.Range(min=1, max=10_000_000)
PRICE_MAX = Decimal("1000000")  # yuan per dispensing unit; keeps every sum inside the money columns
TAX_ID = validate.Regexp(r"^[0-9A-Z]{18}\Z", error="an 18-character 统一社会信用代码 (digits and capital letters)")


class Strict(Schema):
    """Unknown fields are errors, so a typo never passes silently."""

    class Meta:
        unknown = RAISE


class Price(fields.Field):
    """A decimal string in yuan, at most 4 places, not negative; numbers are refused (no binary floats)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str):
            raise ValidationError("a decimal string such as \"1.2300\"")
        try:
            price = unit_price(value.strip())
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc
        if price < 0:
            raise ValidationError("not negative")
        if price > PRICE_MAX:
            raise ValidationError(f"at most {PRICE_MAX} yuan")
        return price

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else str(value)


class TaxId(fields.String):
    """A 统一社会信用代码: trimmed and upper-cased, then 18 digits or capital letters."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        return text.strip().upper()


def _int(**kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, **kwargs)


# --- requisitions -------------------------------------------------------------------------------


class OrderLineIn(Strict):
    item_code = Text(required=True, validate=CODE, upper=True)
    quantity = _int(required=True, validate=QTY)


class RequisitionIn(Strict):
    """A new requisition: whole packages of items on the site's stocking list."""

    site_code = Text(required=True, validate=CODE, upper=True)
    lines = fields.List(fields.Nested(OrderLineIn), required=True, validate=validate.Length(min=1, max=200))
    urgent = fields.Boolean(load_default=False)
    urgent_reason = Text(load_default=None, allow_none=True, validate=TEXT, multiline=True)
    note = Text(load_default=None, allow_none=True, validate=TEXT, multiline=True)
    submit = fields.Boolean(load_default=False)

    @post_load
    def _command(self, d: dict[str, Any], **_: Any) -> c.CreateRequisition:
        lines = tuple(OrderLine(x["item_code"], x["quantity"]) for x in d["lines"])
        return c.CreateRequisition(d["site_code"], lines, d["urgent"], d["urgent_reason"], d["note"], d["submit"])


class ApprovedLineIn(Strict):
    item_code = Text(required=True, validate=CODE, upper=True)
    approved_quantity = _int(required=True, validate=validate.Range(min=0, max=10_000_000))
    reason = Text(load_default=None, allow_none=True, validate=TEXT, multiline=True)


class ApproveIn(Strict):
    """Approve: lines named here are cut (with a reason); others are approved as requested."""

    lines = fields.List(fields.Nested(ApprovedLineIn), load_default=list, validate=validate.Length(max=200))
    note = Text(load_default=None, allow_none=True, validate=TEXT, multiline=True)

    @validates_schema
    def _once(self, d: dict[str, Any], **_: Any) -> None:
        lines = d.get("lines", [])
        errors = {i: {"item_code": [f"each item once: {lines[i]['item_code']} is already at lines[{j}]"]}
                  for i, j in repeats(x["item_code"] for x in lines).items()}
        if errors:
            raise ValidationError({"lines": errors})  # type: ignore[dict-item]

    @staticmethod
    def command(d: dict[str, Any], requisition_id: str) -> c.ApproveRequisition:
        """The command for one requisition."""
        lines = tuple(c.ApprovedLine(x["item_code"], x["approved_quantity"], x["reason"]) for x in d["lines"])
        return c.ApproveRequisition(requisition_id, lines, d["note"])


class RejectIn(Strict):
    reason = Text(required=True, validate=validate.Length(min=1, max=500), multiline=True)


class ReceivedLineIn(Strict):
    item_code = Text(required=True, validate=CODE, upper=True)
    batch_no = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=60))
    received_quantity = _int(required=True, validate=validate.Range(min=0, max=10_000_000))
    discrepancy = fields.String(load_default="none", validate=validate.OneOf(DISCREPANCIES))
    note = Text(load_default=None, allow_none=True, validate=TEXT, multiline=True)


class ReceiveIn(Strict):
    """The site's count of each shipped lot."""

    lines = fields.List(fields.Nested(ReceivedLineIn), required=True, validate=validate.Length(min=1, max=500))

    @staticmethod
    def command(d: dict[str, Any], requisition_id: str) -> c.ReceiveRequisition:
        """The command for one requisition."""
        lines = tuple(ReceivedLine(x["item_code"], x["batch_no"], x["received_quantity"], x["discrepancy"], x["note"])
                      for x in d["lines"])  # fmt: skip
        return c.ReceiveRequisition(requisition_id, lines)


class RequisitionQuery(Strict):
    site = Text(load_default=None, validate=CODE, upper=True)
    status = fields.String(load_default=None, validate=validate.OneOf(
        ("draft", "submitted", "approved", "rejected", "picked", "shipped", "received")))  # fmt: skip
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000))


# --- stock, transfers, quality --------------------------------------------------------------------


class Paging(Strict):
    """The paging every list takes, as the formulary's lists do (services/formulary/schemas.py Paging):
    `limit` rows (1–1000, default 100) and the opaque `cursor` of the previous page (its Link rel="next")."""

    # opaque, but sent back by hand: the text rule too (NFKC, controls refused)
    cursor = Text(load_default=None, validate=validate.Length(max=400))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class SiteQuery(Paging):
    """One site's stock, paged by item code."""

    site = Text(required=True, validate=CODE, upper=True)


class HistoryQuery(Strict):
    site = Text(required=True, validate=CODE, upper=True)
    item_code = Text(load_default=None, validate=CODE, upper=True)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class AdjustmentIn(Strict):
    """Manual dispensing (quantity taken) or a stock count (quantity counted), with a reason."""

    item_code = Text(required=True, validate=CODE, upper=True)
    kind = fields.String(required=True, validate=validate.OneOf(("dispense", "count")))
    quantity = _int(required=True, validate=validate.Range(min=0, max=10_000_000))
    reason = Text(required=True, validate=validate.Length(min=1, max=500), multiline=True)
    batch_no = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=60))


class TransferIn(Strict):
    """调剂 between two member sites."""

    from_site = Text(required=True, validate=CODE, upper=True)
    to_site = Text(required=True, validate=CODE, upper=True)
    item_code = Text(required=True, validate=CODE, upper=True)
    quantity = _int(required=True, validate=QTY)
    reason = Text(load_default=None, allow_none=True, validate=TEXT, multiline=True)

    @post_load
    def _command(self, d: dict[str, Any], **_: Any) -> c.CreateTransfer:
        return c.CreateTransfer(d["from_site"], d["to_site"], d["item_code"], d["quantity"], d["reason"])


MONTH = validate.Regexp(r"^(19|20|21)\d{2}-(0[1-9]|1[0-2])\Z",  # \Z: "$" let "2026-01\n" through
                          error="a month as YYYY-MM (1900–2199)")


class MonthQuery(Strict):
    month = fields.String(required=True, validate=MONTH)
    site = Text(load_default=None, validate=CODE, upper=True)


class TransferQuery(Strict):
    month = fields.String(load_default=None, validate=MONTH)
    site = Text(load_default=None, validate=CODE, upper=True)


class RecallQuery(Strict):
    item_code = Text(load_default=None, validate=CODE, upper=True)
    batch_no = Text(load_default=None, validate=validate.Length(min=1, max=60))
    trace_code = Text(load_default=None, upper=True, validate=validate.Length(min=1, max=80))  # a code, as receipts keep it

    @validates_schema
    def _enough(self, d: dict[str, Any], **_: Any) -> None:
        if not d.get("trace_code") and not (d.get("item_code") and d.get("batch_no")):
            raise ValidationError({"batch_no": ["give item_code and batch_no, or a trace_code"]})


class AlertQuery(Strict):
    months = fields.Integer(load_default=None, validate=validate.Range(min=0, max=60))
    site = Text(load_default=None, validate=CODE, upper=True)


class LotQuery(Paging):
    """Central lots (optionally one item's), paged in FEFO order."""

    item_code = Text(load_default=None, validate=CODE, upper=True)
