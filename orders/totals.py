"""Line and order totals: Decimal only, rounded to the currency's minor unit, half-up."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from billing.money import round_money
from orders.models import VOID_LINE_STATUSES

HUNDRED = Decimal(100)


def line_amounts(quantity: Decimal, unit_price: Decimal, tax_rate: Decimal, currency: str) -> tuple[Decimal, Decimal]:
    """(line total, tax) of one line: quantity × unit price, and the tax on it, each rounded."""
    line_total = round_money(quantity * unit_price, currency)
    return line_total, round_money(line_total * tax_rate / HUNDRED, currency)


def order_totals(lines: Iterable, discount: Decimal, currency: str) -> dict[str, Decimal]:
    """Sum of the lines that are not rejected or cancelled; total = subtotal − discount + tax."""
    subtotal = tax = Decimal(0)
    for line in lines:
        if line.status not in VOID_LINE_STATUSES:
            subtotal += line.line_total
            tax += line.tax_amount
    discount = round_money(discount, currency)
    return {
        "subtotal": subtotal,
        "discount": discount,
        "tax_total": tax,
        "total": subtotal - discount + tax,
    }
