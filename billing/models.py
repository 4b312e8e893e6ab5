"""Invoices (the supplier's side) and bills (the customer's side) of a confirmed order.

Money helpers that every app already needs live in ``billing.money``.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, FSMModelMixin

from accounts.models import Location, Organization
from orders.models import PurchaseOrder, PurchaseOrderLine, SalesOrder, money_field, quantity_field
from orders.units import UNIT_CHOICES

from .money import CURRENCY_CHOICES


class Document(models.Model):
    """What an invoice and a bill share: the amounts, in the order's currency, and dates."""

    number = models.CharField(max_length=30)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    revision = models.PositiveIntegerField(default=1, help_text="The order revision it was made from.")
    due_date = models.DateField()
    subtotal = money_field(default=Decimal("0"))
    discount = money_field(default=Decimal("0"))
    tax_total = money_field(default=Decimal("0"))
    total = money_field(default=Decimal("0"))
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.number


class Invoice(ConcurrentTransitionMixin, FSMModelMixin, Document):
    """The supplier's invoice of a confirmed order: one per order (a constraint says so)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PAID = "paid", "Paid"
        CANCELLED = "cancelled", "Cancelled"

    supplier = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="invoices")
    customer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    purchase_order = models.OneToOneField(PurchaseOrder, on_delete=models.PROTECT, related_name="invoice")
    sales_order = models.OneToOneField(SalesOrder, on_delete=models.PROTECT, related_name="invoice")
    invoice_date = models.DateField()
    status = FSMField(max_length=20, choices=Status.choices, default=Status.OPEN, protected=True)

    class Meta(Document.Meta):
        constraints = [models.UniqueConstraint(fields=["supplier", "number"], name="unique_invoice_number")]
        indexes = [models.Index(fields=["supplier", "-created_at", "-id"], name="invoice_list_newest_first")]


class Bill(ConcurrentTransitionMixin, FSMModelMixin, Document):
    """The customer's bill: made with the invoice for an order (then linked to both and locked,
    SPEC §6), or entered by hand (no order)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PARTIALLY_PAID = "partially_paid", "Partially paid"
        PAID = "paid", "Paid"
        VERIFIED = "verified", "Verified"
        CANCELLED = "cancelled", "Cancelled"

    customer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="bills")
    supplier = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    purchase_order = models.OneToOneField(
        PurchaseOrder, on_delete=models.PROTECT, null=True, blank=True, related_name="bill"
    )
    invoice = models.OneToOneField(Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="bill")
    bill_date = models.DateField()
    supplier_reference = models.CharField("supplier's invoice number", max_length=60, blank=True)
    reference_number = models.CharField(max_length=60, blank=True)
    location = models.ForeignKey(Location, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    notes = models.TextField(blank=True)
    status = FSMField(max_length=20, choices=Status.choices, default=Status.OPEN, protected=True)

    class Meta(Document.Meta):
        constraints = [
            models.UniqueConstraint(fields=["customer", "number"], name="unique_bill_number"),
            models.CheckConstraint(
                condition=models.Q(purchase_order__isnull=True) | models.Q(invoice__isnull=False),
                name="order_bill_has_its_invoice",
            ),
        ]
        indexes = [models.Index(fields=["customer", "-created_at", "-id"], name="bill_list_newest_first")]

    @property
    def is_locked(self) -> bool:
        """A bill made from an order keeps the order's date, supplier, location and amounts."""
        return self.purchase_order_id is not None

    @property
    def is_overdue(self) -> bool:
        return self.status in (self.Status.OPEN, self.Status.PARTIALLY_PAID) and self.due_date < timezone.localdate()


class DocumentLine(models.Model):
    """A line of an invoice or a bill, copied from the order's confirmed revision."""

    position = models.PositiveIntegerField()
    po_line = models.ForeignKey(PurchaseOrderLine, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    sku = models.CharField("SKU", max_length=64, blank=True)
    description = models.CharField(max_length=500)
    quantity = quantity_field()
    unit = models.CharField(max_length=10, choices=UNIT_CHOICES)
    unit_price = money_field()
    tax_rate = models.DecimalField("tax rate (%)", max_digits=5, decimal_places=2, default=Decimal("0"))
    line_total = money_field()
    tax_amount = money_field()

    class Meta:
        abstract = True
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return f"{self.position}. {self.sku or self.description}"


class InvoiceLine(DocumentLine):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")

    class Meta(DocumentLine.Meta):
        constraints = [models.UniqueConstraint(fields=["invoice", "position"], name="unique_invoice_line")]


class BillLine(DocumentLine):
    bill = models.ForeignKey(Bill, on_delete=models.CASCADE, related_name="lines")

    class Meta(DocumentLine.Meta):
        constraints = [models.UniqueConstraint(fields=["bill", "position"], name="unique_bill_line")]
