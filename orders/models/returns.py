"""Returns of received goods (SPEC §6, "Returns and credit notes"): the customer asks, the supplier
authorizes (an RMA number) or declines, the customer ships the goods back, the supplier records
what arrived. What a return does to the money (a credit note and a debit note) is billing's."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, FSMModelMixin, transition

from accounts.models import Organization

from .fields import quantity_field
from .purchase import PurchaseOrder, PurchaseOrderLine


class ReturnRequest(ConcurrentTransitionMixin, FSMModelMixin, models.Model):
    """A return of received goods of one order: asked by the customer, answered by the supplier.
    Transitions are pure; ``orders.services.returns`` saves them."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Waiting for the supplier"
        ACCEPTED = "accepted", "Authorized: to ship back"
        SHIPPED = "shipped", "On its way back"
        RECEIVED = "received", "Received back"
        DECLINED = "declined", "Declined by the supplier"
        WITHDRAWN = "withdrawn", "Withdrawn"

    class Reason(models.TextChoices):
        DAMAGED = "damaged", "Damaged"
        WRONG_ITEM = "wrong_item", "Wrong item"
        SURPLUS = "surplus", "Surplus"
        QUALITY = "quality", "Quality"
        OTHER = "other", "Other"

    class Resolution(models.TextChoices):
        CREDIT = "credit", "Credit"
        REPLACEMENT = "replacement", "Replacement"

    S = Status
    OPEN = (S.REQUESTED, S.ACCEPTED, S.SHIPPED)  # the order does not close while one is open
    LIVE = (*OPEN, S.RECEIVED)  # its quantities count as returned

    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="returns")
    customer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    supplier = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    number = models.PositiveIntegerField(help_text="1, 2, … within the order.")
    status = FSMField(max_length=20, choices=Status.choices, default=Status.REQUESTED, protected=True)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    reason_text = models.TextField(blank=True, help_text="In the customer's words; required for 'Other'.")
    resolution = models.CharField("asks for", max_length=20, choices=Resolution.choices)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # The supplier's answer.
    rma_number = models.CharField("RMA number", max_length=30, blank=True)
    instructions = models.TextField(blank=True, help_text="How to send the goods back.")
    decline_reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    # The customer's shipment back.
    shipped_on = models.DateField(null=True, blank=True)
    carrier = models.CharField(max_length=100, blank=True)
    tracking_number = models.CharField(max_length=100, blank=True)
    shipped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # What arrived back at the supplier.
    received_on = models.DateField(null=True, blank=True)
    arrival_note = models.TextField(blank=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    received_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        permissions = [
            ("answer_returnrequest", "Authorize or decline returns"),
            ("receive_returnrequest", "Record returns arrived back"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["purchase_order", "number"], name="unique_return_number"),
            models.UniqueConstraint(
                fields=["supplier", "rma_number"], condition=~models.Q(rma_number=""), name="unique_rma_number"
            ),
            models.CheckConstraint(
                condition=~models.Q(reason="other") | ~models.Q(reason_text=""), name="other_says_why"
            ),
            models.CheckConstraint(
                condition=~models.Q(status__in=["accepted", "shipped", "received"]) | ~models.Q(rma_number=""),
                name="authorized_return_has_rma",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="declined") | ~models.Q(decline_reason=""), name="declined_return_says_why"
            ),
        ]
        indexes = [
            models.Index(fields=["supplier", "status"], name="returns_of_supplier"),
            models.Index(fields=["customer", "status"], name="returns_of_customer"),
        ]

    def __str__(self) -> str:
        return self.rma_number or f"Return {self.number} of {self.purchase_order}"

    @property
    def label(self) -> str:
        """How both sides name it: its RMA number once authorized, with its number on the order."""
        return f"Return {self.number}" + (f" ({self.rma_number})" if self.rma_number else "")

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN

    @property
    def for_credit(self) -> bool:
        return self.resolution == self.Resolution.CREDIT

    @transition(field=status, source=S.REQUESTED, target=S.ACCEPTED)
    def accept(self, *, by, rma_number: str, instructions: str) -> None:
        self.rma_number = rma_number
        self.instructions = instructions
        self.decided_by = by
        self.decided_at = timezone.now()

    @transition(field=status, source=S.REQUESTED, target=S.DECLINED)
    def decline(self, *, by, reason: str) -> None:
        self.decline_reason = reason
        self.decided_by = by
        self.decided_at = timezone.now()

    @transition(field=status, source=S.REQUESTED, target=S.WITHDRAWN)
    def withdraw(self) -> None:
        self.withdrawn_at = timezone.now()

    @transition(field=status, source=S.ACCEPTED, target=S.SHIPPED)
    def ship_back(self, *, by, shipped_on, carrier: str, tracking_number: str) -> None:
        self.shipped_on = shipped_on
        self.carrier = carrier
        self.tracking_number = tracking_number
        self.shipped_by = by

    @transition(field=status, source=S.SHIPPED, target=S.RECEIVED)
    def receive_back(self, *, by, received_on, note: str) -> None:
        self.received_on = received_on
        self.arrival_note = note
        self.received_by = by
        self.received_at = timezone.now()


class ReturnLine(models.Model):
    """One line of a return: how much of an order line goes back, and what arrived of it."""

    class Condition(models.TextChoices):
        AS_DESCRIBED = "as_described", "As described"
        NOT_AS_DESCRIBED = "not_as_described", "Not as described"
        DAMAGED_IN_TRANSIT = "damaged_in_transit", "Damaged on the way back"

    return_request = models.ForeignKey(ReturnRequest, on_delete=models.CASCADE, related_name="lines")
    po_line = models.ForeignKey(PurchaseOrderLine, on_delete=models.PROTECT, related_name="return_lines")
    quantity = quantity_field(help_text="Asked to return.")
    quantity_received_back = quantity_field(default=Decimal("0"))
    condition = models.CharField(max_length=20, choices=Condition.choices, blank=True)
    # What arriving back did, worked out once by the service (SPEC: at the order's prices):
    quantity_credited = quantity_field(default=Decimal("0"), help_text="Goes on the credit note.")
    quantity_to_replace = quantity_field(default=Decimal("0"), help_text="Back to 'to ship' on the sales order.")

    class Meta:
        ordering = ["po_line__position", "pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="return_line_quantity_positive"),
            models.CheckConstraint(
                condition=models.Q(
                    quantity_received_back__gte=0,
                    quantity_received_back__lte=models.F("quantity"),
                    quantity_credited__gte=0,
                    quantity_to_replace__gte=0,
                ),
                name="return_line_progress_in_range",
            ),
            models.UniqueConstraint(fields=["return_request", "po_line"], name="one_return_line_per_line"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity.normalize():f} of line {self.po_line_id}"


class ReturnAttachment(models.Model):
    """A photo or document the customer sent with the return (both sides may open it)."""

    return_request = models.ForeignKey(ReturnRequest, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to="returns/%Y/%m/")
    name = models.CharField(max_length=200)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.name
