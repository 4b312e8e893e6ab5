"""Units of measure and how many decimals a quantity in each may have (unit-aware decimals)."""

from decimal import Decimal

UNITS: dict[str, tuple[str, int]] = {
    "ea": ("each", 0),
    "pair": ("pair", 0),
    "set": ("set", 0),
    "pack": ("pack", 0),
    "box": ("box", 0),
    "case": ("case", 0),
    "roll": ("roll", 0),
    "pallet": ("pallet", 0),
    "kg": ("kilogram", 3),
    "g": ("gram", 0),
    "t": ("tonne", 3),
    "l": ("litre", 3),
    "ml": ("millilitre", 0),
    "m": ("metre", 3),
    "m2": ("square metre", 3),
    "m3": ("cubic metre", 3),
    "h": ("hour", 2),
    "day": ("day", 1),
}

UNIT_CHOICES = [(code, f"{code} — {name}") for code, (name, _) in UNITS.items()]
QUANTITY_DECIMAL_PLACES = 3
QUANTITY_MAX_DIGITS = 14  # the quantity columns (orders.models.fields.quantity_field) hold less than 10^11
# The most one line can be, wherever a quantity is typed: far below what the columns hold, so that
# the running totals (shipped, received with an over-receipt tolerance …) never overflow them.
QUANTITY_MAX = Decimal(999_999_999)


def quantity_decimals(unit: str) -> int:
    return UNITS[unit][1]


def quantity_error(quantity: Decimal, unit: str, *, what: str = "A quantity") -> str | None:
    """Why ``quantity`` cannot be a quantity in ``unit``, or None."""
    if unit not in UNITS:
        return f"“{unit}” is not a unit Tandem knows."
    if not quantity.is_finite() or quantity <= 0:
        return f"{what} must be more than zero."
    places = quantity_decimals(unit)
    exponent = quantity.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        allowed = "whole numbers" if places == 0 else f"at most {places} decimals"
        return f"{what} in {UNITS[unit][0]} takes {allowed}."
    if quantity > QUANTITY_MAX:
        return f"{what} can be at most {QUANTITY_MAX:,}."
    return None
