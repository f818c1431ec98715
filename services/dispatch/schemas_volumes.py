"""Volumes in the dispatch API: litres given to the millilitre, never finer.

Volumes are whole millilitres inside (model.VOLUME_SCALE per litre: the routing core, split parts,
stored loads) and litres at the edge. A litre value with a part finer than 1 mL (12.3456 L) cannot
be held exactly; it used to be rounded up to the next millilitre without a word. Every volume
field of the input schemas (a stop's or a shipment's ``deliver``/``pickup`` per compartment, a
vehicle's ``compartments``/``compartments_l``) is built by ``volumes()`` and refuses such a value
(422 naming the field, e.g. ``stops[3].deliver.cold``); a whole-mL value keeps its exact value.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import ValidationError, fields, validate

from services.dispatch.model import COMPARTMENTS, VOLUME_SCALE
from services.dispatch.routing import limits

VOLUME_MAX = min(100_000, limits.DEMAND_MAX // VOLUME_SCALE, limits.CAPACITY_MAX // VOLUME_SCALE)  # litres
FINER_THAN_ML = "finer than 1 mL: give litres to at most 3 decimals (volumes are whole millilitres)"


def whole_millilitres(litres: float) -> None:
    """Refuse a litre value that is not a whole number of millilitres (ValidationError, FINER_THAN_ML).

    The value is read as the decimal the client wrote (a JSON number parses to the nearest double,
    whose shortest repr is that decimal), so 0.001 L passes and 0.0015 L or 0.30000000000000004 L do not.
    """
    try:
        exact = Decimal(repr(float(litres))) * VOLUME_SCALE
    except (
        InvalidOperation,
        ValueError,
        OverflowError,
    ) as exc:  # nan/inf are refused by the Float field first
        raise ValidationError(FINER_THAN_ML) from exc
    if exact != exact.to_integral_value():
        raise ValidationError(FINER_THAN_ML)


def litres_field(**kwargs: Any) -> fields.Float:
    """A volume in litres: 0 to VOLUME_MAX, whole millilitres."""
    return fields.Float(validate=[validate.Range(min=0, max=VOLUME_MAX), whole_millilitres], **kwargs)


def volumes(**kwargs: Any) -> fields.Dict:
    """Litres per compartment (model.COMPARTMENTS), each a ``litres_field``."""
    return fields.Dict(
        keys=fields.String(
            validate=validate.OneOf(COMPARTMENTS, error="unknown compartment; one of {choices}")
        ),
        values=litres_field(),
        **kwargs,
    )
