"""The decimal fields of money and quantities that every orders model uses."""

from __future__ import annotations

from django.db import models

from procurement.money import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS

from ..units import QUANTITY_DECIMAL_PLACES, QUANTITY_MAX_DIGITS


def money_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES, **kwargs)


def quantity_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=QUANTITY_MAX_DIGITS, decimal_places=QUANTITY_DECIMAL_PLACES, **kwargs)
