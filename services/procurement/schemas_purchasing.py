"""marshmallow input schemas for purchasing: distributors, manufacturers, contracts, prices, receipts, orders."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, post_load, validate, validates_schema

from services.procurement.model import commands as c
from services.procurement.model.invoices import Invoice, InvoiceLine, Party, Receipt, ReceiptLine
from services.procurement.schemas import CODE, QTY, TAX_ID, TEXT, Price, Strict, TaxId, _int
from shared.text import BadText, Text, normalise, refuse_controls

_ITEM_CODE = Text(required=True, validate=CODE, upper=True)


class ItemsField(fields.Field):
    """A list of item codes (each through the text rule and upper-cased, as every item_code; each once), or "all"."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if value == "all":
            return None
        if not isinstance(value, list) or not value:
            raise ValidationError('a non-empty list of item codes, or "all"')
        if len(value) > 5000:
            raise ValidationError("at most 5000 items")
        codes: list[str] = []
        errors: dict[int, list[str]] = {}
        first: dict[str, int] = {}
        for i, x in enumerate(value):
            if not isinstance(x, str):
                errors[i] = ["item codes are strings of 1–40 characters"]
                continue
            try:
                code = _ITEM_CODE.deserialize(x)
            except ValidationError as exc:
                errors[i] = exc.messages if isinstance(exc.messages, list) else [str(exc.messages)]
                continue
            if code in first:  # an authorisation is a set: a code twice is a slip in the list, not a second grant
                errors[i] = [f"item {code} is already at items[{first[code]}]"]
            first.setdefault(code, i)
            codes.append(code)
        if errors:
            raise ValidationError(errors)  # type: ignore[arg-type]
        return tuple(codes)


class DistributorIn(Strict):
    """An authorised distributor (统一配送企业)."""

    name = Text(required=True, validate=validate.Length(min=1, max=200))
    tax_id = TaxId(required=True, validate=TAX_ID)
    items = ItemsField(required=True)

    @post_load
    def _command(self, d: dict[str, Any], **_: Any) -> c.RegisterDistributor:
        return c.RegisterDistributor(d["name"], d["tax_id"], d["items"])


class AgentIn(Strict):
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    tax_id = TaxId(required=True, validate=TAX_ID)
    kind = fields.String(required=True, validate=validate.OneOf(("sales_subsidiary", "import_agent")))


class ManufacturerIn(Strict):
    """A manufacturer, named exactly as the formulary names it, and its declared agents."""

    name = Text(required=True, validate=validate.Length(min=1, max=200))
    tax_id = TaxId(required=True, validate=TAX_ID)
    agents = fields.List(fields.Nested(AgentIn), load_default=list, validate=validate.Length(max=50))

    @validates_schema
    def _each_agent_once(self, d: dict[str, Any], **_: Any) -> None:
        """An agent twice (by tax id) or the manufacturer as its own agent: a 422 naming agents[i].tax_id
        (the use case refused it too, naming only `agents`)."""
        first: dict[str, int] = {}
        errors: dict[int, dict[str, list[str]]] = {}
        for i, agent in enumerate(d.get("agents") or ()):
            if agent["tax_id"] == d.get("tax_id"):
                errors[i] = {"tax_id": ["the manufacturer itself, not an agent"]}
            elif agent["tax_id"] in first:
                errors[i] = {"tax_id": [f"the same agent twice (already at agents[{first[agent['tax_id']]}])"]}
            first.setdefault(agent["tax_id"], i)
        if errors:
            raise ValidationError({"agents": errors})  # type: ignore[dict-item]

    @post_load
    def _command(self, d: dict[str, Any], **_: Any) -> c.RegisterManufacturer:
        return c.RegisterManufacturer(d["name"], d["tax_id"], tuple(c.Agent(a["name"], a["tax_id"], a["kind"]) for a in d["agents"]))


class VbpContractIn(Strict):
    """A 带量采购 contract year: winning price, agreed quantity (dispensing units), term.

    It names an item (`item_code`), or instead a generic name with dosage form and strength,
    which then covers every product of that key.
    """

    item_code = Text(load_default=None, allow_none=True, validate=CODE, upper=True)
    generic_name = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=200))
    dosage_form = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=60))
    strength = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=60))
    price = Price(required=True)
    agreed_quantity = _int(required=True, validate=QTY)
    start = fields.Date(required=True)
    end = fields.Date(required=True)
    baseline_price = Price(load_default=None, allow_none=True)

    @validates_schema
    def _term(self, d: dict[str, Any], **_: Any) -> None:
        if "start" in d and "end" in d and d["end"] < d["start"]:
            raise ValidationError({"end": ["before start"]})
        if bool(d.get("item_code")) == bool(d.get("generic_name")):
            raise ValidationError({"item_code": ["give item_code, or generic_name (with dosage_form and strength), not both"]})

    @post_load
    def _command(self, d: dict[str, Any], **_: Any) -> c.CreateVbpContract:
        return c.CreateVbpContract(d["item_code"], d["price"], d["agreed_quantity"], d["start"], d["end"], d["baseline_price"],
                                   d["generic_name"], d["dosage_form"], d["strength"])  # fmt: skip


class ListedPriceIn(Strict):
    """挂网价 from the provincial platform."""

    item_code = Text(required=True, validate=CODE, upper=True)
    price = Price(required=True)
    effective_from = fields.Date(required=True)
    effective_to = fields.Date(load_default=None, allow_none=True)
    national_negotiated = fields.Boolean(load_default=False)

    @post_load
    def _command(self, d: dict[str, Any], **_: Any) -> c.RecordPrice:
        return c.RecordPrice("listed", d["item_code"], d["price"], d["effective_from"], d["effective_to"], d["national_negotiated"])


class NegotiatedPriceIn(Strict):
    """二次议价 result: below the listed price, never for VBP or 国谈 drugs."""

    item_code = Text(required=True, validate=CODE, upper=True)
    price = Price(required=True)
    effective_from = fields.Date(required=True)
    effective_to = fields.Date(load_default=None, allow_none=True)
    note = Text(load_default=None, allow_none=True, validate=TEXT, multiline=True)

    @post_load
    def _command(self, d: dict[str, Any], **_: Any) -> c.RecordPrice:
        return c.RecordPrice("negotiated", d["item_code"], d["price"], d["effective_from"], d["effective_to"], note=d["note"])


class PartyIn(Strict):
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    tax_id = Text(required=True, validate=validate.Length(min=1, max=40))


class InvoiceLineIn(Strict):
    item_code = Text(required=True, validate=CODE, upper=True)
    batch_no = Text(required=True, validate=validate.Length(min=1, max=60))
    quantity = _int(required=True, validate=QTY)
    unit_price = Price(required=True)


class InvoiceIn(Strict):
    number = Text(required=True, validate=validate.Length(min=1, max=60))
    issuer = fields.Nested(PartyIn, required=True)
    recipient = fields.Nested(PartyIn, required=True)
    issued_at = fields.Date(required=True)
    lines = fields.List(fields.Nested(InvoiceLineIn), required=True, validate=validate.Length(min=1, max=500))


class TemperatureRecord(fields.Field):
    """A temperature record: text (at most 2000 characters) or a JSON object/list (kept as compact JSON text)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        import json

        try:  # the text rule (shared/text.py): control and format characters refused, in JSON members too
            if isinstance(value, str):
                text = normalise(value, multiline=True)
            elif isinstance(value, (dict, list)):
                _refuse_controls_in(value)
                text = json.dumps(value, ensure_ascii=False, separators=(",", ":")) if value else ""
            else:
                raise ValidationError("a text reference or a JSON object/list of readings")
        except BadText as exc:
            raise ValidationError(str(exc)) from exc
        if len(text) > 2000:
            raise ValidationError("at most 2000 characters")
        return text or None


def _refuse_controls_in(value: Any) -> None:
    """BadText for a control or format character in any string (member name or value) of parsed JSON."""
    pending = [value]
    while pending:  # iterative: parsed JSON is at most the request parser's depth, but no recursion either way
        node = pending.pop()
        if isinstance(node, str):
            refuse_controls(node)
        elif isinstance(node, dict):
            pending.extend(node.keys())
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)


class ReceiptLineIn(Strict):
    item_code = Text(required=True, validate=CODE, upper=True)
    batch_no = Text(required=True, validate=validate.Length(min=1, max=60))
    expiry = fields.Date(required=True)
    quantity = _int(required=True, validate=QTY)
    unit_price = Price(required=True)
    # The cold-chain record as the carrier gives it: a reference string, or a JSON object / list of readings.
    temperature_record = TemperatureRecord(load_default=None, allow_none=True)
    # 追溯码 are codes (shared.text.code: no inner blanks, upper-case): "8190 1234 …" typed in groups is the
    # package scanned as "81901234…", so a repeat or an earlier receipt of it is recognised
    trace_codes = fields.List(Text(required=True, upper=True, validate=validate.Length(min=1, max=80)), load_default=list,
                              validate=validate.Length(max=10_000))  # fmt: skip


class ReceiptIn(Strict):
    """A delivery with its invoices (两票制); received_on defaults to today."""

    site_code = Text(required=True, validate=CODE, upper=True)
    supplier_tax_id = Text(required=True, validate=validate.Length(min=1, max=40))
    remote_area = fields.Boolean(load_default=False)
    received_on = fields.Date(load_default=None, allow_none=True)
    lines = fields.List(fields.Nested(ReceiptLineIn), required=True, validate=validate.Length(min=1, max=500))
    invoices = fields.List(fields.Nested(InvoiceIn), required=True, validate=validate.Length(max=20))

    @validates_schema
    def _one_expiry_per_batch(self, d: dict[str, Any], **_: Any) -> None:
        """A batch (批号) has one expiry date: two lines of the same item and batch must agree."""
        seen: dict[tuple[str, str], Any] = {}
        for i, line in enumerate(d.get("lines") or []):
            expiry = seen.setdefault((line["item_code"], line["batch_no"]), line["expiry"])
            if expiry != line["expiry"]:
                raise ValidationError({f"lines[{i}].expiry": [f"batch {line['batch_no']} was given expiry {expiry} on an earlier line"]})

    @validates_schema
    def _each_invoice_once(self, d: dict[str, Any], **_: Any) -> None:
        """The same invoice (issuer's tax id + number) twice would count its quantities twice."""
        seen: set[tuple[str, str]] = set()
        for i, inv in enumerate(d.get("invoices") or []):
            key = (inv["issuer"]["tax_id"].upper(), inv["number"])
            if key in seen:
                raise ValidationError({f"invoices[{i}].number": ["the same invoice twice (issuer and number)"]})
            seen.add(key)

    @staticmethod
    def receipt(d: dict[str, Any], today: Any) -> Receipt:
        """The domain receipt (received today unless said)."""
        lines = tuple(
            ReceiptLine(x["item_code"], x["batch_no"], x["expiry"], x["quantity"], x["unit_price"], x["temperature_record"],
                        tuple(x["trace_codes"]))
            for x in d["lines"]
        )  # fmt: skip
        invoices = tuple(
            Invoice(i["number"], Party(i["issuer"]["name"], i["issuer"]["tax_id"]),
                    Party(i["recipient"]["name"], i["recipient"]["tax_id"]), i["issued_at"],
                    tuple(InvoiceLine(x["item_code"], x["batch_no"], x["quantity"], x["unit_price"]) for x in i["lines"]))
            for i in d["invoices"]
        )  # fmt: skip
        return Receipt(d["site_code"], d["supplier_tax_id"].strip().upper(), d["remote_area"], lines, invoices,
                       d["received_on"] or today)  # fmt: skip


class PaymentIn(Strict):
    paid_on = fields.Date(required=True)


class PurchaseLineIn(Strict):
    item_code = Text(required=True, validate=CODE, upper=True)
    quantity = _int(required=True, validate=QTY)


class PurchaseOrderIn(Strict):
    """An order to a distributor at the applicable prices."""

    distributor_tax_id = TaxId(required=True, validate=TAX_ID)
    lines = fields.List(fields.Nested(PurchaseLineIn), required=True, validate=validate.Length(min=1, max=500))
    justification = Text(load_default=None, allow_none=True, validate=validate.Length(max=1000), multiline=True)

    @validates_schema
    def _each_item_once(self, d: dict[str, Any], **_: Any) -> None:
        codes = [x["item_code"] for x in d.get("lines") or []]
        for i, code in enumerate(codes):
            if code in codes[:i]:
                raise ValidationError({f"lines[{i}].item_code": ["the same item twice; put it on one line"]})

    @post_load
    def _command(self, d: dict[str, Any], **_: Any) -> c.CreatePurchaseOrder:
        lines = tuple(c.PurchaseLine(x["item_code"], x["quantity"]) for x in d["lines"])
        return c.CreatePurchaseOrder(d["distributor_tax_id"], lines, d["justification"])


class PageQuery(Strict):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000))
    site = Text(load_default=None, validate=CODE, upper=True)
