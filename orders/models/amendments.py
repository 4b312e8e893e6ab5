"""Amendments of a confirmed order and their lines."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, FSMModelMixin, transition

from accounts.models import Organization
from procurement.money import CURRENCY_CHOICES

from ..units import UNIT_CHOICES
from .fields import money_field, quantity_field
from .purchase import PurchaseOrder, PurchaseOrderLine


class Amendment(ConcurrentTransitionMixin, FSMModelMixin, models.Model):
    """A change the customer asks of a confirmed order (SPEC §4): quantities up, or lines
    cancelled; never a line that has receipts. Re-approved first when the new total crosses a
    threshold the old did not; the supplier accepts or declines it; on acceptance the order
    publishes it as its next revision and the invoice and the bill follow."""

    class Status(models.TextChoices):
        PENDING_APPROVAL = "pending_approval", "Waiting for internal approval"
        PROPOSED = "proposed", "Waiting for the supplier"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined by the supplier"
        REJECTED = "rejected", "Rejected in approval"
        WITHDRAWN = "withdrawn", "Withdrawn"
        LAPSED = "lapsed", "Lapsed"

    S = Status
    OPEN = (S.PENDING_APPROVAL, S.PROPOSED)

    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="amendments")
    customer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    supplier = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    number = models.PositiveIntegerField(help_text="1, 2, … within the order.")
    status = FSMField(max_length=20, choices=Status.choices, default=Status.PROPOSED, protected=True)
    reason = models.TextField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    old_total = money_field()
    new_total = money_field()
    reapproval_reason = models.CharField(max_length=300, blank=True, help_text="Why it needed approval again.")
    revision_number = models.PositiveIntegerField(null=True, blank=True, help_text="The revision it became.")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    proposed_at = models.DateTimeField(null=True, blank=True, help_text="When the supplier was asked.")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.TextField(blank=True, help_text="Why the supplier declined it, or why it lapsed.")

    class Meta:
        ordering = ["-number"]
        permissions = [("accept_amendment", "Accept or decline amendments")]
        constraints = [
            models.UniqueConstraint(fields=["purchase_order", "number"], name="unique_amendment_number"),
            # One open amendment per order: two buyers racing cannot both start one.
            models.UniqueConstraint(
                fields=["purchase_order"],
                condition=models.Q(status__in=["pending_approval", "proposed"]),
                name="one_open_amendment_per_order",
            ),
            models.CheckConstraint(condition=~models.Q(reason=""), name="amendment_has_a_reason"),
            models.CheckConstraint(
                condition=~models.Q(status="declined") | ~models.Q(decline_reason=""),
                name="amendment_decline_has_a_reason",
            ),
        ]
        indexes = [models.Index(fields=["purchase_order", "status"])]

    def __str__(self) -> str:
        return f"Amendment {self.number} of {self.purchase_order}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN

    @transition(field=status, source=S.PENDING_APPROVAL, target=S.PROPOSED)
    def propose(self) -> None:
        self.proposed_at = timezone.now()

    @transition(field=status, source=S.PENDING_APPROVAL, target=S.REJECTED)
    def reject(self) -> None:
        self.decided_at = timezone.now()

    @transition(field=status, source=S.PROPOSED, target=S.ACCEPTED)
    def accept(self, *, by, revision_number: int) -> None:
        self.decided_by = by
        self.decided_at = timezone.now()
        self.revision_number = revision_number

    @transition(field=status, source=S.PROPOSED, target=S.DECLINED)
    def decline(self, *, by, reason: str) -> None:
        self.decided_by = by
        self.decided_at = timezone.now()
        self.decline_reason = reason

    @transition(field=status, source=OPEN, target=S.WITHDRAWN)
    def withdraw(self, *, by) -> None:
        self.decided_by = by
        self.decided_at = timezone.now()

    @transition(field=status, source=OPEN, target=S.LAPSED)
    def lapse(self, *, reason: str) -> None:
        """The order moved on under it (a line was received, the order closed)."""
        self.decided_at = timezone.now()
        self.decline_reason = reason


class AmendmentLine(models.Model):
    """One line of an amendment: its quantity raised, or the line cancelled (new quantity empty)."""

    amendment = models.ForeignKey(Amendment, on_delete=models.CASCADE, related_name="lines")
    po_line = models.ForeignKey(PurchaseOrderLine, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveIntegerField()
    sku = models.CharField("SKU", max_length=64, blank=True)
    description = models.CharField(max_length=500)
    unit = models.CharField(max_length=10, choices=UNIT_CHOICES)
    unit_price = money_field()
    old_quantity = quantity_field()
    new_quantity = quantity_field(null=True, blank=True, help_text="Empty: the line is cancelled.")
    old_line_total = money_field()
    new_line_total = money_field()

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["amendment", "po_line"], name="one_amendment_line_per_line"),
            models.CheckConstraint(
                condition=models.Q(new_quantity__isnull=True) | models.Q(new_quantity__gt=models.F("old_quantity")),
                name="amendment_only_increases",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.sku or self.description}"

    @property
    def cancels(self) -> bool:
        return self.new_quantity is None
