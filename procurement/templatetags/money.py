"""``{{ amount|money:currency }}``: the one filter that shows an amount (a template builtin)."""

from decimal import Decimal

from django import template

from procurement.money import MoneyError, format_money

register = template.Library()


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    try:
        return format_money(amount, currency)
    except (MoneyError, TypeError):
        return f"{amount} {currency}"
