"""Shipments (the supplier's) and receipts (the customer's) of an order."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Organization

from .fields import quantity_field
from .purchase import PurchaseOrder, PurchaseOrderLine, SalesOrder


class Shipment(models.Model):
    """Goods the supplier sent: one or more per order, each with its lines (SPEC §4, 11)."""

    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="shipments")
    sales_order = models.ForeignKey(SalesOrder, on_delete=models.CASCADE, related_name="shipments")
    supplier = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    number = models.PositiveIntegerField(help_text="1, 2, … within the order.")
    shipped_on = models.DateField()
    carrier = models.CharField(max_length=100, blank=True)
    tracking_number = models.CharField(max_length=100, blank=True)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["purchase_order", "number"], name="unique_shipment_number")]

    def __str__(self) -> str:
        return f"Shipment {self.number}"


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    po_line = models.ForeignKey(PurchaseOrderLine, on_delete=models.PROTECT, related_name="shipment_lines")
    quantity = quantity_field()

    class Meta:
        ordering = ["po_line__position", "pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="shipment_line_quantity_positive"),
            models.UniqueConstraint(fields=["shipment", "po_line"], name="one_shipment_line_per_line"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity.normalize():f} of line {self.po_line_id}"


class Receipt(models.Model):
    """Goods the customer received: one or more per order, each against a shipment or none
    (SPEC §4, 12). A shipment is received once: what did not arrive in it is noted short."""

    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="receipts")
    customer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    supplier = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    number = models.PositiveIntegerField(help_text="1, 2, … within the order.")
    shipment = models.OneToOneField(Shipment, on_delete=models.PROTECT, null=True, blank=True, related_name="receipt")
    received_on = models.DateField()
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["purchase_order", "number"], name="unique_receipt_number")]

    def __str__(self) -> str:
        return f"Receipt {self.number}"


class ReceiptLine(models.Model):
    """What arrived of one line: ``quantity`` in good condition (counted as received), and the
    units damaged or short (noted with a reason, not counted)."""

    receipt = models.ForeignKey(Receipt, on_delete=models.CASCADE, related_name="lines")
    po_line = models.ForeignKey(PurchaseOrderLine, on_delete=models.PROTECT, related_name="receipt_lines")
    quantity = quantity_field(default=Decimal("0"))
    quantity_damaged = quantity_field(default=Decimal("0"))
    quantity_short = quantity_field(default=Decimal("0"))
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["po_line__position", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gte=0, quantity_damaged__gte=0, quantity_short__gte=0),
                name="receipt_line_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0) | models.Q(quantity_damaged__gt=0) | models.Q(quantity_short__gt=0),
                name="receipt_line_not_empty",
            ),
            models.CheckConstraint(
                condition=models.Q(quantity_damaged=0, quantity_short=0) | ~models.Q(reason=""),
                name="receipt_line_discrepancy_has_reason",
            ),
            models.UniqueConstraint(fields=["receipt", "po_line"], name="one_receipt_line_per_line"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity.normalize():f} of line {self.po_line_id}"

    @property
    def has_discrepancy(self) -> bool:
        return bool(self.quantity_damaged or self.quantity_short)
