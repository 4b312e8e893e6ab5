"""Line and order totals: Decimal only, rounded to the currency's minor unit, half-up."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from orders.models.purchase import VOID_LINE_STATUSES
from procurement.errors import DomainError
from procurement.money import AMOUNT_LIMIT, format_money, quantum, round_money

HUNDRED = Decimal(100)
TAX_RATE_RULE = "A tax rate is a percentage from 0 to 100, with at most 2 decimals."


def tax_rate_problem(rate: Decimal | None) -> str | None:
    """The one rule of a tax rate — a line's, a proposal's, a bill line's, the live preview's:
    a percentage from 0 to 100 with at most 2 decimals (None: not given, no problem)."""
    if rate is None:
        return None
    if not rate.is_finite() or not Decimal(0) <= rate <= HUNDRED or rate != rate.quantize(Decimal("0.01")):
        return TAX_RATE_RULE
    return None


def require_tax_rate(rate: Decimal | None) -> None:
    """Refuse a tax rate ``tax_rate_problem`` finds wrong (on the field ``tax_rate``)."""
    problem = tax_rate_problem(rate)
    if problem:
        raise DomainError(problem, field="tax_rate")


def require_fits(amount: Decimal, currency: str, what: str, field: str | None) -> None:
    """An amount the money columns cannot hold is refused here, before anything is written
    (PostgreSQL would refuse the row; SQLite would keep a number no page could read back)."""
    if abs(amount) >= AMOUNT_LIMIT:
        largest = format_money(AMOUNT_LIMIT - quantum(currency), currency)
        raise DomainError(f"{what} would be more than {largest}: lower the quantity or the price.", field=field)


def line_amounts(quantity: Decimal, unit_price: Decimal, tax_rate: Decimal, currency: str) -> tuple[Decimal, Decimal]:
    """(line total, tax) of one line: quantity × unit price, and the tax on it, each rounded."""
    line_total = round_money(quantity * unit_price, currency)
    tax = round_money(line_total * tax_rate / HUNDRED, currency)
    require_fits(line_total + tax, currency, "The line's amount", "quantity")
    return line_total, tax


def order_totals(lines: Iterable, discount: Decimal, currency: str) -> dict[str, Decimal]:
    """Sum of the lines that are not rejected or cancelled; total = subtotal − discount + tax."""
    subtotal = tax = Decimal(0)
    for line in lines:
        if line.status not in VOID_LINE_STATUSES:
            subtotal += line.line_total
            tax += line.tax_amount
    discount = round_money(discount, currency)
    require_fits(subtotal + tax, currency, "The order's total", None)
    return {
        "subtotal": subtotal,
        "discount": discount,
        "tax_total": tax,
        "total": subtotal - discount + tax,
    }
