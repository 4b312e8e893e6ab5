"""Published revisions of an order, and the supplier's unpublished proposal."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from ..units import UNIT_CHOICES
from .fields import money_field, quantity_field
from .listings import Listing
from .purchase import LineValues, PurchaseOrder, PurchaseOrderLine, SalesOrder


class Revision(models.Model):
    """A published version of the order, immutable: 1 at release, then one per acceptance."""

    class Kind(models.TextChoices):
        SUBMITTED = "submitted", "Sent by the customer"
        ACCEPTED = "accepted", "Accepted by the supplier"
        AMENDED = "amended", "Amendment accepted"

    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    header = models.JSONField(default=dict)
    subtotal = money_field()
    discount = money_field()
    tax_total = money_field()
    total = money_field()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["purchase_order", "number"], name="unique_revision_number")]

    def __str__(self) -> str:
        return f"{self.purchase_order} rev. {self.number}"


class RevisionLine(LineValues):
    revision = models.ForeignKey(Revision, on_delete=models.CASCADE, related_name="lines")


class Proposal(models.Model):
    """The supplier's edits, invisible to the customer until the supplier accepts the order."""

    sales_order = models.OneToOneField(SalesOrder, on_delete=models.CASCADE, related_name="proposal")
    accept_by = models.DateField(null=True, blank=True)
    confirm_ship_by = models.DateField(null=True, blank=True)
    invoice_due_date = models.DateField(null=True, blank=True)
    tax_rate = models.DecimalField("tax rate for every line (%)", max_digits=5, decimal_places=2, null=True, blank=True)
    discount = money_field(null=True, blank=True)
    supplier_contact = models.CharField(max_length=200, blank=True)
    ship_to_address = models.TextField(blank=True)
    payment_terms_days = models.PositiveSmallIntegerField(null=True, blank=True)
    note = models.TextField(blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Proposal for {self.sales_order}"


class ProposalLine(models.Model):
    class Action(models.TextChoices):
        ACCEPT = "accept", "Accept"
        CHANGE = "change", "Change"
        BACKORDER = "backorder", "Backorder"
        REJECT = "reject", "Reject"
        ADD = "add", "Add a line"

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="lines")
    po_line = models.ForeignKey(PurchaseOrderLine, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    action = models.CharField(max_length=10, choices=Action.choices, default=Action.ACCEPT)
    quantity = quantity_field(null=True, blank=True)
    unit_price = money_field(null=True, blank=True)
    promised_date = models.DateField(null=True, blank=True)
    backorder_quantity = quantity_field(null=True, blank=True)
    backorder_date = models.DateField(null=True, blank=True)
    reject_reason = models.CharField(max_length=500, blank=True)
    # An added line's own values.
    listing = models.ForeignKey(Listing, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    sku = models.CharField(max_length=64, blank=True)
    description = models.CharField(max_length=500, blank=True)
    unit = models.CharField(max_length=10, choices=UNIT_CHOICES, blank=True)
    tax_rate = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["proposal", "po_line"], name="one_proposal_line_per_line"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.po_line or self.description}"
