"""Supplier listings (the catalogue). Purchase and sales orders arrive with the order-pair issue."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Organization
from billing.money import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS, CURRENCY_CHOICES

from .units import QUANTITY_DECIMAL_PLACES, UNIT_CHOICES


def money_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES, **kwargs)


def quantity_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=14, decimal_places=QUANTITY_DECIMAL_PLACES, **kwargs)


class Listing(models.Model):
    """Something a supplier sells: its price, unit, minimum order and price breaks."""

    supplier = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="listings")
    sku = models.CharField("SKU", max_length=64)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    unit = models.CharField(max_length=10, choices=UNIT_CHOICES, default="ea")
    unit_price = money_field()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    min_order_qty = quantity_field(default=Decimal("1"), verbose_name="minimum order quantity")
    is_active = models.BooleanField("active", default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    price_updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.UniqueConstraint(Lower("sku"), "supplier", name="unique_sku_per_supplier"),
            models.CheckConstraint(condition=models.Q(unit_price__gte=0), name="listing_price_not_negative"),
            models.CheckConstraint(condition=models.Q(min_order_qty__gt=0), name="listing_moq_positive"),
        ]
        indexes = [
            models.Index(fields=["supplier", "is_active", "sku"]),
            models.Index(fields=["supplier", "name"]),
        ]

    def __str__(self) -> str:
        return f"{self.sku} — {self.name}"

    def price_for(self, *, quantity: Decimal, customer_price: Decimal | None = None) -> Decimal:
        """The unit price for a quantity: the lowest of the list price, the customer's own
        price (if any) and the price breaks the quantity reaches. Uses prefetched breaks."""
        candidates = [self.unit_price]
        if customer_price is not None:
            candidates.append(customer_price)
        candidates += [b.unit_price for b in self.price_breaks.all() if quantity >= b.min_quantity]
        return min(candidates)


class PriceBreak(models.Model):
    """From ``min_quantity`` on, the unit price is ``unit_price``."""

    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="price_breaks")
    min_quantity = quantity_field()
    unit_price = money_field()

    class Meta:
        ordering = ["min_quantity"]
        constraints = [
            models.UniqueConstraint(fields=["listing", "min_quantity"], name="one_break_per_quantity"),
            models.CheckConstraint(condition=models.Q(min_quantity__gt=0), name="break_quantity_positive"),
            models.CheckConstraint(condition=models.Q(unit_price__gte=0), name="break_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.min_quantity}+ at {self.unit_price}"


class CustomerPrice(models.Model):
    """A listing's price for one connected customer."""

    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="customer_prices")
    customer = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    unit_price = money_field()

    class Meta:
        ordering = ["customer__name"]
        constraints = [
            models.UniqueConstraint(fields=["listing", "customer"], name="one_price_per_customer"),
            models.CheckConstraint(condition=models.Q(unit_price__gte=0), name="customer_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.customer}: {self.unit_price}"
