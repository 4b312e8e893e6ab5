"""Listings: what a supplier sells, its price breaks, per-customer prices, and CSV imports."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Organization
from procurement.money import CURRENCY_CHOICES

from ..units import UNIT_CHOICES
from .fields import money_field, quantity_field


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


class ListingImport(models.Model):
    """A CSV file of listings a supplier uploaded, imported by a Celery task
    (``orders.tasks.import_listings``): *queued* → *running* → *done* (every row written) or
    *failed* (every problem listed, nothing written). Only ``orders.listing_csv`` changes it."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting to start"
        RUNNING = "running", "Importing"
        DONE = "done", "Imported"
        FAILED = "failed", "Not imported"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="listing_imports")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    file_name = models.CharField(max_length=255)
    data = models.BinaryField(help_text="The file as uploaded; emptied once the import has finished.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0, help_text="Rows checked so far.")
    listings_created = models.PositiveIntegerField(default=0)
    listings_updated = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="[{row, column, message}, …]")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["organization", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"

    @property
    def listings_unchanged(self) -> int:
        """The rows of a finished import that were the stored listings already (not written):
        every row of a done import is created, updated or unchanged."""
        if self.status != self.Status.DONE:
            return 0
        return max(self.rows_total - self.listings_created - self.listings_updated, 0)

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int:
        return self.rows_done * 100 // self.rows_total if self.rows_total else 0
